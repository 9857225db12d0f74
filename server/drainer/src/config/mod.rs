//! The drainer's configuration: the original's TOML file, command-line flags and
//! `BINLOG_SERVER_*` environment variables, merged with the original's precedence (flags, then
//! environment, then file, then defaults) and validated.
//!
//! [`DrainerConfig::load`] loads it through [`binlog_node::config::load()`].
//!
//! - [`flags`]: the command line.
//! - [`syncer`]: the `[syncer]` section, the destination.
//!
//! Deviations from the original, each because this build works differently:
//! - `pd-urls` defaults to empty, which selects the file registry and file TSO in
//!   `registry-dir` (our key, flag and `BINLOG_SERVER_REGISTRY_DIR`), as for the pump.
//! - `[syncer] db-type` defaults to `file`, not `mysql`, so that the embedded quick start works
//!   without a downstream database and a TiDB. `mysql`, `tidb`, `kafka`, `file` (alias `pb`)
//!   and `print` are supported; `oracle` is a startup error that says so, `flash` the original's
//!   error.
//! - `mysql`/`tidb`/`kafka` and `file` with `pb` payloads read table schemas from TiDB's status
//!   port (`tidb-status-addr`, ours), not from TiKV: the original's TiKV reads need a real PD, which this build does not
//!   join.
//! - The table filters apply to `mysql`/`tidb`/`kafka` and to `file` with `pb` payloads; with
//!   `print` or `file` with `tipb` payloads, which write binlogs as TiDB sent them (no table
//!   names without a schema), setting one is a startup error.
//! - `file`: `[syncer.to] file-payload` (ours) chooses the records' payload: `pb`, the
//!   original's `pb_binlog` (the default when `tidb-status-addr` is set), or `tipb`, the binlogs
//!   as TiDB wrote them (the default without it, as no schemas are at hand).
//! - `kafka`: `zookeeper-addrs` (broker discovery through ZooKeeper) is refused: list the
//!   brokers in `kafka-addrs`.
//! - The Prometheus pushgateway (`-metrics-addr`) is not supported: setting it is an error that
//!   says so.
//! - TLS: `[security]` secures the drainer's port and its calls to pumps, etcd and TiDB's status
//!   port; `[syncer.to.security]` its destination (MySQL/TiDB, and Kafka, which the original
//!   left in plain text).

pub mod flags;
pub mod syncer;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use binlog_node::config::address::{
    adjust_addresses, advertise_host, check_addresses, check_registry, comma_list,
    default_listen_addr, listen_addr, SCHEME,
};
use binlog_node::config::go_values::whole_seconds;
use binlog_node::config::load::{check_no_metrics_push, default_if_empty, empty_to_none};
use binlog_node::config::security::SecurityConfig;
use binlog_node::config::{ConfigError, NodeConfig, DEFAULT_REGISTRY_DIR};
use binlog_node::error::{Error, Result};
use binlog_node::logging;
use binlog_node::node_main::NodeBinary;

use binlog_archive::binlog_file::FilePayload;
use flags::DrainerFlags;
pub use syncer::{RelayConfig, SyncerConfig, TableName, ToConfig};

/// The original's drainer port.
const DEFAULT_PORT: u16 = 8249;
/// `addr` when set to an empty string.
const FALLBACK_LISTEN_ADDR: &str = "127.0.0.1:8249";
/// Default of `data-dir`.
const DEFAULT_DATA_DIR: &str = "data.drainer";
/// Default of `registry-dir`, the pump's.
/// Default of `detect-interval`.
const DEFAULT_DETECT_INTERVAL: Duration = Duration::from_secs(5);
/// Default of `synced-check-time`, in minutes.
const DEFAULT_SYNCED_CHECK_TIME: i64 = 5;
/// Default of `-cache-binlog-count`.
const DEFAULT_CACHE_BINLOG_COUNT: i64 = 8;
/// Default of `-metrics-interval`, in seconds.
const DEFAULT_METRICS_INTERVAL: i64 = 15;

/// Where merged binlogs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    /// Framed binlog files (`file`, alias `pb`).
    File,
    /// One readable line per binlog on stdout (`print`).
    Print,
    /// SQL to MySQL or TiDB (`mysql`, `tidb`).
    Sql,
    /// Secondary binlogs to a Kafka topic (`kafka`).
    Kafka,
}

/// A one-shot action on a stopped drainer's checkpoint or skips (see [`crate::operator`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OperatorAction {
    /// `-set-checkpoint-ts TS`: the next run starts after `TS`.
    SetCheckpoint(u64),
    /// `-skip-commit-ts TS -skip-reason WHY`: the binlog committed at `TS` is not written.
    Skip {
        /// Its commit TS.
        commit_ts: u64,
        /// Why, for the record.
        reason: String,
    },
}

