//! The pump's configuration: the original's TOML file, command-line flags and `PUMP_*`
//! environment variables, merged with the original's precedence and validated.
//!
//! [`PumpConfig::load`] does what `pump/config.go:Parse` does, through
//! [`binlog_node::config::load()`]: parse the flags (Go style, [`flags`]) to find `-config`; read
//! that TOML file strictly (an unknown key anywhere is an error naming every one); let each flag
//! given on the command line override the file; let `PUMP_<FLAG>` set each flag *not* given on
//! the command line, so the environment overrides the file but not the command line; fill the
//! defaults; sanitize.
//!
//! - [`flags`]: the command line.
//! - [`storage`]: the `[storage]` section, the engine's configuration with the original's keys.
//! - [`gc`]: the original's `gc`, days or a Go duration.
//!
//! Deviations from the original, each because this build works differently:
//! - `pd-urls` defaults to empty, which selects the file registry and file TSO in
//!   `registry-dir` (our key, flag and `PUMP_REGISTRY_DIR`).
//! - The Prometheus pushgateway (`-metrics-addr`) is not supported: setting it is an error that
//!   says so. TLS (`[security]`) is the original's: the pump's port, its calls to drainers, and
//!   `https://` etcd endpoints.
//! - `[storage.kv]` (goleveldb tuning) and `[storage] kv_chan_cap` are accepted and ignored,
//!   reported by [`StorageConfig::ignored_keys`]; `[storage]` also takes the engine's options.
//! - Ports must be numeric; intervals must be positive (the original loops or panics on them).
//! - `tidb-status-addr` (ours, as the drainer's): the original settles a prewrite whose commit
//!   never came by asking TiKV; this build asks TiDB's status API instead.

pub mod flags;
mod gc;
pub mod storage;
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

use flags::PumpFlags;
use gc::{gc_duration, DAY_SECS, DEFAULT_GC_DAYS};
pub use storage::{KvConfig, StorageConfig, DEFAULT_SLOW_WRITE_THRESHOLD};

/// The original's pump port.
const DEFAULT_PORT: u16 = 8250;
/// `addr` when set to an empty string (the original's `defaultListenAddr`).
const FALLBACK_LISTEN_ADDR: &str = "127.0.0.1:8250";
/// Default of `data-dir`.
const DEFAULT_DATA_DIR: &str = "data.pump";
/// Default of `heartbeat-interval`, also used for 0.
const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// Default of `gen-binlog-interval`.
const DEFAULT_GEN_BINLOG_INTERVAL: Duration = Duration::from_secs(3);
/// Default of `-metrics-interval`, in seconds.
const DEFAULT_METRICS_INTERVAL: i64 = 15;
/// Default of `-max-message-size`: the original's `MaxInt - 4 MiB`, leaving gRPC room for its
/// decompression buffer, so no limit in practice.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = isize::MAX as usize - (4 << 20);

