//! `binlog-loader`: applies upstream transactions (rows by column name, DDL statements) to a
//! MySQL-compatible downstream, exactly once across crashes. The drainer's `mysql`/`tidb`
//! destination and reparo both load through it.
//!
//! Module map:
//! - [`txn`]: what is loaded ([`LoadTxn`]: rows of one table or a DDL, at a commit TS).

#![warn(missing_docs)]

pub mod txn;

pub use txn::{Ddl, LoadTxn, RowEvent, RowKind, TableRef, TxnBody};
