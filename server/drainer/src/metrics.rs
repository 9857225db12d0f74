//! The drainer's Prometheus metrics under the original names (`drainer/metrics.go`,
//! `pkg/binlogfile/metrics.go`), plus `process_*`. The original counters without `_total`
//! (`binlog_drainer_event`, `binlog_drainer_error_count`) are exposed as `untyped` (see
//! [`binlog_node::metrics_text`]).

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
    /// `binlog_drainer_checkpoint_delay_seconds`.
    checkpoint_delay: Histogram,
    /// `binlog_drainer_event{type}`: rows by type, DDLs, savepoints.
    events: IntCounterVec,
    /// `binlog_drainer_event{type="savepoint"}`.
    pub savepoint_events: IntCounter,
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
            Box::new(checkpoint_delay.clone()),
            Box::new(execute_duration.clone()),
            Box::new(query_duration.clone()),
            Box::new(ddl_jobs.clone()),
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
            checkpoint_delay,
            savepoint_events: events.with_label_values(&["savepoint"]),
            unmarshal_errors: errors.with_label_values(&["unmarshal_binlog"]),
            events,
            execute_duration,
            query_duration,
            ddl_jobs,
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
        let ms = physical_ms(ts);
        self.checkpoint_tso.set(ms as f64);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        self.checkpoint_delay
            .observe(now_ms.saturating_sub(ms) as f64 / 1000.0);
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
        let _ = self.read_size.remove_label_values(&[pump]);
        let _ = self.reach_duration.remove_label_values(&[pump]);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        binlog_node::metrics_text::render(&self.registry, &self.untyped)
    }
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
