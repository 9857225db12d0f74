//! `binlog-server`: the pump and the drainer of a TiDB-Binlog replacement, around
//! [`binlog_engine`].
//!
//! Module map:
//! - [`proto`]: the generated `binlog` protobuf and gRPC code (tipb-compatible), and how a
//!   `Binlog` maps to an engine record.
//! - [`binlog_text`]: a binlog as gogo's compact text and as JSON (`/debug/binlog/{ts}`).
//! - [`registry`]: where nodes publish their status: the trait, the file and etcd backends.
//! - [`tso`]: the timestamp oracle: the trait, the host-shared file and etcd backends.
//! - [`flags`], [`logging`]: Go-style command lines; `tracing` set up from `-L` / `-log-file`.
//! - [`lifecycle`]: the node state machine, the state-action route, signals.
//! - [`metrics_text`]: the `/metrics` text both nodes serve.
//! - [`node_config`]: configuration pieces the pump and the drainer share.
//! - [`pump_config`]: the pump's TOML file, flags and `PUMP_*` environment, validated.
//! - [`serve`]: gRPC and HTTP on one port.
//! - [`savepoint`]: the drainer's file checkpoint, `<data-dir>/savepoint` (also written by
//!   `binlogctl -cmd generate_meta`).
//! - [`pump`]: the pump node: gRPC service, HTTP routes, lifecycle, background loops, metrics.
//! - [`drainer_config`]: the drainer's TOML file, flags and `BINLOG_SERVER_*` environment.
//! - [`drainer`]: the drainer node: discovery, pulls, merge, destinations, checkpoint, HTTP.
//! - [`error`]: the crate's error type.

#![warn(missing_docs)]

pub mod binlog_text;
pub mod drainer;
pub mod drainer_config;
pub mod error;
pub mod flags;
pub mod lifecycle;
pub mod logging;
pub mod metrics_text;
pub mod node_config;
pub mod proto;
pub mod pump;
pub mod pump_config;
pub mod registry;
pub mod savepoint;
pub mod serve;
pub mod tso;

pub use error::{Error, Result};
