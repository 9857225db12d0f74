//! `drainer-mysql`: the drainer's `mysql` destination against the downstream's own limit,
//! measured in the same run on the same MariaDB:
//! - **MariaDB's own rate**: `W` clients insert the same rows straight into MariaDB, each row
//!   one `INSERT` statement, `txn-batch` rows per transaction (the statements the loader sends,
//!   without its progress row): rows/s.
//! - **The drainer**: the same rows written TiDB-style to a real pump beforehand (transactions
//!   of `--rows-per-txn` rows; table schema from the TiDB status stand-in, since TiDB cannot be
//!   built here), then a fresh release `drainer` with `worker-count = W`, `txn-batch` the same:
//!   rows/s and transactions/s from its first row in MariaDB to its last.
//!
//! The ratio drainer ÷ MariaDB is the figure of merit (target ≥ 0.8). `--runs` runs of each,
//! alternating; medians with the spread. Run:
//!
//! ```text
//! cargo run --release -p binlog-benches --bin drainer-mysql -- --json drainer-mysql.json
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use binlog_benches::upstream::{create_table_sql, key, text, Upstream, DB, TABLE};
use binlog_benches::{median_by, print_and_save_json, Machine};
use binlog_testkit::mariadb::{MariaDb, ROOT_PASSWORD};
use clap::Parser;
use mysql_async::prelude::Queryable;
use serde::Serialize;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "The drainer's mysql destination against MariaDB's own insert rate")]
struct Args {
    /// Directory under which a temporary directory is made (and removed afterwards).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Rows per run.
    #[arg(long, default_value_t = 60_000)]
    rows: u64,
    /// Rows per upstream transaction.
    #[arg(long, default_value_t = 5)]
    rows_per_txn: u64,
    /// Rows per downstream transaction (`[syncer] txn-batch`).
    #[arg(long, default_value_t = 20)]
    txn_batch: u64,
    /// Worker (and client) counts.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    workers: Vec<u64>,
    /// Runs per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One run's rate.
#[derive(Clone, Debug, Serialize)]
struct Rate {
    rows_per_s: f64,
    txns_per_s: f64,
}

/// The results at one worker count.
#[derive(Debug, Serialize)]
struct Point {
    workers: u64,
    mariadb: Vec<Rate>,
    drainer: Vec<Rate>,
    ratio_of_medians: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    machine: Machine,
    rows: u64,
    rows_per_txn: u64,
    txn_batch: u64,
    points: Vec<Point>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir).context("create the bench dir")?;
    let dir = tempfile::tempdir_in(&args.dir).context("make the run dir")?;
    let machine = Machine::describe(dir.path());
    let runtime = tokio::runtime::Runtime::new().context("start tokio")?;
    let mariadb = MariaDb::start();
    let pool = mysql_async::Pool::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(mariadb.port())
            .user(Some("root"))
            .pass(Some(ROOT_PASSWORD)),
    );
    let mut points = Vec::new();
    for &workers in &args.workers {
        let (mut own, mut drained) = (Vec::new(), Vec::new());
        for run in 0..args.runs {
            own.push(runtime.block_on(mariadb_rate(&pool, &args, workers))?);
            let run_dir = dir.path().join(format!("w{workers}-r{run}"));
            drained
                .push(runtime.block_on(drainer_rate(&mariadb, &pool, &args, workers, &run_dir))?);
        }
        let median =
            |rates: &[Rate]| median_by(rates, |r| r.rows_per_s).map_or(0.0, |r| r.rows_per_s);
        points.push(Point {
            workers,
            ratio_of_medians: median(&drained) / median(&own),
            mariadb: own,
            drainer: drained,
        });
    }
    runtime
        .block_on(pool.disconnect())
        .context("close the pool")?;

    machine.print(dir.path());
    println!(
        "drainer-mysql: {} rows of (BIGINT PK, INT, VARCHAR(64)), {} rows per upstream txn, txn-batch {}, median of {} runs [min-max]",
        args.rows, args.rows_per_txn, args.txn_batch, args.runs
    );
    println!(
        " workers   MariaDB rows/s             drainer rows/s             drainer txn/s   ratio"
    );
    for point in &points {
        let spread = |rates: &[Rate]| {
            let values: Vec<f64> = rates.iter().map(|r| r.rows_per_s).collect();
            let (min, max) = values
                .iter()
                .fold((f64::MAX, 0f64), |(a, b), &v| (a.min(v), b.max(v)));
            let median = median_by(rates, |r| r.rows_per_s).map_or(0.0, |r| r.rows_per_s);
            format!("{median:>8.0} [{min:.0}-{max:.0}]")
        };
        let txns = median_by(&point.drainer, |r| r.rows_per_s).map_or(0.0, |r| r.txns_per_s);
        println!(
            " {:>7}   {:<26} {:<26} {:>13.0}   {:.2}",
            point.workers,
            spread(&point.mariadb),
            spread(&point.drainer),
            txns,
            point.ratio_of_medians
        );
    }
    let report = Report {
        machine,
        rows: args.rows,
        rows_per_txn: args.rows_per_txn,
        txn_batch: args.txn_batch,
        points,
    };
    print_and_save_json(&report, args.json.as_deref())
}

