//! The pump's command line ([`PumpFlags`]): the original's flags, Go style, each overriding
//! the config file's value.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use binlog_node::config::address::split_list;
use binlog_node::config::command_line::NodeFileFlags;
use binlog_node::config::go_values::{parse_go_bool, parse_go_int, seconds};
use binlog_node::config::load::{replace, replace_path};
use binlog_node::config::NodeFlags;
use binlog_node::error::{Error, Result};

use super::gc::parse_gc;
use super::PumpConfig;

/// Printed after the flags by `pump --help`.
const AFTER_HELP: &str = "\
Flags may be written Go style: -flag value, -flag=value, --flag value or --flag=value; a bool
flag alone means true (-enable-debug), or takes =true/=false.

Every flag but -config and -V can also be set from the environment as PUMP_<FLAG> (upper case,
'-' as '_'), e.g. PUMP_DATA_DIR or PUMP_L. The command line wins over the environment, which wins
over the config file, which wins over the defaults.";

/// The pump's command line. Doc comments are the `--help` text.
#[derive(Debug, Parser)]
#[command(
    name = "pump",
    about = "TiDB-Binlog pump: stores the binlogs TiDB writes and serves them to drainers",
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
pub struct PumpFlags {
    #[command(flatten)]
    file: NodeFileFlags,
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
    #[arg(long, value_name = "SECONDS", value_parser = parse_go_int)]
    heartbeat_interval: Option<i64>,
    /// How long binlogs are kept: days, or a Go duration such as 30m or 8h [default: 7]
    #[arg(long, value_name = "DAYS|DURATION")]
    gc: Option<String>,
    /// Seconds without writes after which a fake binlog is written so drainers advance [default: 3]
    #[arg(long, value_name = "SECONDS", value_parser = parse_go_int)]
    fake_binlog_interval: Option<i64>,
    /// Comma-separated TiDB status ports (host:port, 10080 by default) asked what became of a prewrite with no commit after 10 minutes, and for /debug/binlog's MVCC part; empty only reports such prewrites [default: empty]
    #[arg(long, value_name = "ADDRS")]
    tidb_status_addr: Option<String>,
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
    #[arg(long, value_name = "SECONDS", value_parser = parse_go_int)]
    metrics_interval: Option<i64>,
    /// Largest gRPC message accepted, in bytes [default: 9223372036850581503]
    #[arg(long, value_name = "BYTES", value_parser = parse_go_int)]
    max_message_size: Option<i64>,
    /// Accepted for compatibility; the original never reads it [default: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    enable_debug: Option<bool>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "BYTES", value_parser = parse_go_int)]
    binlog_file_size: Option<i64>,
    /// DEPRECATED, ignored
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    enable_binlog_slice: Option<bool>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "BYTES", value_parser = parse_go_int)]
    binlog_slice_size: Option<i64>,
    /// DEPRECATED, ignored
    #[arg(long, value_name = "TEXT")]
    log_rotate: Option<String>,
}

impl NodeFlags for PumpFlags {
    type Config = PumpConfig;

    fn file_flags(&self) -> &NodeFileFlags {
        &self.file
    }

    fn apply(self, config: &mut PumpConfig) -> Result<()> {
        let PumpFlags {
            file,
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
            tidb_status_addr,
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
        config.config_file = file.config.map(PathBuf::from);
        replace(&mut config.addr, addr);
        replace(&mut config.advertise_addr, advertise_addr);
        replace(&mut config.socket, socket.map(Some));
        replace(&mut config.pd_urls, pd_urls.as_deref().map(split_list));
        replace_path(&mut config.registry_dir, registry_dir);
        replace_path(&mut config.data_dir, data_dir);
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
        replace(
            &mut config.tidb_status_addr,
            tidb_status_addr.as_deref().map(split_list),
        );
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
