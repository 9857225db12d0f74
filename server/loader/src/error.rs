//! The loader's errors: each names what was being applied (commit TS, the SQL with its values
//! left out as `?` placeholders) and what the server answered.

use crate::db_error::DbError;
use crate::txn::RowKind;

/// The loader's result.
pub type Result<T, E = LoaderError> = std::result::Result<T, E>;

/// Why loading stopped. Cloneable: a worker's failure is answered to every later call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoaderError {
    /// No session could be opened (or set up) on the downstream.
    #[error("cannot open a session on {addr}: {server}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// What the server or the network said.
        server: DbError,
    },
    /// A row statement (or the commit of its batch) failed.
    #[error("applying the transaction at commit TS {commit_ts} failed: {sql}: {server}")]
    Apply {
        /// The upstream transaction's commit TS.
        commit_ts: u64,
        /// The statement, values as `?`.
        sql: String,
        /// What the server said.
        server: DbError,
    },
    /// A DDL statement failed with an error that is not tolerated.
    #[error("the DDL at commit TS {commit_ts} failed: {query}: {server}")]
    Ddl {
        /// The DDL's commit TS.
        commit_ts: u64,
        /// The statement.
        query: String,
        /// What the server said.
        server: DbError,
    },
    /// The downstream's columns or keys of a table could not be read.
    #[error(
        "reading the keys of `{db}`.`{table}` (transaction at commit TS {commit_ts}): {server}"
    )]
    TableInfo {
        /// Database.
        db: String,
        /// Table.
        table: String,
        /// The transaction that needed them.
        commit_ts: u64,
        /// What the server said.
        server: DbError,
    },
    /// A transaction writes a table the downstream does not have.
    #[error(
        "table `{db}`.`{table}` (transaction at commit TS {commit_ts}) does not exist downstream"
    )]
    TableMissing {
        /// Database.
        db: String,
        /// Table.
        table: String,
        /// The transaction.
        commit_ts: u64,
    },
    /// A row's values do not match its column list.
    #[error(
        "a {kind:?} row of `{db}`.`{table}` at commit TS {commit_ts} has {values} values for {columns} columns"
    )]
    RowShape {
        /// Database.
        db: String,
        /// Table.
        table: String,
        /// Insert, update or delete.
        kind: RowKind,
        /// The transaction.
        commit_ts: u64,
        /// Values in the offending image.
        values: usize,
        /// Columns the table reference lists.
        columns: usize,
    },
    /// Reading or writing the loader's progress table failed.
    #[error("the loader's progress table: {sql}: {server}")]
    Progress {
        /// The statement, values as `?`.
        sql: String,
        /// What the server said.
        server: DbError,
    },
    /// The progress table holds rows this loader did not write as it writes them.
    #[error("the loader's progress table is inconsistent: {detail}")]
    ProgressInconsistent {
        /// What does not fit.
        detail: String,
    },
    /// A session variable in the configuration cannot be set.
    #[error("session variable {name:?} cannot be set by the configuration: {reason}")]
    InvalidParam {
        /// The variable.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Reading or writing the drainer's checkpoint table failed.
    #[error("the checkpoint table `{schema}`.`{table}`: {sql}: {server}")]
    Checkpoint {
        /// Its schema.
        schema: String,
        /// Its table.
        table: String,
        /// The statement, values as `?`.
        sql: String,
        /// What the server said.
        server: DbError,
    },
    /// The checkpoint row holds something else than the checkpoint's JSON.
    #[error("the checkpoint of cluster {cluster_id} is not a checkpoint: {text:?}: {reason}")]
    CheckpointUnreadable {
        /// The row's cluster ID.
        cluster_id: u64,
        /// The stored text.
        text: String,
        /// What the JSON parser said.
        reason: String,
    },
    /// Cluster ID 0 (unknown) but the checkpoint table holds several clusters' rows.
    #[error("the checkpoint table `{schema}`.`{table}` holds {rows} rows; give the cluster ID")]
    CheckpointAmbiguous {
        /// Its schema.
        schema: String,
        /// Its table.
        table: String,
        /// How many rows it holds.
        rows: usize,
    },
    /// A worker task ended without reporting an error (it panicked or was cancelled).
    #[error("a loader worker stopped unexpectedly")]
    WorkerGone,
}

impl LoaderError {
    /// Whether trying the same work again may succeed (the connection was lost, a deadlock).
    pub fn is_transient(&self) -> bool {
        self.server().is_some_and(|server| server.transient)
    }

    /// What the server said, when it was asked.
    pub fn server(&self) -> Option<&DbError> {
        match self {
            LoaderError::Connect { server, .. }
            | LoaderError::Apply { server, .. }
            | LoaderError::Ddl { server, .. }
            | LoaderError::TableInfo { server, .. }
            | LoaderError::Progress { server, .. }
            | LoaderError::Checkpoint { server, .. } => Some(server),
            LoaderError::TableMissing { .. }
            | LoaderError::RowShape { .. }
            | LoaderError::ProgressInconsistent { .. }
            | LoaderError::InvalidParam { .. }
            | LoaderError::CheckpointUnreadable { .. }
            | LoaderError::CheckpointAmbiguous { .. }
            | LoaderError::WorkerGone => None,
        }
    }
}
