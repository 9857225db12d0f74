//! `reparo`'s configuration: the original's TOML keys (`reparo.toml`) and Go-style flags,
//! loaded with the nodes' precedence ([`binlog_node::config::load`]): the file `-config`
//! names, then `REPARO_<FLAG>` environment variables for flags not given, then the command
//! line. Unknown keys in the file are an error, as in the original.
//!
//! | key | flag | default |
//! |---|---|---|
//! | `data-dir` | `-data-dir` | none (required): the drainer `file` destination's directory |
//! | `start-datetime` / `stop-datetime` | same | none: `2006-01-02 15:04:05`, local time (`TZ`) |
//! | `start-tso` / `stop-tso` | same | 0: from the first binlog / no end |
//! | `dest-type` | `-dest-type` | `print` (`mysql` applies to `[dest-db]`) |
//! | `txn-batch` | `-txn-batch` | 20 |
//! | `worker-count` | `-c` | 16 |
//! | `safe-mode` | `-safe-mode` | false |
//! | `log-file` / `log-level` | `-log-file` / `-L` (alias `-log-level`) | stderr / `info` |
//! | `replicate-do-db`, `[[replicate-do-table]]`, `replicate-ignore-db`, `[[replicate-ignore-table]]` | | none |
//! | `[dest-db] host port user password` | | `127.0.0.1`, 3306, `root`, empty |
//! | `[dest-db.security] ssl-ca ssl-cert ssl-key` (ours) | | none: plain text |
//!
//! A datetime, when set, wins over the TSO of the same end, as in the original.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use binlog_archive::filter::TableFilter;
use binlog_archive::filter::TableName;
use binlog_loader::{ConnectionConfig, DbType, DownstreamTls, LoaderConfig};
use binlog_node::config::command_line::{ConfigError, NodeFileFlags};
use binlog_node::config::go_values::parse_go_bool;
use binlog_node::config::load::{replace, replace_path};
use binlog_node::config::security::SecurityConfig;
use binlog_node::config::{NodeConfig, NodeFlags};
use binlog_node::tls::Tls;
use binlog_node::tso::compose_ts;
use binlog_node::{Error, Result};

/// The datetime format of `start-datetime` and `stop-datetime` (Go's `2006-01-02 15:04:05`).
const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// Default of `txn-batch`.
const DEFAULT_TXN_BATCH: i64 = 20;
/// Default of `worker-count`.
const DEFAULT_WORKER_COUNT: i64 = 16;

/// Printed after the flags by `reparo --help`.
const AFTER_HELP: &str = "\
reparo reads the binlog-* files a drainer with the file destination wrote (the pb_binlog
payload: run the drainer with tidb-status-addr set) and replays the binlogs between the start
and stop TSO (or datetime) in commit order, then exits:
  print  prints each DDL (DDL query: ...) and each row change
         (schema: s; table: t; type: Insert, then name(type): value lines; old => new for updates)
  mysql  applies them to [dest-db] (MySQL, MariaDB or TiDB) with the drainer's SQL loader;
         killed and run again, it resumes after what tidb_binlog.loader_progress in the
         destination says it applied, without applying any row twice

Everything but [dest-db] and the replicate-* rules can be given as flags; the file -config
names holds those (tools/reparo.toml in the source is an example). Flags may be written Go style: -flag value, -flag=value,
--flag value; a bool flag alone means true. Every flag but -config and -V can also be set from
the environment as REPARO_<FLAG> (upper case, '-' as '_'); the command line wins.

Exit status: 0 when every binlog in range was replayed, 1 when replaying failed, 2 for a bad
command line or config file.";

