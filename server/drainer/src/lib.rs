//! `binlog-drainer`: the drainer node. It finds the pumps in the registry, pulls from each,
//! merges the streams by commit TS, writes the result to a sink and keeps a checkpoint.
//!
//! Module map:
//! - [`config`]: the drainer's TOML file, flags and `BINLOG_SERVER_*` environment, validated,
//!   loaded through `binlog_node::config`: [`config::flags`] the command line,
//!   [`config::syncer`] `[syncer]`.
//! - [`drainer`]: the shared state ([`Drainer`]).
//! - [`collector`]: pump discovery (registry polls and `Cistern.Notify`), one puller per pump.
//! - [`pull`]: one `PullBinlogs` stream per pump, reconnecting from the last commit TS.
//! - [`pulled`]: a binlog as pulled (commit TS and payload bytes), what the merge orders.
//! - [`merge`]: the merge by commit TS with the original's safety rule.
//! - [`syncer`]: the stages after the merge (translate, sink) and the checkpoint saves.
//! - [`translate`]: merged binlogs to what a sink consumes ([`translate::Txn`]).
//! - [`sink`]: the async [`sink::Sink`] trait and the sinks (`file` over `binlog_archive`,
//!   `print`, `mysql`, `kafka`); they acknowledge late, and [`progress`] turns the acks into the
//!   checkpoint. [`secondary_binlog`]: the `kafka` sink's message (`slave.binlog`).
//! - [`schema_store`]: the schema history's DDL jobs persisted under the data dir
//!   ([`schema_store::SchemaStore`]); [`tidb_status`]: fetching them from TiDB's status port.
//! - [`checkpoint`]: where the checkpoint is kept ([`checkpoint::CheckpointStore`]).
//! - [`budget`]: the byte budgets bounding memory between stages. [`blocking`]: file I/O off
//!   the async workers.
//! - [`held_by`]: why the drainer is not synced, for `/status` (which pump holds the merge).
//! - [`operator`]: one-shot actions on a stopped drainer (`-set-checkpoint-ts`,
//!   `-skip-commit-ts`); [`skip_list`]: the skips an operator recorded.
//! - [`http`], [`service`]: the HTTP routes and the `binlog.Cistern` gRPC service.
//! - [`server`]: start, serve, shut down. [`metrics`]: the original `binlog_drainer_*` names.

#![warn(missing_docs)]

pub mod blocking;
pub mod budget;
pub mod checkpoint;
pub mod collector;
pub mod config;
pub mod drainer;
pub mod held_by;
pub mod http;
pub mod merge;
pub mod metrics;
pub mod operator;
pub mod progress;
pub mod pull;
pub mod pulled;
pub mod schema;
pub mod schema_store;
pub mod secondary_binlog;
pub mod server;
pub mod service;
pub mod sink;
pub mod skip_list;
pub mod syncer;
pub mod tidb_status;
pub mod translate;

pub use drainer::*;
