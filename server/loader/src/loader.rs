//! The loader: dispatches each transaction's rows to workers, runs DDL as barriers, and skips
//! what the progress table says was applied, so a drainer replaying from an older checkpoint
//! applies every row exactly once.
//!
//! Transactions must come in increasing commit TS and, after a restart, start no later than
//! right after the last one acknowledged (the drainer's checkpoint): at any barrier, everything
//! before the transaction at hand is then applied.
//!
//! Replays: a transaction at or below the barrier row's TS is skipped whole; otherwise each of
//! its rows is dispatched as in the run that wrote the progress rows (same worker count, same
//! stable hash, same ordinals) and skipped when its worker's row says it was applied. When the
//! configured worker count differs from the stored one, the stored count is used until past the
//! highest stored commit TS, then the loader switches (at a barrier).

use std::sync::Arc;

use crate::acks::{Acks, Done};
use crate::causality::Causality;
use crate::config::LoaderConfig;
use crate::ddl;
use crate::dispatch::RowKeys;
use crate::error::{LoaderError, Result};
use crate::observer::{NoObserver, QueryObserver};
use crate::progress::{self, Position};
use crate::row_view::RowView;
use crate::session::{with_retries, Session, ROW_RETRY};
use crate::statement::row_statements;
use crate::table_info::{TableInfo, TableInfoCache};
use crate::txn::{Ddl, LoadTxn, RowEvent, TxnBody};
use crate::worker::{RowJob, WorkerPool};

/// What the progress table said the current workers applied, until the loader is past it.
struct Replay {
    /// Per worker, its last applied row.
    positions: Vec<Option<Position>>,
    /// The highest commit TS in them: beyond it nothing needs checking.
    until: u64,
}

/// Applies upstream transactions to a MySQL-compatible downstream, exactly once.
pub struct Loader {
    config: LoaderConfig,
    /// The loader's own session: table infos, DDL, the progress table's barrier row.
    control: Session,
    tables: TableInfoCache,
    acks: Arc<Acks>,
    pool: WorkerPool,
    causality: Causality,
    safe_mode: bool,
    /// Every transaction at or below this commit TS is applied.
    applied_through: Option<u64>,
    replay: Option<Replay>,
    /// The last transaction loaded.
    last_loaded: Option<u64>,
    /// Told how long the workers' statements take.
    observer: Arc<dyn QueryObserver>,
}

impl Loader {
    /// Connects, creates the progress table when missing and reads it, and starts the workers.
    pub async fn open(config: LoaderConfig) -> Result<Loader> {
        Loader::open_observed(config, Arc::new(NoObserver)).await
    }

    /// [`Loader::open`], telling `observer` how long the downstream takes.
    pub async fn open_observed(
        config: LoaderConfig,
        observer: Arc<dyn QueryObserver>,
    ) -> Result<Loader> {
        let mut control = Session::new(config.connection.clone(), config.db_type);
        let stored = with_retries!(&mut control, &ROW_RETRY, |session, _attempt| {
            progress::open(&mut session).await
        })?;
        let applied_ts = stored.applied_ts();
        let configured = config.effective_workers();
        let mut workers = configured;
        let mut replay = None;
        match (stored.workers, stored.last_worker_ts()) {
            (Some(stored_workers), Some(until))
                if stored.applied_through.is_none_or(|ts| until > ts) =>
            {
                if stored_workers != configured {
                    tracing::info!(
                        stored_workers,
                        configured,
                        until,
                        "the progress table was written by another worker count: replaying with it up to its last commit TS, then switching"
                    );
                }
                workers = stored_workers;
                replay = Some(Replay {
                    positions: stored.positions,
                    until,
                });
            }
            (Some(stored_workers), _) if stored_workers != configured => {
                // Every worker row is covered by the barrier row: they are obsolete.
                with_retries!(&mut control, &ROW_RETRY, |session, _attempt| {
                    progress::restart_workers(&mut session, None, configured).await
                })?;
            }
            _ => {}
        }
        let acks = Arc::new(Acks::new(applied_ts));
        let pool = WorkerPool::start(workers, &config, &acks, &observer);
        Ok(Loader {
            observer,
            safe_mode: config.safe_mode,
            config,
            control,
            tables: TableInfoCache::default(),
            acks,
            pool,
            causality: Causality::default(),
            applied_through: stored.applied_through,
            replay,
            last_loaded: None,
        })
    }

    /// Highest commit TS at or below which every loaded txn is known applied (None when no
    /// progress rows).
    pub fn applied_ts(&self) -> Option<u64> {
        self.acks.applied_ts()
    }

    /// Turns safe mode on or off for the rows loaded from now on.
    pub fn set_safe_mode(&mut self, safe_mode: bool) {
        self.safe_mode = safe_mode;
    }

    /// Queues a transaction; `done` is called once all of it is committed downstream (in
    /// commit-TS order). Returns when its rows are queued (or its DDL ran): it waits while the
    /// workers' queues are full. A worker's failure is returned here or by the next call.
    pub async fn load(&mut self, txn: LoadTxn, done: Box<dyn FnOnce() + Send>) -> Result<()> {
        self.acks.check()?;
        let commit_ts = txn.commit_ts;
        self.last_loaded = Some(commit_ts);
        if self
            .applied_through
            .is_some_and(|through| commit_ts <= through)
        {
            self.acks.applied(commit_ts, done);
            return Ok(());
        }
        let result = self.apply(commit_ts, txn.body, done).await;
        // The transaction is half-queued: nothing after it may be applied.
        if let Err(error) = &result {
            self.acks.fail(error.clone());
        }
        result
    }