/// The drainer's configuration. TOML keys are the original's; fields marked "flag only" have
/// no TOML key and are an unknown key in a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct DrainerConfig {
    /// Log level: `debug`, `info`, `warn`, `error` or `fatal`. Flag `-L`. Default `info`.
    pub log_level: String,
    /// This node's ID. Flag `-node-id`. Default `<hostname>:<port of addr>`.
    pub node_id: Option<String>,
    /// Where to listen for HTTP and gRPC (`Cistern.Notify`), as `http://host:port`. Flag
    /// `-addr`. Default `http://<first non-loopback IPv4>:8249`.
    pub addr: String,
    /// Where pumps and operators reach this drainer. Flag `-advertise-addr`. Default `addr`.
    pub advertise_addr: String,
    /// Holds the `savepoint` checkpoint (and the `file` destination's files by default). Flag
    /// `-data-dir`. Default `data.drainer`.
    pub data_dir: PathBuf,
    /// How often the registry is read for pumps, in whole seconds. Flag `-detect-interval`.
    /// Default 5.
    #[serde(with = "whole_seconds")]
    pub detect_interval: Duration,
    /// Endpoints of a plain etcd (`http://host:port`, comma-separated), as for the pump. Flag
    /// `-pd-urls`. Default empty: the file registry and TSO in `registry-dir`.
    #[serde(with = "comma_list")]
    pub pd_urls: Vec<String>,
    /// Directory of the file registry and TSO shared with the pumps of this host (ours). Flag
    /// `-registry-dir`. Default `/var/tmp/tidb-binlog`.
    pub registry_dir: PathBuf,
    /// File to log to (appended). Flag `-log-file`. Default none: stderr.
    pub log_file: Option<PathBuf>,
    /// Where to start when there is no checkpoint: a commit TS, or -1 for a TSO taken at
    /// start. Flag `-initial-commit-ts`. Default -1.
    pub initial_commit_ts: i64,
    /// TiDB status addresses (`host:port` of TiDB's status port, 10080 by default,
    /// comma-separated; each tried in turn) the `mysql`/`tidb` destinations read table schemas
    /// from (`/ddl/history`). Ours. Flag `-tidb-status-addr`. Default empty.
    #[serde(with = "comma_list")]
    pub tidb_status_addr: Vec<String>,
    /// Stop cleanly once every binlog up to this commit TS is applied: the checkpoint is saved
    /// exactly there and the drainer ends `paused` (ours; TiCDC's `target-ts`). Flag
    /// `-stop-at-commit-ts`. Default 0: never.
    pub stop_at_commit_ts: u64,
    /// `[syncer]`.
    pub syncer: SyncerConfig,
    /// `[security]`: TLS, on iff `ssl-ca` is set (see [`binlog_node::tls`]).
    pub security: SecurityConfig,
    /// Minutes; accepted for compatibility (`/status`'s `Synced` is computed from the pumps'
    /// watermarks here). Flag `-synced-check-time`. Default 5.
    pub synced_check_time: i64,
    /// Compression of the pull streams: `""` or `gzip`. Flag `-compressor`. Default `""`.
    pub compressor: String,
    /// Binlogs buffered per pump stream. Flag only, `-cache-binlog-count`. Default 8.
    #[serde(skip)]
    pub cache_binlog_count: i64,
    /// Prometheus pushgateway: not supported. Flag only, `-metrics-addr`. Default none.
    #[serde(skip)]
    pub metrics_addr: Option<String>,
    /// Pushgateway interval in seconds. Flag only, `-metrics-interval`. Default 15.
    #[serde(skip)]
    pub metrics_interval: i64,
    /// A one-shot action instead of a run (flags only, never from the environment): set the
    /// checkpoint (`-set-checkpoint-ts`) or record a skip (`-skip-commit-ts`, `-skip-reason`).
    #[serde(skip)]
    pub operator_action: Option<OperatorAction>,
    /// The config file read. Flag only, `-config`. Default none.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    /// Deprecated flags given (`-log-rotate`), for the binary to warn about. Default empty.
    #[serde(skip)]
    pub deprecated_flags: Vec<String>,
    /// `(variable, value)` of each environment variable used, for the binary to log.
    #[serde(skip)]
    pub env_used: Vec<(String, String)>,
}

