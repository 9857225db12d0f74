//! The `mysql` destination: binlogs applied to `[dest-db]` by the drainer's SQL loader
//! ([`binlog_loader::Loader`]), exactly once across crashes.
//!
//! The loader writes, in the same downstream transactions as the rows, how far each of its
//! workers got (`tidb_binlog.loader_progress`). At open, [`MysqlDestination::applied_ts`] is the
//! commit TS up to which everything is applied; a rerun starts after it, and the loader skips
//! the rows of the next transactions its workers had already committed, so a reparo killed
//! mid-way and run again applies every row once, keyless tables included.

use binlog_archive::pb_binlog;
use binlog_loader::{Loader, LoaderConfig};

use super::error::ReparoError;
use super::read::Record;

/// The loader and what it reported applied at open.
pub struct MysqlDestination {
    loader: Loader,
}

impl MysqlDestination {
    /// Connects to the destination and reads its progress table (creating it when missing).
    pub async fn open(config: LoaderConfig) -> Result<MysqlDestination, ReparoError> {
        let addr = config.connection.addr();
        let loader = Loader::open(config).await?;
        tracing::info!(%addr, applied_ts = ?loader.applied_ts(), "connected to the destination");
        Ok(MysqlDestination { loader })
    }

    /// The commit TS at or below which every binlog was applied by an earlier run.
    pub fn applied_ts(&self) -> Option<u64> {
        self.loader.applied_ts()
    }

    /// Queues `record`'s binlog for the workers; returns once it is queued (a DDL once it
    /// ran).
    pub async fn apply(&mut self, record: Record) -> Result<(), ReparoError> {
        let Record {
            path,
            offset,
            binlog,
        } = record;
        let txn = pb_binlog::from_message(binlog).map_err(|source| ReparoError::Binlog {
            path,
            offset,
            source,
        })?;
        let commit_ts = txn.commit_ts;
        self.loader
            .load(
                txn,
                Box::new(move || tracing::debug!(commit_ts, "binlog applied")),
            )
            .await?;
        Ok(())
    }

    /// Commits everything queued and records it applied.
    pub async fn finish(mut self) -> Result<(), ReparoError> {
        Ok(self.loader.flush().await?)
    }
}
