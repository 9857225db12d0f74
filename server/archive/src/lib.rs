//! `binlog-archive`: what the drainer's `file` destination writes and `reparo` reads, and the
//! table filter both apply, so that the tools read archives without linking the drainer.
//!
//! Module map:
//! - [`binlog_file`]: the original's binlog files: names, record framing, the directory lock,
//!   torn tails, retention, and the two payload kinds ([`binlog_file::FilePayload`]).
//! - [`pb_binlog`]: the original's `pb_binlog.Binlog` payload, encoded from translated rows and
//!   decoded back into what the SQL loader applies.
//! - [`filter`]: the replicate-do/ignore table rules.

#![warn(missing_docs)]

pub mod binlog_file;
pub mod filter;
pub mod pb_binlog;
