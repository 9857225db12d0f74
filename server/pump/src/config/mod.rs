//! The pump's configuration: the original's TOML file, command-line flags and `PUMP_*`
//! environment variables, merged with the original's precedence and validated.
//!
//! [`PumpConfig::load`] does what `pump/config.go:Parse` does: parse the flags (Go style, see
//! [`binlog_node::config::flags`]) to find `-config`; read that TOML file strictly (an unknown key anywhere is
//! an error naming every one); let each flag given on the command line override the file; let
//! `PUMP_<FLAG>` set each flag *not* given on the command line, so the environment overrides the
//! file but not the command line; fill the defaults; [`PumpConfig::sanitize`].
//!
//! Deviations from the original, each because this build works differently:
//! - `pd-urls` defaults to empty, which selects the file registry and file TSO in
//!   `registry-dir` (our key, flag and `PUMP_REGISTRY_DIR`); only `http://` endpoints are taken.
//! - TLS (`[security] ssl-ca`, `https://` endpoints) and the Prometheus pushgateway
//!   (`-metrics-addr`) are not supported: setting them is an error that says so.
//! - `[storage.kv]` (goleveldb tuning) and `[storage] kv_chan_cap` are accepted and ignored,
//!   reported by [`PumpConfig::ignored_keys`]; `[storage]` also takes the engine's options.
//! - Ports must be numeric; intervals must be positive (the original loops or panics on them).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use binlog_engine::{IoBackend, Preallocate, ReadableSize};
use clap::{CommandFactory, FromArgMatches, Parser};
use serde::{Deserialize, Serialize};

use binlog_node::config::flags::{self, ConfigError};
use binlog_node::config::node::{
    adjust_addresses, advertise_host, check_addresses, check_registry, comma_list, listen_addr,
    replace, seconds, split_list, whole_seconds, SecurityConfig, SCHEME,
};
use binlog_node::error::{Error, Result};
use binlog_node::logging;

/// The original's pump port.
const DEFAULT_PORT: u16 = 8250;
/// `addr` when set to an empty string (the original's `defaultListenAddr`).
const FALLBACK_LISTEN_ADDR: &str = "127.0.0.1:8250";
/// Default of `data-dir`.
const DEFAULT_DATA_DIR: &str = "data.pump";
/// Default of `registry-dir`: outside `/tmp` so that it survives tmp cleaners and reboots less
/// often, shared by every pump and drainer on the host.
const DEFAULT_REGISTRY_DIR: &str = "/var/tmp/tidb-binlog";
/// Default of `heartbeat-interval`, also used for 0.
const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
/// Default of `gc`, in days.
const DEFAULT_GC_DAYS: u64 = 7;
/// Longest `gc` in days: Go's `time.Duration` range, so that nanosecond arithmetic never overflows.
const MAX_GC_DAYS: u64 = 106_751;
/// Seconds in a day.
const DAY_SECS: u64 = 24 * 3600;
/// Default of `gen-binlog-interval`.
const DEFAULT_GEN_BINLOG_INTERVAL: Duration = Duration::from_secs(3);
/// Default of `-metrics-interval`, in seconds.
const DEFAULT_METRICS_INTERVAL: i64 = 15;
/// Default of `[storage] slow_write_threshold`, in seconds, also used for values <= 0.
const DEFAULT_SLOW_WRITE_THRESHOLD: f64 = 1.0;
/// Default of `-max-message-size`: the original's `MaxInt - 4 MiB`, leaving gRPC room for its
/// decompression buffer, so no limit in practice.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = isize::MAX as usize - (4 << 20);

/// Printed after the flags by `pump --help`.
const AFTER_HELP: &str = "\
Flags may be written Go style: -flag value, -flag=value, --flag value or --flag=value; a bool
flag alone means true (-enable-debug), or takes =true/=false.

Every flag but -config and -V can also be set from the environment as PUMP_<FLAG> (upper case,
'-' as '_'), e.g. PUMP_DATA_DIR or PUMP_L. The command line wins over the environment, which wins
over the config file, which wins over the defaults.";

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
    /// `[security]`: TLS, which this build does not support yet.
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
            addr: format!("{SCHEME}{}", flags::default_listen_addr(DEFAULT_PORT)),
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

