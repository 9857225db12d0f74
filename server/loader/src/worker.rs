//! A worker: one task with its own downstream connection, applying the rows dispatched to it in
//! order, in downstream transactions of up to `txn_batch` rows. Each transaction also records
//! the worker's last applied row in the progress table, so a crash loses nothing and repeats
//! nothing. A batch ends when `txn_batch` rows are in it or no row is waiting.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::acks::Acks;
use crate::config::LoaderConfig;
use crate::db_error::DbError;
use crate::error::{LoaderError, Result};
use crate::observer::QueryObserver;
use crate::progress::{self, Position};
use crate::session::{with_retries, Session, Timed, ROW_RETRY};
use crate::statement::Statement;

/// Rows a worker's queue holds per row of its batch: enough to fill the next batch while one
/// commits, bounded so that a huge transaction waits for the workers.
const QUEUE_BATCHES: usize = 4;

/// One row for a worker: where it is in the worker's sequence, and its statements.
#[derive(Debug)]
pub(crate) struct RowJob {
    /// Its transaction and ordinal among that transaction's rows for this worker.
    pub position: Position,
    /// One statement, or two (safe-mode update).
    pub statements: Vec<Statement>,
}

/// The workers rows are dispatched over.
pub(crate) struct WorkerPool {
    queues: Vec<mpsc::Sender<RowJob>>,
    tasks: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `count` workers; each connects on its first batch.
    pub fn start(
        count: usize,
        config: &LoaderConfig,
        acks: &Arc<Acks>,
        observer: &Arc<dyn QueryObserver>,
    ) -> WorkerPool {
        let (queues, tasks) = (0..count)
            .map(|index| {
                let (queue, jobs) = mpsc::channel(config.txn_batch.max(1) * QUEUE_BATCHES);
                let worker = Worker {
                    index,
                    workers: count,
                    txn_batch: config.txn_batch.max(1),
                    session: Session::new(config.connection.clone(), config.db_type),
                    acks: Arc::clone(acks),
                    observer: Arc::clone(observer),
                };
                (queue, tokio::spawn(worker.run(jobs)))
            })
            .unzip();
        WorkerPool { queues, tasks }
    }

    /// How many workers there are.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Queues a row for a worker, waiting while its queue is full.
    pub async fn send(&self, worker: usize, job: RowJob) -> Result<()> {
        self.queues[worker]
            .send(job)
            .await
            .map_err(|_| LoaderError::WorkerGone)
    }
}

impl Drop for WorkerPool {
    /// Stops the workers at once: a batch being applied is rolled back by the server when its
    /// connection closes, and the progress table still says which rows were applied.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Worker {
    index: usize,
    workers: usize,
    txn_batch: usize,
    session: Session,
    acks: Arc<Acks>,
    observer: Arc<dyn QueryObserver>,
}

/// Reports a worker that ends without having reported why (a panic).
struct EndGuard(Arc<Acks>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(LoaderError::WorkerGone);
        }
    }
}

impl Worker {
    async fn run(mut self, mut jobs: mpsc::Receiver<RowJob>) {
        let _guard = EndGuard(Arc::clone(&self.acks));
        let mut batch = Vec::with_capacity(self.txn_batch);
        while let Some(first) = jobs.recv().await {
            batch.push(first);
            while batch.len() < self.txn_batch {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            if let Err(error) = self.apply(&batch).await {
                tracing::error!(worker = self.index, %error, "loader worker stops");
                self.acks.fail(error);
                return;
            }
            self.acks.committed(&rows_per_txn(&batch));
            batch.clear();
        }
    }

    /// Applies a batch in one downstream transaction with the worker's progress row. A try
    /// after a lost connection first reads the progress row: the lost commit may have
    /// succeeded, and its rows must not be applied again.
    async fn apply(&mut self, batch: &[RowJob]) -> Result<()> {
        let (index, workers) = (self.index, self.workers);
        let observer = &*self.observer;
        with_retries!(&mut self.session, &ROW_RETRY, |session, attempt| {
            let applied = if attempt == 0 {
                None
            } else {
                progress::read_worker(&mut session, index).await?
            };
            let rest: Vec<&RowJob> = batch
                .iter()
                .filter(|job| !progress::already_applied(applied, job.position))
                .collect();
            apply_once(&mut session, index, workers, &rest, observer).await
        })
    }
}

/// One try of a batch: `BEGIN`, the rows' statements, the progress row, `COMMIT`.
async fn apply_once(
    session: &mut Timed<'_>,
    worker: usize,
    workers: usize,
    rows: &[&RowJob],
    observer: &dyn QueryObserver,
) -> Result<()> {
    let Some(last) = rows.last() else {
        return Ok(());
    };
    let first_ts = rows[0].position.commit_ts;
    let started = Instant::now();
    session
        .query_drop("BEGIN")
        .await
        .map_err(failed(first_ts, "BEGIN"))?;
    for row in rows {
        for statement in &row.statements {
            session
                .exec_drop(&statement.sql, statement.params.clone())
                .await
                .map_err(failed(row.position.commit_ts, &statement.sql))?;
        }
    }
    let Position { commit_ts, ordinal } = last.position;
    session
        .exec_drop(progress::UPSERT, (worker, workers, commit_ts, ordinal))
        .await
        .map_err(failed(commit_ts, progress::UPSERT))?;
    observer.exec(started.elapsed());
    let committing = Instant::now();
    session
        .query_drop("COMMIT")
        .await
        .map_err(failed(commit_ts, "COMMIT"))?;
    observer.commit(committing.elapsed());
    Ok(())
}

/// Turns the server's answer to `sql` into the error naming the transaction.
fn failed(commit_ts: u64, sql: &str) -> impl FnOnce(DbError) -> LoaderError + '_ {
    move |server| LoaderError::Apply {
        commit_ts,
        sql: sql.to_owned(),
        server,
    }
}

/// The batch's rows counted per transaction, in order.
fn rows_per_txn(batch: &[RowJob]) -> Vec<(u64, usize)> {
    let mut counts: Vec<(u64, usize)> = Vec::new();
    for job in batch {
        match counts.last_mut() {
            Some((commit_ts, count)) if *commit_ts == job.position.commit_ts => *count += 1,
            _ => counts.push((job.position.commit_ts, 1)),
        }
    }
    counts
}
