//! `engine-append`: durable append throughput and ack latency of `binlog-engine`, measured
//! against the device limit on the same filesystem in the same run.
//!
//! For every combination of I/O backend (`io-uring`, `pwrite`), record payload size and number
//! of concurrent appenders, each run opens a fresh engine with `sync-log = true` (and
//! `stop-write-at-available-space = 0`, so that it runs on small disks), waits until the engine's
//! background spare segment is prepared (its zero-fill would otherwise compete with the
//! appends), and lets the appenders run for `--seconds`. Each appender is a tokio task on a
//! multi-thread runtime with two worker threads that does what a pump does for one
//! transaction: append a prewrite, await it, append its commit, await it, with TSs taken from
//! one shared, strictly increasing counter. Measured per configuration:
//!
//! - throughput in records/s and MB/s (10^6 bytes of record spans, i.e. what reaches the disk:
//!   header, payload and padding; payload MB/s is in the JSON),
//! - ack latency percentiles p50/p99/p99.9 of every append, from the call to `append` to the
//!   resolution of its future (when the record is durable),
//! - the average group size (records per group commit) from the engine's metrics,
//! - the device limit: right after the engine run (engine closed, its files still in place), a
//!   plain loop that overwrites a pre-written, zero-filled and synced file sequentially in
//!   batches of the engine's average group size in bytes (average records per group x record
//!   span) with `pwrite` followed by `fdatasync` each, for as long as the engine ran. The
//!   engine's MB/s is reported as a ratio of the device limit's.
//!
//! Each configuration is run `--runs` times; the table shows the median run by records/s (all
//! of its columns come from that one run, so the ratio compares measurements taken back to
//! back), and the JSON holds every run. Before the matrix, the median and p99 latency of a single
//! 4 KiB `pwrite` + `fdatasync` are measured on the same file.
//!
//! Output on stdout: a header (date, kernel, filesystem of the data dir, 4 KiB sync latency),
//! the table, then the results as JSON (also written to `--json <path>` when given). Progress
//! goes to stderr.
//!
//! Run the full matrix (2 backends x 3 sizes x 3 writer counts x 3 runs of 3 s, about ten
//! minutes) from the workspace root:
//!
//! ```text
//! cargo run --release -p binlog-benches --bin engine-append -- --json engine-append.json
//! ```
//!
//! or a smoke test (one run of 1 s per configuration):
//!
//! ```text
//! cargo run --release -p binlog-benches --bin engine-append -- --quick --sizes 1024 --writers 16
//! ```
//!
//! Data goes to a fresh temporary directory under `--dir` (default `./bench-data`), removed
//! afterwards. Each run needs about 1 GiB there (the active segment and one spare, 512 MiB
//! each) plus 512 MiB per segment it fills (several GiB at 16 KiB x 256 writers on a fast disk),
//! besides the 512 MiB device-limit file.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use binlog_benches::{
    append_transactions, device_run, engine_config, in_temp_dir, median_by, prepare_device_file,
    print_and_save_json, pseudo_random_bytes, remove_run_dir, wait_for_spare, Appended, Backend,
    DeviceRun, Machine, MatrixArgs, Percentiles, MB, PROBE_WRITE_BYTES, WORKER_THREADS,
};
use binlog_engine::record::record_span;
use binlog_engine::{Engine, ReadableSize};
use clap::Parser;
use serde::Serialize;
use tokio::runtime::Runtime;

/// Segment size of every engine run; also the size of the device-limit file.
const SEGMENT_SIZE: ReadableSize = ReadableSize::mib(512);
/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    about = "Durable append throughput and latency of binlog-engine against the device limit"
)]
struct Args {
    #[command(flatten)]
    matrix: MatrixArgs,
    /// I/O backends.
    #[arg(long, value_delimiter = ',', default_value = "io-uring,pwrite")]
    backends: Vec<Backend>,
    /// Skip the extra run at half the measured rate (latency at load) of every configuration
    /// with 16 or more appenders.
    #[arg(long)]
    no_half_rate: bool,
}