/// `[storage]`: the original's keys, then the storage engine's (see [`binlog_engine::Config`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct StorageConfig {
    /// Acknowledge a binlog only once it is on disk. Default true.
    pub sync_log: bool,
    /// The original's KV channel capacity; there is no such channel here: accepted and ignored.
    /// Default none.
    #[serde(rename = "kv_chan_cap")]
    pub kv_chan_cap: Option<i64>,
    /// A storage write slower than this many seconds is logged; <= 0 means the default.
    /// Default 1.0.
    #[serde(rename = "slow_write_threshold")]
    pub slow_write_threshold: f64,
    /// Writes (other than fake binlogs) fail while the data dir's free space is below this:
    /// humanized bytes (`"42 MB"` = 42 * 10^6, `"42 mib"` = 44040192; `""` is 0) or an integer.
    /// Default 10 GiB.
    #[serde(deserialize_with = "humanized_size")]
    pub stop_write_at_available_space: ReadableSize,
    /// `[storage.kv]`: the original's goleveldb tuning, accepted and ignored.
    pub kv: KvConfig,
    /// Engine I/O backend: `auto`, `io-uring` or `pwrite`. Default `auto`.
    pub io_backend: IoBackend,
    /// Size at which a log segment is sealed. Default 512 MiB.
    pub segment_size: ReadableSize,
    /// How new segments are prepared: `zero-fill` or `fallocate`. Default `zero-fill`.
    pub preallocate: Preallocate,
    /// Reuse segment files freed by GC. Default true.
    pub recycle_segments: bool,
    /// Largest binlog payload stored. Default 128 MiB.
    pub max_record_size: ReadableSize,
    /// Most bytes one group commit gathers. Default 4 MiB.
    pub max_group_size: ReadableSize,
    /// On open, skip corrupt records before the tail instead of refusing to open. Default false.
    pub skip_corrupt_records: bool,
}

impl Default for StorageConfig {
    fn default() -> StorageConfig {
        let engine = binlog_engine::Config::default();
        StorageConfig {
            sync_log: engine.sync_log,
            kv_chan_cap: None,
            slow_write_threshold: DEFAULT_SLOW_WRITE_THRESHOLD,
            stop_write_at_available_space: engine.stop_write_at_available_space,
            kv: KvConfig::default(),
            io_backend: engine.io_backend,
            segment_size: engine.segment_size,
            preallocate: engine.preallocate,
            recycle_segments: engine.recycle_segments,
            max_record_size: engine.max_record_size,
            max_group_size: engine.max_group_size,
            skip_corrupt_records: engine.skip_corrupt_records,
        }
    }
}

/// `[storage.kv]`: the original's goleveldb options. There is no LevelDB here, so they are only
/// type-checked and reported by [`PumpConfig::ignored_keys`]. Every default is none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct KvConfig {
    /// Ignored (the original's default 8 MiB).
    pub block_cache_capacity: Option<i64>,
    /// Ignored (the original's default 16).
    pub block_restart_interval: Option<i64>,
    /// Ignored (the original's default 4 KiB).
    pub block_size: Option<i64>,
    /// Ignored (the original's default 8).
    #[serde(rename = "compaction-L0-trigger")]
    pub compaction_l0_trigger: Option<i64>,
    /// Ignored (the original's default 64 MiB).
    pub compaction_table_size: Option<i64>,
    /// Ignored (the original's default 512 MiB).
    pub compaction_total_size: Option<i64>,
    /// Ignored (the original's default 8.0).
    pub compaction_total_size_multiplier: Option<f64>,
    /// Ignored (the original's default 64 MiB).
    pub write_buffer: Option<i64>,
    /// Ignored (the original's default 24).
    #[serde(rename = "write-L0-pause-trigger")]
    pub write_l0_pause_trigger: Option<i64>,
    /// Ignored (the original's default 17).
    #[serde(rename = "write-L0-slowdown-trigger")]
    pub write_l0_slowdown_trigger: Option<i64>,
}

/// The pump's command line. Doc comments are the `--help` text.
#[derive(Debug, Parser)]
#[command(
    name = "pump",
    about = "TiDB-Binlog pump: stores the binlogs TiDB writes and serves them to drainers",
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
struct PumpFlags {
    /// Path to the pump configuration file (TOML) [default: none]
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
    /// Address (host:port) to listen on for gRPC and HTTP [default: <first non-loopback IPv4>:8250]
    #[arg(long, value_name = "HOST:PORT")]
    addr: Option<String>,
    /// Address (host:port) other nodes reach this pump at [default: the -addr value]
    #[arg(long, value_name = "HOST:PORT")]
    advertise_addr: Option<String>,
    /// Unix socket to serve gRPC on too; must contain a '/' [default: none]
    #[arg(long, value_name = "PATH")]
    socket: Option<String>,
    /// Comma-separated PD endpoints (http://host:port); empty uses the file registry and TSO in -registry-dir [default: empty]
    #[arg(long, value_name = "URLS")]
    pd_urls: Option<String>,
    /// Directory of the file registry and TSO shared by every process on this host, used when -pd-urls is empty [default: /var/tmp/tidb-binlog]
    #[arg(long, value_name = "DIR")]
    registry_dir: Option<OsString>,
    /// Directory to store binlogs in [default: data.pump]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<OsString>,
    /// ID of this node; <data-dir>/.node wins over it [default: <hostname>:<port of -addr>]
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Seconds between heartbeats to the registry; 0 means the default [default: 2]
    #[arg(long, value_name = "SECONDS", value_parser = flags::parse_go_int)]
    heartbeat_interval: Option<i64>,
    /// How long binlogs are kept: days, or a Go duration such as 30m or 8h [default: 7]
    #[arg(long, value_name = "DAYS|DURATION")]
    gc: Option<String>,
    /// Seconds without writes after which a fake binlog is written so drainers advance [default: 3]
    #[arg(long, value_name = "SECONDS", value_parser = flags::parse_go_int)]
    fake_binlog_interval: Option<i64>,
    /// Log level: debug, info, warn, error, fatal [default: info]
    #[arg(short = 'L', value_name = "LEVEL")]
    log_level: Option<String>,
    /// File to log to, appended [default: stderr]
    #[arg(long, value_name = "PATH")]
    log_file: Option<OsString>,
    /// Prometheus pushgateway address: not supported by this build, scrape /metrics instead [default: none]
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Pushgateway push interval in seconds, 0 disables the push [default: 15]
    #[arg(long, value_name = "SECONDS", value_parser = flags::parse_go_int)]
    metrics_interval: Option<i64>,
    /// Largest gRPC message accepted, in bytes [default: 9223372036850581503]
    #[arg(long, value_name = "BYTES", value_parser = flags::parse_go_int)]
    max_message_size: Option<i64>,
    /// Accepted for compatibility; the original never reads it [default: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = flags::parse_go_bool
    )]
    enable_debug: Option<bool>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "BYTES", value_parser = flags::parse_go_int)]
    binlog_file_size: Option<i64>,
    /// DEPRECATED, ignored
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = flags::parse_go_bool
    )]
    enable_binlog_slice: Option<bool>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "BYTES", value_parser = flags::parse_go_int)]
    binlog_slice_size: Option<i64>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "TEXT")]
    log_rotate: Option<String>,
}