/// The pump's configuration. TOML keys are the original's (kebab-case, plus the `[storage]` keys
/// with underscores); fields marked "flag only" have no TOML key, like the original, and are an
/// unknown key in a file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct PumpConfig {
    /// Where to listen for gRPC and HTTP, as `http://host:port`: the file and flag take
    /// `host:port` and the scheme is added, as the original does. Flag `-addr`. Default
    /// `http://<first non-loopback IPv4 of the host>:8250`, else `http://127.0.0.1:8250`.
    pub addr: String,
    /// Where other nodes reach this pump, as `http://host:port`; the host must be neither empty
    /// nor `0.0.0.0`. Flag `-advertise-addr`. Default: `addr` (also when empty here).
    pub advertise_addr: String,
    /// A unix socket to serve gRPC on too, as the original writes it (it must contain a `/`).
    /// Flag `-socket`. Default none.
    pub socket: Option<String>,
    /// Endpoints of a plain etcd (`http://host:port`; comma-separated in the file and flag): the
    /// etcd registry and the etcd compare-and-swap TSO (`/tidb-binlog/v1/tso`), not PD's TSO
    /// service. A real PD (one holding `/pd/cluster_id`) is refused: this build has no PD TSO
    /// client, and TSs from anything else could make drainers skip binlogs. Flag `-pd-urls`.
    /// Default empty: the file registry and file TSO in `registry-dir` (the original defaults to
    /// `http://127.0.0.1:2379`).
    #[serde(with = "comma_list")]
    pub pd_urls: Vec<String>,
    /// Directory of the file registry and file TSO shared by every process on this host; used
    /// only when `pd-urls` is empty. Flag `-registry-dir`. Default `/var/tmp/tidb-binlog`.
    pub registry_dir: PathBuf,
    /// Where binlogs are stored. Flag `-data-dir`. Default `data.pump`.
    pub data_dir: PathBuf,
    /// Time between heartbeats to the registry, in whole seconds in the file; 0 means the
    /// default. Flag `-heartbeat-interval`. Default 2 s.
    #[serde(with = "whole_seconds")]
    pub heartbeat_interval: Duration,
    /// How long binlogs are kept: an integer (or a string of digits) is days, otherwise a Go
    /// duration such as `"30m"` or `"8h"`; must be more than 0. Flag `-gc`. Default 7 days.
    #[serde(with = "gc_duration")]
    pub gc: Duration,
    /// After this long without a write, a fake binlog is written so that drainers keep
    /// advancing; whole seconds in the file. Flag `-fake-binlog-interval`. Default 3 s.
    #[serde(with = "whole_seconds")]
    pub gen_binlog_interval: Duration,
    /// This node's ID; `<data-dir>/.node` wins over it. Flag `-node-id`. Default none:
    /// `<hostname>:<port of addr>`.
    pub node_id: Option<String>,
    /// Log level: `debug`, `info`, `warn`, `error` or `fatal`. Flag `-L`. Default `info`.
    pub log_level: String,
    /// File to log to (appended). Flag `-log-file`. Default none: stderr.
    pub log_file: Option<PathBuf>,
    /// TiDB status ports (`host:port`, or with `http://`/`https://`; comma-separated in the file
    /// and flag; each tried in turn until one answers; without a scheme `https` with
    /// `[security]`) to ask what became of a prewrite that has had no commit for 10 minutes
    /// (`GET /mvcc/hex/{primary key}`: committed, rolled back or still locked), and for the MVCC
    /// part of `/debug/binlog/{ts}`. Ours, the same key as the drainer's. Flag
    /// `-tidb-status-addr`. Default empty: stuck prewrites are only reported (logs, metrics).
    #[serde(with = "comma_list")]
    pub tidb_status_addr: Vec<String>,
    /// `[security]`: TLS, on iff `ssl-ca` is set (see [`binlog_node::tls`]).
    pub security: SecurityConfig,
    /// `[storage]`: the storage engine.
    pub storage: StorageConfig,
    /// Prometheus pushgateway to push metrics to. Flag only, `-metrics-addr`. Not supported:
    /// setting it (with a non-zero interval) is an error; scrape `/metrics` instead. Default none.
    #[serde(skip)]
    pub metrics_addr: Option<String>,
    /// Pushgateway push interval in seconds, 0 disabling the push. Flag only,
    /// `-metrics-interval`. Default 15.
    #[serde(skip)]
    pub metrics_interval: i64,
    /// Largest gRPC message accepted, in bytes. Flag only, `-max-message-size`. Default
    /// [`DEFAULT_MAX_MESSAGE_SIZE`], no limit in practice.
    #[serde(skip)]
    pub max_message_size: usize,
    /// The original's "enable print debug log", which it never reads. Flag only,
    /// `-enable-debug`. Default false.
    #[serde(skip)]
    pub enable_debug: bool,
    /// The config file read. Flag only, `-config`. Default none.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
    /// Deprecated flags given (`-binlog-file-size`, `-enable-binlog-slice`,
    /// `-binlog-slice-size`, `-log-rotate`), accepted and ignored: for the binary to warn about.
    /// Default empty.
    #[serde(skip)]
    pub deprecated_flags: Vec<String>,
    /// `(variable, value)` of each `PUMP_*` environment variable used: for the binary to log.
    /// Default empty.
    #[serde(skip)]
    pub env_used: Vec<(String, String)>,
}

impl Default for PumpConfig {
    fn default() -> PumpConfig {
        PumpConfig {
            addr: format!("{SCHEME}{}", default_listen_addr(DEFAULT_PORT)),
            advertise_addr: String::new(),
            socket: None,
            pd_urls: Vec::new(),
            registry_dir: PathBuf::from(DEFAULT_REGISTRY_DIR),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            gc: Duration::from_secs(DEFAULT_GC_DAYS * DAY_SECS),
            gen_binlog_interval: DEFAULT_GEN_BINLOG_INTERVAL,
            node_id: None,
            log_level: "info".into(),
            log_file: None,
            tidb_status_addr: Vec::new(),
            security: SecurityConfig::default(),
            storage: StorageConfig::default(),
            metrics_addr: None,
            metrics_interval: DEFAULT_METRICS_INTERVAL,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            enable_debug: false,
            config_file: None,
            deprecated_flags: Vec::new(),
            env_used: Vec::new(),
        }
    }
}

