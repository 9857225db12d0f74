//! The drainer's command line ([`DrainerFlags`]): the original's flags, Go style, each
//! overriding the config file's value.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use binlog_node::config::address::split_list;
use binlog_node::config::command_line::NodeFileFlags;
use binlog_node::config::go_values::{parse_go_bool, parse_go_int, seconds};
use binlog_node::config::load::{replace, replace_path};
use binlog_node::config::NodeFlags;
use binlog_node::error::{Error, Result};

use super::{DrainerConfig, OperatorAction};

/// Printed after the flags by `drainer --help`.
const AFTER_HELP: &str = "\
Flags may be written Go style: -flag value, -flag=value, --flag value or --flag=value; a bool
flag alone means true (-safe-mode), or takes =true/=false.

Every flag but -config and -V can also be set from the environment as BINLOG_SERVER_<FLAG>
(upper case, '-' as '_'), e.g. BINLOG_SERVER_DATA_DIR. The command line wins over the
environment, which wins over the config file, which wins over the defaults.

Destinations ([syncer] db-type, -dest-db-type): mysql and tidb apply the rows and DDL to the
database of [syncer.to] (table schemas from TiDB's status port, -tidb-status-addr); file (alias
pb) writes the original's framed binlog files into [syncer.to] dir; print writes one line per
binlog to stdout.

On a bad day (see the README's \"Operating\" section): -stop-at-commit-ts stops a run at a TS;
on a stopped drainer, -set-checkpoint-ts moves its checkpoint (refused below a pump's GC point)
and -skip-commit-ts with -skip-reason records a binlog not to write (a DDL the downstream
rejects); both exit once done, and neither is taken from the environment.";

/// The drainer's command line. Doc comments are the `--help` text.
#[derive(Debug, Parser)]
#[command(
    name = "drainer",
    about = "TiDB-Binlog drainer: pulls binlogs from every pump, merges them by commit TS, writes them downstream",
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
pub struct DrainerFlags {
    #[command(flatten)]
    file: NodeFileFlags,
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
    #[arg(long, value_name = "SECONDS", value_parser = parse_go_int)]
    detect_interval: Option<i64>,
    /// Comma-separated etcd endpoints (http://host:port); empty uses the file registry and TSO in -registry-dir [default: empty]
    #[arg(long, value_name = "URLS")]
    pd_urls: Option<String>,
    /// TiDB status addresses (host:port, comma-separated) the mysql and tidb destinations read table schemas from [default: empty]
    #[arg(long, value_name = "HOST:PORT")]
    tidb_status_addr: Option<String>,
    /// Directory of the file registry and TSO shared by every process on this host [default: /var/tmp/tidb-binlog]
    #[arg(long, value_name = "DIR")]
    registry_dir: Option<OsString>,
    /// ID of this node [default: <hostname>:<port of -addr>]
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// Commit TS to start from when there is no checkpoint; -1 takes a TSO at start [default: -1]
    #[arg(long, value_name = "TS", value_parser = parse_go_int)]
    initial_commit_ts: Option<i64>,
    /// Log level: debug, info, warn, error, fatal [default: info]
    #[arg(short = 'L', value_name = "LEVEL")]
    log_level: Option<String>,
    /// File to log to, appended [default: stderr]
    #[arg(long, value_name = "PATH")]
    log_file: Option<OsString>,
    /// Destination: mysql, tidb, file (alias pb) or print [default: file]
    #[arg(long, value_name = "TYPE")]
    dest_db_type: Option<String>,
    /// Statements per downstream transaction (SQL destinations) [default: 20]
    #[arg(long, value_name = "N", value_parser = parse_go_int)]
    txn_batch: Option<i64>,
    /// Downstream workers (SQL destinations) [default: 16]
    #[arg(short = 'c', value_name = "N", value_parser = parse_go_int)]
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
        value_parser = parse_go_bool
    )]
    safe_mode: Option<bool>,
    /// Minutes; accepted for compatibility [default: 5]
    #[arg(long, value_name = "MINUTES", value_parser = parse_go_int)]
    synced_check_time: Option<i64>,
    /// Binlogs buffered per pump stream [default: 8]
    #[arg(long, value_name = "N", value_parser = parse_go_int)]
    cache_binlog_count: Option<i64>,
    /// Compression of the pull streams: gzip or empty [default: empty]
    #[arg(long, value_name = "NAME")]
    compressor: Option<String>,
    /// Prometheus pushgateway address: not supported by this build, scrape /metrics instead [default: none]
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    /// Pushgateway push interval in seconds, 0 disables the push [default: 15]
    #[arg(long, value_name = "SECONDS", value_parser = parse_go_int)]
    metrics_interval: Option<i64>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "TEXT")]
    log_rotate: Option<String>,
    /// Stop cleanly once every binlog up to this commit TS is applied, checkpoint exactly there, state paused; 0 never [default: 0]
    #[arg(long, value_name = "TS")]
    stop_at_commit_ts: Option<u64>,
    /// Instead of running: set the checkpoint the next run starts after, if every pump still holds the binlogs after it, then exit
    #[arg(long, value_name = "TS", conflicts_with = "skip_commit_ts")]
    set_checkpoint_ts: Option<u64>,
    /// Instead of running: record that the binlog committed at TS is not to be written (needs -skip-reason), then exit
    #[arg(long, value_name = "TS", requires = "skip_reason")]
    skip_commit_ts: Option<u64>,
    /// Why -skip-commit-ts skips the binlog: kept with who and when, logged when it is skipped
    #[arg(long, value_name = "TEXT", requires = "skip_commit_ts")]
    skip_reason: Option<String>,
}

impl NodeFlags for DrainerFlags {
    type Config = DrainerConfig;

    fn file_flags(&self) -> &NodeFileFlags {
        &self.file
    }

    fn apply(self, config: &mut DrainerConfig) -> Result<()> {
        let DrainerFlags {
            file,
            addr,
            advertise_addr,
            data_dir,
            detect_interval,
            pd_urls,
            tidb_status_addr,
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
            stop_at_commit_ts,
            set_checkpoint_ts,
            skip_commit_ts,
            skip_reason,
        } = self;
        config.config_file = file.config.map(PathBuf::from);
        replace(&mut config.addr, addr);
        replace(&mut config.advertise_addr, advertise_addr);
        replace_path(&mut config.data_dir, data_dir);
        if let Some(secs) = detect_interval {
            config.detect_interval = seconds(secs)
                .map_err(|reason| Error::InvalidConfig(format!("-detect-interval: {reason}")))?;
        }
        replace(&mut config.pd_urls, pd_urls.as_deref().map(split_list));
        replace(
            &mut config.tidb_status_addr,
            tidb_status_addr.as_deref().map(split_list),
        );
        replace_path(&mut config.registry_dir, registry_dir);
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
        replace(&mut config.stop_at_commit_ts, stop_at_commit_ts);
        config.operator_action = match (set_checkpoint_ts, skip_commit_ts, skip_reason) {
            (Some(ts), _, _) => Some(OperatorAction::SetCheckpoint(ts)),
            (None, Some(commit_ts), Some(reason)) => {
                Some(OperatorAction::Skip { commit_ts, reason })
            }
            // clap requires -skip-commit-ts and -skip-reason together.
            _ => None,
        };
        config.deprecated_flags = log_rotate
            .map(|_| "-log-rotate".to_owned())
            .into_iter()
            .collect();
        Ok(())
    }
}
