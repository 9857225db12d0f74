//! The drainer's configuration: the original's TOML file, command-line flags and
//! `BINLOG_SERVER_*` environment variables, merged with the original's precedence (flags, then
//! environment, then file, then defaults) and validated.
//!
//! Deviations from the original, each because this build works differently:
//! - `pd-urls` defaults to empty, which selects the file registry and file TSO in
//!   `registry-dir` (our key, flag and `BINLOG_SERVER_REGISTRY_DIR`), as for the pump.
//! - `[syncer] db-type` defaults to `file`, not `mysql`: the `mysql`/`tidb` destinations are not
//!   built yet, and the embedded quick start must work. `file` (alias `pb`) and `print` are
//!   supported; `mysql`, `tidb`, `kafka` and `oracle` are a startup error that says so, `flash` the
//!   original's error.
//! - The keys only the SQL and Kafka destinations read (`[syncer.to] host`, `kafka-addrs`, the
//!   filters, ...) are accepted and type-checked so existing files load, and unused.
//! - TLS (`[security] ssl-ca`) and the Prometheus pushgateway (`-metrics-addr`) are not
//!   supported: setting them is an error that says so.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use serde::{Deserialize, Serialize};

use binlog_node::config::flags::{self, ConfigError};
use binlog_node::config::node::{
    adjust_addresses, advertise_host, check_addresses, check_registry, comma_list, listen_addr,
    replace, seconds, split_list, whole_seconds, SecurityConfig, SCHEME,
};
use binlog_node::error::{Error, Result};
use binlog_node::logging;

/// The original's drainer port.
const DEFAULT_PORT: u16 = 8249;
/// `addr` when set to an empty string.
const FALLBACK_LISTEN_ADDR: &str = "127.0.0.1:8249";
/// Default of `data-dir`.
const DEFAULT_DATA_DIR: &str = "data.drainer";
/// Default of `registry-dir`, the pump's.
const DEFAULT_REGISTRY_DIR: &str = "/var/tmp/tidb-binlog";
/// Default of `detect-interval`.
const DEFAULT_DETECT_INTERVAL: Duration = Duration::from_secs(5);
/// Default of `synced-check-time`, in minutes.
const DEFAULT_SYNCED_CHECK_TIME: i64 = 5;
/// Default of `-cache-binlog-count`.
const DEFAULT_CACHE_BINLOG_COUNT: i64 = 8;
/// Default of `-metrics-interval`, in seconds.
const DEFAULT_METRICS_INTERVAL: i64 = 15;
/// Default of `[syncer] txn-batch`.
const DEFAULT_TXN_BATCH: i64 = 20;
/// Default of `[syncer] worker-count`.
const DEFAULT_WORKER_COUNT: i64 = 16;
/// Default of `[syncer] ignore-schemas`.
const DEFAULT_IGNORE_SCHEMAS: &str = "INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql";
/// Default of `[syncer.relay] max-file-size`.
const DEFAULT_RELAY_MAX_FILE_SIZE: i64 = 10 << 20;

/// Printed after the flags by `drainer --help`.
const AFTER_HELP: &str = "\
Flags may be written Go style: -flag value, -flag=value, --flag value or --flag=value; a bool
flag alone means true (-safe-mode), or takes =true/=false.

Every flag but -config and -V can also be set from the environment as BINLOG_SERVER_<FLAG>
(upper case, '-' as '_'), e.g. BINLOG_SERVER_DATA_DIR. The command line wins over the
environment, which wins over the config file, which wins over the defaults.

Destinations ([syncer] db-type, -dest-db-type): file (alias pb) writes the original's framed
binlog files into [syncer.to] dir; print writes one line per binlog to stdout.";

/// Where merged binlogs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationKind {
    /// Framed binlog files (`file`, alias `pb`).
    File,
    /// One readable line per binlog on stdout (`print`).
    Print,
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
    /// `[syncer]`.
    pub syncer: SyncerConfig,
    /// `[security]`: TLS, which this build does not support yet.
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
            addr: format!("{SCHEME}{}", flags::default_listen_addr(DEFAULT_PORT)),
            advertise_addr: String::new(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            detect_interval: DEFAULT_DETECT_INTERVAL,
            pd_urls: Vec::new(),
            registry_dir: PathBuf::from(DEFAULT_REGISTRY_DIR),
            log_file: None,
            initial_commit_ts: -1,
            syncer: SyncerConfig::default(),
            security: SecurityConfig::default(),
            synced_check_time: DEFAULT_SYNCED_CHECK_TIME,
            compressor: String::new(),
            cache_binlog_count: DEFAULT_CACHE_BINLOG_COUNT,
            metrics_addr: None,
            metrics_interval: DEFAULT_METRICS_INTERVAL,
            config_file: None,
            deprecated_flags: Vec::new(),
            env_used: Vec::new(),
        }
    }
}

