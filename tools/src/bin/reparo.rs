//! `reparo`: replays a drainer `file` destination's binlogs into MySQL/TiDB or prints them,
//! with the original TiDB-Binlog tool's flags and config file (see `--help` and
//! [`binlog_tools::reparo`]).
//!
//! Exit status: 0 when every binlog in range was replayed, 1 when replaying failed
//! (`reparo: <why>` on stderr and in the log; each error's text names its cause), 2 for a bad
//! command line or config file.

use binlog_tools::reparo::config::ReparoConfig;

fn main() {
    let config = ReparoConfig::load(std::env::args().collect(), |key| std::env::var(key).ok())
        .unwrap_or_else(|error| error.exit());
    if let Err(error) = run(&config) {
        tracing::error!("reparo processing failed: {error}");
        eprintln!("reparo: {error}");
        std::process::exit(1);
    }
}

fn run(config: &ReparoConfig) -> anyhow::Result<()> {
    let log_file = Some(config.log_file.as_path()).filter(|path| !path.as_os_str().is_empty());
    binlog_node::logging::start("reparo", &config.log_level, log_file, &config.env_used, &[])?;
    // Not the whole config: [dest-db] holds a password.
    tracing::info!(
        data_dir = %config.data_dir.display(),
        dest_type = %config.dest_type,
        range = ?config.ts_range()?,
        txn_batch = config.txn_batch,
        worker_count = config.worker_count,
        safe_mode = config.safe_mode,
        "configuration"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| anyhow::anyhow!("cannot start the async runtime: {error}"))?;
    let summary = runtime.block_on(binlog_tools::reparo::replay(
        config,
        &mut std::io::BufWriter::new(std::io::stdout().lock()),
    ))?;
    tracing::info!(
        replayed = summary.replayed,
        filtered = summary.filtered,
        last_commit_ts = ?summary.last_commit_ts,
        "reparo done: every binlog in range was replayed"
    );
    Ok(())
}