/// Drops and creates the bench table (and the drainer's own tables).
async fn fresh_tables(pool: &mysql_async::Pool, create_table: bool) -> Result<()> {
    let mut conn = pool.get_conn().await?;
    conn.query_drop(format!("DROP DATABASE IF EXISTS {DB}"))
        .await?;
    conn.query_drop("DROP DATABASE IF EXISTS tidb_binlog")
        .await?;
    if create_table {
        conn.query_drop(format!("CREATE DATABASE {DB}")).await?;
        conn.query_drop(create_table_sql()).await?;
    }
    Ok(())
}

/// `workers` clients inserting the rows straight into MariaDB.
async fn mariadb_rate(pool: &mysql_async::Pool, args: &Args, workers: u64) -> Result<Rate> {
    fresh_tables(pool, true).await?;
    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..workers {
        let pool = pool.clone();
        let (rows, batch) = (args.rows, args.txn_batch);
        clients.push(tokio::spawn(async move {
            let mut conn = pool.get_conn().await?;
            let ids: Vec<u64> = (0..rows).filter(|id| id % workers == client).collect();
            for chunk in ids.chunks(batch as usize) {
                let mut txn = conn
                    .start_transaction(mysql_async::TxOpts::default())
                    .await?;
                for &id in chunk {
                    txn.exec_drop(
                        format!("INSERT INTO {DB}.{TABLE} (id, k, v) VALUES (?, ?, ?)"),
                        (id, key(id), text(id)),
                    )
                    .await?;
                }
                txn.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for client in clients {
        client.await??;
    }
    let took = started.elapsed().as_secs_f64();
    Ok(Rate {
        rows_per_s: args.rows as f64 / took,
        txns_per_s: (args.rows / args.rows_per_txn) as f64 / took,
    })
}

/// The same rows through a pump and a fresh drainer with `workers` workers.
async fn drainer_rate(
    mariadb: &MariaDb,
    pool: &mysql_async::Pool,
    args: &Args,
    workers: u64,
    dir: &Path,
) -> Result<Rate> {
    fresh_tables(pool, false).await?;
    let upstream = Upstream::load(dir, args.rows, args.rows_per_txn).await?;
    let drainer = upstream.start_drainer(&format!(
        "[syncer]\ndb-type = \"mysql\"\nworker-count = {workers}\ntxn-batch = {}\n\
         [syncer.to]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"root\"\npassword = \"{ROOT_PASSWORD}\"\n",
        args.txn_batch,
        mariadb.port()
    ))?;
    let mut conn = pool.get_conn().await?;
    let count_sql = format!("SELECT COUNT(*) FROM {DB}.{TABLE}");
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first_row = None;
    let finished = loop {
        let count: Option<u64> = conn.query_first(&count_sql).await.unwrap_or(None);
        let count = count.unwrap_or(0);
        if count > 0 && first_row.is_none() {
            first_row = Some((Instant::now(), count));
        }
        if count >= args.rows {
            break Instant::now();
        }
        ensure!(
            Instant::now() < deadline,
            "the drainer applied {count} of {} rows in 10 minutes:\n{}",
            args.rows,
            drainer.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (first, first_count) = first_row.context("a first row")?;
    let took = finished.duration_since(first).as_secs_f64().max(1e-3);
    let rows = (args.rows - first_count) as f64;
    drop(drainer);
    drop(upstream);
    Ok(Rate {
        rows_per_s: rows / took,
        txns_per_s: rows / args.rows_per_txn as f64 / took,
    })
}