/// One engine run of one configuration, with the device-limit run that followed it.
#[derive(Clone, Debug, Serialize)]
struct EngineRun {
    /// The backend the engine reports it used.
    backend: &'static str,
    /// Appends acknowledged.
    records: u64,
    /// Wall time from the first append to the last acknowledgement, in seconds.
    elapsed_s: f64,
    /// Acknowledged appends per second.
    records_per_s: f64,
    /// Record spans (header, payload, padding) per second, in MB/s.
    mb_per_s: f64,
    /// Payload bytes per second, in MB/s.
    payload_mb_per_s: f64,
    /// Ack latency of one append, from the call to the resolution of its future.
    latency: Percentiles,
    /// Mean records per group commit (engine metrics).
    avg_group_records: f64,
    /// Mean bytes per group commit (engine metrics).
    avg_group_bytes: f64,
    /// Segments the run used (more than one means it rolled, and a spare was prepared while it
    /// ran).
    segments: usize,
    /// The device limit at this run's average group size.
    device: DeviceRun,
    /// `mb_per_s` as a fraction of `device.mb_per_s`.
    ratio_to_device: f64,
}

/// The results of one backend x payload size x writers configuration.
#[derive(Debug, Serialize)]
struct ConfigResult {
    /// Backend name.
    backend: &'static str,
    /// Payload bytes per record.
    payload_bytes: usize,
    /// Bytes a record occupies in a segment.
    record_span: usize,
    /// Concurrent appenders.
    writers: usize,
    /// The median run by records/s.
    median: EngineRun,
    /// Every run, in the order they ran.
    runs: Vec<EngineRun>,
    /// One run paced at half the median run's rate, when measured.
    half_rate: Option<HalfRateRun>,
}

/// A run paced at half the maximum rate: the ack latency at load.
#[derive(Clone, Debug, Serialize)]
struct HalfRateRun {
    /// The pace asked for, records/s.
    target_records_per_s: f64,
    /// What was reached, records/s.
    records_per_s: f64,
    /// Ack latency.
    latency: Percentiles,
    /// p99 over the median single 4 KiB `pwrite` + `fdatasync` of the header.
    p99_over_sync_p50: f64,
}

/// Everything the benchmark prints as JSON.
#[derive(Debug, Serialize)]
struct Report {
    /// Date, kernel and filesystem.
    #[serde(flatten)]
    machine: Machine,
    /// The temporary data directory.
    dir: String,
    /// Seconds per run.
    seconds: f64,
    /// Runs per configuration.
    runs: usize,
    /// Tokio worker threads.
    worker_threads: usize,
    /// Single 4 KiB write + `fdatasync` on the device-limit file.
    sync_4k: DeviceRun,
    /// One entry per configuration.
    results: Vec<ConfigResult>,
}

/// What one configuration runs.
#[derive(Clone, Copy, Debug)]
struct Setup {
    /// I/O backend.
    backend: Backend,
    /// Payload bytes per record.
    payload_bytes: usize,
    /// Concurrent appenders.
    writers: usize,
    /// Time the appenders keep starting transactions (and the device loop keeps writing).
    duration: Duration,
}

/// Parses the flags, creates the temporary data directory, runs everything, removes it.
fn main() -> Result<()> {
    let mut args = Args::parse();
    let duration = args.matrix.settle()?;
    ensure!(!args.backends.is_empty(), "--backends must not be empty");

    in_temp_dir(&args.matrix.dir, "engine-append-", |root| {
        run_all(&args, duration, root)
    })
}

