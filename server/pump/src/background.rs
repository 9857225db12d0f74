//! The pump's background loops: fake binlogs in write silences, GC, and the watch over prewrites
//! that never got their commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use binlog_engine::GcOutcome;
use prost::Message;

use crate::metrics::PumpMetrics;
use crate::{until_shutdown, Pump};
use binlog_node::proto::{Binlog, BinlogType};
use binlog_node::tso::{add_duration, now_ts, physical_ms};

/// After this long without a commit, a prewrite is reported as stuck (the original's
/// `maxTxnTimeoutSecond`).
pub const STUCK_PREWRITE_AGE: Duration = Duration::from_secs(600);

/// How often pending prewrites are looked at.
const PENDING_CHECK_INTERVAL: Duration = Duration::from_secs(10);

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
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(pump.timings.gc_interval) => {}
            _ = pump.gc_trigger().triggered() => {}
        }
        pump.gc_trigger().set_running(true);
        run_gc(&pump).await;
        pump.gc_trigger().set_running(false);
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
            let collected = ts.saturating_sub(add_duration(0, pump.timings.gc_prewrite_margin));
            PumpMetrics::set_ts(&pump.metrics.done_gc_ts, collected);
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

/// What the cluster says about a transaction whose prewrite has waited too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnStatus {
    /// Committed at this commit TS: the pump writes the missing commit binlog.
    Committed(u64),
    /// Rolled back: the pump writes a rollback binlog.
    RolledBack,
    /// Its lock is still on the primary key: wait.
    Locked,
    /// No record of it yet: wait.
    Pending,
}

/// Asks the cluster what became of a transaction (the original asks TiKV; this build asks
/// TiDB's status API: [`crate::tidb_resolver::TidbMvccResolver`]).
#[async_trait::async_trait]
pub trait TxnResolver: Send + Sync {
    /// The status of the transaction `start_ts` whose primary key is `primary_key`.
    async fn txn_status(&self, start_ts: u64, primary_key: &[u8])
        -> binlog_node::Result<TxnStatus>;
}

/// Settles one stuck prewrite through `resolver`: writes its commit or rollback binlog.
async fn resolve_prewrite(
    pump: &Pump,
    resolver: &dyn TxnResolver,
    start_ts: u64,
) -> binlog_node::Result<TxnStatus> {
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
        // A commit TS not above the start TS is refused by the write's own check.
        TxnStatus::Committed(commit_ts) => (BinlogType::Commit, commit_ts),
        TxnStatus::RolledBack => (BinlogType::Rollback, 0),
        TxnStatus::Locked | TxnStatus::Pending => return Ok(status),
    };
    let binlog = Binlog {
        tp: tp as i32,
        start_ts: start_ts as i64,
        commit_ts: commit_ts as i64,
        ..Binlog::default()
    };
    pump.write_binlog(&binlog.encode_to_vec())
        .await
        .map_err(|refusal| binlog_node::Error::WriteRefused(refusal.to_string()))?;
    Ok(status)
}

/// Publishes the pending-prewrite count and the oldest one's age, and deals with prewrites older
/// than [`STUCK_PREWRITE_AGE`]: they hold the watermark (and so every drainer) back. With a
/// `resolver` (TiDB's status API), each is settled through it, as the original does through
/// TiKV; what cannot be settled yet is asked again on the next look. Without one, an operator
/// must see them. Either way each stuck prewrite is logged once per outcome, not every look.
pub async fn pending_prewrite_watch(pump: Arc<Pump>, resolver: Option<Arc<dyn TxnResolver>>) {
    let shutdown = until_shutdown(pump.shutdown_signal());
    tokio::pin!(shutdown);
    let mut reported = StuckReports::default();
    loop {
        check_pending_prewrites(&pump, resolver.as_deref(), &mut reported).await;
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(PENDING_CHECK_INTERVAL) => {}
        }
    }
}

/// What was last logged about each stuck prewrite, so that the watch, which looks every 10 s,
/// says something again only when it changes.
#[derive(Debug, Default)]
struct StuckReports(HashMap<u64, String>);

impl StuckReports {
    /// Records `outcome` for `start_ts`; true when it differs from the last one (log it).
    fn changed(&mut self, start_ts: u64, outcome: String) -> bool {
        self.0.insert(start_ts, outcome.clone()).as_ref() != Some(&outcome)
    }

    /// Forgets the prewrites that are no longer stuck.
    fn retain_stuck(&mut self, stuck: &[u64]) {
        self.0.retain(|start_ts, _| stuck.contains(start_ts));
    }
}