/// `[syncer]`, the original's keys. Only `db-type`, `ignore-txn-commit-ts` and `[syncer.to]`'s
/// `dir` and `retention-time` are used by the destinations this build has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct SyncerConfig {
    /// Destination: `file`/`pb` or `print` (see the module doc). Flag `-dest-db-type`. Default
    /// `file`.
    pub db_type: String,
    /// Commit TSs of binlogs to skip. Default empty.
    pub ignore_txn_commit_ts: Vec<i64>,
    /// Comma list of schemas the SQL destinations skip. Flag `-ignore-schemas`. Default
    /// `INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql`.
    pub ignore_schemas: String,
    /// Tables the SQL destinations skip (`{db-name, tbl-name}`). Default empty.
    pub ignore_table: Vec<TableName>,
    /// Statements per downstream transaction. Flag `-txn-batch`. Default 20.
    pub txn_batch: i64,
    /// Loopback control for bidirectional replication (SQL destinations). Default false.
    pub loopback_control: bool,
    /// Replicate DDL (SQL destinations). Default true.
    pub sync_ddl: bool,
    /// Loopback channel ID. Default 0.
    pub channel_id: i64,
    /// Downstream workers. Flag `-c`. Default 16.
    pub worker_count: i64,
    /// Tables to replicate only (SQL destinations). Default empty.
    pub replicate_do_table: Vec<TableName>,
    /// Databases to replicate only (SQL destinations). Default empty.
    pub replicate_do_db: Vec<String>,
    /// Safe mode (SQL destinations). Flag `-safe-mode`. Default false.
    pub safe_mode: bool,
    /// Dispatch (SQL destinations). Default none (on).
    pub enable_dispatch: Option<bool>,
    /// Turns dispatch off; wins over `enable-dispatch`. Default none.
    pub disable_dispatch: Option<bool>,
    /// Causality detection (SQL destinations). Default none (on).
    pub enable_detect: Option<bool>,
    /// Turns detection off; wins over `enable-detect`. Default none.
    pub disable_detect: Option<bool>,
    /// Downstream SQL mode. Default none.
    pub sql_mode: Option<String>,
    /// Load the schema snapshot at the checkpoint (needs TiKV). Default false.
    pub load_schema_snapshot: bool,
    /// Case-sensitive filters. Default false.
    pub case_sensitive: bool,
    /// The original's table migrate rules, type-checked as TOML only. Default empty.
    pub table_migrate_rule: Vec<toml::Table>,
    /// The original's binlog filter rules, type-checked as TOML only. Default empty.
    pub binlog_filter_rule: BTreeMap<String, toml::Table>,
    /// `[syncer.relay]`.
    pub relay: RelayConfig,
    /// `[syncer.to]`.
    pub to: ToConfig,
}

impl Default for SyncerConfig {
    fn default() -> SyncerConfig {
        SyncerConfig {
            db_type: "file".into(),
            ignore_txn_commit_ts: Vec::new(),
            ignore_schemas: DEFAULT_IGNORE_SCHEMAS.into(),
            ignore_table: Vec::new(),
            txn_batch: DEFAULT_TXN_BATCH,
            loopback_control: false,
            sync_ddl: true,
            channel_id: 0,
            worker_count: DEFAULT_WORKER_COUNT,
            replicate_do_table: Vec::new(),
            replicate_do_db: Vec::new(),
            safe_mode: false,
            enable_dispatch: None,
            disable_dispatch: None,
            enable_detect: None,
            disable_detect: None,
            sql_mode: None,
            load_schema_snapshot: false,
            case_sensitive: false,
            table_migrate_rule: Vec::new(),
            binlog_filter_rule: BTreeMap::new(),
            relay: RelayConfig::default(),
            to: ToConfig::default(),
        }
    }
}

