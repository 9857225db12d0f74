//! The pump's Prometheus metrics, under the original names and labels (`pump/metrics.go`,
//! `pump/storage/metrics.go`), plus the `process_*` collector.
//!
//! Two departures, both so that `promtool check metrics` passes:
//! - The original's counters whose names do not end in `_total` (`binlog_pump_loss_binlog_count`,
//!   `binlog_pump_storage_query_tikv_count`, `binlog_pump_storage_error_count`) are exposed as
//!   `untyped` under the same names: the values and `rate()` queries are unchanged, and the
//!   linter's counter rules do not apply to untyped series.
//! - Series the engine measures itself (group write and `fdatasync` times, group sizes) are
//!   converted from its hdrhistograms into the original buckets at scrape time.

use std::sync::Arc;

use binlog_engine::metrics::MetricsSnapshot;
use binlog_engine::Engine;
use hdrhistogram::Histogram as HdrHistogram;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily};
use prometheus::{
    exponential_buckets, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    Opts, Registry,
};

use binlog_node::metrics_text::UntypedCounters;
use binlog_node::tso::physical_ms;

/// Buckets of `binlog_pump_rpc_duration_seconds`: exp(0.00005, x2, 18).
fn rpc_buckets() -> Vec<f64> {
    exponential_buckets(0.00005, 2.0, 18).expect("valid buckets")
}

/// Buckets of `binlog_pump_storage_write_binlog_duration_time`: exp(0.00005, x2, 20).
fn write_duration_buckets() -> Vec<f64> {
    exponential_buckets(0.00005, 2.0, 20).expect("valid buckets")
}

/// Buckets of `binlog_pump_storage_write_binlog_size`: exp(16, x2, 25).
fn write_size_buckets() -> Vec<f64> {
    exponential_buckets(16.0, 2.0, 25).expect("valid buckets")
}

/// Every metric the pump exposes.
pub struct PumpMetrics {
    registry: Registry,
    untyped: UntypedCounters,
    /// `binlog_pump_rpc_duration_seconds{method,label}`.
    pub rpc_duration: HistogramVec,
    /// `binlog_pump_loss_binlog_count`: failed `WriteBinlog` calls (not cluster-ID mismatches).
    pub loss_binlog: IntCounter,
    /// `binlog_pump_storage_error_count{type}`.
    pub storage_errors: IntCounterVec,
    /// `binlog_pump_storage_query_tikv_count`: resolver queries.
    pub query_tikv: IntCounter,
    /// `binlog_pump_storage_write_binlog_duration_time{type="single"}`: one append, queued to
    /// durable.
    pub write_single_duration: HistogramVec,
    /// `binlog_pump_storage_write_binlog_size{type="single"}`: one binlog's payload.
    pub write_single_size: HistogramVec,
    /// `binlog_pump_storage_gc_ts` (physical ms).
    pub gc_ts: Gauge,
    /// `binlog_pump_storage_done_gc_ts` (physical ms).
    pub done_gc_ts: Gauge,
    /// `binlog_pump_storage_max_commit_ts` (physical ms).
    pub max_commit_ts: Gauge,
    /// `binlog_pump_storage_storage_size_bytes{type=capacity|available}`.
    pub storage_size: GaugeVec,
    /// `binlog_pump_storage_pending_prewrites` (ours): prewrites without commit or rollback.
    pub pending_prewrites: Gauge,
    /// `binlog_pump_storage_oldest_pending_prewrite_ts` (ours, physical ms; 0 when none).
    pub oldest_pending_prewrite: Gauge,
    /// `binlog_pump_oldest_pending_prewrite_seconds` (ours): that prewrite's age, 0 when none.
    pub oldest_pending_prewrite_age: Gauge,
}