/// One look at the pending prewrites (see [`pending_prewrite_watch`]).
async fn check_pending_prewrites(
    pump: &Pump,
    resolver: Option<&dyn TxnResolver>,
    reported: &mut StuckReports,
) {
    let pending = pump.engine.pending_prewrites();
    let oldest = pending.first().copied().unwrap_or(0);
    pump.metrics.pending_prewrites.set(pending.len() as f64);
    PumpMetrics::set_ts(&pump.metrics.oldest_pending_prewrite, oldest);
    let now_ms = physical_ms(now_ts());
    let age_ms = |start_ts: u64| now_ms.saturating_sub(physical_ms(start_ts));
    let oldest_age_ms = if oldest == 0 { 0 } else { age_ms(oldest) };
    pump.metrics
        .oldest_pending_prewrite_age
        .set(oldest_age_ms as f64 / 1000.0);
    let is_stuck = |start_ts: u64| age_ms(start_ts) >= STUCK_PREWRITE_AGE.as_millis() as u64;
    let stuck: Vec<u64> = pending
        .iter()
        .copied()
        .take_while(|&ts| is_stuck(ts))
        .collect();
    reported.retain_stuck(&stuck);
    let Some(resolver) = resolver else {
        if oldest != 0 && is_stuck(oldest) && reported.changed(oldest, String::new()) {
            tracing::warn!(
                pending = pending.len(),
                oldest_start_ts = oldest,
                watermark = pump.engine.max_commit_ts(),
                "a prewrite has had no commit or rollback for over 10 minutes: the watermark \
                 cannot pass it; set tidb-status-addr to have TiDB's status API settle it"
            );
        }
        return;
    };
    for start_ts in stuck {
        let outcome = resolve_prewrite(pump, resolver, start_ts).await;
        let said = match &outcome {
            Ok(status) => format!("{status:?}"),
            Err(error) => error.to_string(),
        };
        if !reported.changed(start_ts, said) {
            continue;
        }
        let watermark = pump.engine.max_commit_ts();
        match outcome {
            Ok(status @ (TxnStatus::Committed(_) | TxnStatus::RolledBack)) => {
                tracing::info!(start_ts, ?status, "settled a stuck prewrite")
            }
            Ok(TxnStatus::Locked) => tracing::warn!(
                start_ts,
                watermark,
                "a stuck prewrite's transaction still holds its lock: the watermark waits for \
                 it; asking again every 10 s"
            ),
            Ok(TxnStatus::Pending) => tracing::warn!(
                start_ts,
                watermark,
                "TiDB knows nothing yet of a stuck prewrite's transaction (no lock, no commit, \
                 no rollback on its primary key): the watermark waits for it; asking again \
                 every 10 s"
            ),
            Err(error) => tracing::warn!(
                start_ts,
                %error,
                "could not settle a stuck prewrite; trying again every 10 s"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PumpNetwork, PumpTimings};
    use binlog_node::registry::file::FileRegistry;
    use binlog_node::tso::compose_ts;
    use binlog_node::tso::file::FileTso;
    use std::sync::Mutex;

    /// Answers from a fixed table and remembers what it was asked.
    struct TableResolver {
        answers: Vec<(u64, TxnStatus)>,
        asked: Mutex<Vec<(u64, Vec<u8>)>>,
    }

    #[async_trait::async_trait]
    impl TxnResolver for TableResolver {
        async fn txn_status(
            &self,
            start_ts: u64,
            primary_key: &[u8],
        ) -> binlog_node::Result<TxnStatus> {
            self.asked
                .lock()
                .unwrap()
                .push((start_ts, primary_key.to_vec()));
            let answer = self.answers.iter().find(|(ts, _)| *ts == start_ts);
            Ok(answer.map_or(TxnStatus::Pending, |(_, status)| *status))
        }
    }

    async fn test_pump(dir: &std::path::Path) -> Arc<Pump> {
        let config = binlog_engine::Config {
            dir: dir.join("data"),
            segment_size: binlog_engine::ReadableSize::mib(1),
            max_record_size: binlog_engine::ReadableSize(64 << 10),
            stop_write_at_available_space: binlog_engine::ReadableSize(0),
            ..Default::default()
        };
        let engine = Arc::new(binlog_engine::Engine::open(config).unwrap());
        let registry = Arc::new(FileRegistry::open(&dir.join("registry")).unwrap());
        let tso = Arc::new(FileTso::open(&dir.join("registry")).unwrap());
        let timings = PumpTimings {
            heartbeat_interval: Duration::from_secs(1),
            fake_binlog_interval: Duration::from_secs(1),
            gc_retention: Duration::from_secs(3600),
            gc_interval: Duration::from_secs(3600),
            gc_prewrite_margin: Duration::from_secs(600),
        };
        Pump::new(
            engine,
            registry,
            tso,
            1,
            "test".into(),
            PumpNetwork {
                advertise_host: "127.0.0.1:1".into(),
                client_tls: None,
            },
            timings,
        )
    }

    async fn prewrite(pump: &Pump, start_ts: u64) {
        let binlog = Binlog {
            tp: BinlogType::Prewrite as i32,
            start_ts: start_ts as i64,
            prewrite_key: Some(format!("key-{start_ts}").into_bytes()),
            ..Binlog::default()
        };
        pump.write_binlog(&binlog.encode_to_vec()).await.unwrap();
    }

    #[tokio::test]
    async fn stuck_prewrites_are_settled_through_the_resolver() {
        let dir = tempfile::tempdir().unwrap();
        let pump = test_pump(dir.path()).await;
        let old_ms = physical_ms(now_ts()) - 2 * STUCK_PREWRITE_AGE.as_millis() as u64;
        let (committed, rolled_back, waiting) = (
            compose_ts(old_ms, 1),
            compose_ts(old_ms, 2),
            compose_ts(old_ms, 3),
        );
        for ts in [committed, rolled_back, waiting] {
            prewrite(&pump, ts).await;
        }
        let fresh = pump.tso.get_ts().await.unwrap();
        prewrite(&pump, fresh).await;
        let commit_ts = pump.tso.get_ts().await.unwrap();
        let resolver = TableResolver {
            answers: vec![
                (committed, TxnStatus::Committed(commit_ts)),
                (rolled_back, TxnStatus::RolledBack),
            ],
            asked: Mutex::new(Vec::new()),
        };
        let mut reported = StuckReports::default();
        check_pending_prewrites(&pump, Some(&resolver), &mut reported).await;

        // Only the stuck ones were asked about, with their primary keys.
        let asked = resolver.asked.lock().unwrap().clone();
        let expected: Vec<(u64, Vec<u8>)> = [committed, rolled_back, waiting]
            .iter()
            .map(|&ts| (ts, format!("key-{ts}").into_bytes()))
            .collect();
        assert_eq!(asked, expected);
        assert_eq!(pump.engine.pending_prewrites(), vec![waiting, fresh]);
        let commit = pump
            .engine
            .get(commit_ts)
            .unwrap()
            .expect("the resolved commit is stored");
        assert_eq!((commit.start_ts, commit.commit_ts), (committed, commit_ts));
        assert_eq!(pump.metrics.query_tikv.get(), 3);
        assert_eq!(pump.metrics.pending_prewrites.get(), 4.0);

        // The one still waiting is asked again next time; the settled ones are forgotten.
        check_pending_prewrites(&pump, Some(&resolver), &mut reported).await;
        assert_eq!(pump.metrics.query_tikv.get(), 4);
        assert_eq!(reported.0.keys().copied().collect::<Vec<_>>(), [waiting]);
    }

    #[test]
    fn a_stuck_prewrite_is_reported_again_only_when_its_outcome_changes() {
        let mut reported = StuckReports::default();
        assert!(reported.changed(7, "Pending".into()));
        assert!(!reported.changed(7, "Pending".into()));
        assert!(reported.changed(7, "Locked".into()));
        assert!(reported.changed(8, "Locked".into()));
        reported.retain_stuck(&[8]);
        assert!(reported.changed(7, "Locked".into()), "7 was forgotten");
        assert!(!reported.changed(8, "Locked".into()));
    }

    #[tokio::test]
    async fn without_a_resolver_stuck_prewrites_are_counted_and_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let pump = test_pump(dir.path()).await;
        let old = compose_ts(
            physical_ms(now_ts()) - 2 * STUCK_PREWRITE_AGE.as_millis() as u64,
            0,
        );
        prewrite(&pump, old).await;
        let mut reported = StuckReports::default();
        check_pending_prewrites(&pump, None, &mut reported).await;
        assert!(!reported.changed(old, String::new()), "reported once");
        assert_eq!(pump.metrics.pending_prewrites.get(), 1.0);
        assert_eq!(
            pump.metrics.oldest_pending_prewrite.get(),
            physical_ms(old) as f64
        );
        let age = pump.metrics.oldest_pending_prewrite_age.get();
        let stuck = STUCK_PREWRITE_AGE.as_secs_f64();
        assert!((2.0 * stuck..2.0 * stuck + 60.0).contains(&age), "{age}");
        assert_eq!(pump.engine.pending_prewrites(), vec![old]);
    }

    #[tokio::test]
    async fn no_pending_prewrite_is_an_age_of_zero() {
        let dir = tempfile::tempdir().unwrap();
        let pump = test_pump(dir.path()).await;
        pump.metrics.oldest_pending_prewrite_age.set(5.0);
        check_pending_prewrites(&pump, None, &mut StuckReports::default()).await;
        assert_eq!(pump.metrics.oldest_pending_prewrite_age.get(), 0.0);
    }
}