/// Measures every configuration under `root` and prints the header, table and JSON.
fn run_all(args: &Args, duration: Duration, root: &Path) -> Result<()> {
    let machine = Machine::describe(root);
    println!(
        "engine-append: durable appends (sync-log = true), {WORKER_THREADS} tokio worker threads"
    );
    machine.print(root);
    println!(
        "runs:       {} x {} s per configuration (median run shown)",
        args.matrix.runs, args.matrix.seconds
    );

    let device_path = root.join("device-limit");
    eprintln!("preparing the {SEGMENT_SIZE} device-limit file");
    let device_file = prepare_device_file(&device_path, SEGMENT_SIZE.0)?;
    let sync_4k = device_run(&device_file, PROBE_WRITE_BYTES, duration, 0)?;
    println!(
        "4 KiB pwrite + fdatasync: p50 {:.1} us, p99 {:.1} us ({} writes)",
        sync_4k.latency.p50_us, sync_4k.latency.p99_us, sync_4k.writes
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_time()
        .build()
        .context("build the tokio runtime")?;
    let mut results = Vec::new();
    for &backend in &args.backends {
        for &payload_bytes in &args.matrix.sizes {
            for &writers in &args.matrix.writers {
                let setup = Setup {
                    backend,
                    payload_bytes,
                    writers,
                    duration,
                };
                let mut result = run_config(&runtime, root, &device_file, setup, args.matrix.runs)?;
                if writers >= 16 && !args.no_half_rate {
                    let half = half_rate(&runtime, root, setup, &result, sync_4k.latency.p50_us)?;
                    result.half_rate = Some(half);
                }
                results.push(result);
            }
        }
    }

    println!();
    print_table(&results);
    print_half_rate_table(&results, sync_4k.latency.p50_us);
    let report = Report {
        machine,
        dir: root.display().to_string(),
        seconds: args.matrix.seconds,
        runs: args.matrix.runs,
        worker_threads: WORKER_THREADS,
        sync_4k,
        results,
    };
    print_and_save_json(&report, args.matrix.json.as_deref())
}

/// Runs `setup` `runs` times, each in a fresh data dir under `root`, and picks the median run
/// by records/s.
fn run_config(
    runtime: &Runtime,
    root: &Path,
    device_file: &File,
    setup: Setup,
    runs: usize,
) -> Result<ConfigResult> {
    let Setup {
        backend,
        payload_bytes,
        writers,
        ..
    } = setup;
    let mut results = Vec::with_capacity(runs);
    for run in 0..runs {
        let dir = root.join(format!("{backend:?}-{payload_bytes}-{writers}-{run}"));
        let seed = (run as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ payload_bytes as u64;
        let result = measure(runtime, &dir, device_file, setup, seed);
        let removed = remove_run_dir(root, &dir);
        let result = result?;
        removed?;
        eprintln!(
            "{} {payload_bytes} B x {writers}, run {}/{runs}: {:.0} records/s, {:.1} MB/s, \
             p99 {:.0} us, group {:.1}, device {:.1} MB/s",
            result.backend,
            run + 1,
            result.records_per_s,
            result.mb_per_s,
            result.latency.p99_us,
            result.avg_group_records,
            result.device.mb_per_s
        );
        results.push(result);
    }
    let median = median_by(&results, |run| run.records_per_s)
        .context("no run")?
        .clone();
    Ok(ConfigResult {
        backend: median.backend,
        payload_bytes,
        record_span: record_span(payload_bytes),
        writers,
        median,
        runs: results,
        half_rate: None,
    })
}

/// One run of `setup` paced at half of `result`'s median rate, in a fresh data dir.
fn half_rate(
    runtime: &Runtime,
    root: &Path,
    setup: Setup,
    result: &ConfigResult,
    sync_p50_us: f64,
) -> Result<HalfRateRun> {
    let target = result.median.records_per_s / 2.0;
    let dir = root.join(format!(
        "{:?}-{}-{}-half",
        setup.backend, setup.payload_bytes, setup.writers
    ));
    let run = || -> Result<(f64, Percentiles)> {
        // Two records per transaction.
        let (engine, appended) = open_and_append(runtime, &dir, setup, 7, Some(target / 2.0))?;
        engine.close();
        let seconds = appended.elapsed.as_secs_f64().max(1e-9);
        Ok((
            appended.latency.len() as f64 / seconds,
            Percentiles::of(&appended.latency),
        ))
    };
    let outcome = run();
    let removed = remove_run_dir(root, &dir);
    let (records_per_s, latency) = outcome?;
    removed?;
    eprintln!(
        "{} {} B x {} at half rate ({target:.0} records/s): p50 {:.0} us, p99 {:.0} us",
        result.backend, setup.payload_bytes, setup.writers, latency.p50_us, latency.p99_us
    );
    Ok(HalfRateRun {
        target_records_per_s: target,
        records_per_s,
        p99_over_sync_p50: latency.p99_us / sync_p50_us.max(1e-9),
        latency,
    })
}

/// Prints the half-rate runs: latency at load against the single `fdatasync` of the header.
fn print_half_rate_table(results: &[ConfigResult], sync_p50_us: f64) {
    let rows: Vec<_> = results
        .iter()
        .filter_map(|r| r.half_rate.as_ref().map(|h| (r, h)))
        .collect();
    if rows.is_empty() {
        return;
    }
    println!();
    println!(
        "at half the median rate (latency at load; sync p50 = {sync_p50_us:.1} us, the header's 4 KiB pwrite + fdatasync)"
    );
    println!(
        "{:<8} {:>6} {:>7} {:>10} {:>10} {:>8} {:>8} {:>9} {:>12}",
        "backend",
        "size",
        "writers",
        "target/s",
        "records/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "p99/sync p50"
    );
    for (result, half) in rows {
        println!(
            "{:<8} {:>6} {:>7} {:>10.0} {:>10.0} {:>8.0} {:>8.0} {:>9.0} {:>12.1}",
            result.backend,
            result.payload_bytes,
            result.writers,
            half.target_records_per_s,
            half.records_per_s,
            half.latency.p50_us,
            half.latency.p99_us,
            half.latency.p999_us,
            half.p99_over_sync_p50
        );
    }
}

/// Opens an engine in the fresh data dir `dir`, waits for its spare segment, and runs
/// `setup`'s appenders on payloads drawn from `seed`, at `txn_rate` transactions/s if given.
fn open_and_append(
    runtime: &Runtime,
    dir: &Path,
    setup: Setup,
    seed: u64,
    txn_rate: Option<f64>,
) -> Result<(Arc<Engine>, Appended)> {
    let engine = Engine::open(engine_config(dir, setup.backend.io_backend(), SEGMENT_SIZE))
        .with_context(|| format!("open the engine in {}", dir.display()))?;
    let engine = Arc::new(engine);
    wait_for_spare(&dir.join("log"));
    let payload: Arc<[u8]> = pseudo_random_bytes(setup.payload_bytes, seed).into();
    let appended = append_transactions(
        runtime,
        &engine,
        payload,
        setup.writers,
        setup.duration,
        txn_rate,
    )?;
    Ok((engine, appended))
}

/// One run of `setup`: the engine in a fresh data dir `dir`, then the device limit at the
/// engine's average group size on `device_file`.
fn measure(
    runtime: &Runtime,
    dir: &Path,
    device_file: &File,
    setup: Setup,
    seed: u64,
) -> Result<EngineRun> {
    let (engine, appended) = open_and_append(runtime, dir, setup, seed, None)?;
    let metrics = engine.metrics();
    let segments = engine.segment_ids().len();
    let backend = engine.io_backend();
    engine.close();
    drop(engine);

    let span = record_span(setup.payload_bytes);
    let avg_group_records = metrics.group_records.mean();
    let batch_bytes = ((avg_group_records * span as f64).round() as usize)
        .max(span)
        .min(SEGMENT_SIZE.0 as usize);
    let device = device_run(device_file, batch_bytes, setup.duration, seed)?;

    let records = appended.latency.len();
    let seconds = appended.elapsed.as_secs_f64();
    let per_second = |count: f64| if seconds > 0.0 { count / seconds } else { 0.0 };
    let mb_per_s = per_second((records * span as u64) as f64) / MB;
    Ok(EngineRun {
        backend,
        records,
        elapsed_s: seconds,
        records_per_s: per_second(records as f64),
        mb_per_s,
        payload_mb_per_s: per_second((records * setup.payload_bytes as u64) as f64) / MB,
        latency: Percentiles::of(&appended.latency),
        avg_group_records,
        avg_group_bytes: metrics.group_bytes.mean(),
        segments,
        ratio_to_device: if device.mb_per_s > 0.0 {
            mb_per_s / device.mb_per_s
        } else {
            0.0
        },
        device,
    })
}

/// Prints one row per configuration (its median run).
fn print_table(results: &[ConfigResult]) {
    println!(
        "{:<8} {:>6} {:>7} {:>10} {:>8} {:>8} {:>8} {:>9} {:>7} {:>10} {:>8} {:>9} {:>6}",
        "backend",
        "size",
        "writers",
        "records/s",
        "MB/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "group",
        "dev batch",
        "dev MB/s",
        "dev wr/s",
        "ratio"
    );
    for result in results {
        let run = &result.median;
        println!(
            "{:<8} {:>6} {:>7} {:>10.0} {:>8.1} {:>8.0} {:>8.0} {:>9.0} {:>7.1} {:>10} {:>8.1} {:>9.0} {:>6.2}",
            result.backend,
            result.payload_bytes,
            result.writers,
            run.records_per_s,
            run.mb_per_s,
            run.latency.p50_us,
            run.latency.p99_us,
            run.latency.p999_us,
            run.avg_group_records,
            run.device.batch_bytes,
            run.device.mb_per_s,
            run.device.writes_per_s,
            run.ratio_to_device
        );
    }
    println!(
        "size: payload bytes; MB/s: 10^6 bytes of record spans (header + payload + padding) per second; \
         group: mean records per group commit; dev: pwrite + fdatasync loop in batches of the mean group \
         bytes; ratio: engine MB/s / dev MB/s"
    );
}
