//! The pump's background loops: fake binlogs in write silences, GC, and the watch over prewrites
//! that never got their commit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use binlog_engine::GcOutcome;
use prost::Message;
use tokio::sync::Notify;

use crate::proto::{Binlog, BinlogType};
use crate::pump::metrics::PumpMetrics;
use crate::pump::{until_shutdown, Pump};
use crate::tso::{add_duration, now_ts, physical_ms};

/// After this long without a commit, a prewrite is reported as stuck (the original's
/// `maxTxnTimeoutSecond`).
pub const STUCK_PREWRITE_AGE: Duration = Duration::from_secs(600);

/// How often pending prewrites are looked at.
const PENDING_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Wakes the GC loop from `/debug/gc/trigger`.
#[derive(Default)]
pub struct GcTrigger {
    /// True while the loop waits for its next run (a trigger then starts one).
    idle: AtomicBool,
    wake: Notify,
}

impl GcTrigger {
    /// Starts a GC run if the loop is waiting; false if a run is going on (`gc is working`).
    pub fn trigger(&self) -> bool {
        if self.idle.swap(false, Ordering::AcqRel) {
            self.wake.notify_one();
            true
        } else {
            false
        }
    }
}

/// Writes a fake binlog whenever a `fake_binlog_interval` passes with no write at all, so that
/// drainers see this pump's watermark move.
pub async fn fake_binlog_loop(pump: Arc<Pump>) {
    let mut ticker = tokio::time::interval(pump.timings.fake_binlog_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let shutdown = until_shutdown(pump.shutdown_signal());
    tokio::pin!(shutdown);
    let mut seen = pump.write_count();
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        let count = pump.write_count();
        if count == seen {
            match pump.write_fake_binlog().await {
                Ok(ts) => tracing::debug!(ts, "wrote a fake binlog"),
                Err(error) => tracing::error!(%error, "failed to write a fake binlog"),
            }
        }
        seen = pump.write_count();
    }
}

/// The GC point for a retention: everything older than `retention` before now.
pub fn gc_ts_for(retention: Duration) -> u64 {
    let now = now_ts();
    now.saturating_sub(add_duration(0, retention))
}

/// Runs GC every `gc_interval` and on trigger.
pub async fn gc_loop(pump: Arc<Pump>) {
    let shutdown = until_shutdown(pump.shutdown_signal());
    tokio::pin!(shutdown);
    loop {
        pump.gc.idle.store(true, Ordering::Release);
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(pump.timings.gc_interval) => {
                pump.gc.idle.store(false, Ordering::Release);
            }
            _ = pump.gc.wake.notified() => {}
        }
        run_gc(&pump).await;
    }
}

async fn run_gc(pump: &Arc<Pump>) {
    let ts = gc_ts_for(pump.timings.gc_retention);
    let engine = pump.engine.clone();
    let outcome = tokio::task::spawn_blocking(move || engine.gc(ts)).await;
    match outcome {
        Ok(Ok(GcOutcome::Collected { segments })) => {
            tracing::info!(gc_ts = ts, segments, "GC done");
            PumpMetrics::set_ts(&pump.metrics.gc_ts, ts);
            PumpMetrics::set_ts(&pump.metrics.done_gc_ts, ts);
        }
        Ok(Ok(GcOutcome::NotNewer { gc_ts })) => {
            tracing::info!(
                requested = ts,
                gc_ts,
                "GC skipped: not newer than the GC point"
            );
        }
        Ok(Ok(GcOutcome::AboveWatermark { watermark })) => tracing::warn!(
            requested = ts,
            watermark,
            "GC skipped: the GC point would pass unsorted binlogs"
        ),
        Ok(Err(error)) => tracing::error!(%error, "GC failed"),
        Err(error) => tracing::error!(%error, "GC task failed"),
    }
}

/// What TiKV says about a transaction whose prewrite has waited too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnStatus {
    /// Committed at this commit TS: the pump writes the missing commit binlog.
    Committed(u64),
    /// Rolled back: the pump writes a rollback binlog.
    RolledBack,
    /// Still locked (or unknown yet): wait.
    Pending,
}