/// A `{db-name, tbl-name}` table filter entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct TableName {
    /// Database name (a `~` prefix makes it a regex).
    pub db_name: String,
    /// Table name (a `~` prefix makes it a regex).
    pub tbl_name: String,
}

/// `[syncer.relay]`: the SQL destinations' relay log (not built yet).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RelayConfig {
    /// Relay log directory; empty disables it. Default empty.
    pub log_dir: String,
    /// Relay segment size in bytes. Default 10 MiB.
    pub max_file_size: i64,
}

impl Default for RelayConfig {
    fn default() -> RelayConfig {
        RelayConfig {
            log_dir: String::new(),
            max_file_size: DEFAULT_RELAY_MAX_FILE_SIZE,
        }
    }
}

/// `[syncer.to]`: the destination. `dir` and `retention-time` are the `file` destination's;
/// the rest belongs to the SQL and Kafka destinations and is accepted for compatibility.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ToConfig {
    /// `file`: directory of the binlog files. Default: `data-dir`.
    pub dir: Option<PathBuf>,
    /// `file`: days after which files other than the newest are removed, 0 keeping them all.
    /// Default 0.
    pub retention_time: i64,
    /// SQL: host. Default none.
    pub host: Option<String>,
    /// SQL: user. Default none.
    pub user: Option<String>,
    /// SQL: password. Default none.
    pub password: Option<String>,
    /// SQL: encrypted password. Default none.
    #[serde(rename = "encrypted_password")]
    pub encrypted_password: Option<String>,
    /// SQL: port. Default none.
    pub port: Option<i64>,
    /// SQL: sync mode. Default none.
    pub sync_mode: Option<i64>,
    /// SQL: merge DMLs per key. Default none.
    pub merge: Option<bool>,
    /// SQL: read timeout. Default none.
    pub read_timeout: Option<String>,
    /// SQL: session parameters. Default empty.
    pub params: BTreeMap<String, String>,
    /// Kafka: ZooKeeper addresses. Default none.
    pub zookeeper_addrs: Option<String>,
    /// Kafka: broker addresses. Default none.
    pub kafka_addrs: Option<String>,
    /// Kafka: version. Default none.
    pub kafka_version: Option<String>,
    /// Kafka: messages per flush. Default none.
    pub kafka_max_messages: Option<i64>,
    /// Kafka: largest message. Default none.
    pub kafka_max_message_size: Option<i64>,
    /// Kafka: client ID. Default none.
    pub kafka_client_id: Option<String>,
    /// Kafka: topic. Default none.
    pub topic_name: Option<String>,
    /// `[syncer.to.checkpoint]`: where an SQL destination keeps its checkpoint. Default none.
    pub checkpoint: Option<toml::Table>,
    /// `[syncer.to.security]`. Default none.
    pub security: Option<SecurityConfig>,
}

