//! Why [`crate::Pump::write_binlog`] did not store a binlog ([`WriteRefusal`]), and how loudly
//! that is logged. Each refusal's text is the message the original sends back, which TiDB and
//! the tests see.

use binlog_engine::record::Kind;
use binlog_node::registry::NodeState;

/// A binlog the pump did not store.
#[derive(Debug, thiserror::Error)]
pub enum WriteRefusal {
    /// A prewrite while the node is not online (pausing, paused, closing): TiDB writes it to
    /// another pump, so this is expected during a state change.
    #[error("no online: {0}")]
    NotOnline(NodeState),
    /// The payload is not a `Binlog` (prost's text).
    #[error("{0}")]
    BadPayload(#[from] prost::DecodeError),
    /// A binlog type the pump does not store (the obsolete DDL types, unknown values).
    #[error("unsupported binlog type {0} (PreDDL and PostDDL are obsolete)")]
    UnsupportedType(i32),
    /// TSs that could never be matched or ordered.
    #[error("invalid binlog TS for {kind:?}: start_ts {start_ts} commit_ts {commit_ts}")]
    InvalidTs {
        /// The record kind the binlog would have been stored as.
        kind: Kind,
        /// Its `start_ts`.
        start_ts: i64,
        /// Its `commit_ts`.
        commit_ts: i64,
    },
    /// The engine did not store it: stop-write (free space below
    /// `stop-write-at-available-space`), a full disk, an I/O error.
    #[error("{0}")]
    Storage(#[from] binlog_node::Error),
}

impl WriteRefusal {
    /// The level the service logs this refusal at: a pump that is not online refuses by design
    /// (warn); everything else is binlog loss (error).
    pub fn log_level(&self) -> tracing::Level {
        match self {
            WriteRefusal::NotOnline(_) => tracing::Level::WARN,
            _ => tracing::Level::ERROR,
        }
    }
}