impl Default for DrainerConfig {
    fn default() -> DrainerConfig {
        DrainerConfig {
            log_level: "info".into(),
            node_id: None,
            addr: format!("{SCHEME}{}", default_listen_addr(DEFAULT_PORT)),
            advertise_addr: String::new(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            detect_interval: DEFAULT_DETECT_INTERVAL,
            pd_urls: Vec::new(),
            registry_dir: PathBuf::from(DEFAULT_REGISTRY_DIR),
            log_file: None,
            initial_commit_ts: -1,
            tidb_status_addr: Vec::new(),
            stop_at_commit_ts: 0,
            syncer: SyncerConfig::default(),
            security: SecurityConfig::default(),
            synced_check_time: DEFAULT_SYNCED_CHECK_TIME,
            compressor: String::new(),
            cache_binlog_count: DEFAULT_CACHE_BINLOG_COUNT,
            metrics_addr: None,
            metrics_interval: DEFAULT_METRICS_INTERVAL,
            operator_action: None,
            config_file: None,
            deprecated_flags: Vec::new(),
            env_used: Vec::new(),
        }
    }
}

impl DrainerConfig {
    /// Loads the configuration from `args` (the program name first) and the environment seen
    /// through `env`, as [`binlog_node::config::load()`] describes.
    pub fn load(
        args: Vec<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<DrainerConfig, ConfigError> {
        binlog_node::config::load(args, env)
    }

    /// The destination `db-type` names, or why it cannot be used.
    pub fn destination(&self) -> Result<DestinationKind> {
        let db_type = self.syncer.db_type.as_str();
        let unsupported = |why: &str| {
            Err(Error::InvalidConfig(format!(
                "[syncer] db-type {db_type:?} is not supported by this build: {why}; use \
                 \"mysql\", \"tidb\", \"kafka\", \"file\" (alias \"pb\") or \"print\""
            )))
        };
        match db_type {
            "file" | "pb" => Ok(DestinationKind::File),
            "print" => Ok(DestinationKind::Print),
            "mysql" | "tidb" => Ok(DestinationKind::Sql),
            "kafka" => Ok(DestinationKind::Kafka),
            "oracle" => unsupported("there is no Oracle driver"),
            "flash" => Err(Error::InvalidConfig(
                "the flash DestDBType is no longer supported".into(),
            )),
            other => Err(Error::InvalidConfig(format!(
                "unknown [syncer] db-type {other:?}: use \"mysql\", \"tidb\", \"kafka\", \"file\" \
                 (alias \"pb\") or \"print\""
            ))),
        }
    }

    /// What the `file` destination's records hold: `[syncer.to] file-payload`, else `pb` when
    /// the schemas are at hand (`tidb-status-addr`), else `tipb`.
    pub fn file_payload(&self) -> Result<FilePayload> {
        match self.syncer.to.file_payload.as_deref() {
            None => Ok(if self.tidb_status_addr.is_empty() {
                FilePayload::Tipb
            } else {
                FilePayload::PbBinlog
            }),
            Some("pb") => Ok(FilePayload::PbBinlog),
            Some("tipb") => Ok(FilePayload::Tipb),
            Some(other) => Err(Error::InvalidConfig(format!(
                "[syncer.to] file-payload {other:?}: use \"pb\" (the original's pb_binlog, \
                 which reparo reads) or \"tipb\" (the binlogs as TiDB wrote them)"
            ))),
        }
    }

    /// Whether binlogs are translated into rows (against TiDB's schemas, filtered): for the
    /// SQL and Kafka destinations, and for `file` with `pb` payloads.
    pub fn translates_rows(&self) -> Result<bool> {
        Ok(match self.destination()? {
            DestinationKind::Sql | DestinationKind::Kafka => true,
            DestinationKind::File => self.file_payload()? == FilePayload::PbBinlog,
            DestinationKind::Print => false,
        })
    }

    /// Checks that the destination has what it needs: a schema source for those that
    /// translate rows, no table filter for those that cannot apply one.
    fn check_destination(&self) -> Result<()> {
        let kind = self.destination()?;
        self.syncer.table_filter()?;
        if kind != DestinationKind::File && self.syncer.to.file_payload.is_some() {
            return Err(Error::InvalidConfig(format!(
                "[syncer.to] file-payload applies only to db-type \"file\", not {:?}",
                self.syncer.db_type
            )));
        }
        let translates_rows = self.translates_rows()?;
        if translates_rows && self.tidb_status_addr.is_empty() {
            let what = match kind {
                DestinationKind::File => "file-payload \"pb\"".to_owned(),
                _ => format!("[syncer] db-type {:?}", self.syncer.db_type),
            };
            return Err(Error::InvalidConfig(format!(
                "{what} needs tidb-status-addr: the table schemas come from TiDB's status port \
                 (host:port, 10080 by default)"
            )));
        }
        if kind == DestinationKind::Sql {
            crate::sink::mysql::checkpoint_table_name(&self.syncer.to)?;
            crate::sink::mysql::loader_config(&self.syncer, |name| std::env::var(name).ok())?;
        }
        if kind == DestinationKind::Kafka {
            crate::sink::kafka::producer_config(&self.syncer.to, 0, |name| {
                std::env::var(name).ok()
            })?;
        }
        if matches!(kind, DestinationKind::File | DestinationKind::Print)
            && self.syncer.to.tls()?.is_some()
        {
            return Err(Error::InvalidConfig(format!(
                "[syncer.to.security] is TLS to a \"mysql\", \"tidb\" or \"kafka\" destination; \
                 db-type {:?} has no connection to secure: remove the section",
                self.syncer.db_type
            )));
        }
        if !translates_rows && self.syncer.names_tables() {
            return Err(Error::InvalidConfig(format!(
                "[syncer] db-type {:?} writes binlogs as TiDB sent them, without table names: \
                 replicate-do-db, replicate-do-table, ignore-table and ignore-schemas apply only \
                 to \"mysql\", \"tidb\", \"kafka\" and \"file\" with pb payloads",
                self.syncer.db_type
            )));
        }
        Ok(())
    }

    /// The `file` destination's directory: `[syncer.to] dir`, else `data-dir`.
    pub fn destination_dir(&self) -> PathBuf {
        self.syncer
            .to
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.clone())
    }

