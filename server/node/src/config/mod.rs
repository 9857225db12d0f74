//! Configuration plumbing the pump, the drainer and the tools share.
//!
//! - [`load`]: one way to load a node's configuration ([`load()`], [`NodeConfig`],
//!   [`NodeFlags`]) and the small adjust and check steps every node takes.
//! - [`command_line`]: Go-style command lines, environment fallbacks, [`ConfigError`], `-V`.
//! - [`strict_toml`]: the config file, with unknown keys an error naming them.
//! - [`go_values`]: Go bools and integers, whole seconds, and the one grammar each for
//!   durations and byte sizes.
//! - [`address`]: addresses as the original writes them (`http://host:port`), PD endpoints, the
//!   registry directory, the default listen address and node ID.
//! - [`security`]: the `[security]` section.

pub mod address;
pub mod command_line;
pub mod go_values;
pub mod load;
pub mod security;
pub mod strict_toml;

pub use command_line::ConfigError;
pub use load::{load, NodeConfig, NodeFlags};

/// Default of `registry-dir` for every node and tool: the directory of the file registry and
/// file TSO shared by every process on the host, outside `/tmp` so that it survives tmp cleaners
/// and reboots less often.
pub const DEFAULT_REGISTRY_DIR: &str = "/var/tmp/tidb-binlog";
