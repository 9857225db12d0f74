//! `binlog-tools`: the operator tools around the pump and drainer.
//!
//! Module map:
//! - [`ctl`]: `binlogctl`, the original's node and checkpoint commands over either registry.
//! - [`inspect`]: `binlog-inspect`, offline listing, dumping, verification and repair of a
//!   pump's segments.
//! - [`load`]: `binlog-load`, a load generator that writes binlogs to pumps as TiDB does.
//! - [`reparo`]: `reparo`, replaying a drainer `file` destination into MySQL/TiDB or printing
//!   it.

#![warn(missing_docs)]

pub mod ctl;
pub mod inspect;
pub mod load;
pub mod reparo;