/// The drainer's command line. Doc comments are the `--help` text.
#[derive(Debug, Parser)]
#[command(
    name = "drainer",
    about = "TiDB-Binlog drainer: pulls binlogs from every pump, merges them by commit TS, writes them downstream",
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
struct DrainerFlags {
    /// Path to the drainer configuration file (TOML) [default: none]
    #[arg(long, value_name = "PATH")]
    config: Option<OsString>,
    /// Print version information and exit
    #[arg(
        short = 'V',
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = flags::parse_go_bool
    )]
    print_version: Option<bool>,
    /// Address (host:port) to listen on for HTTP and gRPC [default: <first non-loopback IPv4>:8249]
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// Address (host:port) pumps and operators reach this drainer at [default: the -addr value]
    #[arg(long, value_name = "HOST:PORT")]
    advertise_addr: Option<String>,
    /// Directory of the savepoint (and of the file destination by default) [default: data.drainer]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<OsString>,
    /// Seconds between reads of the registry for pumps [default: 5]
    #[arg(long, value_name = "SECONDS", value_parser = flags::parse_go_int)]
    detect_interval: Option<i64>,
    /// Comma-separated etcd endpoints (http://host:port); empty uses the file registry and TSO in -registry-dir [default: empty]
    #[arg(long, value_name = "URLS")]
    pd_urls: Option<String>,
    /// Directory of the file registry and TSO shared by every process on this host [default: /var/tmp/tidb-binlog]
    #[arg(long, value_name = "DIR")]
    registry_dir: Option<OsString>,
    /// ID of this node [default: <hostname>:<port of -addr>]
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Commit TS to start from when there is no checkpoint; -1 takes a TSO at start [default: -1]
    #[arg(long, value_name = "TS", value_parser = flags::parse_go_int)]
    initial_commit_ts: Option<i64>,
    /// Log level: debug, info, warn, error, fatal [default: info]
    #[arg(short = 'L', value_name = "LEVEL")]
    log_level: Option<String>,
    /// File to log to, appended [default: stderr]
    #[arg(long, value_name = "PATH")]
    log_file: Option<OsString>,
    /// Destination: file (alias pb) or print [default: file]
    #[arg(long, value_name = "TYPE")]
    dest_db_type: Option<String>,
    /// Statements per downstream transaction (SQL destinations) [default: 20]
    #[arg(long, value_name = "N", value_parser = flags::parse_go_int)]
    txn_batch: Option<i64>,
    /// Downstream workers (SQL destinations) [default: 16]
    #[arg(short = 'c', value_name = "N", value_parser = flags::parse_go_int)]
    worker_count: Option<i64>,
    /// Schemas the SQL destinations skip, comma-separated [default: INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql]
    #[arg(long, value_name = "LIST")]
    ignore_schemas: Option<String>,
    /// Safe mode (SQL destinations) [default: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = flags::parse_go_bool
    )]
    safe_mode: Option<bool>,
    /// Minutes; accepted for compatibility [default: 5]
    #[arg(long, value_name = "MINUTES", value_parser = flags::parse_go_int)]
    synced_check_time: Option<i64>,
    /// Binlogs buffered per pump stream [default: 8]
    #[arg(long, value_name = "N", value_parser = flags::parse_go_int)]
    cache_binlog_count: Option<i64>,
    /// Compression of the pull streams: gzip or empty [default: empty]
    #[arg(long, value_name = "NAME")]
    compressor: Option<String>,
    /// Prometheus pushgateway address: not supported by this build, scrape /metrics instead [default: none]
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Pushgateway push interval in seconds, 0 disables the push [default: 15]
    #[arg(long, value_name = "SECONDS", value_parser = flags::parse_go_int)]
    metrics_interval: Option<i64>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "TEXT")]
    log_rotate: Option<String>,
}

impl DrainerFlags {
    /// Overrides `config` with every flag given. Destructured so that a new flag cannot be
    /// forgotten here.
    fn apply(self, config: &mut DrainerConfig) -> Result<()> {
        let DrainerFlags {
            config: config_file,
            print_version: _,
            addr,
            advertise_addr,
            data_dir,
            detect_interval,
            pd_urls,
            registry_dir,
            node_id,
            initial_commit_ts,
            log_level,
            log_file,
            dest_db_type,
            txn_batch,
            worker_count,
            ignore_schemas,
            safe_mode,
            synced_check_time,
            cache_binlog_count,
            compressor,
            metrics_addr,
            metrics_interval,
            log_rotate,
        } = self;
        config.config_file = config_file.map(PathBuf::from);
        replace(&mut config.addr, addr);
        replace(&mut config.advertise_addr, advertise_addr);
        replace(&mut config.data_dir, data_dir.map(PathBuf::from));
        if let Some(secs) = detect_interval {
            config.detect_interval = seconds(secs)
                .map_err(|reason| Error::InvalidConfig(format!("-detect-interval: {reason}")))?;
        }
        replace(&mut config.pd_urls, pd_urls.as_deref().map(split_list));
        replace(&mut config.registry_dir, registry_dir.map(PathBuf::from));
        replace(&mut config.node_id, node_id.map(Some));
        replace(&mut config.initial_commit_ts, initial_commit_ts);
        replace(&mut config.log_level, log_level);
        replace(&mut config.log_file, log_file.map(|path| Some(path.into())));
        let syncer = &mut config.syncer;
        replace(&mut syncer.db_type, dest_db_type);
        replace(&mut syncer.txn_batch, txn_batch);
        replace(&mut syncer.worker_count, worker_count);
        replace(&mut syncer.ignore_schemas, ignore_schemas);
        replace(&mut syncer.safe_mode, safe_mode);
        replace(&mut config.synced_check_time, synced_check_time);
        replace(&mut config.cache_binlog_count, cache_binlog_count);
        replace(&mut config.compressor, compressor);
        replace(&mut config.metrics_addr, metrics_addr.map(Some));
        replace(&mut config.metrics_interval, metrics_interval);
        config.deprecated_flags = log_rotate
            .map(|_| "-log-rotate".to_owned())
            .into_iter()
            .collect();
        Ok(())
    }
}

