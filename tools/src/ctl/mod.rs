//! `binlogctl`: the original's node and checkpoint commands, over either registry.
//!
//! [`CtlConfig::load`] parses the original's command line (`-cmd`, `-node-id`, `-state`,
//! `-pd-urls`, `-data-dir`, `-show-offline-nodes`, `-time-zone`, `-ssl-*`, `-text`, `-V`) plus
//! this build's `-registry-dir` and `-json`; [`run`] executes it:
//!
//! - `pumps` / `drainers`: one line per node in the original's `Status.String()` form
//!   (offline nodes only with `-show-offline-nodes`), or a JSON array of the registry objects.
//! - `update-pump` / `update-drainer`: rewrite the node's registry entry with `-state`, which
//!   must be a known state; nothing else changes and the node is not contacted.
//! - `pause-*` / `offline-*`: `PUT http(s)://<host>/state/<id>/<pause|close>` on the node; its
//!   answer's `message` is printed, and a `code` other than 200 fails the command (the original
//!   ignored the answer).
//! - `generate_meta`: a TSO into `<data-dir>/savepoint` ([`binlog_node::savepoint`]).
//!
//! The registry and TSO are those the pump uses: a plain etcd when `-pd-urls` is set, else the
//! file registry and TSO in `-registry-dir`. With `-ssl-ca` (and `-ssl-cert`/`-ssl-key`), etcd
//! (`https://`) and the nodes are reached over TLS. `encrypt` is not supported by this build.

mod config;
mod http;
mod zone;

use std::io::Write;
use std::sync::Arc;

use binlog_node::registry::{self, NodeKind, NodeState, NodeStatus, Registry};
use binlog_node::savepoint::{self, Savepoint};
use binlog_node::tls::url_with_scheme;
use binlog_node::tso;
use serde::{Deserialize, Serialize};

pub use config::CtlConfig;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `-cmd` names no command this build has.
    #[error("cmd {0} not supported")]
    UnsupportedCommand(String),
    /// `-cmd encrypt`.
    #[error("cmd encrypt not supported by this build")]
    EncryptUnsupported,
    /// The command needs `-node-id`.
    #[error("cmd {0} needs -node-id")]
    MissingNodeId(String),
    /// `-state` is not one of the five states.
    #[error("state {0} is illegal (expected online, pausing, paused, closing or offline)")]
    IllegalState(String),
    /// `-time-zone` names no zone of the system.
    #[error("unknown time zone {0:?}")]
    UnknownTimeZone(String),
    /// The node is not in the registry.
    #[error("{kind} {node_id} not found in the {registry}")]
    NodeNotFound {
        /// `pump` or `drainer`.
        kind: &'static str,
        /// The `-node-id` asked for.
        node_id: String,
        /// The registry's description.
        registry: String,
    },
    /// The node could not be reached, or answered with something else than the `/state`
    /// envelope.
    #[error("PUT {url}: {reason}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The node answered with a code other than 200.
    #[error("{kind} {node_id} refused to {action}: {message} (code {code})")]
    Refused {
        /// `pump` or `drainer`.
        kind: &'static str,
        /// The node.
        node_id: String,
        /// `pause` or `close`.
        action: &'static str,
        /// The node's message.
        message: String,
        /// The node's code.
        code: i64,
    },
    /// The TSO returned a TS that does not fit the savepoint's signed field.
    #[error("TSO {0} is out of range for a savepoint")]
    TsOutOfRange(u64),
    /// The registry, the TSO or the savepoint failed.
    #[error(transparent)]
    Server(#[from] binlog_node::Error),
    /// The async runtime could not start, or the output could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// JSON output could not be produced.
    #[error("cannot format JSON output: {0}")]
    Json(#[from] serde_json::Error),
}

/// What to ask a node with `PUT /state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    /// `pause-*`.
    Pause,
    /// `offline-*`.
    Close,
}

impl Action {
    /// The route's action segment.
    fn as_str(self) -> &'static str {
        match self {
            Action::Pause => "pause",
            Action::Close => "close",
        }
    }
}

