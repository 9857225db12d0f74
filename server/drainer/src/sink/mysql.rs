//! The `mysql` and `tidb` sinks: transactions of rows and DDL applied to the downstream by
//! [`binlog_loader::Loader`], which acknowledges each once every statement of it is committed
//! there. Exactly once: the loader records, in the same downstream transactions as the rows,
//! how far each of its workers got, and skips what it already applied when a restart replays
//! from an older checkpoint.
//!
//! `[syncer.to]`: `host` (default `$MYSQL_HOST`, else `localhost`), `port` (`$MYSQL_PORT`, else
//! 3306), `user` (`$MYSQL_USER`, else `root`), `password` (`$MYSQL_PSWD`), `sql-mode` in
//! `[syncer]`, `read-timeout` (default `1m`), `[syncer.to.params]` session variables,
//! `[syncer.to.security]` TLS (`ssl-ca`, `ssl-cert`, `ssl-key`).
//! `[syncer]`: `worker-count`, `txn-batch`, `safe-mode`, `enable-dispatch`/`disable-dispatch`,
//! `enable-detect`/`disable-detect`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::Sink;
use crate::config::{SyncerConfig, ToConfig};
use crate::progress::Ack;
use crate::translate::Txn;
use binlog_loader::{
    ConnectionConfig, DbType, DownstreamTls, Loader, LoaderConfig, LoaderError, QueryObserver,
};
use binlog_node::config::go_values::parse_go_duration;
use binlog_node::{Error, Result};

