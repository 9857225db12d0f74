//! `binlogctl`'s command line: the original's flags (Go style, through
//! [`binlog_node::config::command_line`]), `BINLOGCTL_*` environment variables, and what this build adds
//! (`-registry-dir`, `-json`).

use std::ffi::OsString;
use std::path::PathBuf;

use binlog_node::config::command_line::{
    parse_command_line, version_info, ConfigError, VersionFlag,
};
use binlog_node::config::go_values::parse_go_bool;
use binlog_node::config::security::SecurityConfig;
use binlog_node::config::DEFAULT_REGISTRY_DIR;
use binlog_node::tls::Tls;
use binlog_node::Error;
use clap::{CommandFactory, FromArgMatches, Parser};

/// Default of `-data-dir`, as the original.
const DEFAULT_DATA_DIR: &str = "binlog_position";

/// Printed after the flags by `binlogctl --help`.
const AFTER_HELP: &str = "\
Commands (-cmd):
  pumps, drainers        list the nodes of the registry, one line each:
                         {NodeID: x, Addr: y, State: online, MaxCommitTS: n, UpdateTime: ...}
                         (offline nodes only with -show-offline-nodes); -json prints a JSON array
  update-pump,           set the registry state of -node-id to -state (online, pausing, paused,
  update-drainer         closing, offline) without contacting the node
  pause-pump,            ask node -node-id to pause (PUT /state/<id>/pause) and print its answer
  pause-drainer
  offline-pump,          ask node -node-id to go offline (PUT /state/<id>/close) and print its
  offline-drainer        answer
  generate_meta          take a TSO and write <data-dir>/savepoint (commitTS = <ts>) for a
                         drainer to start from; prints the TS. With -time-zone, the UTC and zoned
                         times are appended as comment lines (# ...), so the file stays valid TOML
  encrypt                not supported by this build

The registry and TSO are a plain etcd when -pd-urls is set, else the file registry and TSO in
-registry-dir (as the pump and drainer use them). With -ssl-ca (and -ssl-cert/-ssl-key when
the nodes require a client certificate), https:// -pd-urls and the calls to the nodes use TLS.

Flags may be written Go style: -flag value, -flag=value, --flag value or --flag=value; a bool
flag alone means true (-json), or takes =true/=false. Every flag but -V can also be set from the
environment as BINLOGCTL_<FLAG> (upper case, '-' as '_'), e.g. BINLOGCTL_REGISTRY_DIR; the
command line wins.

Exit status: 0 on success, 1 when the command fails (including a node refusing a request), 2 for
a bad command line.";

/// `binlogctl`'s flags. Doc comments are the `--help` text.
#[derive(Debug, Parser)]
#[command(
    name = "binlogctl",
    about = "TiDB-Binlog control: list pumps and drainers, change their state, seed a drainer checkpoint",
    disable_version_flag = true,
    after_help = AFTER_HELP
)]
struct CtlFlags {
    /// Command to run; see below [default: pumps]
    #[arg(long, value_name = "CMD")]
    cmd: Option<String>,
    /// ID of the node the command acts on [default: none]
    #[arg(long, value_name = "ID")]
    node_id: Option<String>,
    /// New state for update-pump / update-drainer [default: none]
    #[arg(long, value_name = "STATE")]
    state: Option<String>,
    /// Directory generate_meta writes the savepoint into [default: binlog_position]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<OsString>,
    /// Comma-separated etcd endpoints (http://host:port); empty uses the file registry and TSO in -registry-dir [default: empty]
    #[arg(long, value_name = "URLS")]
    pd_urls: Option<String>,
    /// Directory of the file registry and TSO, used when -pd-urls is empty [default: /var/tmp/tidb-binlog]
    #[arg(long, value_name = "DIR")]
    registry_dir: Option<OsString>,
    /// Time zone (e.g. Asia/Shanghai) whose time generate_meta adds to the savepoint as a comment [default: none]
    #[arg(long, value_name = "ZONE")]
    time_zone: Option<String>,
    /// Include offline nodes in pumps / drainers [default: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    show_offline_nodes: Option<bool>,
    /// Print JSON instead of text [default: false]
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_go_bool
    )]
    json: Option<bool>,
    /// CA file (PEM) that etcd's and the nodes' certificates must chain to; setting it turns
    /// TLS on [default: none]
    #[arg(long, value_name = "PATH")]
    ssl_ca: Option<PathBuf>,
    /// Client certificate (PEM) presented to etcd and the nodes [default: none]
    #[arg(long, value_name = "PATH")]
    ssl_cert: Option<PathBuf>,
    /// Key (PEM) of -ssl-cert [default: none]
    #[arg(long, value_name = "PATH")]
    ssl_key: Option<PathBuf>,
    /// Input of the encrypt command, which this build does not support [default: none]
    #[arg(long, value_name = "TEXT")]
    text: Option<String>,
    #[command(flatten)]
    version: VersionFlag,
}

