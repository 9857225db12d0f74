//! `reparo`: replays the binlogs a drainer's `file` destination wrote (`pb_binlog` payloads)
//! into MySQL/TiDB, or prints them, between a start and a stop TSO, with the original's flags,
//! TOML keys, file selection, filters and print format. Beyond the original, a `mysql` replay
//! killed mid-way and run again resumes after what the destination holds, applying no row
//! twice.
//!
//! Module map:
//! - [`config`]: flags, TOML keys, validation; the TS range, the filter, the loader settings.
//! - [`read`]: the directory's files and records in the range, damage named by file and offset.
//! - [`filter`]: the replicate-* rules applied to a binlog's events and DDL.
//! - [`print`]: the `print` destination, in the original's format.
//! - [`apply`]: the `mysql` destination, through the drainer's SQL loader, exactly once.
//! - [`error`]: why a replay stops, [`ReparoError`].

pub mod apply;
pub mod config;
pub mod error;
pub mod filter;
pub mod print;
pub mod read;

use std::io::Write;

use self::apply::MysqlDestination;
use self::config::{DestType, ReparoConfig};
pub use self::error::ReparoError;
use self::read::DirReader;

/// What a replay did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Binlogs replayed (applied or printed).
    pub replayed: u64,
    /// Binlogs in the range the filter left out whole.
    pub filtered: u64,
    /// The commit TS of the last binlog replayed.
    pub last_commit_ts: Option<u64>,
}

/// Where the binlogs go.
enum Destination<'a, W: Write> {
    Print(&'a mut W),
    Mysql(Box<MysqlDestination>),
}

impl<W: Write> Destination<'_, W> {
    async fn apply(&mut self, record: read::Record) -> Result<(), ReparoError> {
        match self {
            Destination::Print(out) => print::print_binlog(&record.binlog, out),
            Destination::Mysql(mysql) => mysql.apply(record).await,
        }
    }

    async fn finish(self) -> Result<(), ReparoError> {
        match self {
            Destination::Print(out) => out.flush().map_err(ReparoError::Output),
            Destination::Mysql(mysql) => mysql.finish().await,
        }
    }
}

/// Replays `config.data_dir` to the configured destination; `print` writes to `out`.
pub async fn replay(config: &ReparoConfig, out: &mut impl Write) -> anyhow::Result<Summary> {
    let mut range = config.ts_range()?;
    let filter = config.filter()?;
    let mut destination = match config.dest_type()? {
        DestType::Print => Destination::Print(out),
        DestType::Mysql => {
            let mysql = MysqlDestination::open(config.loader_config()?).await?;
            if let Some(applied) = mysql.applied_ts().filter(|&ts| ts >= range.start) {
                tracing::info!(
                    applied_ts = applied,
                    "the destination's tidb_binlog.loader_progress says an earlier run applied \
                     everything up to this commit TS: resuming after it (drop that table to \
                     apply those binlogs again)"
                );
                range.start = applied + 1;
            }
            Destination::Mysql(Box::new(mysql))
        }
    };
    let mut reader = DirReader::open(&config.data_dir, range)?;
    let mut summary = Summary::default();
    while let Some(mut record) = reader.next_record()? {
        if !filter::retain(&filter, &mut record)? {
            summary.filtered += 1;
            continue;
        }
        summary.last_commit_ts = Some(record.commit_ts());
        destination.apply(record).await?;
        summary.replayed += 1;
    }
    destination.finish().await?;
    Ok(summary)
}