/// Default of `[syncer.to.checkpoint] schema`.
const DEFAULT_CHECKPOINT_SCHEMA: &str = "tidb_binlog";
/// Default of `[syncer.to.checkpoint] table`.
const DEFAULT_CHECKPOINT_TABLE: &str = "checkpoint";
/// Default of `[syncer.to] read-timeout`.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The loader's settings from `[syncer]` and `[syncer.to]`, reading the original's environment
/// defaults through `env`.
pub fn loader_config(
    syncer: &SyncerConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<LoaderConfig> {
    let to = &syncer.to;
    let invalid = |message: String| Error::InvalidConfig(format!("[syncer.to] {message}"));
    if to
        .encrypted_password
        .as_deref()
        .is_some_and(|p| !p.is_empty())
    {
        return Err(invalid(
            "encrypted_password is not supported by this build (binlogctl's encrypt is not \
             either): set password"
                .into(),
        ));
    }
    let port = match to.port {
        Some(port) => port,
        None => match env("MYSQL_PORT") {
            Some(port) => port
                .parse()
                .map_err(|_| invalid(format!("MYSQL_PORT {port:?} is not a port")))?,
            None => 3306,
        },
    };
    let port = u16::try_from(port).map_err(|_| invalid(format!("port {port} is not a port")))?;
    let read_timeout = match to.read_timeout.as_deref() {
        None | Some("") => DEFAULT_READ_TIMEOUT,
        Some(text) => parse_go_duration(text)
            .map_err(|error| invalid(format!("read-timeout {text:?}: {error}")))?,
    };
    let db_type = match syncer.db_type.as_str() {
        "tidb" => DbType::Tidb,
        _ => DbType::Mysql,
    };
    // The disable-* keys win over the enable-* ones, as in the original.
    let switch = |enable: Option<bool>, disable: Option<bool>| {
        !disable.unwrap_or(false) && enable.unwrap_or(true)
    };
    let connection = ConnectionConfig {
        host: to
            .host
            .clone()
            .or_else(|| env("MYSQL_HOST"))
            .unwrap_or_else(|| "localhost".into()),
        port,
        user: to
            .user
            .clone()
            .or_else(|| env("MYSQL_USER"))
            .unwrap_or_else(|| "root".into()),
        password: to
            .password
            .clone()
            .or_else(|| env("MYSQL_PSWD"))
            .unwrap_or_default(),
        params: to.params.clone(),
        sql_mode: syncer.sql_mode.clone(),
        read_timeout,
        tls: to.tls()?.map(|tls| DownstreamTls {
            ca: tls.ca,
            identity: tls.identity,
        }),
    };
    Ok(LoaderConfig {
        connection,
        db_type,
        worker_count: syncer.worker_count as usize,
        txn_batch: syncer.txn_batch as usize,
        safe_mode: syncer.safe_mode,
        dispatch: switch(syncer.enable_dispatch, syncer.disable_dispatch),
        detect: switch(syncer.enable_detect, syncer.disable_detect),
    })
}

/// The checkpoint table's schema and table: `[syncer.to.checkpoint] schema` (default
/// `tidb_binlog`) and `table` (default `checkpoint`). Its `type` may only name the destination
/// itself, and the table lives in the destination database: keys for another database are
/// refused rather than ignored.
pub fn checkpoint_table_name(to: &ToConfig) -> Result<(String, String)> {
    let mut names = (
        DEFAULT_CHECKPOINT_SCHEMA.to_owned(),
        DEFAULT_CHECKPOINT_TABLE.to_owned(),
    );
    let Some(section) = &to.checkpoint else {
        return Ok(names);
    };
    let invalid =
        |message: String| Error::InvalidConfig(format!("[syncer.to.checkpoint] {message}"));
    for (key, value) in section {
        let text = || {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{key} must be a string")))
        };
        match key.as_str() {
            "schema" => names.0 = text()?,
            "table" => names.1 = text()?,
            "type" if matches!(text()?.as_str(), "" | "mysql" | "tidb") => {}
            "type" => {
                return Err(invalid(format!(
                    "type {:?} is not supported with db-type mysql/tidb: the checkpoint is kept \
                     in the destination database (type \"mysql\" or \"tidb\")",
                    text()?
                )))
            }
            other => {
                return Err(invalid(format!(
                    "{other} is not supported by this build: the checkpoint is kept in the \
                     destination database, next to the rows it covers"
                )))
            }
        }
    }
    Ok(names)
}

/// The `mysql`/`tidb` sink.
pub struct MysqlSink {
    loader: Loader,
}

impl MysqlSink {
    /// Connects the loader (see [`binlog_loader::Loader::open`]), which tells `observer` how
    /// long its statements take.
    pub async fn open(config: LoaderConfig, observer: Arc<dyn QueryObserver>) -> Result<MysqlSink> {
        let loader = Loader::open_observed(config, observer)
            .await
            .map_err(downstream)?;
        Ok(MysqlSink { loader })
    }
}

#[async_trait]
impl Sink for MysqlSink {
    async fn write(&mut self, txn: Txn, ack: Ack) -> Result<()> {
        let Some(load) = txn.load else {
            unreachable!("the translator gives the mysql sink rows or DDL for every binlog");
        };
        self.loader
            .load(*load, Box::new(move || ack.done()))
            .await
            .map_err(downstream)
    }

    async fn flush(&mut self) -> Result<()> {
        self.loader.flush().await.map_err(downstream)
    }

    fn resume_ts(&self) -> Option<u64> {
        self.loader.applied_ts()
    }
}

/// A loader error as the drainer reports it.
pub fn downstream(error: LoaderError) -> Error {
    Error::Downstream(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn the_originals_keys_and_environment_make_the_loader_config() {
        let mut syncer = SyncerConfig {
            db_type: "tidb".into(),
            worker_count: 4,
            txn_batch: 7,
            disable_dispatch: Some(true),
            enable_detect: Some(false),
            ..SyncerConfig::default()
        };
        syncer.to.user = Some("u".into());
        syncer.to.read_timeout = Some("30s".into());
        let vars = [
            ("MYSQL_HOST", "db.example"),
            ("MYSQL_PORT", "4000"),
            ("MYSQL_USER", "env-user"),
            ("MYSQL_PSWD", "pw"),
        ];
        let config = loader_config(&syncer, env(&vars)).unwrap();
        assert_eq!(config.connection.host, "db.example");
        assert_eq!(config.connection.port, 4000);
        assert_eq!(config.connection.user, "u", "the file wins over MYSQL_USER");
        assert_eq!(config.connection.password, "pw");
        assert_eq!(config.connection.read_timeout, Duration::from_secs(30));
        assert_eq!(config.db_type, DbType::Tidb);
        assert_eq!((config.worker_count, config.txn_batch), (4, 7));
        assert!(!config.dispatch && !config.detect);

        let defaults = loader_config(&SyncerConfig::default(), env(&[])).unwrap();
        assert_eq!(
            (
                defaults.connection.host.as_str(),
                defaults.connection.port,
                defaults.connection.user.as_str()
            ),
            ("localhost", 3306, "root")
        );
        assert!(defaults.dispatch && defaults.detect);
    }

    #[test]
    fn settings_this_build_cannot_honour_are_refused_by_name() {
        let mut syncer = SyncerConfig::default();
        syncer.to.encrypted_password = Some("c2VjcmV0".into());
        let error = loader_config(&syncer, env(&[])).unwrap_err().to_string();
        assert!(error.contains("encrypted_password"), "{error}");

        let mut syncer = SyncerConfig::default();
        syncer.to.port = Some(70000);
        let error = loader_config(&syncer, env(&[])).unwrap_err().to_string();
        assert!(error.contains("port 70000"), "{error}");

        let mut to = ToConfig::default();
        assert_eq!(
            checkpoint_table_name(&to).unwrap(),
            ("tidb_binlog".to_owned(), "checkpoint".to_owned())
        );
        to.checkpoint =
            Some(toml::from_str("type = \"mysql\"\nschema = \"cp\"\ntable = \"t\"").unwrap());
        assert_eq!(
            checkpoint_table_name(&to).unwrap(),
            ("cp".to_owned(), "t".to_owned())
        );
        to.checkpoint = Some(toml::from_str("host = \"other\"").unwrap());
        let error = checkpoint_table_name(&to).unwrap_err().to_string();
        assert!(error.contains("host is not supported"), "{error}");
        to.checkpoint = Some(toml::from_str("type = \"file\"").unwrap());
        let error = checkpoint_table_name(&to).unwrap_err().to_string();
        assert!(error.contains("type \"file\""), "{error}");
    }
}
