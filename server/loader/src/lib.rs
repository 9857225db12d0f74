//! `binlog-loader`: applies upstream transactions (rows by column name, DDL statements) to a
//! MySQL-compatible downstream, exactly once across crashes. The drainer's `mysql`/`tidb`
//! destination and reparo both load through it.
//!
//! Module map:
//! - [`txn`]: what is loaded ([`LoadTxn`]: rows of one table or a DDL, at a commit TS).
//! - [`config`]: [`LoaderConfig`] and the downstream's [`ConnectionConfig`] (and its [`DownstreamTls`]).
//! - [`loader`]: the [`Loader`]: dispatch to workers, DDL barriers, replay skipping.
//! - [`checkpoint`]: the drainer's [`CheckpointTable`] in the downstream.
//! - [`observer`]: how long statements take, for the caller's metrics ([`QueryObserver`]).
//! - [`error`]: [`LoaderError`]; [`db_error`]: what the server answered ([`DbError`]) and
//!   which errors are transient.
//! - `session`: one downstream connection, set up, timed out, retried.
//! - `table_info`: a downstream table's generated columns and unique keys, cached.
//! - `row_view`: a row read against its table: written columns, identifying key.
//! - `statement`: the SQL a row becomes (normal and safe mode).
//! - `dispatch`: which worker a row goes to (stable hash) and the keys it touches.
//! - `causality`: keys pending in workers; conflicts force a barrier.
//! - `worker`: the worker tasks, applying batches with their progress row.
//! - `progress`: the progress table that makes replays exactly once.
//! - `ddl`: running a DDL, with the tolerated errors.
//! - `acks`: `done` callbacks, rows in flight, the applied TS, worker failures.

#![warn(missing_docs)]

mod acks;
mod causality;
pub mod checkpoint;
pub mod config;
pub mod db_error;
mod ddl;
mod dispatch;
pub mod error;
pub mod loader;
pub mod observer;
mod progress;
mod row_view;
mod session;
mod statement;
mod table_info;
pub mod txn;
mod worker;

pub use checkpoint::{Checkpoint, CheckpointTable};
pub use config::{ConnectionConfig, DbType, DownstreamTls, LoaderConfig};
pub use db_error::DbError;
pub use error::{LoaderError, Result};
pub use loader::Loader;
pub use observer::{NoObserver, QueryObserver};
pub use txn::{creates_database, Ddl, LoadTxn, RowEvent, RowKind, TableRef, TxnBody};