/// A parsed `-cmd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Command {
    /// `pumps`, `drainers`.
    List(NodeKind),
    /// `update-pump`, `update-drainer`.
    Update(NodeKind),
    /// `pause-*`, `offline-*`.
    Apply(NodeKind, Action),
    /// `generate_meta`.
    GenerateMeta,
}

impl Command {
    /// The command `-cmd` names.
    fn parse(cmd: &str) -> Result<Command, Error> {
        use NodeKind::{Drainer, Pump};
        Ok(match cmd {
            "pumps" => Command::List(Pump),
            "drainers" => Command::List(Drainer),
            "update-pump" => Command::Update(Pump),
            "update-drainer" => Command::Update(Drainer),
            "pause-pump" => Command::Apply(Pump, Action::Pause),
            "pause-drainer" => Command::Apply(Drainer, Action::Pause),
            "offline-pump" => Command::Apply(Pump, Action::Close),
            "offline-drainer" => Command::Apply(Drainer, Action::Close),
            "generate_meta" => Command::GenerateMeta,
            "encrypt" => return Err(Error::EncryptUnsupported),
            other => return Err(Error::UnsupportedCommand(other.to_owned())),
        })
    }
}

/// The envelope a node's `PUT /state` answers with (`http-api.md`).
#[derive(Debug, Serialize, Deserialize)]
struct StateReply {
    message: String,
    code: i64,
    data: serde_json::Value,
}

/// What `generate_meta -json` prints.
#[derive(Serialize)]
struct MetaOutput<'a> {
    #[serde(rename = "commitTS")]
    commit_ts: i64,
    path: &'a str,
}

/// Runs the command `config` describes, writing its output to `out`.
///
/// It runs its own single-threaded async runtime.
pub fn run(config: &CtlConfig, out: &mut dyn Write) -> Result<(), Error> {
    let command = Command::parse(&config.cmd)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(execute(command, config, out))
}

/// Runs `command`.
async fn execute(command: Command, config: &CtlConfig, out: &mut dyn Write) -> Result<(), Error> {
    match command {
        Command::List(kind) => list(kind, config, out).await,
        Command::Update(kind) => update(kind, config, out).await,
        Command::Apply(kind, action) => apply(kind, action, config, out).await,
        Command::GenerateMeta => generate_meta(config, out).await,
    }
}

/// The registry `config` selects.
async fn open_registry(config: &CtlConfig) -> Result<Arc<dyn Registry>, Error> {
    Ok(registry::open(&config.pd_urls, config.tls.as_ref(), &config.registry_dir).await?)
}

/// Writes `value` to `out` as indented JSON and a line break.
fn write_json(out: &mut dyn Write, value: &impl Serialize) -> Result<(), Error> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// `pumps` / `drainers`.
async fn list(kind: NodeKind, config: &CtlConfig, out: &mut dyn Write) -> Result<(), Error> {
    let nodes: Vec<NodeStatus> = open_registry(config)
        .await?
        .nodes(kind)
        .await?
        .into_iter()
        .filter(|node| config.show_offline_nodes || node.state != NodeState::Offline)
        .collect();
    if config.json {
        write_json(out, &nodes)?;
    } else {
        for node in &nodes {
            writeln!(out, "{node}")?;
        }
    }
    Ok(())
}

/// The registry entry of `-node-id`, which must exist.
async fn find_node(
    registry: &dyn Registry,
    kind: NodeKind,
    config: &CtlConfig,
) -> Result<NodeStatus, Error> {
    if config.node_id.is_empty() {
        return Err(Error::MissingNodeId(config.cmd.clone()));
    }
    registry
        .node(kind, &config.node_id)
        .await?
        .ok_or_else(|| Error::NodeNotFound {
            kind: kind.name(),
            node_id: config.node_id.clone(),
            registry: registry.describe(),
        })
}

