//! `binlog-inspect`: offline listing, dumping, verification and repair of a pump's segments.
//! See [`binlog_tools::inspect`] for the commands and exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = binlog_tools::inspect::Cli::parse();
    match binlog_tools::inspect::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("binlog-inspect: error: {error:#}");
            ExitCode::from(2)
        }
    }
}
