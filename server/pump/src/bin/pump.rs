//! `pump`: takes binlogs from TiDB over gRPC, stores them durably, serves them to drainers.
//! Flags, config keys and `PUMP_*` variables are the original's; see `pump --help`.

use anyhow::Context;
use binlog_node::logging;
use binlog_pump::config::PumpConfig;
use binlog_pump::server;

fn main() {
    let config = PumpConfig::load(std::env::args().collect(), |key| std::env::var(key).ok())
        .unwrap_or_else(|outcome| outcome.exit());
    if let Err(error) = run(config) {
        tracing::error!("pump failed: {error:#}");
        eprintln!("pump failed: {error:#}");
        std::process::exit(1);
    }
}

fn run(config: PumpConfig) -> anyhow::Result<()> {
    logging::start(
        "pump",
        &config.log_level,
        config.log_file.as_deref(),
        &config.env_used,
        &config.deprecated_flags,
    )?;
    for key in config.ignored_keys() {
        tracing::warn!(%key, "config key ignored: it tunes goleveldb, which this pump does not use");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(server::run(&config))?;
    Ok(())
}
