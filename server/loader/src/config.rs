//! How the loader reaches the downstream and how it applies rows. The drainer maps its TOML
//! `[syncer.to]` and `[syncer]` keys onto these structs (spec `original-drainer.md` §5);
//! reparo builds them from its own flags.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Where the downstream MySQL or TiDB is and how a session is set up. Shared by the loader and
/// the checkpoint table.
///
/// Every session runs with `time_zone = '+00:00'`: timestamps arrive in UTC (the drainer
/// decodes them so), and a session in another zone would shift them; `params` may therefore
/// not set `time_zone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Host name or IP (default `127.0.0.1`).
    pub host: String,
    /// TCP port (default 3306).
    pub port: u16,
    /// User (default `root`).
    pub user: String,
    /// Password (default empty).
    pub password: String,
    /// Session variables set on every connection, `SET SESSION <name> = <value>`, the value
    /// written as given (as the original's DSN parameters): `[syncer.to.params]`.
    pub params: BTreeMap<String, String>,
    /// The session's `sql_mode` when set (`[syncer] sql-mode`); the server's default otherwise.
    pub sql_mode: Option<String>,
    /// How long one statement may wait for the server's answer before the connection counts as
    /// lost and is retried (default 1 min, `[syncer.to] read-timeout`).
    pub read_timeout: Duration,
    /// TLS to the server (default none: plain text), `[syncer.to.security]`.
    pub tls: Option<DownstreamTls>,
}

/// TLS to the downstream, as the original's `[syncer.to.security]`: the server's certificate
/// must chain to `ca` and name the host connected to; `identity` is presented when the server
/// asks for a client certificate. The files are read for every new connection, so rotated
/// files are used from the next reconnect. Callers check the files at start (the drainer and
/// reparo through `binlog_node::tls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownstreamTls {
    /// The CA bundle (PEM); the only roots trusted.
    pub ca: PathBuf,
    /// The client certificate chain and its key (PEM), when set.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            host: "127.0.0.1".to_owned(),
            port: 3306,
            user: "root".to_owned(),
            password: String::new(),
            params: BTreeMap::new(),
            sql_mode: None,
            read_timeout: Duration::from_secs(60),
            tls: None,
        }
    }
}

impl ConnectionConfig {
    /// `host:port`, for messages.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Which server the downstream is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DbType {
    /// MySQL or MariaDB.
    #[default]
    Mysql,
    /// TiDB: sessions also set `tidb_txn_mode = 'optimistic'`,
    /// `allow_auto_random_explicit_insert = 1` and `tidb_placement_mode = 'ignore'` when the
    /// server knows them.
    Tidb,
}

/// How the loader applies transactions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoaderConfig {
    /// The downstream.
    pub connection: ConnectionConfig,
    /// MySQL or TiDB (default MySQL).
    pub db_type: DbType,
    /// Workers, each with its own connection (default 16, `[syncer] worker-count`).
    pub worker_count: usize,
    /// Row statements per downstream transaction at most (default 20, `[syncer] txn-batch`).
    pub txn_batch: usize,
    /// Inserts become `REPLACE`, updates `DELETE` + `REPLACE` (default off; the drainer turns it
    /// on for its first minutes).
    pub safe_mode: bool,
    /// Spread rows over the workers (default on); off means one worker and every transaction
    /// applied alone (`[syncer] disable-dispatch`).
    pub dispatch: bool,
    /// Causality detection: a row whose other keys are pending in another worker waits until
    /// every worker has committed (default on, `[syncer] disable-detect`).
    pub detect: bool,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            connection: ConnectionConfig::default(),
            db_type: DbType::Mysql,
            worker_count: 16,
            txn_batch: 20,
            safe_mode: false,
            dispatch: true,
            detect: true,
        }
    }
}

impl LoaderConfig {
    /// The workers rows are spread over in this configuration: one without dispatch.
    pub(crate) fn effective_workers(&self) -> usize {
        if self.dispatch {
            self.worker_count.max(1)
        } else {
            1
        }
    }
}
