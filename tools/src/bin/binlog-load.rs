//! `binlog-load`: writes binlogs to pumps the way TiDB does and reports throughput and latency
//! (see [`binlog_tools::load`] and `binlog-load --help`).

use std::process::ExitCode;

use anyhow::Result;
use binlog_tools::load::{self, Options};
use clap::Parser;

fn main() -> ExitCode {
    let options = Options::parse();
    match run(&options) {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for problem in problems {
                eprintln!("binlog-load: {problem}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("binlog-load: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the load; the problems of a run that finished (see [`load::problems`]).
fn run(options: &Options) -> Result<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(load::run(options))?;
    Ok(load::problems(options, &report))
}
