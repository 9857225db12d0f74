//! The drainer's Prometheus metrics under the original names (`drainer/metrics.go`,
//! `pkg/binlogfile/metrics.go`), plus `process_*`. The original counters without `_total`
//! (`binlog_drainer_event`, `binlog_drainer_error_count`) are exposed as `untyped` (see
//! [`binlog_node::metrics_text`]).
//!
//! Ours, for a bad day: `binlog_drainer_checkpoint_lag_seconds` and
//! `binlog_drainer_pump_lag_seconds{nodeID}`, wall clock minus a TS's physical time, refreshed on
//! every scrape so that they grow while the checkpoint or a pump is stuck; and
//! `binlog_drainer_skipped_binlogs_total{reason}`, binlogs skipped on purpose.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::core::Collector;
use prometheus::{
    exponential_buckets, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, Opts, Registry,
};

use binlog_loader::{LoadTxn, QueryObserver, RowKind, TxnBody};
use binlog_node::metrics_text::UntypedCounters;
use binlog_node::proto::{Binlog, PrewriteValue};
use binlog_node::tso::physical_ms;

/// Every metric the drainer exposes.
pub struct DrainerMetrics {
    registry: Registry,
    untyped: UntypedCounters,
    /// `binlog_drainer_pump_position{nodeID}` (physical ms).
    pump_position: GaugeVec,
    /// `binlog_drainer_checkpoint_tso` (physical ms).
    checkpoint_tso: Gauge,
    /// `binlog_drainer_checkpoint_lag_seconds` (ours).
    checkpoint_lag: Gauge,
    /// `binlog_drainer_pump_lag_seconds{nodeID}` (ours).
    pump_lag: GaugeVec,
    /// `binlog_drainer_checkpoint_delay_seconds`.
    checkpoint_delay: Histogram,
    /// `binlog_drainer_event{type}`: rows by type, DDLs, savepoints.
    events: IntCounterVec,
    /// `binlog_drainer_event{type="savepoint"}`.
    pub savepoint_events: IntCounter,
    /// `binlog_drainer_skipped_binlogs_total{reason}` (ours): binlogs skipped on purpose.
    skipped_binlogs: IntCounterVec,
    /// `binlog_drainer_error_count{type="unmarshal_binlog"}`.
    pub unmarshal_errors: IntCounter,
    /// `binlog_drainer_execute_duration_time`: one sink write.
    execute_duration: Histogram,
    /// `binlog_drainer_query_duration_time{type}`: the SQL destinations' statements (`exec`)
    /// and commits (`commit`).
    query_duration: HistogramVec,
    /// `binlog_drainer_ddl_jobs_total`: DDL jobs fetched from TiDB.
    pub ddl_jobs: IntCounter,
    /// `binlog_drainer_binlog_reach_duration_time{nodeID}`.
    reach_duration: HistogramVec,
    /// `binlog_drainer_read_binlog_size{nodeID}`.
    read_size: HistogramVec,
    /// `binlog_binlogfile_write_binlog_size{label="local"}`.
    file_write_size: Histogram,
}

impl Default for DrainerMetrics {
    fn default() -> DrainerMetrics {
        DrainerMetrics::new()
    }
}

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
        .namespace("binlog")
        .subsystem("drainer")
}

fn histogram_opts(name: &str, help: &str, buckets: Vec<f64>) -> HistogramOpts {
    HistogramOpts::new(name, help)
        .namespace("binlog")
        .subsystem("drainer")
        .buckets(buckets)
}

fn buckets(start: f64, count: usize) -> Vec<f64> {
    exponential_buckets(start, 2.0, count).expect("valid buckets")
}