    /// Commits everything queued and returns once every `done` was called.
    pub async fn flush(&mut self) -> Result<()> {
        self.acks.all_done().await?;
        if let Some(last) = self
            .last_loaded
            .filter(|&last| self.applied_through < Some(last))
        {
            self.record_applied_through(last).await?;
        }
        Ok(())
    }

    async fn apply(&mut self, commit_ts: u64, body: TxnBody, done: Done) -> Result<()> {
        self.leave_replay_after(commit_ts).await?;
        match body {
            TxnBody::Rows(rows) => self.load_rows(commit_ts, &rows, done).await,
            TxnBody::Ddl(ddl) => self.load_ddl(commit_ts, &ddl, done).await,
        }
    }

    async fn load_rows(&mut self, commit_ts: u64, rows: &[RowEvent], done: Done) -> Result<()> {
        self.acks.begin(commit_ts, done);
        let mut ordinals = vec![0u32; self.pool.len()];
        for row in rows {
            let info = self.table_info(row, commit_ts).await?;
            let view = RowView::new(row, &info, commit_ts)?;
            let keys = RowKeys::of(&view);
            let worker = keys.worker(self.pool.len());
            ordinals[worker] += 1;
            let position = Position {
                commit_ts,
                ordinal: ordinals[worker],
            };
            let replayed = self
                .replay
                .as_ref()
                .and_then(|replay| replay.positions[worker]);
            if progress::already_applied(replayed, position) {
                continue;
            }
            if self.config.detect {
                if self.acks.no_rows_in_flight() {
                    self.causality.clear();
                } else if self.causality.must_wait(&keys.touched, worker) {
                    self.barrier().await?;
                }
                self.causality.add(&keys.touched, worker);
            }
            let statements = row_statements(&view, self.safe_mode);
            self.acks.sent(commit_ts);
            if let Err(error) = self
                .pool
                .send(
                    worker,
                    RowJob {
                        position,
                        statements,
                    },
                )
                .await
            {
                self.acks.check()?;
                return Err(error);
            }
        }
        self.acks.seal(commit_ts);
        if !self.config.dispatch {
            self.acks.all_done().await?;
        }
        Ok(())
    }

    async fn load_ddl(&mut self, commit_ts: u64, ddl: &Ddl, done: Done) -> Result<()> {
        self.barrier().await?;
        // Should the loader stop between the DDL and its barrier row, a replay must not
        // dispatch the rows before it by the keys the DDL changed.
        self.record_applied_through(commit_ts.saturating_sub(1))
            .await?;
        ddl::run(&mut self.control, ddl, commit_ts).await?;
        self.tables.evict(&ddl.db, &ddl.table);
        self.record_applied_through(commit_ts).await?;
        self.acks.applied(commit_ts, done);
        Ok(())
    }

    /// Waits until every row given to the workers is committed.
    async fn barrier(&mut self) -> Result<()> {
        self.acks.rows_committed().await?;
        self.causality.clear();
        Ok(())
    }

    /// Once past the stored worker rows, forgets them, and switches to the configured worker
    /// count when the replay used another.
    async fn leave_replay_after(&mut self, commit_ts: u64) -> Result<()> {
        if self
            .replay
            .as_ref()
            .is_none_or(|replay| commit_ts <= replay.until)
        {
            return Ok(());
        }
        self.replay = None;
        let configured = self.config.effective_workers();
        if self.pool.len() == configured {
            return Ok(());
        }
        self.barrier().await?;
        let through = commit_ts.saturating_sub(1);
        with_retries!(&mut self.control, &ROW_RETRY, |session, _attempt| {
            progress::restart_workers(&mut session, Some(through), configured).await
        })?;
        self.applied_through = Some(through);
        tracing::info!(
            from = self.pool.len(),
            to = configured,
            commit_ts,
            "past the replayed progress: switching to the configured worker count"
        );
        self.pool = WorkerPool::start(configured, &self.config, &self.acks, &self.observer);
        Ok(())
    }

    /// Records (the barrier row) that every transaction at or below `commit_ts` is applied.
    async fn record_applied_through(&mut self, commit_ts: u64) -> Result<()> {
        if self.applied_through >= Some(commit_ts) {
            return Ok(());
        }
        let workers = self.pool.len();
        with_retries!(&mut self.control, &ROW_RETRY, |session, _attempt| {
            progress::write_barrier(&mut session, commit_ts, workers).await
        })?;
        self.applied_through = Some(commit_ts);
        Ok(())
    }

    /// The downstream info of a row's table, read on first use.
    async fn table_info(&mut self, row: &RowEvent, commit_ts: u64) -> Result<Arc<TableInfo>> {
        let (db, table) = (&row.table.db, &row.table.table);
        if let Some(info) = self.tables.cached(db, table) {
            return Ok(info);
        }
        let tables = &mut self.tables;
        let info = with_retries!(&mut self.control, &ROW_RETRY, |session, _attempt| {
            tables
                .load(&mut session, db, table)
                .await
                .map_err(|server| LoaderError::TableInfo {
                    db: db.clone(),
                    table: table.clone(),
                    commit_ts,
                    server,
                })
        })?;
        info.ok_or_else(|| LoaderError::TableMissing {
            db: db.clone(),
            table: table.clone(),
            commit_ts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The drainer runs the loader in spawned tasks: its futures must be `Send`.
    #[test]
    fn loader_futures_are_send() {
        let _type_checked_only = async |config: LoaderConfig, txn: LoadTxn| {
            let open = Loader::open(config);
            assert_send(&open);
            let mut loader = open.await?;
            let load = loader.load(txn, Box::new(|| {}));
            assert_send(&load);
            load.await?;
            let flush = loader.flush();
            assert_send(&flush);
            flush.await
        };
    }
}
