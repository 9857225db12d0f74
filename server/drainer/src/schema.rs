//! The drainer's schema history at work: the history persisted under the data dir
//! ([`crate::schema_store`]) kept up with TiDB's status port ([`crate::tidb_status`]), and the
//! two questions the translation asks of it: which table a mutation names at the binlog's
//! schema version, and which DDL job a DDL binlog ran.
//!
//! When the history is behind a binlog (TiDB finished the DDL after our last fetch) it fetches
//! newer jobs and waits, up to [`SCHEMA_WAIT`]; then the drainer stops with an error naming the
//! commit TS, the table ID and the schema version. A binlog is never skipped for want of its
//! schema.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::IntCounter;

use binlog_node::{Error, Result};
use binlog_tidb::history::SchemaHistory;
use binlog_tidb::job::Job;
use binlog_tidb::TableSchema;

use crate::schema_store::SchemaStore;
use crate::tidb_status::TidbStatus;

/// How long a binlog waits for TiDB to show the schema it was written with.
pub const SCHEMA_WAIT: Duration = Duration::from_secs(60);
/// Pause between fetches while waiting.
const FETCH_PAUSE: Duration = Duration::from_millis(500);
/// Jobs re-read below the newest known ID at each fetch: a long DDL (an index backfill) takes a
/// smaller job ID than jobs that finish before it, so "newer than the newest ID" alone would
/// miss it.
const REFETCH_WINDOW: i64 = 256;

/// The schema history and where it comes from.
pub struct Schema {
    history: SchemaHistory,
    store: SchemaStore,
    status: TidbStatus,
    wait: Duration,
    /// `binlog_drainer_ddl_jobs_total`.
    ddl_jobs: IntCounter,
}

impl Schema {
    /// Loads the persisted history of `data_dir` and brings it up to date from `status`.
    pub async fn open(
        data_dir: &Path,
        status: TidbStatus,
        wait: Duration,
        ddl_jobs: IntCounter,
    ) -> Result<Schema> {
        let (store, history) = SchemaStore::open(&data_dir.join("schema"))?;
        let loaded_version = history.schema_version();
        let mut schema = Schema {
            history,
            store,
            status,
            wait,
            ddl_jobs,
        };
        schema.fetch().await?;
        tracing::info!(
            loaded_version,
            schema_version = schema.history.schema_version(),
            max_job_id = schema.history.max_job_id(),
            "schema history ready"
        );
        Ok(schema)
    }

    /// Fetches the jobs TiDB finished since the last fetch, applies and persists them.
    async fn fetch(&mut self) -> Result<()> {
        let after = (self.history.max_job_id() - REFETCH_WINDOW).max(0);
        let mut jobs = self.status.jobs_after(after).await?;
        jobs.retain(|job| !self.history.has_job(job.id));
        self.apply(jobs)
    }

    /// Applies `jobs` in schema-version order and persists them.
    fn apply(&mut self, mut jobs: Vec<Job>) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        jobs.sort_by_key(Job::schema_version);
        self.ddl_jobs.inc_by(jobs.len() as u64);
        self.store.append(&jobs)?;
        for job in &jobs {
            self.history.apply(job).map_err(schema_error)?;
        }
        Ok(())
    }

    /// The table `table_id` names at `schema_version`, for the binlog committed at `commit_ts`.
    pub async fn table(
        &mut self,
        commit_ts: u64,
        table_id: i64,
        schema_version: i64,
    ) -> Result<Arc<TableSchema>> {
        let deadline = Instant::now() + self.wait;
        while self.history.schema_version() < schema_version {
            if Instant::now() >= deadline {
                return Err(Error::Translate(format!(
                    "binlog at commit TS {commit_ts} has schema version {schema_version}, but \
                     TiDB's DDL history ({}) reached only version {} within {:?}; the drainer \
                     stops rather than skip it",
                    self.status.describe(),
                    self.history.schema_version(),
                    self.wait
                )));
            }
            self.fetch().await?;
            if self.history.schema_version() < schema_version {
                tokio::time::sleep(FETCH_PAUSE).await;
            }
        }
        self.history
            .table(table_id, schema_version)
            .map_err(|error| {
                Error::Translate(format!(
                    "binlog at commit TS {commit_ts}: {error}; the drainer stops rather than \
                     skip it"
                ))
            })
    }

    /// The DDL job `job_id` a DDL binlog committed at `commit_ts` names (asked of TiDB, as the
    /// original asks TiKV for every DDL binlog), applied to the history if it is new.
    pub async fn ddl_job(&mut self, commit_ts: u64, job_id: i64) -> Result<Job> {
        let job = self.status.job(job_id, self.wait).await.map_err(|error| {
            Error::Translate(format!("DDL binlog at commit TS {commit_ts}: {error}"))
        })?;
        if !self.history.has_job(job_id) {
            self.apply(vec![job.clone()])?;
        }
        Ok(job)
    }

    /// The database and table a DDL job's statement runs in.
    pub fn ddl_target(&self, job: &Job) -> (String, String) {
        self.history.ddl_target(job)
    }
}

fn schema_error(error: binlog_tidb::Error) -> Error {
    Error::Translate(format!("schema history: {error}"))
}