impl PumpFlags {
    /// Overrides `config` with every flag given (on the command line or through the
    /// environment). Destructured so that a new flag cannot be forgotten here.
    fn apply(self, config: &mut PumpConfig) -> Result<()> {
        let PumpFlags {
            config: config_file,
            print_version: _,
            addr,
            advertise_addr,
            socket,
            pd_urls,
            registry_dir,
            data_dir,
            node_id,
            heartbeat_interval,
            gc,
            fake_binlog_interval,
            log_level,
            log_file,
            metrics_addr,
            metrics_interval,
            max_message_size,
            enable_debug,
            binlog_file_size,
            enable_binlog_slice,
            binlog_slice_size,
            log_rotate,
        } = self;
        let invalid =
            |flag: &str, reason: String| Error::InvalidConfig(format!("-{flag}: {reason}"));
        // Paths are `OsString`s because clap refuses an empty `PathBuf`, which Go takes.
        config.config_file = config_file.map(PathBuf::from);
        replace(&mut config.addr, addr);
        replace(&mut config.advertise_addr, advertise_addr);
        replace(&mut config.socket, socket.map(Some));
        replace(&mut config.pd_urls, pd_urls.as_deref().map(split_list));
        replace(&mut config.registry_dir, registry_dir.map(PathBuf::from));
        replace(&mut config.data_dir, data_dir.map(PathBuf::from));
        replace(&mut config.node_id, node_id.map(Some));
        if let Some(secs) = heartbeat_interval {
            config.heartbeat_interval =
                seconds(secs).map_err(|reason| invalid("heartbeat-interval", reason))?;
        }
        if let Some(text) = gc {
            config.gc = parse_gc(&text).map_err(|reason| invalid("gc", reason))?;
        }
        if let Some(secs) = fake_binlog_interval {
            config.gen_binlog_interval =
                seconds(secs).map_err(|reason| invalid("fake-binlog-interval", reason))?;
        }
        replace(&mut config.log_level, log_level);
        replace(&mut config.log_file, log_file.map(|path| Some(path.into())));
        replace(&mut config.metrics_addr, metrics_addr.map(Some));
        replace(&mut config.metrics_interval, metrics_interval);
        if let Some(bytes) = max_message_size {
            config.max_message_size = usize::try_from(bytes)
                .ok()
                .filter(|&bytes| bytes > 0)
                .ok_or_else(|| invalid("max-message-size", format!("{bytes} is not positive")))?;
        }
        replace(&mut config.enable_debug, enable_debug);
        config.deprecated_flags = [
            ("binlog-file-size", binlog_file_size.is_some()),
            ("enable-binlog-slice", enable_binlog_slice.is_some()),
            ("binlog-slice-size", binlog_slice_size.is_some()),
            ("log-rotate", log_rotate.is_some()),
        ]
        .into_iter()
        .filter(|&(_, given)| given)
        .map(|(name, _)| format!("-{name}"))
        .collect();
        Ok(())
    }
}