impl PumpConfig {
    /// Loads the configuration from `args` (the program name first) and the environment seen
    /// through `env`, as [`binlog_node::config::load()`] describes.
    pub fn load(
        args: Vec<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<PumpConfig, ConfigError> {
        binlog_node::config::load(args, env)
    }

    /// The storage engine's configuration: `[storage]` with `dir` = `data-dir`.
    pub fn engine_config(&self) -> binlog_engine::Config {
        binlog_engine::Config {
            dir: self.data_dir.clone(),
            ..self.storage.engine.clone()
        }
    }

    /// The unix socket path `-socket` names (`unix:///tmp/pump.sock` or a plain path); as the
    /// original, it must contain a `/`. `None` when unset or malformed.
    pub fn socket_path(&self) -> Option<PathBuf> {
        let socket = self.socket.as_deref()?;
        let path = match socket.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |start| &rest[start..]),
            None => socket,
        };
        path.contains('/').then(|| PathBuf::from(path))
    }

    /// The `host:port` to bind: `addr` without its scheme. An empty host (`:8250`), which Go
    /// binds on every interface, becomes `0.0.0.0`.
    pub fn listen_addr(&self) -> String {
        listen_addr(&self.addr)
    }

    /// The `host:port` other nodes reach this pump at (the registry's `host`): `advertise-addr`
    /// without its scheme, or `addr`'s when `advertise-addr` is empty.
    pub fn advertise_host(&self) -> String {
        advertise_host(&self.addr, &self.advertise_addr)
    }
}

impl NodeConfig for PumpConfig {
    const COMPONENT: &'static str = "pump";
    const ENV_PREFIX: &'static str = "PUMP";
    type Flags = PumpFlags;

    fn set_env_used(&mut self, env_used: Vec<(String, String)>) {
        self.env_used = env_used;
    }

    /// Fills what the original fills after parsing: empty addresses, data dir and heartbeat take
    /// their defaults, the scheme is added to the addresses, empty strings become none.
    fn adjust(&mut self) {
        adjust_addresses(
            &mut self.addr,
            &mut self.advertise_addr,
            FALLBACK_LISTEN_ADDR,
        );
        default_if_empty(&mut self.data_dir, DEFAULT_DATA_DIR);
        if self.heartbeat_interval.is_zero() {
            self.heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL;
        }
        for text in [&mut self.socket, &mut self.node_id, &mut self.metrics_addr] {
            empty_to_none(text);
        }
        empty_to_none(&mut self.log_file);
        self.security.adjust();
        let threshold = self.storage.slow_write_threshold;
        if threshold.is_nan() || threshold <= 0.0 {
            self.storage.slow_write_threshold = DEFAULT_SLOW_WRITE_THRESHOLD;
        }
    }

    /// Checks every value, as the original's `validate` does and for what this build does not
    /// support, then the engine's configuration.
    fn sanitize(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::InvalidConfig(message));
        if self.gc.is_zero() {
            return invalid("gc is 0, it must be greater than 0".into());
        }
        check_addresses(&self.addr, &self.advertise_addr)?;
        if let Some(socket) = &self.socket {
            if self.socket_path().is_none() {
                return invalid(format!("bad Socket addr format: {socket}"));
            }
        }
        check_registry(&self.pd_urls, &self.registry_dir)?;
        if self.data_dir.as_os_str().is_empty() {
            return invalid("data-dir must not be empty".into());
        }
        if self.heartbeat_interval.is_zero() {
            return invalid("heartbeat-interval must be greater than 0".into());
        }
        if self.gen_binlog_interval.is_zero() {
            return invalid(
                "gen-binlog-interval (-fake-binlog-interval) must be greater than 0".into(),
            );
        }
        logging::parse_level(&self.log_level)?;
        if self.max_message_size == 0 {
            return invalid("max-message-size must be greater than 0".into());
        }
        check_no_metrics_push(self.metrics_addr.as_deref(), self.metrics_interval)?;
        self.security.sanitize()?;
        binlog_node::tidb_status::check_addresses(
            &self.tidb_status_addr,
            self.security.ssl_ca.is_some(),
        )?;
        if !self.storage.slow_write_threshold.is_finite() {
            return invalid(
                "[storage] slow_write_threshold must be a finite number of seconds".into(),
            );
        }
        self.engine_config()
            .sanitize()
            .map_err(|error| Error::InvalidConfig(format!("[storage] {error}")))
    }
}

impl NodeBinary for PumpConfig {
    fn log_level(&self) -> &str {
        &self.log_level
    }

    fn log_file(&self) -> Option<&Path> {
        self.log_file.as_deref()
    }

    fn reported_inputs(&self) -> (&[(String, String)], &[String]) {
        (&self.env_used, &self.deprecated_flags)
    }

    /// `[storage] kv_chan_cap` and `[storage.kv]` (see [`StorageConfig::ignored_keys`]).
    fn ignored_keys(&self) -> Vec<(String, &'static str)> {
        let why = "it tunes goleveldb, which this pump does not use";
        self.storage
            .ignored_keys()
            .into_iter()
            .map(|key| (key, why))
            .collect()
    }
}