impl DrainerMetrics {
    /// Creates and registers every metric.
    pub fn new() -> DrainerMetrics {
        let registry = Registry::new();
        let pump_position =
            GaugeVec::new(opts("pump_position", "position for each pump"), &["nodeID"])
                .expect("valid metric");
        let checkpoint_tso =
            Gauge::with_opts(opts("checkpoint_tso", "save checkpoint tso")).expect("valid metric");
        let checkpoint_lag = Gauge::with_opts(opts(
            "checkpoint_lag_seconds",
            "Wall clock minus the physical time of the saved checkpoint TS (0 before the first \
             save); refreshed on scrape, so it grows while the checkpoint is stuck",
        ))
        .expect("valid metric");
        let pump_lag = GaugeVec::new(
            opts(
                "pump_lag_seconds",
                "Wall clock minus the physical time of the newest TS read from each pump; \
                 refreshed on scrape, so it grows while a pump is not read",
            ),
            &["nodeID"],
        )
        .expect("valid metric");
        let checkpoint_delay = Histogram::with_opts(histogram_opts(
            "checkpoint_delay_seconds",
            "How much the downstream checkpoint lag behind",
            buckets(0.001, 22),
        ))
        .expect("valid metric");
        let events =
            IntCounterVec::new(opts("event", "the count of sql event(dml, ddl)"), &["type"])
                .expect("valid metric");
        let errors =
            IntCounterVec::new(opts("error_count", "Total count of error type"), &["type"])
                .expect("valid metric");
        let execute_duration = Histogram::with_opts(histogram_opts(
            "execute_duration_time",
            "Bucketed histogram of processing time (s) of a execute to sync data to downstream.",
            buckets(0.00005, 18),
        ))
        .expect("valid metric");
        let query_duration = HistogramVec::new(
            histogram_opts(
                "query_duration_time",
                "Bucketed histogram of processing time (s) of a query to sync data to downstream.",
                buckets(0.00005, 18),
            ),
            &["type"],
        )
        .expect("valid metric");
        let skipped_binlogs = IntCounterVec::new(
            opts(
                "skipped_binlogs_total",
                "Binlogs skipped on purpose, by reason: ignore-txn-commit-ts (config) or \
                 skip-commit-ts (recorded by an operator)",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let ddl_jobs = IntCounter::with_opts(opts("ddl_jobs_total", "Total ddl jobs count"))
            .expect("valid metric");
        let reach_duration = HistogramVec::new(
            histogram_opts(
                "binlog_reach_duration_time",
                "Bucketed histogram of how long the binlog take to reach drainer since it's committed",
                buckets(0.001, 22),
            ),
            &["nodeID"],
        )
        .expect("valid metric");
        let read_size = HistogramVec::new(
            histogram_opts(
                "read_binlog_size",
                "Bucketed histogram of size of a binlog.",
                buckets(16.0, 25),
            ),
            &["nodeID"],
        )
        .expect("valid metric");
        let file_write_size = Histogram::with_opts(
            HistogramOpts::new("write_binlog_size", "write binlog size")
                .namespace("binlog")
                .subsystem("binlogfile")
                .const_label("label", "local")
                .buckets(buckets(16.0, 25)),
        )
        .expect("valid metric");
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(pump_position.clone()),
            Box::new(checkpoint_tso.clone()),
            Box::new(checkpoint_lag.clone()),
            Box::new(pump_lag.clone()),
            Box::new(checkpoint_delay.clone()),
            Box::new(execute_duration.clone()),
            Box::new(query_duration.clone()),
            Box::new(ddl_jobs.clone()),
            Box::new(skipped_binlogs.clone()),
            Box::new(reach_duration.clone()),
            Box::new(read_size.clone()),
            Box::new(file_write_size.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for collector in collectors {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        DrainerMetrics {
            registry,
            untyped: UntypedCounters(vec![Box::new(events.clone()), Box::new(errors.clone())]),
            pump_position,
            checkpoint_tso,
            checkpoint_lag,
            pump_lag,
            checkpoint_delay,
            savepoint_events: events.with_label_values(&["savepoint"]),
            unmarshal_errors: errors.with_label_values(&["unmarshal_binlog"]),
            events,
            execute_duration,
            query_duration,
            ddl_jobs,
            skipped_binlogs,
            reach_duration,
            read_size,
            file_write_size,
        }
    }

    /// A binlog read from `pump`.
    pub fn observe_read(&self, pump: &str, size: usize, reach_seconds: f64) {
        self.read_size
            .with_label_values(&[pump])
            .observe(size as f64);
        self.reach_duration
            .with_label_values(&[pump])
            .observe(reach_seconds);
    }

    /// A binlog skipped on purpose, for `reason`.
    pub fn count_skip(&self, reason: &str) {
        self.skipped_binlogs.with_label_values(&[reason]).inc();
    }

    /// One sink write, which took `took`.
    pub fn observe_execute(&self, took: Duration) {
        self.execute_duration.observe(took.as_secs_f64());
    }

    /// What the SQL destinations tell about their statements, into `query_duration_time`.
    pub fn query_observer(&self) -> Arc<dyn QueryObserver> {
        Arc::new(QueryTimes(self.query_duration.clone()))
    }

    /// A transaction for the sink (`payload_bytes` as pulled, `binlog` decoded): its size, and
    /// its rows or its DDL, counted from its translated rows (`load`) when it has them, else
    /// from its prewrite value.
    pub fn observe_txn(&self, payload_bytes: usize, binlog: &Binlog, load: Option<&LoadTxn>) {
        self.file_write_size.observe(payload_bytes as f64);
        if binlog.ddl_job_id > 0 {
            self.events.with_label_values(&["DDL"]).inc();
            return;
        }
        let (mut inserted, mut updated, mut deleted) = (0, 0, 0);
        match load.map(|load| &load.body) {
            Some(TxnBody::Rows(events)) => {
                for event in events {
                    match event.kind {
                        RowKind::Insert => inserted += 1,
                        RowKind::Update => updated += 1,
                        RowKind::Delete => deleted += 1,
                    }
                }
            }
            Some(TxnBody::Ddl(_)) => return,
            None => {
                let Some(value) = binlog.prewrite_value.as_deref() else {
                    return;
                };
                let Ok(value) = <PrewriteValue as prost::Message>::decode(value) else {
                    return;
                };
                for mutation in &value.mutations {
                    inserted += mutation.inserted_rows.len();
                    updated += mutation.updated_rows.len();
                    deleted += mutation.deleted_count();
                }
            }
        }
        for (kind, rows) in [
            ("Insert", inserted),
            ("Update", updated),
            ("Delete", deleted),
        ] {
            if rows > 0 {
                self.events.with_label_values(&[kind]).inc_by(rows as u64);
            }
        }
    }

    /// A checkpoint saved at `ts`.
    pub fn set_checkpoint(&self, ts: u64) {
        self.checkpoint_tso.set(physical_ms(ts) as f64);
        let lag = seconds_since(ts);
        self.checkpoint_lag.set(lag);
        self.checkpoint_delay.observe(lag);
    }

    /// Brings the lag gauges to now, before a scrape: the checkpoint is at `checkpoint_ts`, each
    /// pump read up to its `positions` entry.
    pub fn refresh_lags(&self, checkpoint_ts: u64, positions: &BTreeMap<String, u64>) {
        if checkpoint_ts > 0 {
            self.checkpoint_lag.set(seconds_since(checkpoint_ts));
        }
        for (pump, &ts) in positions {
            self.pump_lag
                .with_label_values(&[pump])
                .set(seconds_since(ts));
        }
    }

    /// The position of `pump`.
    pub fn set_pump_position(&self, pump: &str, ts: u64) {
        self.pump_position
            .with_label_values(&[pump])
            .set(physical_ms(ts) as f64);
    }

    /// Forgets an offline pump's series.
    pub fn remove_pump(&self, pump: &str) {
        let _ = self.pump_position.remove_label_values(&[pump]);
        let _ = self.pump_lag.remove_label_values(&[pump]);
        let _ = self.read_size.remove_label_values(&[pump]);
        let _ = self.reach_duration.remove_label_values(&[pump]);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        binlog_node::metrics_text::render(&self.registry, &self.untyped)
    }
}

/// Seconds from the physical time of TSO `ts` to now (0 for a TS ahead of the clock).
pub fn seconds_since(ts: u64) -> f64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    now_ms.saturating_sub(physical_ms(ts)) as f64 / 1000.0
}

/// `binlog_drainer_query_duration_time{type}` as the loader's observer.
struct QueryTimes(HistogramVec);

impl QueryObserver for QueryTimes {
    fn exec(&self, took: Duration) {
        self.0
            .with_label_values(&["exec"])
            .observe(took.as_secs_f64());
    }

    fn commit(&self, took: Duration) {
        self.0
            .with_label_values(&["commit"])
            .observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use binlog_node::tso::compose_ts;

    fn ts_seconds_ago(seconds: u64) -> u64 {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        compose_ts(now_ms - seconds * 1000, 0)
    }

    #[test]
    fn lags_are_brought_to_now_on_scrape_and_forgotten_with_the_pump() {
        let metrics = DrainerMetrics::new();
        metrics.refresh_lags(0, &BTreeMap::new());
        assert_eq!(metrics.checkpoint_lag.get(), 0.0, "no checkpoint yet");
        let positions = BTreeMap::from([("p".to_string(), ts_seconds_ago(30))]);
        metrics.refresh_lags(ts_seconds_ago(60), &positions);
        let checkpoint = metrics.checkpoint_lag.get();
        assert!((60.0..61.0).contains(&checkpoint), "{checkpoint}");
        let pump = metrics.pump_lag.with_label_values(&["p"]).get();
        assert!((30.0..31.0).contains(&pump), "{pump}");
        assert!(metrics
            .render()
            .contains("binlog_drainer_pump_lag_seconds{nodeID=\"p\"} 3"));
        metrics.remove_pump("p");
        assert!(!metrics.render().contains("pump_lag_seconds{"));
        assert_eq!(seconds_since(ts_seconds_ago(0) + (10_000 << 18)), 0.0);
    }
}