impl PumpConfig {
    /// Loads the configuration from `args` (the program name first, as `std::env::args()`),
    /// the environment seen through `env` (e.g. `|key| std::env::var(key).ok()`) and the file
    /// `-config` names, with the original's precedence, then adjusts and sanitizes it.
    ///
    /// `Err(ConfigError::Print(text))` for `--help` and `-V`: print it and exit 0.
    /// `Err(ConfigError::Invalid(error))` for anything wrong: print it and exit 2.
    /// [`ConfigError::exit`] does both.
    pub fn load(
        args: Vec<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<PumpConfig, ConfigError> {
        // The original reads the environment after it has used -config and -V.
        let line =
            flags::parse_command_line(&PumpFlags::command(), args, "PUMP", env, &["config", "V"])?;
        let parsed = PumpFlags::from_arg_matches(&line.matches)?;
        if parsed.print_version == Some(true) {
            return Err(ConfigError::Print(flags::version_info()));
        }
        let file = parsed.config.as_deref().filter(|path| !path.is_empty());
        let mut config = match file {
            Some(path) => flags::load_toml_strict::<PumpConfig>("pump", Path::new(path))?,
            None => PumpConfig::default(),
        };
        parsed.apply(&mut config)?;
        config.env_used = line.env_used;
        config.adjust();
        config.sanitize()?;
        Ok(config)
    }

    /// Fills what the original fills after parsing: empty addresses, data dir and heartbeat take
    /// their defaults, the scheme is added to the addresses, empty strings become none.
    fn adjust(&mut self) {
        adjust_addresses(
            &mut self.addr,
            &mut self.advertise_addr,
            FALLBACK_LISTEN_ADDR,
        );
        if self.data_dir.as_os_str().is_empty() {
            self.data_dir = PathBuf::from(DEFAULT_DATA_DIR);
        }
        if self.heartbeat_interval.is_zero() {
            self.heartbeat_interval = DEFAULT_HEARTBEAT_INTERVAL;
        }
        for text in [&mut self.socket, &mut self.node_id, &mut self.metrics_addr] {
            if text.as_deref() == Some("") {
                *text = None;
            }
        }
        if self
            .log_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            self.log_file = None;
        }
        self.security.adjust();
        let threshold = self.storage.slow_write_threshold;
        if threshold.is_nan() || threshold <= 0.0 {
            self.storage.slow_write_threshold = DEFAULT_SLOW_WRITE_THRESHOLD;
        }
    }

    /// Checks every value, as the original's `validate` does and for what this build does not
    /// support, then the engine's configuration. Errors are [`Error::InvalidConfig`].
    pub fn sanitize(&self) -> Result<()> {
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
        if let Some(address) = &self.metrics_addr {
            if self.metrics_interval != 0 {
                return invalid(format!(
                    "-metrics-addr {address}: pushing metrics to a Prometheus pushgateway is not \
                     supported by this build; leave -metrics-addr empty and scrape \
                     http://<addr>/metrics instead"
                ));
            }
        }
        self.security.sanitize()?;
        if !self.storage.slow_write_threshold.is_finite() {
            return invalid(
                "[storage] slow_write_threshold must be a finite number of seconds".into(),
            );
        }
        self.engine_config()
            .sanitize()
            .map_err(|error| Error::InvalidConfig(format!("[storage] {error}")))
    }

    /// The storage engine's configuration: `[storage]` with `dir` = `data-dir`. The GC margin
    /// keeps the engine's default, the original's fixed 600 s.
    pub fn engine_config(&self) -> binlog_engine::Config {
        let storage = &self.storage;
        binlog_engine::Config {
            dir: self.data_dir.clone(),
            sync_log: storage.sync_log,
            io_backend: storage.io_backend,
            segment_size: storage.segment_size,
            preallocate: storage.preallocate,
            recycle_segments: storage.recycle_segments,
            max_record_size: storage.max_record_size,
            max_group_size: storage.max_group_size,
            stop_write_at_available_space: storage.stop_write_at_available_space,
            skip_corrupt_records: storage.skip_corrupt_records,
            ..binlog_engine::Config::default()
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

    /// Dotted keys the file set that this build accepts but does not use, for the binary to
    /// log: `[storage] kv_chan_cap` and the goleveldb tuning of `[storage.kv]`.
    pub fn ignored_keys(&self) -> Vec<String> {
        let kv = &self.storage.kv;
        let kv_keys = [
            ("block-cache-capacity", kv.block_cache_capacity.is_some()),
            (
                "block-restart-interval",
                kv.block_restart_interval.is_some(),
            ),
            ("block-size", kv.block_size.is_some()),
            ("compaction-L0-trigger", kv.compaction_l0_trigger.is_some()),
            ("compaction-table-size", kv.compaction_table_size.is_some()),
            ("compaction-total-size", kv.compaction_total_size.is_some()),
            (
                "compaction-total-size-multiplier",
                kv.compaction_total_size_multiplier.is_some(),
            ),
            ("write-buffer", kv.write_buffer.is_some()),
            (
                "write-L0-pause-trigger",
                kv.write_l0_pause_trigger.is_some(),
            ),
            (
                "write-L0-slowdown-trigger",
                kv.write_l0_slowdown_trigger.is_some(),
            ),
        ];
        let chan = self
            .storage
            .kv_chan_cap
            .map(|_| "storage.kv_chan_cap".to_owned());
        chan.into_iter()
            .chain(
                kv_keys
                    .into_iter()
                    .filter(|&(_, set)| set)
                    .map(|(key, _)| format!("storage.kv.{key}")),
            )
            .collect()
    }
}

/// The original's `gc`: digits are days, anything else a Go duration (`util.Duration`).
fn parse_gc(text: &str) -> Result<Duration, String> {
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .ok()
            .filter(|&days| days <= MAX_GC_DAYS)
            .map(|days| Duration::from_secs(days * DAY_SECS))
            .ok_or_else(|| format!("gc of {text} days is longer than {MAX_GC_DAYS} days"));
    }
    flags::parse_go_duration(text).map_err(|error| {
        format!("unsupported gc time {text}, etc: use 7 for 7 day, 7h for 7 hour: {error}")
    })
}

/// Serde for `gc`: an integer of days, or a string of days or a Go duration.
mod gc_duration {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    use super::DAY_SECS;

