//! What a run measured: per-type counters and latency histograms gathered by the clients, and
//! the report made from them, printed as a table and serialised as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::stats::{Row, RowStats, Stats};
use super::verify::VerifyReport;

/// Latency percentiles of a row, µs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

/// One row of the report.
#[derive(Clone, Debug, Serialize)]
pub struct RowReport {
    /// Successful writes (transactions for `txn`).
    pub count: u64,
    /// Failed writes (transactions with a failure for `txn`).
    pub errors: u64,
    /// Payload bytes written successfully (marshalled binlogs).
    pub bytes: u64,
    /// `count` per second.
    pub per_sec: f64,
    /// Payload MB (10^6 bytes) per second.
    pub mb_per_sec: f64,
    /// Latency percentiles of successful writes, µs.
    pub latency_us: Latency,
}

impl RowReport {
    fn new(stats: &RowStats, secs: f64) -> RowReport {
        let h = &stats.latency;
        let latency = if h.is_empty() {
            Latency::default()
        } else {
            Latency {
                p50: h.value_at_quantile(0.5),
                p90: h.value_at_quantile(0.9),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                max: h.max(),
            }
        };
        RowReport {
            count: stats.count,
            errors: stats.errors,
            bytes: stats.bytes,
            per_sec: stats.count as f64 / secs,
            mb_per_sec: stats.bytes as f64 / secs / 1e6,
            latency_us: latency,
        }
    }
}

/// The rows of the report, by name.
#[derive(Clone, Debug, Serialize)]
pub struct Rows {
    /// Prewrite binlogs of ordinary and rolled-back transactions.
    pub prewrite: RowReport,
    /// Commit binlogs of ordinary transactions.
    pub commit: RowReport,
    /// Rollback binlogs.
    pub rollback: RowReport,
    /// Prewrite and commit binlogs of DDL transactions.
    pub ddl: RowReport,
    /// Whole transactions.
    pub txn: RowReport,
}

impl Rows {
    fn get(&self, row: Row) -> &RowReport {
        match row {
            Row::Prewrite => &self.prewrite,
            Row::Commit => &self.commit,
            Row::Rollback => &self.rollback,
            Row::Ddl => &self.ddl,
            Row::Txn => &self.txn,
        }
    }
}

/// The settings a run used, echoed in the report.
#[derive(Clone, Debug, Serialize)]
pub struct Settings {
    /// Pump addresses written to.
    pub pumps: Vec<String>,
    /// Concurrent clients.
    pub clients: u32,
    /// Value size distribution.
    pub value_size: String,
    /// Every how many transactions a DDL is written (0: never).
    pub ddl_every: u64,
    /// Fraction of transactions rolled back.
    pub rollback_fraction: f64,
    /// Rate limit, transactions per second (`None`: unlimited).
    pub rate: Option<f64>,
    /// Whether writes were gzip-compressed.
    pub gzip: bool,
}

/// The result of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What was run.
    pub settings: Settings,
    /// Wall time of the load, seconds.
    pub elapsed_secs: f64,
    /// Transactions that completed without an error.
    pub transactions: u64,
    /// Binlogs acknowledged.
    pub binlogs: u64,
    /// Completed transactions per second.
    pub txn_per_sec: f64,
    /// Acknowledged binlogs per second.
    pub binlogs_per_sec: f64,
    /// Payload MB (10^6 bytes) per second, all binlogs.
    pub mb_per_sec: f64,
    /// Failed writes (TSO failures included).
    pub write_errors: u64,
    /// The first few error messages.
    pub first_errors: Vec<String>,
    /// Per-type rows.
    pub types: Rows,
    /// The verification's result, with `--verify`.
    pub verify: Option<VerifyReport>,
}

impl Report {
    /// The report of a load that took `elapsed` and measured `stats`.
    pub fn new(
        settings: Settings,
        elapsed: Duration,
        stats: &Stats,
        first_errors: Vec<String>,
    ) -> Report {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let row = |row: Row| RowReport::new(&stats.rows[row as usize], secs);
        let types = Rows {
            prewrite: row(Row::Prewrite),
            commit: row(Row::Commit),
            rollback: row(Row::Rollback),
            ddl: row(Row::Ddl),
            txn: row(Row::Txn),
        };
        let writes = [Row::Prewrite, Row::Commit, Row::Rollback, Row::Ddl].map(|r| types.get(r));
        let binlogs = writes.iter().map(|r| r.count).sum::<u64>();
        let bytes = writes.iter().map(|r| r.bytes).sum::<u64>();
        let write_errors = writes.iter().map(|r| r.errors).sum::<u64>();
        Report {
            settings,
            elapsed_secs: secs,
            transactions: types.txn.count,
            binlogs,
            txn_per_sec: types.txn.count as f64 / secs,
            binlogs_per_sec: binlogs as f64 / secs,
            mb_per_sec: bytes as f64 / secs / 1e6,
            write_errors,
            first_errors,
            types,
            verify: None,
        }
    }

    /// The report as an aligned text table with a summary line.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<9} {:>9} {:>7} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "type",
            "count",
            "errors",
            "per sec",
            "MB/s",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "p99.9 µs",
            "max µs"
        );
        for row in Row::ALL {
            let r = self.types.get(row);
            let l = &r.latency_us;
            let _ = writeln!(
                out,
                "{:<9} {:>9} {:>7} {:>10.1} {:>8.2} {:>9} {:>9} {:>9} {:>9} {:>9}",
                row.name(),
                r.count,
                r.errors,
                r.per_sec,
                r.mb_per_sec,
                l.p50,
                l.p90,
                l.p99,
                l.p999,
                l.max
            );
        }
        let _ = writeln!(
            out,
            "{} txns, {} binlogs in {:.2} s: {:.1} txn/s, {:.1} binlogs/s, {:.2} MB/s payload, \
             {} write errors",
            self.transactions,
            self.binlogs,
            self.elapsed_secs,
            self.txn_per_sec,
            self.binlogs_per_sec,
            self.mb_per_sec,
            self.write_errors
        );
        for message in &self.first_errors {
            let _ = writeln!(out, "  error: {message}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_stats_make_rows_and_totals() {
        let mut a = Stats::default();
        let mut b = Stats::default();
        for i in 1..=100 {
            a.record(Row::Prewrite, Duration::from_micros(i), 10, true);
            b.record(Row::Commit, Duration::from_micros(i * 2), 5, true);
        }
        b.record(Row::Commit, Duration::from_micros(1), 5, false);
        b.record(Row::Txn, Duration::from_micros(300), 0, true);
        a.merge(&b);
        let settings = Settings {
            pumps: vec!["p".into()],
            clients: 2,
            value_size: "1B".into(),
            ddl_every: 0,
            rollback_fraction: 0.0,
            rate: None,
            gzip: false,
        };
        let report = Report::new(settings, Duration::from_secs(2), &a, vec![]);
        assert_eq!(report.binlogs, 200);
        assert_eq!(report.write_errors, 1);
        assert_eq!(report.transactions, 1);
        assert_eq!(report.types.prewrite.latency_us.p50, 50);
        assert_eq!(report.types.commit.latency_us.max, 200);
        assert_eq!(report.types.commit.per_sec, 50.0);
        assert!((report.mb_per_sec - 1500.0 / 2.0 / 1e6).abs() < 1e-12);
        assert!(report.table().contains("1 write errors"));
    }
}