/// A `binlogctl` invocation, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtlConfig {
    /// `-cmd`, not yet checked against the known commands (an unknown one fails when run,
    /// with exit status 1 as in the original).
    pub cmd: String,
    /// `-node-id`; empty when not given.
    pub node_id: String,
    /// `-state`; empty when not given.
    pub state: String,
    /// `-data-dir`.
    pub data_dir: PathBuf,
    /// `-pd-urls`, split; empty selects the file registry.
    pub pd_urls: Vec<String>,
    /// `-registry-dir`.
    pub registry_dir: PathBuf,
    /// `-time-zone`, if given and not empty.
    pub time_zone: Option<String>,
    /// `-show-offline-nodes`.
    pub show_offline_nodes: bool,
    /// `-json`.
    pub json: bool,
    /// `-ssl-ca`, `-ssl-cert`, `-ssl-key`: TLS to etcd and the nodes, `None` without `-ssl-ca`.
    pub tls: Option<Tls>,
}

impl CtlConfig {
    /// Parses `args` (the program name first) with the environment seen through `env`.
    ///
    /// `Err(ConfigError::Print(text))` for `--help` and `-V` (print it, exit 0);
    /// `Err(ConfigError::Invalid(error))` for a bad command line (print it, exit 2), including
    /// stray positional arguments, malformed `-pd-urls`, and TLS files that are missing or
    /// unusable.
    pub fn load(
        args: Vec<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<CtlConfig, ConfigError> {
        let line = parse_command_line(&CtlFlags::command(), args, "BINLOGCTL", env, &["V"])?;
        let CtlFlags {
            cmd,
            node_id,
            state,
            data_dir,
            pd_urls,
            registry_dir,
            time_zone,
            show_offline_nodes,
            json,
            ssl_ca,
            ssl_cert,
            ssl_key,
            // Only the encrypt command reads it, and this build refuses that command.
            text: _,
            version,
        } = CtlFlags::from_arg_matches(&line.matches)?;
        if version.asked() {
            return Err(ConfigError::Print(version_info()));
        }
        let invalid = |text: String| ConfigError::Invalid(Error::InvalidConfig(text));
        let tls = Tls::from_section(
            &SecurityConfig {
                ssl_ca,
                ssl_cert,
                ssl_key,
                cert_allowed_cn: Vec::new(),
            },
            "-ssl-*",
        )
        .map_err(ConfigError::Invalid)?;
        let pd_urls = split_urls(pd_urls.as_deref().unwrap_or_default()).map_err(invalid)?;
        let registry_dir = registry_dir.map_or_else(|| DEFAULT_REGISTRY_DIR.into(), PathBuf::from);
        if pd_urls.is_empty() && registry_dir.as_os_str().is_empty() {
            return Err(invalid(
                "-registry-dir must not be empty when -pd-urls is empty".into(),
            ));
        }
        let data_dir = data_dir
            .filter(|dir| !dir.is_empty())
            .map_or_else(|| DEFAULT_DATA_DIR.into(), PathBuf::from);
        Ok(CtlConfig {
            cmd: cmd.unwrap_or_else(|| "pumps".into()),
            node_id: node_id.unwrap_or_default(),
            state: state.unwrap_or_default(),
            data_dir,
            pd_urls,
            registry_dir,
            time_zone: time_zone.filter(|zone| !zone.is_empty()),
            show_offline_nodes: show_offline_nodes.unwrap_or(false),
            json: json.unwrap_or(false),
            tls,
        })
    }
}

/// Splits `-pd-urls` on commas (all blank is empty) and checks that each is
/// `http://host:port` or `https://host:port` (whether TLS settings go with `https://` is checked
/// when connecting).
fn split_urls(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let urls: Vec<String> = text.split(',').map(|url| url.trim().to_owned()).collect();
    for url in &urls {
        let address = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap_or_default();
        if address.is_empty() || address.contains('/') || !address.contains(':') {
            return Err(format!(
                "-pd-urls {url}: expected http://host:port or https://host:port (comma-separated)"
            ));
        }
    }
    Ok(urls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str], env: &[(&str, &str)]) -> Result<CtlConfig, ConfigError> {
        let args = std::iter::once("binlogctl")
            .chain(args.iter().copied())
            .map(str::to_owned)
            .collect();
        CtlConfig::load(args, |key| {
            env.iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn defaults() {
        let config = load(&[], &[]).unwrap();
        assert_eq!(config.cmd, "pumps");
        assert_eq!(config.data_dir, PathBuf::from("binlog_position"));
        assert_eq!(config.registry_dir, PathBuf::from(DEFAULT_REGISTRY_DIR));
        assert!(config.pd_urls.is_empty());
        assert!(!config.json && !config.show_offline_nodes);
        assert_eq!(config.time_zone, None);
    }

    #[test]
    fn go_style_flags_and_environment() {
        let config = load(
            &[
                "-cmd",
                "update-pump",
                "--node-id=a:1",
                "-state",
                "paused",
                "-show-offline-nodes",
                "-json=false",
                "-pd-urls",
                "http://127.0.0.1:2379,http://127.0.0.1:2380",
            ],
            &[("BINLOGCTL_REGISTRY_DIR", "/x"), ("BINLOGCTL_CMD", "pumps")],
        )
        .unwrap();
        assert_eq!(config.cmd, "update-pump");
        assert_eq!(config.node_id, "a:1");
        assert_eq!(config.state, "paused");
        assert!(config.show_offline_nodes && !config.json);
        assert_eq!(config.pd_urls.len(), 2);
        assert_eq!(config.registry_dir, PathBuf::from("/x"));
    }

    #[test]
    fn bad_command_lines() {
        for (args, expected) in [
            (&["-ssl-ca", "/no/such/ca.pem"][..], "/no/such/ca.pem"),
            (
                &["-ssl-ca", "/no/such/ca.pem", "-ssl-cert", "c.pem"],
                "ssl-cert and ssl-key go together",
            ),
            (&["-pd-urls", "127.0.0.1:2379"], "expected http://host:port"),
            (&["-cmd", "pumps", "stray"], "stray"),
            (&["-registry-dir="], "-registry-dir must not be empty"),
            (&["-no-such-flag"], "no-such-flag"),
        ] {
            match load(args, &[]) {
                Err(ConfigError::Invalid(error)) => {
                    let text = error.to_string();
                    assert!(text.contains(expected), "{args:?}: {text}");
                }
                other => panic!("{args:?}: {other:?}"),
            }
        }
        assert!(matches!(load(&["--help"], &[]), Err(ConfigError::Print(_))));
        assert!(matches!(load(&["-V"], &[]), Err(ConfigError::Print(_))));
    }
}
