//! The whole `mysql` destination on real processes, for end-to-end tests: a real pump on the
//! file registry, a [`TidbWriter`] writing TiDB's binlogs to it (and serving the DDL history),
//! a real MariaDB, and the real drainer pointed at both by a TOML config (the test's own keys
//! added); then waiting until MariaDB answers queries as a model of what TiDB committed says.

use std::path::Path;
use std::time::Duration;

use crate::cluster::{backend, Backend};
use crate::drainer::{start_drainer, DrainerOptions};
use crate::mariadb::{MariaDb, ROOT_PASSWORD};
use crate::poll::wait_for;
use crate::process::NodeProcess;
use crate::pump::{start_pump, PumpProcess};
use crate::tidb_writer::TidbWriter;

/// A pump, a TiDB writing to it, and a MariaDB, for a drainer to run between.
pub struct MysqlPipeline {
    /// The upstream TiDB stand-in.
    pub tidb: TidbWriter,
    /// The pump (kill and restart it at will).
    pub pump: PumpProcess,
    /// The downstream.
    pub mariadb: MariaDb,
    backend: Backend,
    dir: tempfile::TempDir,
}

/// What the drainer's TOML holds beyond the `mysql` destination and TiDB's status port, as
/// TOML text.
#[derive(Clone, Copy, Debug, Default)]
pub struct DrainerToml<'a> {
    /// Top-level `key = value` lines (`initial-commit-ts = 0`).
    pub top: &'a str,
    /// `key = value` lines inside `[syncer]` (`sync-ddl = false`).
    pub syncer: &'a str,
    /// `[[syncer.<rule>]]` tables (`[[syncer.ignore-table]]` ...).
    pub syncer_tables: &'a str,
}

/// One query and what MariaDB must answer to it.
#[derive(Clone)]
pub struct Expected {
    /// The SQL, run with [`MariaDb::query`].
    pub sql: String,
    /// The `mariadb` client's batch output expected, after `normalize`.
    pub output: String,
    /// Turns the client's output into the comparable form (identity for most queries).
    pub normalize: fn(&str) -> String,
}

impl Expected {
    /// `sql` must print exactly `output`.
    pub fn exact(sql: impl Into<String>, output: impl Into<String>) -> Expected {
        Expected {
            sql: sql.into(),
            output: output.into(),
            normalize: str::to_owned,
        }
    }

    /// MariaDB's answer, normalized; a failed query (a table not there yet) as its error.
    fn actual(&self, mariadb: &MariaDb) -> String {
        match mariadb.try_query(&self.sql) {
            Ok(output) => (self.normalize)(&output),
            Err(error) => format!("(the query failed: {error})"),
        }
    }
}

impl MysqlPipeline {
    /// Starts MariaDB, a pump and the TiDB writer; the drainer is started by
    /// [`MysqlPipeline::start_drainer`].
    pub async fn start() -> MysqlPipeline {
        let dir = tempfile::tempdir().expect("tempdir");
        let mariadb = MariaDb::start();
        let registry = dir.path().join("registry");
        let backend = backend("file", &registry).await;
        let pump = start_pump(&dir.path().join("pump"), &registry);
        let cluster_id = backend.registry.cluster_id().await.expect("cluster ID");
        let tidb = TidbWriter::new(pump.client().await, backend.tso.clone(), cluster_id);
        MysqlPipeline {
            tidb,
            pump,
            mariadb,
            backend,
            dir,
        }
    }

    /// Writes the drainer's config (MariaDB as the `mysql` destination, the writer's status
    /// port, `extra`) and starts the drainer on it; started again, it resumes from its
    /// checkpoint. Without a checkpoint it starts at a TS taken now, unless `extra` sets
    /// `initial-commit-ts`.
    pub fn start_drainer(&self, extra: DrainerToml<'_>) -> NodeProcess {
        self.start_drainer_toml(&self.drainer_toml(extra))
    }

    /// Starts the drainer on the whole config `toml` (another destination than MariaDB: give
    /// it `tidb-status-addr` from the writer's [`TidbWriter::status_addr`] for the schemas).
    pub fn start_drainer_toml(&self, toml: &str) -> NodeProcess {
        let config = self.dir().join("drainer.toml");
        std::fs::write(&config, toml).expect("write the drainer config");
        start_drainer(&DrainerOptions {
            data_dir: &self.dir().join("drainer"),
            registry_dir: &self.dir().join("registry"),
            pd_urls: &self.backend.pd_urls,
            node_id: "drainer-mysql",
            extra: &["-config", config.to_str().expect("UTF-8 path")],
            stdout: None,
        })
    }

    /// The drainer's TOML: the `mysql` destination on MariaDB, TiDB's status port, `extra`.
    fn drainer_toml(&self, extra: DrainerToml<'_>) -> String {
        format!(
            "tidb-status-addr = \"{status}\"\n{top}\n\
             [syncer]\ndb-type = \"mysql\"\nworker-count = 4\ntxn-batch = 8\n{syncer}\n\
             [syncer.to]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"root\"\n\
             password = \"{ROOT_PASSWORD}\"\n{tables}\n",
            status = self.tidb.status_addr(),
            top = extra.top,
            syncer = extra.syncer,
            port = self.mariadb.port(),
            tables = extra.syncer_tables,
        )
    }

    /// The test's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Waits until every query answers as expected; on a timeout, panics showing each
    /// expected and actual answer, and `drainer`'s log.
    pub fn wait_identical(&self, drainer: &NodeProcess, expected: &[Expected], timeout: Duration) {
        wait_for(
            "MariaDB to hold what TiDB committed",
            timeout,
            || {
                expected
                    .iter()
                    .all(|query| query.actual(&self.mariadb) == query.output)
                    .then_some(())
            },
            || {
                let answers: String = expected
                    .iter()
                    .map(|query| {
                        format!(
                            "{}\nexpected:\n{}got:\n{}\n",
                            query.sql,
                            query.output,
                            query.actual(&self.mariadb)
                        )
                    })
                    .collect();
                format!("{answers}drainer log:\n{}", drainer.log())
            },
        );
    }
}
