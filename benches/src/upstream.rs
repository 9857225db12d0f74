//! The upstream the drainer benchmarks (`drainer-mysql`, `drainer-kafka`) replay: one table,
//! `bench.rows (id BIGINT PRIMARY KEY, k INT, v VARCHAR(64))`, created through DDL binlogs and
//! filled TiDB-style (rows encoded as TiDB encodes them, written to a real pump by the test
//! kit's [`TidbWriter`]), so both measure the same binlogs; and a fresh drainer replaying them
//! ([`Upstream::start_drainer`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use binlog_testkit::cluster::{backend, Backend};
use binlog_testkit::drainer::{start_drainer, DrainerOptions};
use binlog_testkit::process::NodeProcess;
use binlog_testkit::pump::{start_pump, PumpProcess};
use binlog_testkit::tidb_jobs::{
    column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_testkit::tidb_rows::{insert_row, Handle, TidbDatum};
use binlog_testkit::tidb_writer::{Mutation, TidbWriter};

/// The database.
pub const DB: &str = "bench";
/// The table.
pub const TABLE: &str = "rows";
const DB_ID: i64 = 2;
const TABLE_ID: i64 = 100;
/// Binlogs that carry DDL before the rows (`CREATE DATABASE`, `CREATE TABLE`).
pub const DDL_BINLOGS: u64 = 2;

/// The table's `CREATE TABLE` statement.
pub fn create_table_sql() -> String {
    format!("CREATE TABLE {DB}.{TABLE} (id BIGINT PRIMARY KEY, k INT, v VARCHAR(64))")
}

/// Row `id`'s `v`: 64 characters.
pub fn text(id: u64) -> String {
    format!("{id:0>64}")
}

/// Row `id`'s `k`.
pub fn key(id: u64) -> i64 {
    (id % 1000) as i64
}

/// A pump holding the upstream, and the TiDB stand-in serving its schemas.
pub struct Upstream {
    /// The pump (stop it after the drainer).
    pub pump: PumpProcess,
    /// The TiDB stand-in (its status port serves the DDL history).
    pub tidb: TidbWriter,
    /// A TS from before the upstream's first binlog: the drainer's `initial-commit-ts`.
    pub start_ts: u64,
    registry: PathBuf,
    dir: PathBuf,
    _cluster: Backend,
}

impl Upstream {
    /// Starts a pump on a file registry under `dir` and writes rows `0..rows` to it in
    /// transactions of `rows_per_txn`.
    pub async fn load(dir: &Path, rows: u64, rows_per_txn: u64) -> Result<Upstream> {
        let registry = dir.join("registry");
        let cluster = backend("file", &registry).await;
        let pump = start_pump(&dir.join("pump"), &registry);
        let cluster_id = cluster.registry.cluster_id().await?;
        let mut tidb = TidbWriter::new(pump.client().await, Arc::clone(&cluster.tso), cluster_id);
        let start_ts = cluster.tso.get_ts().await?;
        write_upstream(&mut tidb, rows, rows_per_txn).await;
        Ok(Upstream {
            pump,
            tidb,
            start_ts,
            registry,
            dir: dir.to_path_buf(),
            _cluster: cluster,
        })
    }

    /// Starts a fresh drainer (logging warnings only) replaying the upstream from its start
    /// into the destination `destination` describes (the `[syncer]` section and what follows).
    pub fn start_drainer(&self, destination: &str) -> Result<NodeProcess> {
        let config = self.dir.join("drainer.toml");
        std::fs::write(
            &config,
            format!(
                "tidb-status-addr = \"{}\"\ninitial-commit-ts = {}\n{destination}",
                self.tidb.status_addr(),
                self.start_ts
            ),
        )?;
        Ok(start_drainer(&DrainerOptions {
            data_dir: &self.dir.join("drainer"),
            registry_dir: &self.registry,
            pd_urls: "",
            node_id: "bench-drainer",
            extra: &[
                "-config",
                config.to_str().context("UTF-8 path")?,
                "-L",
                "warn",
            ],
            stdout: None,
            config: None,
        }))
    }
}

/// Creates the table through DDL binlogs, then writes rows `0..rows` in transactions of
/// `rows_per_txn` inserted rows (the last one may be shorter).
async fn write_upstream(tidb: &mut TidbWriter, rows: u64, rows_per_txn: u64) {
    let (job, version) = tidb.next_job();
    tidb.ddl(
        create_schema(job, version, DB_ID, DB),
        &format!("CREATE DATABASE {DB}"),
    )
    .await;
    let (job, version) = tidb.next_job();
    let columns = vec![
        column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS),
        column_info(2, "k", 1, mysql_type::LONG, 0),
        column_info(3, "v", 2, mysql_type::VARCHAR, 0),
    ];
    tidb.ddl(
        create_table(
            job,
            version,
            DB_ID,
            DB,
            table_info(TABLE_ID, TABLE, columns),
        ),
        &create_table_sql(),
    )
    .await;
    for first in (0..rows).step_by(rows_per_txn.max(1) as usize) {
        let mut mutation = Mutation::new(TABLE_ID);
        for id in first..(first + rows_per_txn).min(rows) {
            let row = insert_row(
                &Handle::Int(id as i64),
                &[
                    (2, TidbDatum::Int(key(id))),
                    (3, TidbDatum::bytes(text(id))),
                ],
            );
            mutation = mutation.insert(row);
        }
        tidb.dml(vec![mutation]).await;
    }
}