    /// Whole days as the original's default is written (`"7"`), else whole seconds or nanos.
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        let text = if value.subsec_nanos() != 0 {
            format!("{}ns", value.as_nanos())
        } else if value.as_secs().is_multiple_of(DAY_SECS) {
            (value.as_secs() / DAY_SECS).to_string()
        } else {
            format!("{}s", value.as_secs())
        };
        serializer.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(GcVisitor)
    }

    struct GcVisitor;

    impl Visitor<'_> for GcVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number of days, or a duration string such as \"30m\" or \"8h\"")
        }

        // The original turns an integer into its decimal text and parses that.
        fn visit_i64<E: de::Error>(self, days: i64) -> Result<Duration, E> {
            super::parse_gc(&days.to_string()).map_err(E::custom)
        }

        fn visit_u64<E: de::Error>(self, days: u64) -> Result<Duration, E> {
            super::parse_gc(&days.to_string()).map_err(E::custom)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            super::parse_gc(text).map_err(E::custom)
        }
    }
}

/// Deserializes the original's `HumanizeBytes`: an integer of bytes or a humanized string, where
/// `""` is 0.
fn humanized_size<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<ReadableSize, D::Error> {
    struct SizeVisitor;

    impl serde::de::Visitor<'_> for SizeVisitor {
        type Value = ReadableSize;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a size such as \"10 GiB\" or \"42 MB\", or a number of bytes")
        }

        fn visit_i64<E: serde::de::Error>(
            self,
            bytes: i64,
        ) -> std::result::Result<ReadableSize, E> {
            u64::try_from(bytes)
                .map(ReadableSize)
                .map_err(|_| E::custom(format!("size {bytes} is negative")))
        }

        fn visit_u64<E: serde::de::Error>(
            self,
            bytes: u64,
        ) -> std::result::Result<ReadableSize, E> {
            Ok(ReadableSize(bytes))
        }

        fn visit_str<E: serde::de::Error>(
            self,
            text: &str,
        ) -> std::result::Result<ReadableSize, E> {
            if text.is_empty() {
                return Ok(ReadableSize(0));
            }
            text.parse().map_err(E::custom)
        }
    }

    deserializer.deserialize_any(SizeVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str], env: &[(&str, &str)]) -> Result<PumpConfig, ConfigError> {
        let args = std::iter::once("pump")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect();
        PumpConfig::load(args, move |key| {
            env.iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        })
    }

    fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
        let path = dir.path().join("pump.toml");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// The original's `validateConfig`.
    fn check_expected(config: &PumpConfig) {
        assert_eq!(config.addr, "http://192.168.199.100:8260");
        assert_eq!(config.advertise_addr, "http://192.168.199.100:8260");
        assert_eq!(
            config.pd_urls,
            ["http://192.168.199.110:2379", "http://hostname:2379"]
        );
        assert_eq!(config.data_dir, Path::new("/tmp/pump"));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(1500));
        assert_eq!(config.log_level, "debug");
    }

    const FILE: &str = r#"