/// `reparo`'s flags. Doc comments are the `--help` text.
#[derive(Debug, Parser)]
#[command(
    name = "reparo",
    about = "Replays a drainer file destination's binlogs into MySQL/TiDB, or prints them",
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
pub struct ReparoFlags {
    /// Drainer data directory holding the binlog-* files [default: none, required]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<OsString>,
    /// Replay from this local time ("2006-01-02 15:04:05"); empty starts at the first binlog [default: empty]
    #[arg(long, value_name = "DATETIME")]
    start_datetime: Option<String>,
    /// Replay up to this local time ("2006-01-02 15:04:05"); empty means no end [default: empty]
    #[arg(long, value_name = "DATETIME")]
    stop_datetime: Option<String>,
    /// Like -start-datetime, as a TSO [default: 0]
    #[arg(long, value_name = "TSO")]
    start_tso: Option<i64>,
    /// Like -stop-datetime, as a TSO; 0 means no end [default: 0]
    #[arg(long, value_name = "TSO")]
    stop_tso: Option<i64>,
    /// Row changes per downstream transaction [default: 20]
    #[arg(long, value_name = "N")]
    txn_batch: Option<i64>,
    /// Parallel downstream workers (worker-count) [default: 16]
    #[arg(short = 'c', value_name = "N")]
    worker_count: Option<i64>,
    /// Log file; empty logs to stderr [default: empty]
    #[arg(long, value_name = "PATH")]
    log_file: Option<OsString>,
    /// Destination: print or mysql [default: print]
    #[arg(long, value_name = "TYPE")]
    dest_type: Option<String>,
    /// Log level: debug, info, warn, error, fatal [default: info]
    #[arg(short = 'L', long = "log-level", value_name = "LEVEL")]
    log_level: Option<String>,
    /// Safe mode: inserts become REPLACE, updates DELETE + REPLACE [default: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    safe_mode: Option<bool>,
    #[command(flatten)]
    #[allow(missing_docs)]
    file: NodeFileFlags,
}

/// `[dest-db]`: the MySQL/TiDB the `mysql` destination applies to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct DestDb {
    /// Host name or IP. Default `127.0.0.1`.
    pub host: String,
    /// Port. Default 3306.
    pub port: i64,
    /// User. Default `root`.
    pub user: String,
    /// Password. Default empty.
    pub password: String,
    /// `[dest-db.security]` (ours; the original's reparo has no TLS): `ssl-ca` (TLS on iff
    /// set), `ssl-cert`, `ssl-key`, as the drainer's `[syncer.to.security]`. Default none.
    pub security: Option<SecurityConfig>,
}

impl Default for DestDb {
    fn default() -> DestDb {
        let connection = ConnectionConfig::default();
        DestDb {
            host: connection.host,
            port: i64::from(connection.port),
            user: connection.user,
            password: connection.password,
            security: None,
        }
    }
}

/// Where the binlogs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestType {
    /// Printed to stdout.
    Print,
    /// Applied to `[dest-db]`.
    Mysql,
}

/// reparo's configuration (see the module doc for keys, flags and defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct ReparoConfig {
    /// The drainer `file` destination's directory.
    pub data_dir: PathBuf,
    /// Start as a local datetime; empty when unset.
    pub start_datetime: String,
    /// Stop as a local datetime; empty when unset.
    pub stop_datetime: String,
    /// First commit TS replayed (0: from the beginning).
    pub start_tso: i64,
    /// Last commit TS replayed (0: no end).
    pub stop_tso: i64,
    /// Row changes per downstream transaction.
    pub txn_batch: i64,
    /// Downstream workers.
    pub worker_count: i64,
    /// `print` or `mysql`.
    pub dest_type: String,
    /// The `mysql` destination.
    pub dest_db: Option<DestDb>,
    /// Only these tables (`{db-name, tbl-name}`, `~` for a regex).
    pub replicate_do_table: Vec<TableName>,
    /// Only these databases (`~` for a regex).
    pub replicate_do_db: Vec<String>,
    /// Not these tables.
    pub replicate_ignore_table: Vec<TableName>,
    /// Not these databases.
    pub replicate_ignore_db: Vec<String>,
    /// Log file; empty for stderr.
    pub log_file: PathBuf,
    /// Log level.
    pub log_level: String,
    /// Safe mode for the `mysql` destination.
    pub safe_mode: bool,
    /// Environment variables used for flags, for the log.
    #[serde(skip)]
    pub env_used: Vec<(String, String)>,
}

