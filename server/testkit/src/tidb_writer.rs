//! A stand-in for TiDB's writing side, because TiDB cannot be built here: binlogs written to a
//! pump the way TiDB writes them (`pkg/sessionctx/binloginfo`, `store/driver/txn`): a prewrite
//! holding the transaction's rows (`PrewriteValue` at the session's schema version, rows from
//! [`crate::tidb_rows`]), then a commit at a later TS from the cluster's TSO; a DDL is a job
//! served by the status stand-in ([`crate::tidb_status`]) and a binlog carrying its job ID and
//! query. Writes retry while the pump is down, as TiDB's pump client does.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::Value;

use binlog_node::proto::pump_client::PumpClient;
use binlog_node::proto::{Binlog, BinlogType, MutationType, PrewriteValue, TableMutation};
use binlog_node::tso::Tso;

use crate::cluster::write;
use crate::tidb_status::TidbStatusStandIn;

/// How long a write waits for a pump that is down.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// One table's rows in a transaction, in the order they were changed.
#[derive(Clone, Debug, Default)]
pub struct Mutation(TableMutation);

impl Mutation {
    /// Rows of table `table_id` (a partition's ID for a partitioned table).
    pub fn new(table_id: i64) -> Mutation {
        Mutation(TableMutation {
            table_id,
            ..TableMutation::default()
        })
    }

    /// An inserted row ([`crate::tidb_rows::insert_row`]).
    pub fn insert(mut self, row: Vec<u8>) -> Mutation {
        self.0.inserted_rows.push(row);
        self.0.sequence.push(MutationType::Insert as i32);
        self
    }

    /// An updated row ([`crate::tidb_rows::update_row`]).
    pub fn update(mut self, row: Vec<u8>) -> Mutation {
        self.0.updated_rows.push(row);
        self.0.sequence.push(MutationType::Update as i32);
        self
    }

    /// A deleted row ([`crate::tidb_rows::delete_row`]).
    pub fn delete(mut self, row: Vec<u8>) -> Mutation {
        self.0.deleted_rows.push(row);
        self.0.sequence.push(MutationType::DeleteRow as i32);
        self
    }
}

/// Writes TiDB's binlogs to one pump and serves the DDL history they refer to.
pub struct TidbWriter {
    client: PumpClient<tonic::transport::Channel>,
    tso: Arc<dyn Tso>,
    cluster_id: u64,
    status: TidbStatusStandIn,
    schema_version: i64,
    last_job_id: i64,
}

impl TidbWriter {
    /// A writer to the pump at `client`, with TSs from `tso`, serving its DDL history on a new
    /// status stand-in.
    pub fn new(
        client: PumpClient<tonic::transport::Channel>,
        tso: Arc<dyn Tso>,
        cluster_id: u64,
    ) -> TidbWriter {
        TidbWriter::with_status(
            client,
            tso,
            cluster_id,
            TidbStatusStandIn::start(Vec::new()),
        )
    }

    /// [`TidbWriter::new`] serving its DDL history on `status` (one serving HTTPS, say).
    pub fn with_status(
        client: PumpClient<tonic::transport::Channel>,
        tso: Arc<dyn Tso>,
        cluster_id: u64,
        status: TidbStatusStandIn,
    ) -> TidbWriter {
        TidbWriter {
            client,
            tso,
            cluster_id,
            status,
            schema_version: 0,
            last_job_id: 0,
        }
    }

    /// The status stand-in's `host:port` (the drainer's `-tidb-status-addr`).
    pub fn status_addr(&self) -> &str {
        self.status.addr()
    }

    /// Points the writer at another pump client (after a pump restarts on a new port).
    pub fn set_client(&mut self, client: PumpClient<tonic::transport::Channel>) {
        self.client = client;
    }

    /// The schema version of the last DDL (what [`TidbWriter::dml`] writes at).
    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    /// The next DDL job's ID and the schema version it brings, for building its JSON
    /// ([`crate::tidb_jobs`]); pass the job to [`TidbWriter::ddl`] next.
    pub fn next_job(&self) -> (i64, i64) {
        (self.last_job_id + 1, self.schema_version + 1)
    }

    /// Runs a DDL: its job (built with the IDs of [`TidbWriter::next_job`]) joins the history,
    /// then its binlog is written; returns the commit TS.
    pub async fn ddl(&mut self, job: Value, query: &str) -> u64 {
        let (job_id, schema_version) = self.next_job();
        assert_eq!(
            job["id"].as_i64(),
            Some(job_id),
            "the job takes next_job's ID"
        );
        self.status.push(job);
        self.last_job_id = job_id;
        self.schema_version = schema_version;
        self.commit(|binlog| {
            binlog.ddl_job_id = job_id;
            binlog.ddl_query = Some(query.as_bytes().to_vec());
        })
        .await
    }

    /// Runs a DDL whose job `build` makes from [`TidbWriter::next_job`]'s job ID and schema
    /// version ([`crate::tidb_jobs`]); `query` is the statement downstream runs. Returns the
    /// commit TS.
    pub async fn run_ddl(&mut self, query: &str, build: impl FnOnce(i64, i64) -> Value) -> u64 {
        let (job_id, schema_version) = self.next_job();
        self.ddl(build(job_id, schema_version), query).await
    }

    /// Commits a transaction of `mutations` at the current schema version; returns its commit
    /// TS.
    pub async fn dml(&mut self, mutations: Vec<Mutation>) -> u64 {
        self.dml_at(self.schema_version, mutations).await
    }

    /// Commits a transaction of `mutations` that ran at `schema_version`: one that began before
    /// a later DDL and commits after it (TiDB lets it when the DDL leaves its rows valid, e.g.
    /// an added column with a default); returns its commit TS.
    pub async fn dml_at(&mut self, schema_version: i64, mutations: Vec<Mutation>) -> u64 {
        let value = PrewriteValue {
            schema_version,
            mutations: mutations.into_iter().map(|m| m.0).collect(),
        }
        .encode_to_vec();
        self.commit(|binlog| binlog.prewrite_value = Some(value))
            .await
    }

    /// Writes a prewrite (filled by `fill`) and its commit, TiDB-style: the start TS before the
    /// prewrite, the commit TS after it was acknowledged.
    async fn commit(&mut self, fill: impl FnOnce(&mut Binlog)) -> u64 {
        let start_ts = self.tso.get_ts().await.expect("a start TS") as i64;
        let mut prewrite = Binlog {
            tp: BinlogType::Prewrite as i32,
            start_ts,
            prewrite_key: Some(format!("t{start_ts}").into_bytes()),
            ..Binlog::default()
        };
        fill(&mut prewrite);
        self.write(&prewrite).await;
        let commit_ts = self.tso.get_ts().await.expect("a commit TS") as i64;
        let commit = Binlog {
            tp: BinlogType::Commit as i32,
            commit_ts,
            prewrite_value: None,
            ..prewrite
        };
        self.write(&commit).await;
        commit_ts as u64
    }

    /// One write, retried while the pump is unreachable.
    async fn write(&mut self, binlog: &Binlog) {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        loop {
            match write(&mut self.client, self.cluster_id, binlog).await {
                Ok(()) => return,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(status) => panic!("the pump refused a binlog for {WRITE_TIMEOUT:?}: {status}"),
            }
        }
    }
}
