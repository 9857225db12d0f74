//! The loader's progress table, `tidb_binlog.loader_progress`, written in the same downstream
//! transaction as the rows it accounts for: after a crash it tells exactly which rows were
//! applied, so replaying from an older checkpoint applies nothing twice.
//!
//! ```sql
//! CREATE TABLE tidb_binlog.loader_progress (
//!   worker      INT PRIMARY KEY,          -- worker index; -1 is the barrier row
//!   workers     INT NOT NULL,             -- the worker count rows were dispatched over
//!   commit_ts   BIGINT UNSIGNED NOT NULL, -- the last transaction the worker applied rows of
//!   row_ordinal INT NOT NULL,             -- 1-based: the last of that transaction's rows
//!                                         -- dispatched to this worker that it applied
//!   updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
//! )
//! ```
//!
//! The barrier row (worker -1, ordinal 0) means every transaction at or below its commit TS is
//! applied: written after a DDL ran (and just before, at the TS below it), when the worker count
//! changes, and by `flush`. Worker rows all carry the same `workers`: a change of worker count
//! deletes them in the transaction that writes the barrier row.

use crate::db_error::DbError;
use crate::error::{LoaderError, Result};
use crate::session::Timed;

const CREATE_SCHEMA: &str = "CREATE DATABASE IF NOT EXISTS tidb_binlog";
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS tidb_binlog.loader_progress (\
    worker INT PRIMARY KEY, \
    workers INT NOT NULL, \
    commit_ts BIGINT UNSIGNED NOT NULL, \
    row_ordinal INT NOT NULL, \
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)";
const READ_ALL: &str =
    "SELECT worker, workers, commit_ts, row_ordinal FROM tidb_binlog.loader_progress";
const READ_WORKER: &str =
    "SELECT commit_ts, row_ordinal FROM tidb_binlog.loader_progress WHERE worker = ?";
/// Records a worker's (or the barrier row's) progress.
pub(crate) const UPSERT: &str = "REPLACE INTO tidb_binlog.loader_progress \
    (worker, workers, commit_ts, row_ordinal) VALUES (?, ?, ?, ?)";
const DELETE_WORKERS: &str = "DELETE FROM tidb_binlog.loader_progress WHERE worker >= 0";

/// The worker index of the barrier row.
const BARRIER_ROW: i64 = -1;

/// A position in the sequence of rows given to one worker: a transaction, then the row's
/// 1-based ordinal among that transaction's rows for this worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    /// The transaction's commit TS.
    pub commit_ts: u64,
    /// The row's ordinal (the first row is 1).
    pub ordinal: u32,
}

/// What the progress table held when the loader opened.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Stored {
    /// Every transaction at or below this commit TS is applied (the barrier row).
    pub applied_through: Option<u64>,
    /// The worker count of the worker rows, when there are any.
    pub workers: Option<usize>,
    /// Per worker index (below `workers`), the last row it applied.
    pub positions: Vec<Option<Position>>,
}

impl Stored {
    /// The highest commit TS a worker row holds.
    pub fn last_worker_ts(&self) -> Option<u64> {
        self.positions.iter().flatten().map(|p| p.commit_ts).max()
    }

    /// The highest commit TS at or below which every transaction is known applied: the barrier
    /// row, or below the oldest worker row when every worker has one (each applies its rows in
    /// order).
    pub fn applied_ts(&self) -> Option<u64> {
        let all_workers = self
            .positions
            .iter()
            .map(|p| p.map(|p| p.commit_ts.saturating_sub(1)))
            .collect::<Option<Vec<u64>>>()
            .and_then(|below| below.into_iter().min());
        self.applied_through.max(all_workers)
    }
}

fn progress_error(sql: &str) -> impl FnOnce(DbError) -> LoaderError + '_ {
    move |server| LoaderError::Progress {
        sql: sql.to_owned(),
        server,
    }
}

/// Creates the schema and table when missing, and reads every row.
pub(crate) async fn open(session: &mut Timed<'_>) -> Result<Stored> {
    for sql in [CREATE_SCHEMA, CREATE_TABLE] {
        session.query_drop(sql).await.map_err(progress_error(sql))?;
    }
    let rows: Vec<(i64, i64, u64, i64)> = session
        .exec(READ_ALL, ())
        .await
        .map_err(progress_error(READ_ALL))?;
    let mut stored = Stored::default();
    let inconsistent = |detail: String| Err(LoaderError::ProgressInconsistent { detail });
    for (worker, workers, commit_ts, ordinal) in rows {
        if worker == BARRIER_ROW {
            stored.applied_through = Some(commit_ts);
            continue;
        }
        let (Ok(index), Ok(workers), Ok(ordinal)) = (
            usize::try_from(worker),
            usize::try_from(workers),
            u32::try_from(ordinal),
        ) else {
            return inconsistent(format!(
                "row of worker {worker} ({workers} workers, ordinal {ordinal})"
            ));
        };
        match stored.workers {
            Some(known) if known != workers => {
                return inconsistent(format!("worker rows for {known} and for {workers} workers"));
            }
            _ => stored.workers = Some(workers),
        }
        if index >= workers {
            return inconsistent(format!("worker {index} of {workers}"));
        }
        stored.positions.resize(workers, None);
        stored.positions[index] = Some(Position { commit_ts, ordinal });
    }
    Ok(stored)
}

/// The last row a worker applied, read again after its connection was lost (its last commit
/// may have succeeded).
pub(crate) async fn read_worker(
    session: &mut Timed<'_>,
    worker: usize,
) -> Result<Option<Position>> {
    let rows: Vec<(u64, i64)> = session
        .exec(READ_WORKER, (worker,))
        .await
        .map_err(progress_error(READ_WORKER))?;
    rows.into_iter()
        .next()
        .map(|(commit_ts, ordinal)| match u32::try_from(ordinal) {
            Ok(ordinal) => Ok(Position { commit_ts, ordinal }),
            Err(_) => Err(LoaderError::ProgressInconsistent {
                detail: format!("worker {worker} at commit TS {commit_ts} has ordinal {ordinal}"),
            }),
        })
        .transpose()
}

/// Records that every transaction at or below `commit_ts` is applied.
pub(crate) async fn write_barrier(
    session: &mut Timed<'_>,
    commit_ts: u64,
    workers: usize,
) -> Result<()> {
    session
        .exec_drop(UPSERT, (BARRIER_ROW, workers, commit_ts, 0))
        .await
        .map_err(progress_error(UPSERT))
}

/// Starts dispatching over a new worker count: drops the worker rows and records that every
/// transaction at or below `commit_ts` is applied, in one transaction.
pub(crate) async fn restart_workers(
    session: &mut Timed<'_>,
    commit_ts: Option<u64>,
    workers: usize,
) -> Result<()> {
    session
        .query_drop("BEGIN")
        .await
        .map_err(progress_error("BEGIN"))?;
    session
        .query_drop(DELETE_WORKERS)
        .await
        .map_err(progress_error(DELETE_WORKERS))?;
    if let Some(commit_ts) = commit_ts {
        write_barrier(session, commit_ts, workers).await?;
    }
    session
        .query_drop("COMMIT")
        .await
        .map_err(progress_error("COMMIT"))
}

/// Whether a row at `position` was applied by a worker whose last applied row is `applied`.
pub(crate) fn already_applied(applied: Option<Position>, position: Position) -> bool {
    applied >= Some(position)
}
