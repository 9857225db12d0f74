//! The whole `mysql` destination on real processes, for end-to-end tests: a real pump on the
//! file registry, a [`TidbWriter`] writing TiDB's binlogs to it (and serving the DDL history),
//! a real MariaDB, and the real drainer pointed at both by a TOML config (the test's own keys
//! added); then waiting until MariaDB answers queries as a model of what TiDB committed says.
//! [`MysqlPipeline::start_tls`] secures every link with certificates of a test CA: etcd as the
//! registry, the pump, TiDB's status port, and MariaDB, where the drainer's user must present a
//! client certificate.

use std::path::Path;
use std::time::Duration;

use binlog_node::tls::Tls;

use crate::certs::{Issued, TestCa};
use crate::cluster::{backend, tls_backend, Backend};
use crate::drainer::{start_drainer_tls, DrainerOptions};
use crate::mariadb::{MariaDb, ROOT_PASSWORD, TLS_USER};
use crate::poll::wait_for;
use crate::process::NodeProcess;
use crate::pump::{start_pump, NodeTls, PumpOptions, PumpProcess};
use crate::tidb_status::TidbStatusStandIn;
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
    /// With TLS: the CA, and the drainer's certificate and TLS.
    tls: Option<PipelineTls>,
    dir: tempfile::TempDir,
}

/// The drainer's side of [`MysqlPipeline::start_tls`].
struct PipelineTls {
    ca: std::path::PathBuf,
    drainer: Issued,
    node: NodeTls,
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
            tls: None,
            dir,
        }
    }

    /// [`MysqlPipeline::start`] with every link on TLS, certificates from a new test CA: etcd
    /// (`https://`, client certificates required) as registry and TSO, the pump, TiDB's status
    /// port, and MariaDB, whose user [`TLS_USER`] the drainer connects as must present a
    /// client certificate. Each node allows the CNs of the nodes that call it (and `test`).
    pub async fn start_tls() -> MysqlPipeline {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("certs");
        std::fs::create_dir(&certs).expect("certs dir");
        let ca = TestCa::new(&certs, "ca");
        let test = ca.issue("test", "test");
        let test_tls = test.client_tls(&ca.ca);
        let mariadb = MariaDb::start_tls(&ca.ca, &ca.issue("mariadb", "mariadb"));
        let backend = tls_backend(&ca.ca, &ca.issue("etcd", "etcd"), &test_tls).await;
        let pump = PumpProcess::start_tls(
            &PumpOptions {
                data_dir: &dir.path().join("pump"),
                registry_dir: &dir.path().join("registry"),
                pd_urls: &backend.pd_urls,
                extra: &[],
                storage: None,
            },
            Some(
                &ca.issue("pump", "pump")
                    .node_tls(&ca.ca, &["drainer", "test"], &test),
            ),
        );
        let cluster_id = backend.registry.cluster_id().await.expect("cluster ID");
        let tidb_cert = ca.issue("tidb", "tidb");
        let status = TidbStatusStandIn::start_tls(
            Vec::new(),
            Some(Tls {
                allowed_cn: vec!["drainer".to_owned()],
                ..tidb_cert.client_tls(&ca.ca)
            }),
        );
        let tidb =
            TidbWriter::with_status(pump.client().await, backend.tso.clone(), cluster_id, status);
        let drainer = ca.issue("drainer", "drainer");
        let node = drainer.node_tls(&ca.ca, &["pump", "test"], &test);
        MysqlPipeline {
            tidb,
            pump,
            mariadb,
            backend,
            tls: Some(PipelineTls {
                ca: ca.ca.clone(),
                drainer,
                node,
            }),
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
    /// With TLS, the drainer's `[security]` goes after `toml`.
    pub fn start_drainer_toml(&self, toml: &str) -> NodeProcess {
        start_drainer_tls(
            &DrainerOptions {
                data_dir: &self.dir().join("drainer"),
                registry_dir: &self.dir().join("registry"),
                pd_urls: &self.backend.pd_urls,
                node_id: "drainer-mysql",
                extra: &[],
                stdout: None,
                config: Some(toml),
            },
            self.tls.as_ref().map(|tls| &tls.node),
        )
    }

    /// The drainer's TOML: the `mysql` destination on MariaDB, TiDB's status port, `extra`;
    /// with TLS, as [`TLS_USER`] with `[syncer.to.security]`.
    fn drainer_toml(&self, extra: DrainerToml<'_>) -> String {
        let (user, to_security) = match &self.tls {
            None => ("root", String::new()),
            Some(tls) => (
                TLS_USER,
                format!(
                    "[syncer.to.security]\nssl-ca = {:?}\nssl-cert = {:?}\nssl-key = {:?}\n",
                    tls.ca.display().to_string(),
                    tls.drainer.cert.display().to_string(),
                    tls.drainer.key.display().to_string()
                ),
            ),
        };
        format!(
            "tidb-status-addr = \"{status}\"\n{top}\n\
             [syncer]\ndb-type = \"mysql\"\nworker-count = 4\ntxn-batch = 8\n{syncer}\n\
             [syncer.to]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{user}\"\n\
             password = \"{ROOT_PASSWORD}\"\n{tables}\n{to_security}",
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