impl Default for ReparoConfig {
    fn default() -> ReparoConfig {
        ReparoConfig {
            data_dir: PathBuf::new(),
            start_datetime: String::new(),
            stop_datetime: String::new(),
            start_tso: 0,
            stop_tso: 0,
            txn_batch: DEFAULT_TXN_BATCH,
            worker_count: DEFAULT_WORKER_COUNT,
            dest_type: "print".into(),
            dest_db: None,
            replicate_do_table: Vec::new(),
            replicate_do_db: Vec::new(),
            replicate_ignore_table: Vec::new(),
            replicate_ignore_db: Vec::new(),
            log_file: PathBuf::new(),
            log_level: "info".into(),
            safe_mode: false,
            env_used: Vec::new(),
        }
    }
}

impl NodeFlags for ReparoFlags {
    type Config = ReparoConfig;

    fn file_flags(&self) -> &NodeFileFlags {
        &self.file
    }

    fn apply(self, config: &mut ReparoConfig) -> Result<()> {
        let ReparoFlags {
            data_dir,
            start_datetime,
            stop_datetime,
            start_tso,
            stop_tso,
            txn_batch,
            worker_count,
            log_file,
            dest_type,
            log_level,
            safe_mode,
            file: _,
        } = self;
        replace_path(&mut config.data_dir, data_dir);
        replace(&mut config.start_datetime, start_datetime);
        replace(&mut config.stop_datetime, stop_datetime);
        replace(&mut config.start_tso, start_tso);
        replace(&mut config.stop_tso, stop_tso);
        replace(&mut config.txn_batch, txn_batch);
        replace(&mut config.worker_count, worker_count);
        replace_path(&mut config.log_file, log_file);
        replace(&mut config.dest_type, dest_type);
        replace(&mut config.log_level, log_level);
        replace(&mut config.safe_mode, safe_mode);
        Ok(())
    }
}

impl NodeConfig for ReparoConfig {
    const COMPONENT: &'static str = "reparo";
    const ENV_PREFIX: &'static str = "REPARO";
    type Flags = ReparoFlags;

    fn set_env_used(&mut self, env_used: Vec<(String, String)>) {
        self.env_used = env_used;
    }

    fn adjust(&mut self) {}

    fn sanitize(&self) -> Result<()> {
        let invalid = |text: String| Err(Error::InvalidConfig(text));
        if self.data_dir.as_os_str().is_empty() {
            return invalid(
                "data-dir is empty: set data-dir in the config file or -data-dir to the \
                 drainer's file destination directory"
                    .into(),
            );
        }
        match self.dest_type()? {
            DestType::Mysql if self.dest_db.is_none() => {
                return invalid(
                    "dest-type mysql needs a [dest-db] section (host, port, user, password) in \
                     the file -config names"
                        .into(),
                )
            }
            DestType::Mysql | DestType::Print => {}
        }
        if let Some(db) = &self.dest_db {
            if !(1..=i64::from(u16::MAX)).contains(&db.port) {
                return invalid(format!("[dest-db] port {} is not a TCP port", db.port));
            }
        }
        for (key, value) in [
            ("txn-batch", self.txn_batch),
            ("worker-count", self.worker_count),
        ] {
            if value < 1 {
                return invalid(format!("{key} {value} must be at least 1"));
            }
        }
        binlog_node::logging::parse_level(&self.log_level)?;
        self.filter()?;
        self.ts_range().map(drop)
    }
}

/// The commit TSs replayed: `start <= commit_ts`, and `commit_ts <= stop` unless `stop` is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TsRange {
    /// First commit TS replayed.
    pub start: u64,
    /// Last commit TS replayed; 0 for no end.
    pub stop: u64,
}

impl TsRange {
    /// Whether `commit_ts` is in the range.
    pub fn contains(&self, commit_ts: u64) -> bool {
        commit_ts >= self.start && !self.is_past(commit_ts)
    }

    /// Whether `commit_ts` is after the range's end.
    pub fn is_past(&self, commit_ts: u64) -> bool {
        self.stop != 0 && commit_ts > self.stop
    }
}

