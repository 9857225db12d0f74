//! `binlog-tidb`: what the drainer (and reparo) need to read TiDB's binlogs without TiKV: the
//! tables a binlog's rows belong to, at the schema version the binlog carries, and the rows
//! themselves as exact, typed values.
//!
//! Module map:
//! - [`value`]: a column value as it goes downstream ([`Value`]).
//! - [`table`]: one table at one schema version ([`TableSchema`], [`Column`]), MySQL type codes
//!   and column flags.
//! - [`job`]: TiDB's DDL jobs as its status port serves them ([`Job`], serde), and a
//!   `TableInfo` snapshot turned into a [`TableSchema`].
//! - [`history`]: the jobs replayed by schema version, every shape of every table kept
//!   ([`SchemaHistory`]).
//! - [`error`]: the crate's one error type ([`Error`]), with the context to act on.
//! - [`row`]: a binlog's inserted, updated and deleted rows as one [`Value`] per column
//!   ([`decode_insert`], [`decode_update`], [`decode_delete`]).
//! - [`codec`]: TiDB's datum codec (flags, memcomparable and compact forms) the rows are made
//!   of; [`decimal`], [`time`] and [`json`]: the binary decimals, packed times and binary JSON
//!   inside them, read into exact text; [`varint`]: Go's varints both use.

#![warn(missing_docs)]

pub mod codec;
pub mod decimal;
pub mod error;
pub mod history;
pub mod job;
pub mod json;
pub mod row;
pub mod table;
pub mod time;
pub mod value;
pub mod varint;

pub use error::{Error, Result};
pub use history::SchemaHistory;
pub use job::Job;
pub use row::{decode_delete, decode_insert, decode_update};
pub use table::{Column, TableSchema, UniqueKey};
pub use value::Value;
