//! Merged binlogs to the destination, and the checkpoint.
//!
//! The checkpoint (`<data-dir>/savepoint`, see [`binlog_node::savepoint`]) is the commit TS of the
//! last binlog applied: written (fake binlogs and `ignore-txn-commit-ts` ones are not) or
//! skipped. It is saved at most a second after it moves, at the end, and never before the
//! destination has made everything up to it durable. On a clean stop it is saved with
//! `consistent = true`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::destination::{Destination, MergedBinlog};
use crate::merge::{Merger, SourceCommand};
use crate::Drainer;
use binlog_node::lifecycle::until_shutdown;
use binlog_node::savepoint::{self, Savepoint};
use binlog_node::Result;

/// Longest time between a checkpoint move and its save.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// The checkpoint as saved and as applied.
pub struct Checkpoint {
    /// Where the savepoint lives.
    pub data_dir: PathBuf,
    /// Commit TS of the last binlog applied.
    pub applied_ts: u64,
    /// Commit TS in the savepoint file.
    pub saved_ts: u64,
    /// Kept as loaded (this build does not track schema versions).
    pub schema_version: i64,
}

impl Checkpoint {
    /// Writes the savepoint at `applied_ts` once `destination` has made it durable.
    fn save(
        &mut self,
        drainer: &Drainer,
        destination: &mut dyn Destination,
        consistent: bool,
    ) -> Result<()> {
        if self.applied_ts == self.saved_ts && !consistent {
            return Ok(());
        }
        destination.flush()?;
        savepoint::write(
            &self.data_dir,
            &Savepoint {
                consistent,
                commit_ts: self.applied_ts as i64,
                schema_version: self.schema_version,
            },
        )?;
        self.saved_ts = self.applied_ts;
        drainer.checkpoint_saved(self.saved_ts);
        drainer.metrics.savepoint_events.inc();
        Ok(())
    }
}

/// Runs the merge into `destination` until a shutdown starts or the destination fails; then
/// saves the final checkpoint (`consistent` when the run ended cleanly).
pub async fn run(
    drainer: Arc<Drainer>,
    mut merger: Merger,
    mut commands: mpsc::UnboundedReceiver<Vec<SourceCommand>>,
    mut destination: Box<dyn Destination>,
    mut checkpoint: Checkpoint,
    ignored: HashSet<u64>,
) -> Result<()> {
    let shutdown = until_shutdown(drainer.lifecycle.shutdown_signal());
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(SAVE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_save = Instant::now();
    let outcome = loop {
        tokio::select! {
            biased;
            _ = &mut shutdown => break Ok(()),
            Some(batch) = commands.recv() => batch.into_iter().for_each(|c| merger.apply(c)),
            binlog = merger.next() => {
                drainer.merged_ts.store(binlog.commit_ts, std::sync::atomic::Ordering::Release);
                if let Err(error) = apply(&drainer, destination.as_mut(), &binlog, &ignored) {
                    break Err(error);
                }
                checkpoint.applied_ts = binlog.commit_ts;
                if last_save.elapsed() >= SAVE_INTERVAL {
                    if let Err(error) = checkpoint.save(&drainer, destination.as_mut(), false) {
                        break Err(error);
                    }
                    last_save = Instant::now();
                }
            }
            _ = ticker.tick() => {
                if let Err(error) = checkpoint.save(&drainer, destination.as_mut(), false) {
                    break Err(error);
                }
                last_save = Instant::now();
            }
        }
    };
    let consistent = outcome.is_ok();
    let saved = checkpoint.save(&drainer, destination.as_mut(), consistent);
    tracing::info!(
        commit_ts = checkpoint.saved_ts,
        consistent,
        "final checkpoint saved"
    );
    outcome.and(saved)
}

/// Applies one merged binlog: fake and ignored ones only move the checkpoint.
fn apply(
    drainer: &Drainer,
    destination: &mut dyn Destination,
    binlog: &MergedBinlog,
    ignored: &HashSet<u64>,
) -> Result<()> {
    if binlog.binlog.is_fake() {
        return Ok(());
    }
    if ignored.contains(&binlog.commit_ts) {
        tracing::info!(
            commit_ts = binlog.commit_ts,
            "skipped: listed in ignore-txn-commit-ts"
        );
        return Ok(());
    }
    let started = Instant::now();
    destination.write(binlog)?;
    drainer.metrics.observe_write(binlog, started.elapsed());
    Ok(())
}
