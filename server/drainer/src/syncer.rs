//! The syncer: merged binlogs through the translation to the sink, and the checkpoint.
//!
//! Each merged binlog takes its encoded size from the sink's byte budget
//! ([`SINK_BUDGET_BYTES`]), given back when the sink acknowledges it, so what sits between the
//! merge and the downstream is bounded by bytes. The checkpoint is what the progress tracker
//! allows (everything at or below it acknowledged, see [`crate::progress`]), saved in the
//! [`CheckpointStore`] every second ([`SAVE_INTERVAL`]) after a sink flush, and at the end:
//! `consistent` when the run ended cleanly. Fake binlogs and skipped ones only move it. With
//! `stop-at-commit-ts` the run ends once the merge passes that TS, with the checkpoint saved
//! exactly at it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::budget::{ByteBudget, SINK_BUDGET_BYTES};
use crate::checkpoint::{CheckpointStore, StoredCheckpoint};
use crate::merge::{Merger, SourceCommand};
use crate::progress::Progress;
use crate::pulled::PulledBinlog;
use crate::sink::Sink;
use crate::translate::{Translated, Translator};
use crate::Drainer;
use binlog_node::lifecycle::{until_shutdown, Shutdown};
use binlog_node::registry::NodeState;
use binlog_node::Result;

/// Longest time between a checkpoint move and its save.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(1);

/// The stages after the merge.
pub struct Syncer {
    /// Merged binlogs to transactions.
    pub translator: Translator,
    /// The downstream.
    pub sink: Box<dyn Sink>,
    /// Where the checkpoint is saved; what it holds is the drainer's
    /// [`Drainer::checkpoint_ts`], where the merge starts.
    pub store: Box<dyn CheckpointStore>,
    /// `stop-at-commit-ts`: once the merge passes it, the run ends with the checkpoint exactly
    /// there and the drainer `paused`.
    pub stop_at: Option<u64>,
}

/// Runs the merge into the sink until a shutdown starts or a stage fails; then saves the final
/// checkpoint (`consistent` when the run ended cleanly).
pub async fn run(
    drainer: Arc<Drainer>,
    mut merger: Merger,
    mut commands: mpsc::UnboundedReceiver<Vec<SourceCommand>>,
    mut syncer: Syncer,
) -> Result<()> {
    let shutdown = until_shutdown(drainer.lifecycle.shutdown_signal());
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(SAVE_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let budget = ByteBudget::new(SINK_BUDGET_BYTES);
    let mut progress = Progress::new(drainer.checkpoint_ts());
    // A merged binlog waiting for the budget: the merge is not asked for more meanwhile.
    let mut waiting: Option<PulledBinlog> = None;
    let outcome = loop {
        let wanted = waiting.as_ref().map_or(0, |binlog| binlog.payload.len());
        tokio::select! {
            biased;
            _ = &mut shutdown => break Ok(()),
            Some(batch) = commands.recv() => batch.into_iter().for_each(|c| merger.apply(c)),
            () = progress.next_ack() => {}
            _ = ticker.tick() => {
                if let Err(error) = syncer.save(&drainer, &mut progress, false).await {
                    break Err(error);
                }
            }
            permit = budget.acquire(wanted), if waiting.is_some() => {
                let binlog = waiting.take().expect("a binlog waits for the budget");
                let commit_ts = binlog.commit_ts;
                let translated = match syncer.translator.translate(&drainer, &binlog).await {
                    Ok(translated) => translated,
                    Err(error) => break Err(error),
                };
                // The pump stream's share goes back now that the sink budget holds the bytes.
                drop(binlog);
                match translated {
                    Translated::Skip => progress.skip(commit_ts),
                    Translated::Txn(txn) => {
                        drainer.metrics.observe_txn(
                            txn.payload.len(),
                            &txn.binlog,
                            txn.load.as_deref(),
                        );
                        let ack = progress.hand(commit_ts, permit);
                        let started = Instant::now();
                        if let Err(error) = syncer.sink.write(txn, ack).await {
                            break Err(error);
                        }
                        drainer.metrics.observe_execute(started.elapsed());
                    }
                }
            }
            binlog = merger.next(), if waiting.is_none() => {
                if let Some(stop_at) = syncer.stop_at.filter(|&stop| binlog.commit_ts > stop) {
                    // The merge emits a TS only once every pump is past it: nothing at or
                    // below `stop_at` is still to come, so the checkpoint may rest there even
                    // when no binlog has that commit TS.
                    if drainer.merged_ts() < stop_at {
                        progress.skip(stop_at);
                    }
                    tracing::info!(stop_at, "reached stop-at-commit-ts: stopping, paused");
                    // `begin_shutdown` fails only when a shutdown has already begun.
                    let _ = drainer.lifecycle.begin_shutdown(NodeState::Pausing, Shutdown::Pause);
                    break Ok(());
                }
                drainer.merged_ts.store(binlog.commit_ts, Ordering::Release);
                waiting = Some(binlog);
            }
        }
    };
    let consistent = outcome.is_ok();
    let saved = match &outcome {
        Ok(()) => syncer.save(&drainer, &mut progress, true).await,
        // A failed sink is not flushed again, but what it acknowledged is durable.
        Err(_) => {
            progress.drain_acks();
            syncer.store_progress(&drainer, &progress, false).await
        }
    };
    tracing::info!(
        commit_ts = drainer.checkpoint_ts(),
        consistent,
        "final checkpoint saved"
    );
    outcome.and(saved)
}

impl Syncer {
    /// Flushes the sink (its acks follow) and saves the checkpoint the acks allow, when it
    /// moved or `consistent` is asked for.
    async fn save(
        &mut self,
        drainer: &Drainer,
        progress: &mut Progress,
        consistent: bool,
    ) -> Result<()> {
        let idle = progress.pending() == 0 && progress.checkpoint() == drainer.checkpoint_ts();
        if idle && !consistent {
            return Ok(());
        }
        self.sink.flush().await?;
        progress.drain_acks();
        self.store_progress(drainer, progress, consistent).await
    }

    /// Saves the checkpoint `progress` allows.
    async fn store_progress(
        &mut self,
        drainer: &Drainer,
        progress: &Progress,
        consistent: bool,
    ) -> Result<()> {
        let commit_ts = progress.checkpoint();
        if commit_ts == drainer.checkpoint_ts() && !consistent {
            return Ok(());
        }
        self.store
            .save(StoredCheckpoint {
                commit_ts,
                consistent,
            })
            .await?;
        drainer.checkpoint_saved(commit_ts);
        drainer.metrics.savepoint_events.inc();
        Ok(())
    }
}