impl PumpMetrics {
    /// Creates and registers every metric; `engine` feeds the engine-measured series.
    pub fn new(engine: Arc<Engine>) -> PumpMetrics {
        let registry = Registry::new();
        let rpc_duration = HistogramVec::new(
            HistogramOpts::new(
                "rpc_duration_seconds",
                "Bucketed histogram of processing time (s) of rpc queries.",
            )
            .namespace("binlog")
            .subsystem("pump")
            .buckets(rpc_buckets()),
            &["method", "label"],
        )
        .expect("valid metric");
        let loss_binlog = IntCounter::with_opts(
            Opts::new("loss_binlog_count", "Total loss binlog count")
                .namespace("binlog")
                .subsystem("pump"),
        )
        .expect("valid metric");
        let storage_errors = IntCounterVec::new(
            storage_opts("error_count", "Total count of storage errors"),
            &["type"],
        )
        .expect("valid metric");
        let query_tikv = IntCounter::with_opts(storage_opts(
            "query_tikv_count",
            "Total count of querying tikv",
        ))
        .expect("valid metric");
        let write_single_duration = HistogramVec::new(
            HistogramOpts::new("write_binlog_duration_time", "write binlog duration time")
                .namespace("binlog")
                .subsystem("pump_storage")
                .buckets(write_duration_buckets()),
            &["type"],
        )
        .expect("valid metric");
        let write_single_size = HistogramVec::new(
            HistogramOpts::new("write_binlog_size", "write binlog size")
                .namespace("binlog")
                .subsystem("pump_storage")
                .buckets(write_size_buckets()),
            &["type"],
        )
        .expect("valid metric");
        let gauge = |name: &str, help: &str| {
            Gauge::with_opts(storage_opts(name, help)).expect("valid metric")
        };
        let gc_ts = gauge("gc_ts", "gc ts of storage");
        let done_gc_ts = gauge(
            "done_gc_ts",
            "the metadata and vlog after this gc ts has been collected",
        );
        let max_commit_ts = gauge("max_commit_ts", "max commit ts of storage");
        let pending_prewrites = gauge(
            "pending_prewrites",
            "prewrites stored without their commit or rollback",
        );
        let oldest_pending_prewrite = gauge(
            "oldest_pending_prewrite_ts",
            "physical ms of the oldest prewrite without commit or rollback (0: none)",
        );
        let oldest_pending_prewrite_age = Gauge::with_opts(
            Opts::new(
                "oldest_pending_prewrite_seconds",
                "age of the oldest prewrite without commit or rollback (0: none), refreshed \
                 every 10 s; it holds the watermark, and so every drainer, back",
            )
            .namespace("binlog")
            .subsystem("pump"),
        )
        .expect("valid metric");
        let storage_size = GaugeVec::new(
            storage_opts("storage_size_bytes", "storage size info"),
            &["type"],
        )
        .expect("valid metric");

        let untyped = UntypedCounters(vec![
            Box::new(loss_binlog.clone()),
            Box::new(storage_errors.clone()),
            Box::new(query_tikv.clone()),
        ]);
        let engine_series = EngineSeries {
            engine,
            durations: write_single_duration.clone(),
            sizes: write_single_size.clone(),
        };
        let collectors: Vec<Box<dyn Collector>> = vec![
            Box::new(rpc_duration.clone()),
            Box::new(engine_series),
            Box::new(gc_ts.clone()),
            Box::new(done_gc_ts.clone()),
            Box::new(max_commit_ts.clone()),
            Box::new(storage_size.clone()),
            Box::new(pending_prewrites.clone()),
            Box::new(oldest_pending_prewrite.clone()),
            Box::new(oldest_pending_prewrite_age.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        for collector in collectors {
            registry
                .register(collector)
                .expect("metric names are unique");
        }
        PumpMetrics {
            registry,
            untyped,
            rpc_duration,
            loss_binlog,
            storage_errors,
            query_tikv,
            write_single_duration,
            write_single_size,
            gc_ts,
            done_gc_ts,
            max_commit_ts,
            storage_size,
            pending_prewrites,
            oldest_pending_prewrite,
            oldest_pending_prewrite_age,
        }
    }

    /// Sets a TS gauge the way the original does: to the TS's physical milliseconds.
    pub fn set_ts(gauge: &Gauge, ts: u64) {
        gauge.set(physical_ms(ts) as f64);
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        binlog_node::metrics_text::render(&self.registry, &self.untyped)
    }
}

fn storage_opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help)
        .namespace("binlog")
        .subsystem("pump_storage")
}

/// `write_binlog_duration_time` and `write_binlog_size`: the `single` series the server records,
/// plus the engine's group figures (`to_disk`, `fsync`, `batch`) converted from hdrhistograms.
struct EngineSeries {
    engine: Arc<Engine>,
    durations: HistogramVec,
    sizes: HistogramVec,
}

impl Collector for EngineSeries {
    fn desc(&self) -> Vec<&Desc> {
        self.durations
            .desc()
            .into_iter()
            .chain(self.sizes.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let snapshot: MetricsSnapshot = self.engine.metrics();
        let mut durations = self.durations.collect();
        let mut sizes = self.sizes.collect();
        let seconds = write_duration_buckets();
        if let Some(family) = durations.first_mut() {
            family
                .mut_metric()
                .push(hdr_metric("to_disk", &snapshot.write, &seconds, 1e-9));
            family
                .mut_metric()
                .push(hdr_metric("fsync", &snapshot.sync, &seconds, 1e-9));
        }
        if let Some(family) = sizes.first_mut() {
            family.mut_metric().push(hdr_metric(
                "batch",
                &snapshot.group_bytes,
                &write_size_buckets(),
                1.0,
            ));
        }
        durations.into_iter().chain(sizes).collect()
    }
}

/// A histogram metric labelled `type=<kind>` from `histogram`, whose values times `scale` are
/// in the unit of `bounds`.
fn hdr_metric(
    kind: &str,
    histogram: &HdrHistogram<u64>,
    bounds: &[f64],
    scale: f64,
) -> proto::Metric {
    let buckets = bounds
        .iter()
        .map(|&bound| {
            let mut bucket = proto::Bucket::default();
            bucket.set_upper_bound(bound);
            let highest = (bound / scale) as u64;
            bucket.set_cumulative_count(histogram.count_between(0, highest));
            bucket
        })
        .collect();
    let mut value = proto::Histogram::default();
    value.set_bucket(buckets);
    value.set_sample_count(histogram.len());
    value.set_sample_sum(histogram.mean() * histogram.len() as f64 * scale);
    let mut label = proto::LabelPair::default();
    label.set_name("type".to_owned());
    label.set_value(kind.to_owned());
    let mut metric = proto::Metric::default();
    metric.set_label(vec![label]);
    metric.set_histogram(value);
    metric
}
