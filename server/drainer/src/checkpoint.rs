//! Where the checkpoint lives ([`CheckpointStore`]): the commit TS below which everything is
//! durable downstream, read at start and saved as the progress tracker moves it. Today the
//! savepoint file ([`SavepointStore`], `<data-dir>/savepoint`); a SQL sink will keep it in a
//! downstream table and a Kafka sink in its topic, written with the data they cover.

use std::path::PathBuf;

use async_trait::async_trait;

use crate::blocking::blocking;
use binlog_node::savepoint::{self, Savepoint};
use binlog_node::Result;

/// A checkpoint as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Commit TS of the last binlog applied (0: none).
    pub commit_ts: u64,
    /// Saved by a clean stop.
    pub consistent: bool,
}

/// Loads and saves the checkpoint.
#[async_trait]
pub trait CheckpointStore: Send {
    /// The checkpoint an earlier run saved, if any.
    async fn load(&mut self) -> Result<Option<StoredCheckpoint>>;
    /// Saves `checkpoint`; it must be durable when this returns.
    async fn save(&mut self, checkpoint: StoredCheckpoint) -> Result<()>;
}

/// The savepoint file of the data dir (see [`binlog_node::savepoint`]).
#[derive(Debug)]
pub struct SavepointStore {
    data_dir: PathBuf,
    /// Kept as loaded (this build does not track schema versions).
    schema_version: i64,
}

impl SavepointStore {
    /// The savepoint of `data_dir`.
    pub fn new(data_dir: PathBuf) -> SavepointStore {
        SavepointStore {
            data_dir,
            schema_version: 0,
        }
    }
}

#[async_trait]
impl CheckpointStore for SavepointStore {
    async fn load(&mut self) -> Result<Option<StoredCheckpoint>> {
        let data_dir = self.data_dir.clone();
        let loaded = blocking(move || savepoint::read(&data_dir)).await?;
        Ok(loaded.map(|saved| {
            self.schema_version = saved.schema_version;
            StoredCheckpoint {
                commit_ts: saved.commit_ts.max(0) as u64,
                consistent: saved.consistent,
            }
        }))
    }

    async fn save(&mut self, checkpoint: StoredCheckpoint) -> Result<()> {
        let data_dir = self.data_dir.clone();
        let saved = Savepoint {
            consistent: checkpoint.consistent,
            commit_ts: checkpoint.commit_ts as i64,
            schema_version: self.schema_version,
        };
        blocking(move || savepoint::write(&data_dir, &saved)).await
    }
}