impl DrainerConfig {
    /// Loads the configuration from `args` (program name first), the environment seen through
    /// `env` and the `-config` file, with the original's precedence; then adjusts and sanitizes
    /// it. Errors as [`crate::pump_config::PumpConfig::load`]'s.
    pub fn load(
        args: Vec<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<DrainerConfig, ConfigError> {
        let line = flags::parse_command_line(
            &DrainerFlags::command(),
            args,
            "BINLOG_SERVER",
            env,
            &["config", "V"],
        )?;
        let parsed = DrainerFlags::from_arg_matches(&line.matches)?;
        if parsed.print_version == Some(true) {
            return Err(ConfigError::Print(flags::version_info()));
        }
        let file = parsed.config.as_deref().filter(|path| !path.is_empty());
        let mut config = match file {
            Some(path) => flags::load_toml_strict::<DrainerConfig>("drainer", Path::new(path))?,
            None => DrainerConfig::default(),
        };
        parsed.apply(&mut config)?;
        config.env_used = line.env_used;
        config.adjust();
        config.sanitize()?;
        Ok(config)
    }

    /// Fills empty values with their defaults, as the original does after parsing.
    fn adjust(&mut self) {
        adjust_addresses(
            &mut self.addr,
            &mut self.advertise_addr,
            FALLBACK_LISTEN_ADDR,
        );
        if self.data_dir.as_os_str().is_empty() {
            self.data_dir = PathBuf::from(DEFAULT_DATA_DIR);
        }
        if self.node_id.as_deref() == Some("") {
            self.node_id = None;
        }
        if self.metrics_addr.as_deref() == Some("") {
            self.metrics_addr = None;
        }
        if self
            .log_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            self.log_file = None;
        }
        if self
            .syncer
            .to
            .dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            self.syncer.to.dir = None;
        }
        self.security.adjust();
    }

    /// Checks every value. Errors are [`Error::InvalidConfig`].
    pub fn sanitize(&self) -> Result<()> {
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
        self.destination()?;
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
        if let Some(address) = &self.metrics_addr {
            if self.metrics_interval != 0 {
                return invalid(format!(
                    "-metrics-addr {address}: pushing metrics to a Prometheus pushgateway is not \
                     supported by this build; leave -metrics-addr empty and scrape \
                     http://<addr>/metrics instead"
                ));
            }
        }
        self.security.sanitize()
    }

    /// The destination `db-type` names, or why it cannot be used.
    pub fn destination(&self) -> Result<DestinationKind> {
        let db_type = self.syncer.db_type.as_str();
        let unsupported = |why: &str| {
            Err(Error::InvalidConfig(format!(
                "[syncer] db-type {db_type:?} is not supported by this build: {why}; use \
                 \"file\" (alias \"pb\") or \"print\""
            )))
        };
        match db_type {
            "file" | "pb" => Ok(DestinationKind::File),
            "print" => Ok(DestinationKind::Print),
            "mysql" | "tidb" => unsupported(
                "the SQL destination is not built yet (it needs the table schemas from TiKV)",
            ),
            "kafka" => unsupported("there is no Kafka producer"),
            "oracle" => unsupported("there is no Oracle driver"),
            "flash" => Err(Error::InvalidConfig(
                "the flash DestDBType is no longer supported".into(),
            )),
            other => Err(Error::InvalidConfig(format!(
                "unknown [syncer] db-type {other:?}: use \"file\" (alias \"pb\") or \"print\""
            ))),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str], env: &[(&str, &str)]) -> Result<DrainerConfig, ConfigError> {
        let args = std::iter::once("drainer")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        DrainerConfig::load(args, move |key| {
            env.iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        })
    }

    fn invalid(args: &[&str]) -> String {
        match load(args, &[]) {
            Err(ConfigError::Invalid(error)) => error.to_string(),
            other => panic!("expected an invalid config, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let config = load(&["-addr", "127.0.0.1:8249"], &[]).unwrap();
        assert_eq!(config.data_dir, Path::new("data.drainer"));
        assert_eq!(config.detect_interval, Duration::from_secs(5));
        assert_eq!(config.initial_commit_ts, -1);
        assert_eq!(config.destination().unwrap(), DestinationKind::File);
        assert_eq!(config.destination_dir(), Path::new("data.drainer"));
        assert_eq!(config.advertise_host(), "127.0.0.1:8249");
        assert_eq!(config.retention(), None);
        assert_eq!(config.syncer.worker_count, 16);
        assert_eq!(config.syncer.txn_batch, 20);
    }

    #[test]
    fn original_config_file_loads_and_flags_and_environment_win() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drainer.toml");
        std::fs::write(
            &path,
            r#"
addr = "127.0.0.1:8249"
detect-interval = 10
data-dir = "/tmp/d"
initial-commit-ts = 7
compressor = "gzip"

[syncer]
db-type = "pb"
txn-batch = 20
worker-count = 16
ignore-schemas = "INFORMATION_SCHEMA,PERFORMANCE_SCHEMA,mysql"
safe-mode = false
disable-dispatch = false
replicate-do-db = ["~^b.*", "s1"]

[[syncer.replicate-do-table]]
db-name = "test"
tbl-name = "log"

[[syncer.ignore-table]]
db-name = "test"
tbl-name = "~^a.*"

[syncer.to]
dir = "/tmp/out"
retention-time = 3
host = "127.0.0.1"
port = 3306

[syncer.to.checkpoint]
type = "mysql"
schema = "tidb_binlog"
"#,
        )
        .unwrap();
        let config_flag = path.to_str().unwrap();
        let config = load(
            &["-config", config_flag, "-detect-interval", "2"],
            &[
                ("BINLOG_SERVER_DATA_DIR", "/tmp/env"),
                ("BINLOG_SERVER_DETECT_INTERVAL", "9"),
            ],
        )
        .unwrap();
        assert_eq!(config.detect_interval, Duration::from_secs(2));
        assert_eq!(config.data_dir, Path::new("/tmp/env"));
        assert_eq!(config.initial_commit_ts, 7);
        assert_eq!(config.compressor, "gzip");
        assert_eq!(config.destination().unwrap(), DestinationKind::File);
        assert_eq!(config.destination_dir(), Path::new("/tmp/out"));
        assert_eq!(config.retention(), Some(Duration::from_secs(3 * 24 * 3600)));
        assert_eq!(config.syncer.replicate_do_table[0].tbl_name, "log");
        assert_eq!(
            config.env_used,
            [("BINLOG_SERVER_DATA_DIR".to_owned(), "/tmp/env".to_owned())]
        );

        std::fs::write(&path, "[syncer]\ndb-type = \"file\"\nnope = 1\n").unwrap();
        let error = match load(&["-config", config_flag], &[]) {
            Err(error) => error.to_string(),
            Ok(config) => panic!("unknown key accepted: {config:?}"),
        };
        assert!(error.contains("syncer.nope"), "{error}");
    }

    #[test]
    fn unsupported_destinations_and_bad_values_are_clear_errors() {
        let base = ["-addr", "127.0.0.1:8249"];
        let with = |extra: &[&str]| {
            let args: Vec<&str> = base.iter().chain(extra).copied().collect();
            invalid(&args)
        };
        for db_type in ["mysql", "tidb", "kafka", "oracle"] {
            let error = with(&["-dest-db-type", db_type]);
            assert!(error.contains("not supported by this build"), "{error}");
        }
        assert_eq!(
            with(&["-dest-db-type", "flash"]),
            "the flash DestDBType is no longer supported"
        );
        assert!(with(&["-dest-db-type", "x"]).contains("unknown [syncer] db-type"));
        assert!(with(&["-compressor", "lz4"]).contains("compressor"));
        assert!(with(&["-initial-commit-ts", "-2"]).contains("initial-commit-ts"));
        assert!(with(&["-detect-interval", "0"]).contains("detect-interval"));
        assert!(with(&["-c", "0"]).contains("worker-count"));
        assert_eq!(
            load(&["-dest-db-type", "print", "-addr", "127.0.0.1:1"], &[])
                .unwrap()
                .destination()
                .unwrap(),
            DestinationKind::Print
        );
    }
}
