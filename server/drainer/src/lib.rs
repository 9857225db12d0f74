//! `binlog-drainer`: the drainer node. It finds the pumps in the registry, pulls from each,
//! merges the streams by commit TS, writes the result to a destination and keeps a checkpoint.
//!
//! Module map:
//! - [`config`]: the drainer's TOML file, flags and `BINLOG_SERVER_*` environment, validated,
//!   loaded through `binlog_node::config`: [`config::flags`] the command line,
//!   [`config::syncer`] `[syncer]`.
//! - [`drainer`]: the shared state ([`Drainer`]).
//! - [`collector`]: pump discovery (registry polls and `Cistern.Notify`), one puller per pump.
//! - [`pull`]: one `PullBinlogs` stream per pump, reconnecting from the last commit TS.
//! - [`merge`]: the merge by commit TS with the original's safety rule.
//! - [`syncer`]: merged binlogs to the destination; the checkpoint.
//! - [`destination`], [`binlog_file`]: the destinations (`file`, `print`).
//! - [`http`], [`service`]: the HTTP routes and the `binlog.Cistern` gRPC service.
//! - [`server`]: start, serve, shut down. [`metrics`]: the original `binlog_drainer_*` names.

#![warn(missing_docs)]

pub mod binlog_file;
pub mod collector;
pub mod config;
pub mod destination;
pub mod drainer;
pub mod http;
pub mod merge;
pub mod metrics;
pub mod pull;
pub mod server;
pub mod service;
pub mod syncer;

pub use drainer::*;
