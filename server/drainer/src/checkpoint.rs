//! Where the checkpoint lives ([`CheckpointStore`]): the commit TS below which everything is
//! durable downstream, read at start and saved as the progress tracker moves it: the savepoint
//! file ([`SavepointStore`], `<data-dir>/savepoint`), or for the `mysql`/`tidb` destinations
//! the original's table in the downstream database ([`DownstreamCheckpointStore`],
//! `tidb_binlog.checkpoint` by default, `[syncer.to.checkpoint] schema` and `table`).

use std::path::PathBuf;

use async_trait::async_trait;

use crate::blocking::blocking;
use crate::config::{DestinationKind, DrainerConfig};
use binlog_loader::CheckpointTable;
use binlog_node::savepoint::{self, Savepoint};
use binlog_node::Result;

use crate::sink::mysql::{self, downstream};

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

/// The checkpoint in the downstream database, as the original's mysql checkpoint: one row per
/// cluster ID holding `{"consistent":..,"commitTS":..,"ts-map":{},"schema-version":..}`.
pub struct DownstreamCheckpointStore {
    table: CheckpointTable,
}

impl DownstreamCheckpointStore {
    /// The store in `table` (see [`CheckpointTable::open`]).
    pub fn new(table: CheckpointTable) -> DownstreamCheckpointStore {
        DownstreamCheckpointStore { table }
    }
}

#[async_trait]
impl CheckpointStore for DownstreamCheckpointStore {
    async fn load(&mut self) -> Result<Option<StoredCheckpoint>> {
        let loaded = self.table.load().await.map_err(downstream)?;
        Ok(loaded.map(|saved| StoredCheckpoint {
            commit_ts: saved.commit_ts,
            consistent: saved.consistent,
        }))
    }

    async fn save(&mut self, checkpoint: StoredCheckpoint) -> Result<()> {
        // The schema version saved only grows from what was loaded: this drainer keeps its
        // schema history in its data dir and does not read it back from here.
        self.table
            .save(checkpoint.commit_ts, checkpoint.consistent, 0)
            .await
            .map_err(downstream)
    }
}

/// Where the checkpoint is kept: in the downstream for the SQL destinations (as the original),
/// else the savepoint file of the data dir.
pub async fn open_store(
    config: &DrainerConfig,
    cluster_id: u64,
) -> Result<Box<dyn CheckpointStore>> {
    if config.destination()? != DestinationKind::Sql {
        return Ok(Box::new(SavepointStore::new(config.data_dir.clone())));
    }
    let loader = mysql::loader_config(&config.syncer, |name| std::env::var(name).ok())?;
    let (schema, table) = mysql::checkpoint_table_name(&config.syncer.to)?;
    let table = CheckpointTable::open(&loader.connection, &schema, &table, cluster_id)
        .await
        .map_err(downstream)?;
    Ok(Box::new(DownstreamCheckpointStore::new(table)))
}