addr = "192.168.199.100:8260"
advertise-addr = "192.168.199.100:8260"
pd-urls = "http://192.168.199.110:2379,http://hostname:2379"
data-dir = "/tmp/pump"
heartbeat-interval = 1500
"#;

    #[test]
    fn advertise_host_must_be_set_and_not_unspecified() {
        let mut config = PumpConfig {
            gc: Duration::from_secs(DAY_SECS),
            addr: "http://:8250".into(),
            pd_urls: vec!["http://192.168.10.23:7777".into()],
            ..PumpConfig::default()
        };
        for bad in ["http://:8250", "http://0.0.0.0:8250"] {
            config.advertise_addr = bad.into();
            let error = config.sanitize().unwrap_err().to_string();
            assert!(error.contains("advertiseAddr"), "{error}");
        }
        for good in ["http://127.0.0.1:8250", "http://192.168.11.11:8250"] {
            config.advertise_addr = good.into();
            config.sanitize().unwrap();
        }
        assert_eq!(config.listen_addr(), "0.0.0.0:8250");
        assert_eq!(config.advertise_host(), "192.168.11.11:8250");
        // Empty means the listen address, whose host is empty here.
        config.advertise_addr = String::new();
        assert!(config
            .sanitize()
            .unwrap_err()
            .to_string()
            .contains("advertiseAddr"));
    }

    #[test]
    fn command_line_flags() {
        let config = load(
            &[
                "--addr",
                "192.168.199.100:8260",
                "--pd-urls",
                "http://192.168.199.110:2379,http://hostname:2379",
                "--data-dir=/tmp/pump",
                "--heartbeat-interval=1500",
                "-L",
                "debug",
            ],
            &[],
        )
        .unwrap();
        check_expected(&config);
        assert_eq!(config.listen_addr(), "192.168.199.100:8260");
        assert_eq!(config.advertise_host(), "192.168.199.100:8260");
    }

    #[test]
    fn environment_fills_flags_not_on_the_command_line() {
        let config = load(
            &[
                "--addr",
                "192.168.199.100:8260",
                "-pd-urls",
                "http://192.168.199.110:2379,http://hostname:2379",
                "-heartbeat-interval=1500",
                "-L",
                "debug",
            ],
            &[
                ("PUMP_ADDR", "192.168.199.200:9000"),
                (
                    "PUMP_PD_URLS",
                    "http://127.0.0.1:2379,http://localhost:2379",
                ),
                ("PUMP_DATA_DIR", "/tmp/pump"),
            ],
        )
        .unwrap();
        check_expected(&config);
        assert_eq!(
            config.env_used,
            [("PUMP_DATA_DIR".to_string(), "/tmp/pump".to_string())]
        );
    }

    #[test]
    fn config_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(&dir, FILE);
        let config = load(&["--config", &path, "-L", "debug"], &[]).unwrap();
        check_expected(&config);
        assert_eq!(config.config_file.as_deref(), Some(Path::new(&path)));
        // Flag-only values keep their defaults when a file is read.
        assert_eq!(config.metrics_interval, 15);
        assert_eq!(config.max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
        assert!(config.ignored_keys().is_empty());
    }

    #[test]
    fn environment_overrides_the_file_but_not_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(&dir, FILE);
        let env = [
            ("PUMP_ADDR", "10.0.0.1:9000"),
            ("PUMP_DATA_DIR", "/env/pump"),
            ("PUMP_GC", "2"),
        ];
        let config = load(&["-config", &path], &env).unwrap();
        assert_eq!(config.addr, "http://10.0.0.1:9000");
        assert_eq!(config.data_dir, Path::new("/env/pump"));
        assert_eq!(config.gc, Duration::from_secs(2 * DAY_SECS));
        // advertise-addr comes from the file.
        assert_eq!(config.advertise_host(), "192.168.199.100:8260");

        let config = load(&["-config", &path, "-addr", "10.0.0.2:9001"], &env).unwrap();
        assert_eq!(config.addr, "http://10.0.0.2:9001");
        assert_eq!(config.data_dir, Path::new("/env/pump"));

        // PUMP_CONFIG is read too late to matter, as in the original.
        let config = load(&[], &[("PUMP_CONFIG", path.as_str())]).unwrap();
        assert_eq!(config.config_file, None);
        assert_eq!(config.data_dir, Path::new("data.pump"));

        let error = load(&[], &[("PUMP_HEARTBEAT_INTERVAL", "often")]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.to_string().contains("PUMP_HEARTBEAT_INTERVAL"),
            "{error}"
        );
    }

    #[test]
    fn unknown_keys_are_rejected_everywhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(&dir, &format!("{FILE}unrecognized-option-test = true\n"));
        let error = load(&["--config", &path, "-L", "debug"], &[]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert_eq!(
            error.to_string(),
            format!(
                "component pump's config file {path} contained unknown configuration options: \
                 unrecognized-option-test"
            )
        );

        let path = write_config(
            &dir,
            "metrics-addr = \"x:1\"\n[storage]\nsync_log = true\n[storage.kv]\nblock-cache = 1\n\
             [security]\nssl-key = \"\"\nssl-crl = \"\"\n",
        );
        let error = load(&["--config", &path], &[]).unwrap_err().to_string();
        assert!(
            error.ends_with(
                "contained unknown configuration options: metrics-addr, security.ssl-crl, \
                 storage.kv.block-cache, storage.sync_log"
            ),
            "{error}"
        );

        let path = write_config(&dir, "gc = 1.5\n");
        let error = load(&["--config", &path], &[]).unwrap_err().to_string();
        assert!(error.contains("expected a number of days"), "{error}");
    }

    #[test]
    fn gc_is_days_or_a_go_duration() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(&dir, &format!("{FILE}gc = 5\n"));
        let config = load(&["--config", &path, "-L", "debug"], &[]).unwrap();
        assert_eq!(config.gc, Duration::from_secs(5 * DAY_SECS));
        let config = load(&["--config", &path, "-L", "debug", "--gc", "3"], &[]).unwrap();
        assert_eq!(config.gc, Duration::from_secs(3 * DAY_SECS));

        let path = write_config(&dir, &format!("{FILE}gc = \"30m\"\n"));
        let config = load(&["--config", &path, "-L", "debug"], &[]).unwrap();
        assert_eq!(config.gc, Duration::from_secs(30 * 60));

        assert_eq!(
            load(&[], &[]).unwrap().gc,
            Duration::from_secs(7 * DAY_SECS)
        );
        assert_eq!(
            load(&["-gc", "1h30m"], &[]).unwrap().gc,
            Duration::from_secs(5400)
        );
        for bad in ["0", "7d", "-1h", "", "999999"] {
            let error = load(&["-gc", bad], &[]).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad}: {error}");
        }
        for bad in ["gc = -5", "gc = \"0\"", "gc = \"7d\""] {
            let path = write_config(&dir, bad);
            assert!(load(&["--config", &path], &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn storage_section() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            &dir,
            r#"
[storage]
sync-log = false
kv_chan_cap = 100
slow_write_threshold = 0
stop-write-at-available-space = "42 MB"
io-backend = "pwrite"
segment-size = "64MiB"
preallocate = "fallocate"
recycle-segments = false
max-record-size = "8MiB"
max-group-size = "1MiB"
skip-corrupt-records = true

[storage.kv]
block-cache-capacity = 8388608
compaction-L0-trigger = 8
compaction-total-size-multiplier = 8
write-L0-slowdown-trigger = 17
"#,
        );
        let config = load(&["--config", &path, "-data-dir", "/data/pump"], &[]).unwrap();
        assert_eq!(config.storage.slow_write_threshold, 1.0);
        assert_eq!(
            config.ignored_keys(),
            [
                "storage.kv_chan_cap",
                "storage.kv.block-cache-capacity",
                "storage.kv.compaction-L0-trigger",
                "storage.kv.compaction-total-size-multiplier",
                "storage.kv.write-L0-slowdown-trigger",
            ]
        );
        let engine = config.engine_config();
        assert_eq!(
            engine,
            binlog_engine::Config {
                dir: PathBuf::from("/data/pump"),
                sync_log: false,
                io_backend: IoBackend::Pwrite,
                segment_size: ReadableSize::mib(64),
                preallocate: Preallocate::Fallocate,
                recycle_segments: false,
                max_record_size: ReadableSize::mib(8),
                max_group_size: ReadableSize::mib(1),
                stop_write_at_available_space: ReadableSize(42_000_000),
                skip_corrupt_records: true,
                ..binlog_engine::Config::default()
            }
        );

        let sizes = [
            ("\"42 MB\"", 42_000_000),
            ("\"42 mib\"", 44_040_192),
            ("\"10 gib\"", 10 << 30),
            ("\"\"", 0),
            ("1024", 1024),
        ];
        for (text, bytes) in sizes {
            let path = write_config(
                &dir,
                &format!("[storage]\nstop-write-at-available-space = {text}"),
            );
            let config = load(&["--config", &path], &[]).unwrap();
            assert_eq!(
                config.storage.stop_write_at_available_space.0, bytes,
                "{text}"
            );
        }
        let defaults = load(&[], &[]).unwrap();
        assert_eq!(
            defaults.storage.stop_write_at_available_space,
            ReadableSize::gib(10)
        );
        assert!(defaults.storage.sync_log);
        assert_eq!(defaults.engine_config().dir, Path::new("data.pump"));

        // The engine's own checks run too.
        let path = write_config(&dir, "[storage]\nsegment-size = \"1KiB\"\n");
        let error = load(&["--config", &path], &[]).unwrap_err().to_string();
        assert!(
            error.starts_with("[storage]") && error.contains("segment-size"),
            "{error}"
        );
        let path = write_config(&dir, "[storage.kv]\nblock-size = \"4KiB\"\n");
        assert!(load(&["--config", &path], &[]).is_err());
    }

    #[test]
    fn defaults_and_adjustments() {
        let config = load(&[], &[]).unwrap();
        assert!(config.addr.starts_with("http://") && config.addr.ends_with(":8250"));
        assert_eq!(config.advertise_addr, config.addr);
        assert!(config.pd_urls.is_empty());
        assert_eq!(config.registry_dir, Path::new("/var/tmp/tidb-binlog"));
        assert_eq!(config.data_dir, Path::new("data.pump"));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(config.gen_binlog_interval, Duration::from_secs(3));
        assert_eq!(config.log_level, "info");
        assert_eq!(config.max_message_size, DEFAULT_MAX_MESSAGE_SIZE);
        assert_eq!(config.max_message_size, (i64::MAX - (4 << 20)) as usize);
        assert_eq!(
            (config.node_id.clone(), config.log_file.clone()),
            (None, None)
        );
        assert!(!config.enable_debug && config.deprecated_flags.is_empty());

        let config = load(
            &[
                "-addr=",
                "-data-dir=",
                "-heartbeat-interval=0",
                "-node-id",
                "",
                "-log-file=",
                "-registry-dir=/run/binlog",
                "-fake-binlog-interval=1",
                "-max-message-size=1024",
                "-enable-debug",
                "-socket=unix:///tmp/pump.sock",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(config.addr, "http://127.0.0.1:8250");
        assert_eq!(config.data_dir, Path::new("data.pump"));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(2));
        assert_eq!(
            (config.node_id.clone(), config.log_file.clone()),
            (None, None)
        );
        assert_eq!(config.registry_dir, Path::new("/run/binlog"));
        assert_eq!(config.gen_binlog_interval, Duration::from_secs(1));
        assert_eq!(config.max_message_size, 1024);
        assert!(config.enable_debug);
        assert_eq!(config.socket.as_deref(), Some("unix:///tmp/pump.sock"));

        // The scheme is accepted on input and never doubled.
        let config = load(&["-addr", "http://10.1.1.1:8250"], &[]).unwrap();
        assert_eq!(config.addr, "http://10.1.1.1:8250");
    }

    #[test]
    fn invalid_values_name_the_problem() {
        let cases: [(&[&str], &str); 15] = [
            (&["-addr", "10.0.0.1"], "ListenAddr"),
            (&["-addr", "10.0.0.1:http"], "ListenAddr"),
            (&["-advertise-addr", "0.0.0.0:8250"], "advertiseAddr"),
            (&["-socket", "pump.sock"], "Socket"),
            (&["-pd-urls", "127.0.0.1:2379"], "scheme"),
            (&["-pd-urls", "https://127.0.0.1:2379"], "TLS"),
            (&["-pd-urls", "http://127.0.0.1"], "host:port"),
            (&["-pd-urls", "http://127.0.0.1:2379/pd"], "path"),
            (&["-pd-urls", "http://a:1,,http://b:2"], "scheme"),
            (&["-heartbeat-interval", "-1"], "heartbeat-interval"),
            (&["-heartbeat-interval", "9223372037"], "heartbeat-interval"),
            (&["-fake-binlog-interval", "0"], "fake-binlog-interval"),
            (&["-L", "loud"], "\"loud\""),
            (&["-max-message-size", "0"], "max-message-size"),
            (&["-metrics-addr", "10.0.0.1:9091"], "scrape"),
        ];
        for (args, needle) in cases {
            let error = load(args, &[]).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{args:?}: {error}");
            assert!(error.to_string().contains(needle), "{args:?}: {error}");
        }
        // No push without an interval, as the original.
        load(
            &["-metrics-addr", "10.0.0.1:9091", "-metrics-interval", "0"],
            &[],
        )
        .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            &dir,
            "[security]\nssl-ca = \"/ca.pem\"\ncert-allowed-cn = [\"binlog\"]\n",
        );
        let error = load(&["-config", &path], &[]).unwrap_err().to_string();
        assert!(error.contains("TLS is not supported"), "{error}");
        let path = write_config(
            &dir,
            "[security]\nssl-ca = \"\"\ncert-allowed-cn = [\"binlog\"]\n",
        );
        let config = load(&["-config", &path], &[]).unwrap();
        assert_eq!(config.security.cert_allowed_cn, ["binlog"]);
        assert_eq!(config.security.ssl_ca, None);

        let missing = load(&["-config", "/nonexistent/pump.toml"], &[]).unwrap_err();
        assert!(
            missing.to_string().contains("/nonexistent/pump.toml"),
            "{missing}"
        );
        for args in [&["-nope"][..], &["stray"], &["-addr"]] {
            assert_eq!(load(args, &[]).unwrap_err().exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn deprecated_flags_are_accepted_and_reported() {
        let config = load(
            &[
                "-binlog-file-size",
                "1024",
                "-enable-binlog-slice",
                "-binlog-slice-size=10",
                "-log-rotate",
                "day",
            ],
            &[],
        )
        .unwrap();
        assert_eq!(
            config.deprecated_flags,
            [
                "-binlog-file-size",
                "-enable-binlog-slice",
                "-binlog-slice-size",
                "-log-rotate"
            ]
        );
    }

    #[test]
    fn help_lists_every_flag_with_its_default_and_version_prints() {
        for args in [&["--help"][..], &["-help"], &["-h"]] {
            let ConfigError::Print(text) = load(args, &[]).unwrap_err() else {
                panic!("{args:?} is not help");
            };
            for arg in PumpFlags::command().get_arguments() {
                let shown = match arg.get_long() {
                    Some(long) => format!("--{long}"),
                    None => format!("-{}", arg.get_short().unwrap()),
                };
                assert!(text.contains(&shown), "{args:?} lacks {shown}:\n{text}");
            }
            assert!(
                text.contains("[default: <first non-loopback IPv4>:8250]"),
                "{text}"
            );
            assert!(text.contains("[default: data.pump]"), "{text}");
            assert!(text.contains("PUMP_<FLAG>"), "{text}");
        }
        for args in [&["-V"][..], &["-V=true"], &["-V", "-addr", "x"]] {
            match load(args, &[]).unwrap_err() {
                ConfigError::Print(text) => assert!(text.starts_with("Release Version:"), "{text}"),
                other => panic!("{args:?}: {other}"),
            }
        }
        assert!(load(&["-V=false"], &[]).is_ok());
    }

    #[test]
    fn a_loaded_config_serializes_and_loads_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_config(
            &dir,
            &format!("{FILE}gc = \"90m\"\n[storage.kv]\nblock-size = 1\n"),
        );
        let config = load(&["-config", &path], &[]).unwrap();
        let text = toml::to_string(&config).unwrap();
        let again_path = write_config(&dir, &text);
        let mut again = load(&["-config", &again_path], &[]).unwrap();
        again.config_file = config.config_file.clone();
        assert_eq!(again, config, "{text}");
    }
}
