//! `binlog-pump`: the pump node. TiDB writes binlogs to it over gRPC, drainers pull them back
//! in commit-TS order, operators look at it and change its state over HTTP.
//!
//! Module map:
//! - [`config`]: the pump's TOML file, flags and `PUMP_*` environment, validated, loaded through
//!   `binlog_node::config`: [`config::flags`] the command line, [`config::storage`] `[storage]`
//!   (the engine's configuration flattened in, plus the original's keys).
//! - [`pump`]: the shared state ([`Pump`]): write and pull paths over [`binlog_engine`].
//! - [`refusal`]: why a binlog was not stored ([`WriteRefusal`]) and how loudly to say so.
//! - [`service`]: the `binlog.Pump` gRPC service (`WriteBinlog`, `PullBinlogs`).
//! - [`http`]: the HTTP routes of `http-api.md`.
//! - [`node`]: identity, registration, heartbeat, the state machine and the way out.
//! - [`server`]: start, serve, shut down.
//! - [`background`]: fake binlogs, GC, the pending-prewrite watch; [`gc_trigger`] wakes GC.
//! - [`tidb_resolver`]: what became of a stuck prewrite's transaction, asked of TiDB's status
//!   API (`/mvcc/hex/{key}`), for the watch and `/debug/binlog`.
//! - [`metrics`]: the Prometheus metrics under the original names.

#![warn(missing_docs)]

pub mod background;
pub mod config;
pub mod gc_trigger;
pub mod http;
pub mod metrics;
pub mod node;
pub mod pump;
pub mod refusal;
pub mod server;
pub mod service;
pub mod tidb_resolver;

pub use pump::*;
pub use refusal::WriteRefusal;
