//! The registry: where pumps and drainers publish their [`NodeStatus`] and find each other.
//!
//! Two backends behind the [`Registry`] trait: [`file::FileRegistry`] (the embedded default,
//! one JSON file per node in a directory shared by every process on the host) and
//! [`etcd::EtcdRegistry`] (the original's keys `/tidb-binlog/v1/<pumps|drainers>/<nodeId>` and
//! JSON, selected by `pd-urls`). The etcd backend needs a plain etcd: a real PD (one holding
//! `/pd/cluster_id`) is refused, because this build has no client for PD's TSO service and the
//! etcd compare-and-swap TSO could hand out TSs above commit TSs PD has yet to issue.

pub mod etcd;
pub mod file;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::tls::Tls;
use crate::{Error, Result};

/// Which kind of node a registry entry describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A pump (`/tidb-binlog/v1/pumps/`).
    Pump,
    /// A drainer (`/tidb-binlog/v1/drainers/`).
    Drainer,
}

impl NodeKind {
    /// The registry path segment: `pumps` or `drainers`.
    pub fn prefix(self) -> &'static str {
        match self {
            NodeKind::Pump => "pumps",
            NodeKind::Drainer => "drainers",
        }
    }

    /// `pump` or `drainer`, as messages name it.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Pump => "pump",
            NodeKind::Drainer => "drainer",
        }
    }
}

/// A node's state, as the original spells it in the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// Serving.
    Online,
    /// Asked to pause; shutting down.
    Pausing,
    /// Stopped; will come back (binlogs are kept, drainers hold their merge for it).
    Paused,
    /// Asked to go offline; waiting for drainers to consume everything.
    Closing,
    /// Gone for good: every drainer has consumed its binlogs.
    Offline,
}

impl NodeState {
    /// The state's name (`online`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Online => "online",
            NodeState::Pausing => "pausing",
            NodeState::Paused => "paused",
            NodeState::Closing => "closing",
            NodeState::Offline => "offline",
        }
    }

    /// Parses a state name; `None` if it is not one of the five.
    pub fn parse(name: &str) -> Option<NodeState> {
        [
            NodeState::Online,
            NodeState::Pausing,
            NodeState::Paused,
            NodeState::Closing,
            NodeState::Offline,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Labels of a node (`{"labels":{...}}`); the original pump never sets them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// Key/value labels.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
}

/// A node's registry entry, serialised exactly as the original (`pkg/node/node.go:Status`),
/// fields in the same order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Node ID.
    #[serde(rename = "nodeId")]
    pub node_id: String,
    /// Advertised `host:port`.
    pub host: String,
    /// State.
    pub state: NodeState,
    /// Whether the node is alive (see `http-api.md`: computed by `/status`).
    #[serde(rename = "isAlive", default)]
    pub is_alive: bool,
    /// Reserved score, always 0.
    #[serde(default)]
    pub score: i64,
    /// Labels, `null` from pumps.
    #[serde(default)]
    pub label: Option<Label>,
    /// Pump: its watermark. Drainer: its checkpoint.
    #[serde(rename = "maxCommitTS", default)]
    pub max_commit_ts: i64,
    /// A TSO taken at the last status write.
    #[serde(rename = "updateTS", default)]
    pub update_ts: i64,
}

impl fmt::Display for NodeStatus {
    /// The original's `Status.String()`, as binlogctl prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{{NodeID: {}, Addr: {}, State: {}, MaxCommitTS: {}, UpdateTime: {}}}",
            self.node_id,
            self.host,
            self.state,
            self.max_commit_ts,
            crate::tso::format_ts_time(self.update_ts as u64)
        )
    }
}

/// Where nodes publish their status.
#[async_trait::async_trait]
pub trait Registry: Send + Sync {
    /// The entry of `node_id`, if there is one.
    async fn node(&self, kind: NodeKind, node_id: &str) -> Result<Option<NodeStatus>>;
    /// Every entry of `kind`, sorted by node ID. An entry that is not valid JSON fails the call
    /// (as in the original) with an error naming it.
    async fn nodes(&self, kind: NodeKind) -> Result<Vec<NodeStatus>>;
    /// Creates the entry if there is none, else replaces it (the original's revision checks:
    /// create only if absent, update only if present).
    async fn update_node(&self, kind: NodeKind, status: &NodeStatus) -> Result<()>;
    /// The cluster ID TiDB must send: a random non-zero ID made once (of racing makers one
    /// wins, and every one returns the winner's). File backend: kept in `<dir>/cluster_id`.
    /// etcd backend: kept in `/tidb-binlog/v1/cluster_id` (8 bytes, big-endian); fails if the
    /// etcd is a real PD (it holds `/pd/cluster_id`), which this build refuses.
    async fn cluster_id(&self) -> Result<u64>;
    /// A short description for logs (`file registry /var/tmp/...`, `etcd http://...`).
    fn describe(&self) -> String;
}

/// Opens the etcd registry when `pd_urls` is non-empty (over TLS to `https://` endpoints,
/// with `tls`), else the file registry in `dir`.
pub async fn open(pd_urls: &[String], tls: Option<&Tls>, dir: &Path) -> Result<Arc<dyn Registry>> {
    if pd_urls.is_empty() {
        Ok(Arc::new(file::FileRegistry::open(dir)?))
    } else {
        Ok(Arc::new(etcd::EtcdRegistry::connect(pd_urls, tls).await?))
    }
}

/// A node's entry as both backends store it: the compact JSON of `status`, fields in the
/// original's order.
pub(crate) fn serialize(status: &NodeStatus) -> Result<Vec<u8>> {
    serde_json::to_vec(status).map_err(|e| {
        Error::Registry(format!(
            "cannot serialise the status of node {}: {e}",
            status.node_id
        ))
    })
}

/// The [`NodeStatus`] in an entry's stored `value`; the error names the entry (`name`: its
/// file's path or its etcd key).
pub(crate) fn parse_entry(name: impl fmt::Display, value: &[u8]) -> Result<NodeStatus> {
    serde_json::from_slice(value)
        .map_err(|e| Error::Registry(format!("cannot parse registry entry {name}: {e}")))
}
