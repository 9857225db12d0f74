//! What the `pump` and `drainer` binaries do around their server, once: load the configuration
//! (exit 0 after `--help` or `-V`, 2 when it is invalid), start logging, serve on a multi-thread
//! runtime, and exit 1 with the error logged and printed when serving fails.

use std::future::Future;
use std::path::Path;

use crate::config::{load, NodeConfig};
use crate::error::{Error, Result};
use crate::logging;
use crate::registry::NodeState;

/// What a node binary needs of its configuration besides loading it.
pub trait NodeBinary: NodeConfig {
    /// `-L`.
    fn log_level(&self) -> &str;
    /// `-log-file`, when logs go to a file.
    fn log_file(&self) -> Option<&Path>;
    /// Environment variables that stood in for flags, and deprecated flags given: logged once
    /// logging is up.
    fn reported_inputs(&self) -> (&[(String, String)], &[String]);
    /// Keys the configuration accepted but this build ignores, with why, each logged as a
    /// warning.
    fn ignored_keys(&self) -> Vec<(String, &'static str)> {
        Vec::new()
    }
}

/// The whole `main` of a node binary: `serve` gets the loaded configuration and runs the node
/// until it stops; the process exits 0 when it stopped in a final state, 1 on an error.
pub fn node_main<C, F>(serve: impl FnOnce(C) -> F) -> !
where
    C: NodeBinary,
    F: Future<Output = Result<NodeState>>,
{
    let config: C = load(std::env::args().collect(), |key| std::env::var(key).ok())
        .unwrap_or_else(|outcome| outcome.exit());
    if let Err(error) = start_and_serve(config, serve) {
        tracing::error!("{} failed: {error}", C::COMPONENT);
        eprintln!("{} failed: {error}", C::COMPONENT);
        std::process::exit(1);
    }
    std::process::exit(0);
}

fn start_and_serve<C, F>(config: C, serve: impl FnOnce(C) -> F) -> Result<NodeState>
where
    C: NodeBinary,
    F: Future<Output = Result<NodeState>>,
{
    let (env_used, deprecated_flags) = config.reported_inputs();
    logging::start(
        C::COMPONENT,
        config.log_level(),
        config.log_file(),
        env_used,
        deprecated_flags,
    )?;
    for (key, why) in config.ignored_keys() {
        tracing::warn!(%key, "config key ignored: {why}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(serve(config))
}