/// `update-pump` / `update-drainer`.
async fn update(kind: NodeKind, config: &CtlConfig, out: &mut dyn Write) -> Result<(), Error> {
    let state =
        NodeState::parse(&config.state).ok_or_else(|| Error::IllegalState(config.state.clone()))?;
    let registry = open_registry(config).await?;
    let mut node = find_node(registry.as_ref(), kind, config).await?;
    node.state = state;
    registry.update_node(kind, &node).await?;
    if config.json {
        write_json(out, &node)?;
    } else {
        writeln!(out, "{node}")?;
    }
    Ok(())
}

/// `pause-*` / `offline-*`.
async fn apply(
    kind: NodeKind,
    action: Action,
    config: &CtlConfig,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let registry = open_registry(config).await?;
    let node = find_node(registry.as_ref(), kind, config).await?;
    let path = format!("/state/{}/{}", url_escape(&node.node_id), action.as_str());
    let url = url_with_scheme(&node.host, config.tls.as_ref(), "the node's address")? + &path;
    let http_error = |reason: String| Error::Http {
        url: url.clone(),
        reason,
    };
    // One blocking call on the only thread: nothing else runs meanwhile.
    let response = http::put(&url, config.tls.as_ref())?.map_err(|error| {
        http_error(format!(
            "cannot reach {} {}: {error}",
            kind.name(),
            node.node_id
        ))
    })?;
    let reply: StateReply = serde_json::from_str(&response.body).map_err(|error| {
        http_error(format!(
            "unexpected reply (HTTP {}): {error}: {}",
            response.status,
            response.body.trim()
        ))
    })?;
    if config.json {
        write_json(out, &reply)?;
    } else if reply.code == 200 {
        writeln!(out, "{}", reply.message)?;
    }
    if reply.code != 200 {
        return Err(Error::Refused {
            kind: kind.name(),
            node_id: node.node_id,
            action: action.as_str(),
            message: reply.message,
            code: reply.code,
        });
    }
    Ok(())
}

/// A node ID as one path segment: bytes other than unreserved ones and `:` percent-encoded.
fn url_escape(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                char::from(byte).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// `generate_meta`.
async fn generate_meta(config: &CtlConfig, out: &mut dyn Write) -> Result<(), Error> {
    // An unknown zone fails before a TS is taken.
    let time_zone = config
        .time_zone
        .as_deref()
        .map(|name| Ok::<_, Error>((name, zone::lookup(name)?)))
        .transpose()?;
    let ts = tso::open(&config.pd_urls, config.tls.as_ref(), &config.registry_dir)
        .await?
        .get_ts()
        .await?;
    let commit_ts = i64::try_from(ts).map_err(|_| Error::TsOutOfRange(ts))?;
    let notes = match &time_zone {
        Some((name, zone)) => vec![
            format!("UTC: {}", tso::format_ts_time(ts)),
            format!("{name}: {}", zone::local_time(ts, zone)),
        ],
        None => Vec::new(),
    };
    let savepoint = Savepoint {
        consistent: false,
        commit_ts,
        schema_version: 0,
    };
    savepoint::write_annotated(&config.data_dir, &savepoint, &notes)?;
    if config.json {
        let path = savepoint::path(&config.data_dir);
        let output = MetaOutput {
            commit_ts,
            path: &path.to_string_lossy(),
        };
        write_json(out, &output)?;
    } else {
        writeln!(out, "{commit_ts}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(
            Command::parse("offline-drainer").unwrap(),
            Command::Apply(NodeKind::Drainer, Action::Close)
        );
        assert_eq!(
            Command::parse("generate_meta").unwrap(),
            Command::GenerateMeta
        );
        assert_eq!(
            Command::parse("nope").unwrap_err().to_string(),
            "cmd nope not supported"
        );
        assert_eq!(
            Command::parse("encrypt").unwrap_err().to_string(),
            "cmd encrypt not supported by this build"
        );
    }

    #[test]
    fn node_ids_are_escaped_as_one_segment() {
        assert_eq!(url_escape("host-1:8250"), "host-1:8250");
        assert_eq!(url_escape("a/b c"), "a%2Fb%20c");
    }
}