/// Asks the cluster what became of a transaction (the original's `GetTxnStatus` over TiKV). No
/// implementation ships in this build (there is no TiKV client yet); the watch below uses one
/// when it is given.
#[async_trait::async_trait]
pub trait TxnResolver: Send + Sync {
    /// The status of the transaction `start_ts` whose primary key is `primary_key`.
    async fn txn_status(&self, start_ts: u64, primary_key: &[u8]) -> crate::Result<TxnStatus>;
}

/// Settles one stuck prewrite through `resolver`: writes its commit or rollback binlog.
async fn resolve_prewrite(
    pump: &Pump,
    resolver: &dyn TxnResolver,
    start_ts: u64,
) -> crate::Result<TxnStatus> {
    let Some(stored) = pump.engine.get(start_ts)? else {
        return Ok(TxnStatus::Pending);
    };
    let prewrite = Binlog::decode(&stored.payload[..])?;
    pump.metrics.query_tikv.inc();
    let status = resolver
        .txn_status(
            start_ts,
            prewrite.prewrite_key.as_deref().unwrap_or_default(),
        )
        .await?;
    let (tp, commit_ts) = match status {
        TxnStatus::Committed(commit_ts) if commit_ts > start_ts => (BinlogType::Commit, commit_ts),
        TxnStatus::RolledBack => (BinlogType::Rollback, 0),
        TxnStatus::Committed(_) | TxnStatus::Pending => return Ok(status),
    };
    let binlog = Binlog {
        tp: tp as i32,
        start_ts: start_ts as i64,
        commit_ts: commit_ts as i64,
        ..Binlog::default()
    };
    pump.write_binlog(&binlog.encode_to_vec())
        .await
        .map_err(crate::Error::WriteRefused)?;
    Ok(status)
}

/// Publishes the pending-prewrite count and the oldest one's age, and logs prewrites older than
/// [`STUCK_PREWRITE_AGE`]: they hold the watermark (and so every drainer) back. The original
/// resolves them through TiKV; this build has no TiKV client, so an operator must see them.
/// With a `resolver`, each stuck prewrite is settled through it instead.
pub async fn pending_prewrite_watch(pump: Arc<Pump>, resolver: Option<Arc<dyn TxnResolver>>) {
    let shutdown = until_shutdown(pump.shutdown_signal());
    tokio::pin!(shutdown);
    let mut reported = 0u64;
    loop {
        let pending = pump.engine.pending_prewrites();
        let oldest = pending.first().copied().unwrap_or(0);
        pump.metrics.pending_prewrites.set(pending.len() as f64);
        PumpMetrics::set_ts(&pump.metrics.oldest_pending_prewrite, oldest);
        let age_ms = physical_ms(now_ts()).saturating_sub(physical_ms(oldest));
        let stuck = oldest != 0 && age_ms >= STUCK_PREWRITE_AGE.as_millis() as u64;
        if let (true, Some(resolver)) = (stuck, &resolver) {
            for &start_ts in &pending {
                let age = physical_ms(now_ts()).saturating_sub(physical_ms(start_ts));
                if age < STUCK_PREWRITE_AGE.as_millis() as u64 {
                    break;
                }
                match resolve_prewrite(&pump, resolver.as_ref(), start_ts).await {
                    Ok(status) => tracing::info!(start_ts, ?status, "resolved a stuck prewrite"),
                    Err(error) => {
                        tracing::warn!(start_ts, %error, "could not resolve a stuck prewrite")
                    }
                }
            }
        } else if stuck && oldest != reported {
            tracing::warn!(
                pending = pending.len(),
                oldest_start_ts = oldest,
                age_secs = age_ms / 1000,
                watermark = pump.engine.max_commit_ts(),
                "a prewrite has had no commit or rollback for over 10 minutes: the watermark \
                 cannot pass it; there is no TiKV resolver in this build"
            );
            reported = oldest;
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(PENDING_CHECK_INTERVAL) => {}
        }
    }
}