impl ReparoConfig {
    /// Loads the configuration from `args` (program name first), the environment seen through
    /// `env` and the file `-config` names; see [`binlog_node::config::load`] for the outcomes.
    pub fn load(
        args: Vec<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<ReparoConfig, ConfigError> {
        binlog_node::config::load::<ReparoConfig>(args, env)
    }

    /// The destination.
    pub fn dest_type(&self) -> Result<DestType> {
        match self.dest_type.as_str() {
            "print" => Ok(DestType::Print),
            "mysql" => Ok(DestType::Mysql),
            other => Err(Error::InvalidConfig(format!(
                "dest-type {other:?} is not supported: use \"print\" or \"mysql\" (mysql also \
                 applies to TiDB)"
            ))),
        }
    }

    /// The range to replay, datetimes converted to TSOs in the local time zone.
    pub fn ts_range(&self) -> Result<TsRange> {
        let end = |datetime: &str, tso: i64, key: &str| -> Result<u64> {
            if !datetime.is_empty() {
                return datetime_to_tso(datetime, &TimeZone::system())
                    .map_err(|reason| Error::InvalidConfig(format!("{key}-datetime: {reason}")));
            }
            u64::try_from(tso).map_err(|_| {
                Error::InvalidConfig(format!("{key}-tso {tso} is negative: a TSO is positive"))
            })
        };
        let range = TsRange {
            start: end(&self.start_datetime, self.start_tso, "start")?,
            stop: end(&self.stop_datetime, self.stop_tso, "stop")?,
        };
        if range.stop != 0 && range.start > range.stop {
            return Err(Error::InvalidConfig(format!(
                "the start ({}) is after the stop ({}): nothing would be replayed",
                range.start, range.stop
            )));
        }
        Ok(range)
    }

    /// The table filter of the replicate-* rules.
    pub fn filter(&self) -> Result<TableFilter> {
        TableFilter::from_rules(
            ("replicate-do-db", &self.replicate_do_db),
            ("replicate-do-table", &self.replicate_do_table),
            ("replicate-ignore-db", &self.replicate_ignore_db),
            ("replicate-ignore-table", &self.replicate_ignore_table),
        )
    }

    /// The SQL loader's settings for the `mysql` destination (`[dest-db]`, `-c`,
    /// `-txn-batch`, `-safe-mode`). The TLS files are read and checked now.
    pub fn loader_config(&self) -> Result<LoaderConfig> {
        let db = self.dest_db.clone().unwrap_or_default();
        let tls = match &db.security {
            Some(security) => Tls::from_section(security, "[dest-db.security]")?,
            None => None,
        };
        Ok(LoaderConfig {
            connection: ConnectionConfig {
                host: db.host,
                port: u16::try_from(db.port).unwrap_or_default(),
                user: db.user,
                password: db.password,
                tls: tls.map(|tls| DownstreamTls {
                    ca: tls.ca,
                    identity: tls.identity,
                }),
                ..ConnectionConfig::default()
            },
            db_type: DbType::Mysql,
            worker_count: self.worker_count as usize,
            txn_batch: self.txn_batch as usize,
            safe_mode: self.safe_mode,
            ..LoaderConfig::default()
        })
    }
}

/// `2006-01-02 15:04:05` in `zone` as a TSO (its milliseconds, logical part 0), as the
/// original's `dateTimeToTSO`.
pub fn datetime_to_tso(text: &str, zone: &TimeZone) -> std::result::Result<u64, String> {
    let datetime = DateTime::strptime(DATETIME_FORMAT, text.trim()).map_err(|error| {
        format!("{text:?} is not a datetime like \"2006-01-02 15:04:05\": {error}")
    })?;
    let instant = zone
        .to_timestamp(datetime)
        .map_err(|error| format!("{text:?} in the local time zone: {error}"))?;
    let ms = u64::try_from(instant.as_millisecond())
        .map_err(|_| format!("{text:?} is before 1970, where no TSO is"))?;
    Ok(compose_ts(ms, 0))
}

#[cfg(test)]
mod tests;
