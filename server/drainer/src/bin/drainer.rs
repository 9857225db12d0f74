//! `drainer`: pulls binlogs from every pump, merges them by commit TS, writes them downstream.
//! Flags, config keys and `BINLOG_SERVER_*` variables are the original's; see `drainer --help`.

use anyhow::Context;
use binlog_drainer::config::DrainerConfig;
use binlog_drainer::server;
use binlog_node::logging;

fn main() {
    let config = DrainerConfig::load(std::env::args().collect(), |key| std::env::var(key).ok())
        .unwrap_or_else(|outcome| outcome.exit());
    if let Err(error) = run(config) {
        tracing::error!("drainer failed: {error:#}");
        eprintln!("drainer failed: {error:#}");
        std::process::exit(1);
    }
}

fn run(config: DrainerConfig) -> anyhow::Result<()> {
    logging::start(
        "drainer",
        &config.log_level,
        config.log_file.as_deref(),
        &config.env_used,
        &config.deprecated_flags,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(server::run(&config))?;
    Ok(())
}
