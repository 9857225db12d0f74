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

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Context, Result};
use binlog_engine::record::record_span;
use binlog_engine::{Config, Engine, IoBackend, Kind, ReadableSize, Record};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::runtime::Runtime;

/// Segment size of every engine run; also the size of the device-limit file.
const SEGMENT_SIZE: ReadableSize = ReadableSize::mib(512);
/// Size of the single writes whose `fdatasync` latency the header reports.
const PROBE_WRITE_BYTES: usize = 4096;
/// Worker threads of the runtime the appenders run on.
const WORKER_THREADS: usize = 2;
/// How long to wait after open for the engine's background spare segment before measuring
/// anyway.
const SPARE_WAIT: Duration = Duration::from_secs(120);
/// Bytes in the megabyte of MB/s.
const MB: f64 = 1e6;
/// Largest latency the histograms hold, in nanoseconds (one hour); larger values saturate.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    about = "Durable append throughput and latency of binlog-engine against the device limit"
)]
struct Args {
    /// Directory under which a fresh temporary data directory is created (and removed
    /// afterwards).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Record payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "256,1024,16384")]
    sizes: Vec<usize>,
    /// Numbers of concurrent appenders (tokio tasks).
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    writers: Vec<usize>,
    /// I/O backends.
    #[arg(long, value_delimiter = ',', default_value = "io-uring,pwrite")]
    backends: Vec<Backend>,
    /// Duration of each engine run (and of each device-limit run), in seconds.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Runs per configuration; the median run is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Smoke test: one run of one second per configuration (overrides --seconds and --runs).
    #[arg(long)]
    quick: bool,
}

/// An I/O backend as named on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Backend {
    /// `io_uring`: a write linked to an `fdatasync` in one submission.
    IoUring,
    /// `pwrite` + `fdatasync`.
    Pwrite,
}

impl Backend {
    /// The engine's setting for this backend.
    fn io_backend(self) -> IoBackend {
        match self {
            Backend::IoUring => IoBackend::IoUring,
            Backend::Pwrite => IoBackend::Pwrite,
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Serialize)]
struct Percentiles {
    /// Median.
    p50_us: f64,
    /// 99th percentile.
    p99_us: f64,
    /// 99.9th percentile.
    p999_us: f64,
}

impl Percentiles {
    /// The percentiles of `histogram`, which holds nanoseconds (all zero when it is empty).
    fn of(histogram: &Histogram<u64>) -> Percentiles {
        let us = |quantile: f64| histogram.value_at_quantile(quantile) as f64 / 1e3;
        Percentiles {
            p50_us: us(0.5),
            p99_us: us(0.99),
            p999_us: us(0.999),
        }
    }
}

/// One device-limit run: sequential overwrites of `batch_bytes` each followed by `fdatasync`.
#[derive(Clone, Debug, Serialize)]
struct DeviceRun {
    /// Bytes per write.
    batch_bytes: usize,
    /// Writes done (each one synced).
    writes: u64,
    /// Wall time of the loop in seconds.
    elapsed_s: f64,
    /// Writes (and syncs) per second.
    writes_per_s: f64,
    /// Bytes written per second, in MB/s.
    mb_per_s: f64,
    /// Latency of one write + `fdatasync`.
    latency: Percentiles,
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
}

/// Everything the benchmark prints as JSON.
#[derive(Debug, Serialize)]
struct Report {
    /// UTC date and time of the start.
    date: String,
    /// `uname -r`.
    kernel: String,
    /// Filesystem of the data directory (`df -PT`: source, type, mount point).
    filesystem: String,
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
    if args.quick {
        args.runs = 1;
        args.seconds = 1.0;
    }
    ensure!(args.runs > 0, "--runs must be at least 1");
    ensure!(
        args.seconds.is_finite() && args.seconds > 0.0,
        "--seconds must be a positive number"
    );
    ensure!(
        !args.writers.is_empty() && args.writers.iter().all(|&n| n > 0),
        "--writers must be positive numbers"
    );
    ensure!(!args.sizes.is_empty(), "--sizes must not be empty");
    ensure!(!args.backends.is_empty(), "--backends must not be empty");
    let duration = Duration::from_secs_f64(args.seconds);

