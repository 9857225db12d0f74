//! `schema-history`: how long a drainer takes to load its persisted schema history, and how much
//! memory the history holds, with `--jobs` DDL jobs (default 100 000: a fifth `CREATE TABLE` of
//! 10 columns, the rest `ADD COLUMN` on those tables, every shape kept). The original drainer
//! replays the whole history from TiKV into memory on every start and runs out of memory on
//! large clusters (tidb-binlog #1112); ours reads `<data-dir>/schema/jobs.log`.
//!
//! The jobs are written once through `SchemaStore::append`; then a child process (this binary
//! again, `--load`) opens the store `--runs` times, each in a fresh process, and reports the
//! time `SchemaStore::open` took and its peak RSS (`VmHWM`). Run:
//!
//! ```text
//! cargo run --release -p binlog-benches --bin schema-history -- --json schema-history.json
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{ensure, Context, Result};
use binlog_benches::{median_by, print_and_save_json, Machine};
use binlog_drainer::schema_store::SchemaStore;
use binlog_testkit::tidb_jobs::{
    add_column, column_info, create_schema, create_table, mysql_type, table_info, PK_FLAGS,
};
use binlog_tidb::job::Job;
use clap::Parser;
use serde::{Deserialize, Serialize};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Start time and memory of the drainer's persisted schema history")]
struct Args {
    /// Directory under which a temporary directory is made (and removed afterwards).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// DDL jobs in the history.
    #[arg(long, default_value_t = 100_000)]
    jobs: i64,
    /// Loads, each in a fresh process (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Internal: load the store in this directory and print one `Load` as JSON.
    #[arg(long, hide = true)]
    load: Option<PathBuf>,
}

/// One load of the history.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Load {
    seconds: f64,
    peak_rss_mib: f64,
    schema_version: i64,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: Machine,
    jobs: i64,
    file_mib: f64,
    write_seconds: f64,
    loads: Vec<Load>,
}

/// Columns of each created table.
const COLUMNS: i64 = 10;
/// Jobs written per append.
const APPEND_BATCH: usize = 1000;

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.load {
        let load = load(dir)?;
        println!("{}", serde_json::to_string(&load)?);
        return Ok(());
    }
    std::fs::create_dir_all(&args.dir).context("create the bench dir")?;
    let dir = tempfile::tempdir_in(&args.dir).context("make the run dir")?;
    let store_dir = dir.path().join("schema");
    let machine = Machine::describe(dir.path());

    let started = Instant::now();
    write_history(&store_dir, args.jobs)?;
    let write_seconds = started.elapsed().as_secs_f64();
    let file_mib = std::fs::metadata(store_dir.join("jobs.log"))?.len() as f64 / (1 << 20) as f64;

    let mut loads = Vec::new();
    for _ in 0..args.runs {
        let output = Command::new(std::env::current_exe()?)
            .arg("--load")
            .arg(&store_dir)
            .output()
            .context("run the loading child")?;
        ensure!(
            output.status.success(),
            "the loading child failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        loads.push(serde_json::from_slice::<Load>(&output.stdout)?);
    }
    let median = median_by(&loads, |load| load.seconds).context("a load")?;
    machine.print(dir.path());
    println!(
        "schema-history: {} jobs ({} CREATE TABLE of {COLUMNS} columns, the rest ADD COLUMN), \
         {file_mib:.0} MiB on disk, written in {write_seconds:.1} s",
        args.jobs,
        args.jobs / 5
    );
    println!(
        "SchemaStore::open: median {:.2} s of {} runs [{}], peak RSS {:.0} MiB",
        median.seconds,
        loads.len(),
        loads
            .iter()
            .map(|load| format!("{:.2}", load.seconds))
            .collect::<Vec<_>>()
            .join(", "),
        median.peak_rss_mib
    );
    let report = Report {
        machine,
        jobs: args.jobs,
        file_mib,
        write_seconds,
        loads,
    };
    print_and_save_json(&report, args.json.as_deref())
}

/// Loads the store in `dir` and measures it.
fn load(dir: &Path) -> Result<Load> {
    let started = Instant::now();
    let (_store, history) = SchemaStore::open(dir).context("open the schema store")?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(Load {
        seconds,
        peak_rss_mib: peak_rss_kib()? as f64 / 1024.0,
        schema_version: history.schema_version(),
    })
}

/// This process's `VmHWM`, in KiB.
fn peak_rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmHWM in /proc/self/status")
}

/// Writes `jobs` jobs: database 1, then tables of `COLUMNS` columns, each later widened.
fn write_history(dir: &Path, jobs: i64) -> Result<()> {
    let (mut store, _) = SchemaStore::open(dir).context("create the schema store")?;
    let tables = (jobs / 5).max(1);
    let mut widths = vec![COLUMNS; tables as usize];
    let mut batch = Vec::with_capacity(APPEND_BATCH);
    for id in 1..=jobs {
        let json = if id == 1 {
            create_schema(id, id, 2, "bench")
        } else if id <= tables + 1 {
            let table = id - 1;
            create_table(id, id, 2, "bench", table_json(table, COLUMNS))
        } else {
            let table = (id % tables) + 1;
            let width = &mut widths[(table - 1) as usize];
            *width += 1;
            add_column(id, id, 2, "bench", table_json(table, *width))
        };
        batch.push(serde_json::from_value::<Job>(json)?);
        if batch.len() == APPEND_BATCH || id == jobs {
            store.append(&batch)?;
            batch.clear();
        }
    }
    Ok(())
}

/// Table `table` (ID 1000 + `table`) with `columns` columns.
fn table_json(table: i64, columns: i64) -> serde_json::Value {
    let mut cols = vec![column_info(1, "id", 0, mysql_type::LONGLONG, PK_FLAGS)];
    cols.extend((2..=columns).map(|c| {
        column_info(
            c,
            &format!("c{c}"),
            (c - 1) as usize,
            mysql_type::VARCHAR,
            0,
        )
    }));
    table_info(1000 + table, &format!("t{table}"), cols)
}
