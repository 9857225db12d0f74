//! Counters and latency histograms (hdrhistogram) for the write, read, GC and recovery paths.
//! The server reads [`Metrics::snapshot`] and maps it to the original Prometheus names.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;

/// A histogram shared between the thread that records and the ones that read it.
pub struct SharedHistogram(Mutex<Histogram<u64>>);

impl SharedHistogram {
    fn new() -> SharedHistogram {
        SharedHistogram(Mutex::new(
            Histogram::new_with_bounds(1, u64::MAX >> 2, 3).expect("valid histogram bounds"),
        ))
    }

    /// Records one value.
    pub fn record(&self, value: u64) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .saturating_record(value.max(1));
    }

    /// Records a duration in nanoseconds.
    pub fn record_duration(&self, duration: Duration) {
        self.record(duration.as_nanos().min(u64::MAX as u128) as u64);
    }

    /// A copy of the current histogram.
    pub fn snapshot(&self) -> Histogram<u64> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The engine's metrics. Durations are in nanoseconds.
pub struct Metrics {
    /// Time an append waited in the queue before its group started.
    pub queue_wait: SharedHistogram,
    /// Time to make a group durable: its write and its `fdatasync`.
    pub write: SharedHistogram,
    /// Time of the `fdatasync` alone (pwrite backend; io_uring completes write and sync as one
    /// linked submission, so there `write` is the figure).
    pub sync: SharedHistogram,
    /// Records per group.
    pub group_records: SharedHistogram,
    /// Bytes per group.
    pub group_bytes: SharedHistogram,
    /// Time to read one batch of a pull.
    pub pull_batch: SharedHistogram,
    /// Time of one `gc` call.
    pub gc: SharedHistogram,
    /// Time of the last open (recovery).
    pub recovery: SharedHistogram,
    /// Records appended.
    pub appended_records: AtomicU64,
    /// Bytes appended (record spans).
    pub appended_bytes: AtomicU64,
    /// Appends that failed.
    pub append_errors: AtomicU64,
    /// Records served by pulls.
    pub pulled_records: AtomicU64,
    /// Segments removed or recycled by GC.
    pub gc_segments: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            queue_wait: SharedHistogram::new(),
            write: SharedHistogram::new(),
            sync: SharedHistogram::new(),
            group_records: SharedHistogram::new(),
            group_bytes: SharedHistogram::new(),
            pull_batch: SharedHistogram::new(),
            gc: SharedHistogram::new(),
            recovery: SharedHistogram::new(),
            appended_records: AtomicU64::new(0),
            appended_bytes: AtomicU64::new(0),
            append_errors: AtomicU64::new(0),
            pulled_records: AtomicU64::new(0),
            gc_segments: AtomicU64::new(0),
        }
    }
}

/// A point-in-time copy of [`Metrics`].
#[derive(Clone, Debug)]
pub struct MetricsSnapshot {
    /// See [`Metrics::queue_wait`].
    pub queue_wait: Histogram<u64>,
    /// See [`Metrics::write`].
    pub write: Histogram<u64>,
    /// See [`Metrics::sync`].
    pub sync: Histogram<u64>,
    /// See [`Metrics::group_records`].
    pub group_records: Histogram<u64>,
    /// See [`Metrics::group_bytes`].
    pub group_bytes: Histogram<u64>,
    /// See [`Metrics::pull_batch`].
    pub pull_batch: Histogram<u64>,
    /// See [`Metrics::gc`].
    pub gc: Histogram<u64>,
    /// See [`Metrics::recovery`].
    pub recovery: Histogram<u64>,
    /// See [`Metrics::appended_records`].
    pub appended_records: u64,
    /// See [`Metrics::appended_bytes`].
    pub appended_bytes: u64,
    /// See [`Metrics::append_errors`].
    pub append_errors: u64,
    /// See [`Metrics::pulled_records`].
    pub pulled_records: u64,
    /// See [`Metrics::gc_segments`].
    pub gc_segments: u64,
}

impl Metrics {
    /// Copies every metric.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            queue_wait: self.queue_wait.snapshot(),
            write: self.write.snapshot(),
            sync: self.sync.snapshot(),
            group_records: self.group_records.snapshot(),
            group_bytes: self.group_bytes.snapshot(),
            pull_batch: self.pull_batch.snapshot(),
            gc: self.gc.snapshot(),
            recovery: self.recovery.snapshot(),
            appended_records: load(&self.appended_records),
            appended_bytes: load(&self.appended_bytes),
            append_errors: load(&self.append_errors),
            pulled_records: load(&self.pulled_records),
            gc_segments: load(&self.gc_segments),
        }
    }
}