    let created_base = !args.dir.exists();
    fs::create_dir_all(&args.dir).with_context(|| format!("create {}", args.dir.display()))?;
    let root = tempfile::Builder::new()
        .prefix("engine-append-")
        .tempdir_in(&args.dir)
        .with_context(|| format!("create a temporary directory under {}", args.dir.display()))?;
    let root_path = root.path().to_path_buf();
    let result = run_all(&args, duration, &root_path);
    root.close()
        .with_context(|| format!("remove {}", root_path.display()))?;
    if created_base {
        // Fails, harmlessly, if something else was put there meanwhile.
        let _ = fs::remove_dir(&args.dir);
    }
    result
}

/// Measures every configuration under `root` and prints the header, table and JSON.
fn run_all(args: &Args, duration: Duration, root: &Path) -> Result<()> {
    let date = utc_now();
    let kernel = command_output("uname", &["-r"]).unwrap_or_else(|| "unknown".into());
    let filesystem = filesystem_of(root);
    println!(
        "engine-append: durable appends (sync-log = true), {WORKER_THREADS} tokio worker threads"
    );
    println!("date:       {date}");
    println!("kernel:     {kernel}");
    println!("filesystem: {filesystem}");
    println!("data dir:   {}", root.display());
    println!(
        "runs:       {} x {} s per configuration (median run shown)",
        args.runs, args.seconds
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
        .build()
        .context("build the tokio runtime")?;
    let mut results = Vec::new();
    for &backend in &args.backends {
        for &payload_bytes in &args.sizes {
            for &writers in &args.writers {
                let setup = Setup {
                    backend,
                    payload_bytes,
                    writers,
                    duration,
                };
                results.push(run_config(&runtime, root, &device_file, setup, args.runs)?);
            }
        }
    }

    println!();
    print_table(&results);
    let report = Report {
        date,
        kernel,
        filesystem,
        dir: root.display().to_string(),
        seconds: args.seconds,
        runs: args.runs,
        worker_threads: WORKER_THREADS,
        sync_4k,
        results,
    };
    let json = serde_json::to_string_pretty(&report).context("serialize the results")?;
    println!();
    println!("{json}");
    if let Some(path) = &args.json {
        fs::write(path, format!("{json}\n"))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
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
        let removed = fs::remove_dir_all(&dir);
        let result = result?;
        removed.with_context(|| format!("remove {}", dir.display()))?;
        // Commits the removal now rather than during the next run's measurement (with the
        // `discard` mount option, ext4 also trims the freed blocks at that commit).
        File::open(root)
            .and_then(|root| root.sync_all())
            .with_context(|| format!("sync {}", root.display()))?;
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
    let mut by_throughput: Vec<&EngineRun> = results.iter().collect();
    by_throughput.sort_by(|a, b| a.records_per_s.total_cmp(&b.records_per_s));
    let median = by_throughput[by_throughput.len() / 2].clone();
    Ok(ConfigResult {
        backend: median.backend,
        payload_bytes,
        record_span: record_span(payload_bytes),
        writers,
        median,
        runs: results,
    })
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
    let engine = Engine::open(Config {
        dir: dir.to_path_buf(),
        sync_log: true,
        io_backend: setup.backend.io_backend(),
        segment_size: SEGMENT_SIZE,
        stop_write_at_available_space: ReadableSize(0),
        ..Config::default()
    })
    .with_context(|| format!("open the engine in {}", dir.display()))?;
    let engine = Arc::new(engine);
    wait_for_spare(&dir.join("log"));

    let payload: Arc<[u8]> = pseudo_random_bytes(setup.payload_bytes, seed).into();
    let next_ts = Arc::new(AtomicU64::new(1));
    let (latency, elapsed) = runtime.block_on(async {
        let started = Instant::now();
        let deadline = started + setup.duration;
        let tasks: Vec<_> = (0..setup.writers)
            .map(|_| {
                tokio::spawn(append_transactions(
                    engine.clone(),
                    payload.clone(),
                    next_ts.clone(),
                    deadline,
                ))
            })
            .collect();
        // Every task ends by the deadline or at its first error: wait for all of them before
        // looking at any, so that none still holds the engine when this returns.
        let mut outcomes = Vec::with_capacity(tasks.len());
        for task in tasks {
            outcomes.push(task.await);
        }
        let elapsed = started.elapsed();
        let mut latency = latency_histogram()?;
        for outcome in outcomes {
            latency.add(outcome.context("appender task panicked")??)?;
        }
        anyhow::Ok((latency, elapsed))
    })?;
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

    let records = latency.len();
    let seconds = elapsed.as_secs_f64();
    let per_second = |count: f64| if seconds > 0.0 { count / seconds } else { 0.0 };
    let mb_per_s = per_second((records * span as u64) as f64) / MB;
    Ok(EngineRun {
        backend,
        records,
        elapsed_s: seconds,
        records_per_s: per_second(records as f64),
        mb_per_s,
        payload_mb_per_s: per_second((records * setup.payload_bytes as u64) as f64) / MB,
        latency: Percentiles::of(&latency),
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

/// One appender: until `deadline`, appends a prewrite and then its commit, awaiting each, and
/// returns the ack latency of every append in nanoseconds.
async fn append_transactions(
    engine: Arc<Engine>,
    payload: Arc<[u8]>,
    next_ts: Arc<AtomicU64>,
    deadline: Instant,
) -> Result<Histogram<u64>> {
    let mut latency = latency_histogram()?;
    while Instant::now() < deadline {
        let start_ts = next_ts.fetch_add(2, Ordering::Relaxed);
        for (kind, commit_ts) in [(Kind::Prewrite, 0), (Kind::Commit, start_ts + 1)] {
            let called = Instant::now();
            engine
                .append(Record {
                    kind,
                    start_ts,
                    commit_ts,
                    payload: &payload,
                })
                .await
                .with_context(|| format!("append {} {start_ts}", kind.name()))?;
            latency.saturating_record(duration_ns(called.elapsed()));
        }
    }
    Ok(latency)
}

/// Overwrites `file` sequentially from its start in writes of `batch_bytes`, each followed by
/// `fdatasync`, for `duration`; wraps around at the end of the file.
fn device_run(file: &File, batch_bytes: usize, duration: Duration, seed: u64) -> Result<DeviceRun> {
    let capacity = file.metadata().context("stat the device-limit file")?.len();
    let buffer = pseudo_random_bytes(batch_bytes, seed);
    let mut latency = latency_histogram()?;
    let mut offset = 0u64;
    let started = Instant::now();
    while started.elapsed() < duration {
        if offset + batch_bytes as u64 > capacity {
            offset = 0;
        }
        let called = Instant::now();
        file.write_all_at(&buffer, offset)
            .and_then(|()| file.sync_data())
            .context("write and sync the device-limit file")?;
        latency.saturating_record(duration_ns(called.elapsed()));
        offset += batch_bytes as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let writes = latency.len();
    let writes_per_s = if seconds > 0.0 {
        writes as f64 / seconds
    } else {
        0.0
    };
    Ok(DeviceRun {
        batch_bytes,
        writes,
        elapsed_s: seconds,
        writes_per_s,
        mb_per_s: writes_per_s * batch_bytes as f64 / MB,
        latency: Percentiles::of(&latency),
    })
}

/// Creates the device-limit file: `size` bytes of zeros, synced, as the engine prepares
/// segments, so the device loop overwrites allocated, written blocks like the engine does.
///
/// Like the engine (which renames a prepared spare and opens it again), the loop writes through
/// a descriptor opened after the preparation: on ext4, `fdatasync` through the descriptor that
/// created and filled the file was measured to cost a journal commit each time (about 4 ms
/// instead of 0.1 ms), which is not what the engine pays.
fn prepare_device_file(path: &Path, size: u64) -> Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    let zeros = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..n])
            .with_context(|| format!("zero-fill {}", path.display()))?;
        left -= n as u64;
    }
    file.sync_all()
        .with_context(|| format!("sync {}", path.display()))?;
    drop(file);
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("open {}", path.display()))
}

/// Waits (up to [`SPARE_WAIT`]) until the engine in `log_dir` has its spare segment file ready
/// (`log/spare-<n>`, renamed into place once zero-filled and synced), so that its preparation
/// does not run during the measurement.
fn wait_for_spare(log_dir: &Path) {
    let started = Instant::now();
    let ready = || {
        fs::read_dir(log_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|entry| {
                let name = entry.file_name();
                name.to_str()
                    .and_then(|name| name.strip_prefix("spare-"))
                    .is_some_and(|n| n.parse::<u64>().is_ok())
            })
    };
    while !ready() {
        if started.elapsed() > SPARE_WAIT {
            eprintln!(
                "warning: no spare segment in {} after {SPARE_WAIT:?}; measuring anyway",
                log_dir.display()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A histogram for latencies in nanoseconds.
fn latency_histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)?)
}

/// `duration` in nanoseconds, saturating.
fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `len` bytes from an xorshift generator seeded with `seed`: incompressible, and the same for
/// the same seed.
fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
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

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ` (1970-01-01 if the clock is before the epoch).
fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let time = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        time / 3_600,
        time % 3_600 / 60,
        time % 60
    )
}

/// The filesystem holding `dir` as `df -PT` reports it: source, type and mount point.
fn filesystem_of(dir: &Path) -> String {
    let dir = dir.to_string_lossy();
    command_output("df", &["-PT", &dir])
        .and_then(|output| {
            let fields: Vec<&str> = output.lines().nth(1)?.split_whitespace().collect();
            Some(format!(
                "{} ({}, mounted on {})",
                fields.get(1)?,
                fields.first()?,
                fields.last()?
            ))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The trimmed stdout of `program args`, if it ran and succeeded.
fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}
