//! `binlog-node`: what the pump, the drainer and the tools share.
//!
//! Module map:
//! - [`proto`]: the generated `binlog` protobuf and gRPC code (tipb-compatible), and how a
//!   `Binlog` maps to an engine record.
//! - [`binlog_text`]: a binlog as gogo's compact text and as JSON (`/debug/binlog/{ts}`).
//! - [`registry`]: where nodes publish their status: the trait, the file and etcd backends.
//! - [`tso`]: the timestamp oracle: the trait, the host-shared file and etcd backends.
//! - `etcd`: the etcd connection both etcd backends share (below both, so neither imports the
//!   other).
//! - [`config`]: one way to load a node's configuration; Go-style command lines, strict TOML,
//!   Go values and the size and duration grammars, addresses, `[security]`.
//! - [`logging`]: `tracing` set up from `-L` / `-log-file`.
//! - [`node_main`]: the whole `main` of the `pump` and `drainer` binaries.
//! - [`lifecycle`]: the node state machine, the state-action route, signals.
//! - [`metrics_text`]: the `/metrics` text both nodes serve.
//! - [`serve`]: gRPC and HTTP on one port; [`grpc_go`]: statuses as grpc-go words them.
//! - [`savepoint`]: the drainer's file checkpoint, `<data-dir>/savepoint` (also written by
//!   `binlogctl -cmd generate_meta`).
//! - [`tls`]: `[security]` TLS: files checked, the client-certificate CN check, reloads, the
//!   TLS listener.
//! - [`tidb_status`]: a client of TiDB's status port, trying each configured address in turn.
//! - [`error`]: the crate's error type.

#![warn(missing_docs)]

pub mod binlog_text;
pub mod config;
pub mod error;
mod etcd;
pub mod grpc_go;
pub mod lifecycle;
pub mod logging;
pub mod metrics_text;
pub mod node_main;
pub mod proto;
pub mod registry;
pub mod savepoint;
pub mod serve;
pub mod tidb_status;
pub mod tls;
pub mod tso;

pub use error::{Error, Result};
