//! Configuration plumbing the pump, the drainer and the tools share.
//!
//! - [`flags`]: Go-style command lines, environment fallbacks, strict TOML, Go values.
//! - [`node`]: addresses as the original writes them, PD endpoints, `[security]`, serde helpers.

pub mod flags;
pub mod node;
