//! `binlogctl`: lists pumps and drainers, changes their state, and seeds a drainer's
//! checkpoint, with the original TiDB-Binlog tool's flags and commands (see `--help` and
//! [`binlog_tools::ctl`]).
//!
//! Exit status: 0 on success, 1 when the command fails (`binlogctl: <why>` on stderr), 2 for a
//! bad command line.

use binlog_tools::ctl::{self, CtlConfig};

fn main() {
    let config = CtlConfig::load(std::env::args().collect(), |key| std::env::var(key).ok())
        .unwrap_or_else(|error| error.exit());
    if let Err(error) = ctl::run(&config, &mut std::io::stdout().lock()) {
        eprintln!("binlogctl: {error}");
        std::process::exit(1);
    }
}
