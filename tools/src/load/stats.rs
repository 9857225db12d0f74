//! What a run measures while it runs: per-type counters and latency histograms, gathered by
//! each client and merged at the end ([`super::report`] renders them).

use std::time::Duration;

use hdrhistogram::Histogram;

/// Latencies above this (µs) are recorded as this.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The rows of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Row {
    /// Prewrite binlogs of ordinary (and rolled-back) transactions.
    Prewrite,
    /// Commit binlogs of ordinary transactions.
    Commit,
    /// Rollback binlogs.
    Rollback,
    /// Both binlogs (prewrite and commit) of DDL transactions.
    Ddl,
    /// Whole transactions: TSO calls and every write, from start TS to the last ack.
    Txn,
}

impl Row {
    /// Every row, in table order.
    pub const ALL: [Row; 5] = [
        Row::Prewrite,
        Row::Commit,
        Row::Rollback,
        Row::Ddl,
        Row::Txn,
    ];

    /// The row's name in the table and messages.
    pub fn name(self) -> &'static str {
        match self {
            Row::Prewrite => "prewrite",
            Row::Commit => "commit",
            Row::Rollback => "rollback",
            Row::Ddl => "ddl",
            Row::Txn => "txn",
        }
    }
}

/// Counters and latencies of one row, as one client gathers them.
#[derive(Clone, Debug)]
pub struct RowStats {
    pub(super) count: u64,
    pub(super) errors: u64,
    pub(super) bytes: u64,
    pub(super) latency: Histogram<u64>,
}

impl RowStats {
    fn new() -> RowStats {
        RowStats {
            count: 0,
            errors: 0,
            bytes: 0,
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                .expect("valid histogram bounds"),
        }
    }

    fn record(&mut self, latency: Duration, bytes: usize, ok: bool) {
        if ok {
            self.count += 1;
            self.bytes += bytes as u64;
            self.latency
                .saturating_record((latency.as_micros() as u64).max(1));
        } else {
            self.errors += 1;
        }
    }

    fn merge(&mut self, other: &RowStats) {
        self.count += other.count;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.latency
            .add(&other.latency)
            .expect("histograms with the same bounds");
    }
}

/// Everything one client measured; merged into a [`Report`].
#[derive(Clone, Debug)]
pub struct Stats {
    pub(super) rows: [RowStats; 5],
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            rows: std::array::from_fn(|_| RowStats::new()),
        }
    }
}

impl Stats {
    /// Records one write (or, for [`Row::Txn`], one transaction): its latency, payload bytes
    /// and whether it succeeded. Failures count as errors and carry no latency.
    pub fn record(&mut self, row: Row, latency: Duration, bytes: usize, ok: bool) {
        self.rows[row as usize].record(latency, bytes, ok);
    }

    /// Adds `other`'s measurements to these.
    pub fn merge(&mut self, other: &Stats) {
        for (mine, theirs) in self.rows.iter_mut().zip(&other.rows) {
            mine.merge(theirs);
        }
    }
}