    /// How long `file` destination files are kept; `None` keeps them all.
    pub fn retention(&self) -> Option<Duration> {
        let days = u64::try_from(self.syncer.to.retention_time).ok()?;
        (days > 0).then(|| Duration::from_secs(days.saturating_mul(24 * 3600)))
    }

    /// The `host:port` to bind.
    pub fn listen_addr(&self) -> String {
        listen_addr(&self.addr)
    }

    /// The `host:port` others reach this drainer at (the registry's `host`).
    pub fn advertise_host(&self) -> String {
        advertise_host(&self.addr, &self.advertise_addr)
    }
}

impl NodeConfig for DrainerConfig {
    const COMPONENT: &'static str = "drainer";
    const ENV_PREFIX: &'static str = "BINLOG_SERVER";
    type Flags = DrainerFlags;
    const FLAGS_NOT_FROM_ENV: &'static [&'static str] =
        &["set-checkpoint-ts", "skip-commit-ts", "skip-reason"];

    fn set_env_used(&mut self, env_used: Vec<(String, String)>) {
        self.env_used = env_used;
    }

    /// Fills empty values with their defaults, as the original does after parsing.
    fn adjust(&mut self) {
        adjust_addresses(
            &mut self.addr,
            &mut self.advertise_addr,
            FALLBACK_LISTEN_ADDR,
        );
        default_if_empty(&mut self.data_dir, DEFAULT_DATA_DIR);
        empty_to_none(&mut self.node_id);
        empty_to_none(&mut self.metrics_addr);
        empty_to_none(&mut self.log_file);
        empty_to_none(&mut self.syncer.to.dir);
        empty_to_none(&mut self.syncer.to.file_payload);
        self.security.adjust();
    }

    fn sanitize(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidConfig(message));
        check_addresses(&self.addr, &self.advertise_addr)?;
        check_registry(&self.pd_urls, &self.registry_dir)?;
        if self.detect_interval.is_zero() {
            return invalid("detect-interval must be greater than 0".into());
        }
        if self.initial_commit_ts < -1 {
            return invalid(format!(
                "initial-commit-ts {} is invalid: a commit TS, or -1 for the current TSO",
                self.initial_commit_ts
            ));
        }
        logging::parse_level(&self.log_level)?;
        self.check_destination()?;
        if !matches!(self.compressor.as_str(), "" | "gzip") {
            return invalid(format!(
                "compressor {:?} is not supported: use \"gzip\" or leave it empty",
                self.compressor
            ));
        }
        if self.cache_binlog_count <= 0 {
            return invalid("cache-binlog-count must be greater than 0".into());
        }
        let syncer = &self.syncer;
        if syncer.txn_batch <= 0 || syncer.worker_count <= 0 {
            return invalid("[syncer] txn-batch and worker-count must be greater than 0".into());
        }
        if syncer.to.retention_time < 0 {
            return invalid("[syncer.to] retention-time must not be negative".into());
        }
        if let Some(OperatorAction::Skip { reason, .. }) = &self.operator_action {
            if reason.trim().is_empty() {
                return invalid(
                    "-skip-reason is empty: say why the binlog is skipped, for the record".into(),
                );
            }
        }
        check_no_metrics_push(self.metrics_addr.as_deref(), self.metrics_interval)?;
        self.security.sanitize()
    }
}

impl NodeBinary for DrainerConfig {
    fn log_level(&self) -> &str {
        &self.log_level
    }

    fn log_file(&self) -> Option<&Path> {
        self.log_file.as_deref()
    }

    fn reported_inputs(&self) -> (&[(String, String)], &[String]) {
        (&self.env_used, &self.deprecated_flags)
    }
}
