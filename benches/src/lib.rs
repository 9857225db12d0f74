//! What the benchmark binaries share: the temporary data directory, latency histograms and
//! their percentiles, the `pwrite` + `fdatasync` device-limit loop, the engine's appenders, and
//! the facts about the machine each report starts with.
//!
//! [`nodes`] runs the real binaries for `pump-e2e` and `soak`; [`upstream`] writes the binlogs
//! the drainer benchmarks replay.
//!
//! Each binary (`engine-append`, `peers`) measures its own matrix and prints its own table; what
//! is here is what they must do identically so that their figures compare.

#![warn(missing_docs)]

pub mod nodes;
pub mod upstream;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use binlog_engine::{Config, Engine, IoBackend, Kind, ReadableSize, Record};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::runtime::Runtime;

/// An I/O backend of `binlog-engine` as the benchmarks' `--backend(s)` flags name it.
#[derive(Clone, Copy, Debug, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// The engine's default, which opens `pwrite` (`IoBackend::resolve`).
    Auto,
    /// io_uring: a write linked to an `fdatasync` in one submission.
    IoUring,
    /// `pwrite` + `fdatasync`.
    Pwrite,
}

impl Backend {
    /// The engine's setting for this backend.
    pub fn io_backend(self) -> IoBackend {
        match self {
            Backend::Auto => IoBackend::Auto,
            Backend::IoUring => IoBackend::IoUring,
            Backend::Pwrite => IoBackend::Pwrite,
        }
    }

    /// The setting's name in the engine's configuration (and on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::IoUring => "io-uring",
            Backend::Pwrite => "pwrite",
        }
    }
}

/// Worker threads of the runtime the engine's appenders run on.
pub const WORKER_THREADS: usize = 2;
/// Size of the single writes whose `fdatasync` latency the reports' headers give.
pub const PROBE_WRITE_BYTES: usize = 4096;
/// Bytes in the megabyte of MB/s.
pub const MB: f64 = 1e6;
/// Largest latency the histograms hold, in nanoseconds (one hour); larger values saturate.
const MAX_LATENCY_NS: u64 = 3_600_000_000_000;
/// How long to wait after open for the engine's background spare segment before measuring
/// anyway.
const SPARE_WAIT: Duration = Duration::from_secs(120);

/// Latency percentiles in microseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
}

impl Percentiles {
    /// The percentiles of `histogram`, which holds nanoseconds (all zero when it is empty).
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
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
pub struct DeviceRun {
    /// Bytes per write.
    pub batch_bytes: usize,
    /// Writes done (each one synced).
    pub writes: u64,
    /// Wall time of the loop in seconds.
    pub elapsed_s: f64,
    /// Writes (and syncs) per second.
    pub writes_per_s: f64,
    /// Bytes written per second, in MB/s.
    pub mb_per_s: f64,
    /// Latency of one write + `fdatasync`.
    pub latency: Percentiles,
}

/// Where and on what a report's figures were measured.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// UTC date and time of the start.
    pub date: String,
    /// `uname -r`.
    pub kernel: String,
    /// Filesystem of the data directory (`df -PT`: source, type, mount point).
    pub filesystem: String,
}

impl Machine {
    /// The date now, the kernel, and the filesystem holding `dir`.
    pub fn describe(dir: &Path) -> Machine {
        Machine {
            date: utc_now(),
            kernel: command_output("uname", &["-r"]).unwrap_or_else(|| "unknown".into()),
            filesystem: filesystem_of(dir),
        }
    }

    /// Prints the report header's lines about the machine and `data_dir`.
    pub fn print(&self, data_dir: &Path) {
        println!("date:       {}", self.date);
        println!("kernel:     {}", self.kernel);
        println!("filesystem: {}", self.filesystem);
        println!("data dir:   {}", data_dir.display());
    }
}

/// The flags of the append matrix that `engine-append` and `peers` share.
#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    /// Directory under which a fresh temporary data directory is created (and removed
    /// afterwards).
    #[arg(long, default_value = "bench-data")]
    pub dir: PathBuf,
    /// Record payload sizes in bytes.
    #[arg(long, value_delimiter = ',', default_value = "256,1024,16384")]
    pub sizes: Vec<usize>,
    /// Numbers of concurrent appenders.
    #[arg(long, value_delimiter = ',', default_value = "1,16,256")]
    pub writers: Vec<usize>,
    /// Duration of each append run (and of each device-limit run), in seconds.
    #[arg(long, default_value_t = 3.0)]
    pub seconds: f64,
    /// Append runs per configuration; the median run is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Also write the JSON results to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Smoke test: one append run of one second per configuration (overrides --seconds and
    /// --runs).
    #[arg(long)]
    pub quick: bool,
}

impl MatrixArgs {
    /// Applies `--quick`, checks the values, and returns the duration of one run.
    pub fn settle(&mut self) -> Result<Duration> {
        if self.quick {
            self.runs = 1;
            self.seconds = 1.0;
        }
        ensure!(self.runs > 0, "--runs must be at least 1");
        ensure!(
            self.seconds.is_finite() && self.seconds > 0.0,
            "--seconds must be a positive number"
        );
        ensure!(
            !self.writers.is_empty() && self.writers.iter().all(|&n| n > 0),
            "--writers must be positive numbers"
        );
        ensure!(!self.sizes.is_empty(), "--sizes must not be empty");
        Ok(Duration::from_secs_f64(self.seconds))
    }
}

/// Runs `body` in a fresh temporary directory whose name starts with `prefix`, under `base`
/// (created if missing), then removes the temporary directory, and `base` too if this call
/// created it.
pub fn in_temp_dir<T>(
    base: &Path,
    prefix: &str,
    body: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    let created_base = !base.exists();
    fs::create_dir_all(base).with_context(|| format!("create {}", base.display()))?;
    let root = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .with_context(|| format!("create a temporary directory under {}", base.display()))?;
    let root_path = root.path().to_path_buf();
    let result = body(&root_path);
    root.close()
        .with_context(|| format!("remove {}", root_path.display()))?;
    if created_base {
        // Fails, harmlessly, if something else was put there meanwhile.
        let _ = fs::remove_dir(base);
    }
    result
}

/// Removes one run's data directory `dir` under `root` and syncs `root`.
///
/// The sync commits the removal now rather than during the next run's measurement (with the
/// `discard` mount option, ext4 also trims the freed blocks at that commit).
pub fn remove_run_dir(root: &Path, dir: &Path) -> Result<()> {
    fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    File::open(root)
        .and_then(|root| root.sync_all())
        .with_context(|| format!("sync {}", root.display()))
}

/// The engine configuration the benchmarks open with: `sync-log = true`, the given I/O backend
/// and segment size, and `stop-write-at-available-space = 0` so that it runs on small disks;
/// everything else the engine's default.
pub fn engine_config(dir: &Path, io_backend: IoBackend, segment_size: ReadableSize) -> Config {
    Config {
        dir: dir.to_path_buf(),
        sync_log: true,
        io_backend,
        segment_size,
        stop_write_at_available_space: ReadableSize(0),
        ..Config::default()
    }
}

/// What a set of appenders did.
pub struct Appended {
    /// Ack latency of every append, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Wall time from the start of the first append to the last acknowledgement.
    pub elapsed: Duration,
}

/// Runs `writers` appenders on `runtime` against `engine` for `duration`, each doing what a pump
/// does for a transaction: append a prewrite of `payload`, await it, append its commit, await
/// it, with TSs taken from one shared, strictly increasing counter (starting at 1), so that
/// every record has a TS of its own. Returns once every appender has stopped.
///
/// With `txn_rate`, transactions start at that many per second in total (open loop: each takes
/// the next start slot, one every `1 / txn_rate` s, and waits for it), for latency at a given
/// load; the runtime then needs its timer enabled. Latency is still measured from each
/// append's call.
pub fn append_transactions(
    runtime: &Runtime,
    engine: &Arc<Engine>,
    payload: Arc<[u8]>,
    writers: usize,
    duration: Duration,
    txn_rate: Option<f64>,
) -> Result<Appended> {
    let next_ts = Arc::new(AtomicU64::new(1));
    runtime.block_on(async {
        let started = Instant::now();
        let deadline = started + duration;
        let pacer = txn_rate.map(|rate| {
            Arc::new(Pacer {
                start: tokio::time::Instant::from_std(started),
                interval_ns: (1e9 / rate.max(1e-3)) as u64,
                next_ns: AtomicU64::new(0),
            })
        });
        let tasks: Vec<_> = (0..writers)
            .map(|_| {
                tokio::spawn(appender(
                    engine.clone(),
                    payload.clone(),
                    next_ts.clone(),
                    deadline,
                    pacer.clone(),
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
        Ok(Appended { latency, elapsed })
    })
}

/// The shared start slots of a paced run.
struct Pacer {
    start: tokio::time::Instant,
    interval_ns: u64,
    next_ns: AtomicU64,
}

/// One appender: until `deadline`, appends a prewrite and then its commit, awaiting each, and
/// returns the ack latency of every append in nanoseconds.
async fn appender(
    engine: Arc<Engine>,
    payload: Arc<[u8]>,
    next_ts: Arc<AtomicU64>,
    deadline: Instant,
    pacer: Option<Arc<Pacer>>,
) -> Result<Histogram<u64>> {
    let mut latency = latency_histogram()?;
    while Instant::now() < deadline {
        if let Some(pacer) = &pacer {
            let slot = pacer
                .next_ns
                .fetch_add(pacer.interval_ns, Ordering::Relaxed);
            let at = pacer.start + Duration::from_nanos(slot);
            if at.into_std() >= deadline {
                break;
            }
            tokio::time::sleep_until(at).await;
        }
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
pub fn device_run(
    file: &File,
    batch_bytes: usize,
    duration: Duration,
    seed: u64,
) -> Result<DeviceRun> {
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
pub fn prepare_device_file(path: &Path, size: u64) -> Result<File> {
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
pub fn wait_for_spare(log_dir: &Path) {
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
pub fn latency_histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)?)
}

/// `duration` in nanoseconds, saturating.
pub fn duration_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `len` bytes from an xorshift generator seeded with `seed`: incompressible, and the same for
/// the same seed.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
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

/// Prints `report` as pretty JSON after a blank line (the end of every benchmark's output) and,
/// with `path`, also writes it there.
pub fn print_and_save_json(report: &impl Serialize, path: Option<&Path>) -> Result<()> {
    let json = serde_json::to_string_pretty(report).context("serialize the results")?;
    println!();
    println!("{json}");
    if let Some(path) = path {
        fs::write(path, format!("{json}\n"))
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

/// Writes `report` as pretty JSON to `path`.
pub fn save_json(report: &impl Serialize, path: &Path) -> Result<()> {
    let json = serde_json::to_string_pretty(report).context("serialize the results")?;
    fs::write(path, format!("{json}\n")).with_context(|| format!("write {}", path.display()))
}

/// The element of `runs` in the middle when sorted by `key` (the upper middle of an even
/// count), `None` when `runs` is empty.
pub fn median_by<T>(runs: &[T], key: impl Fn(&T) -> f64) -> Option<&T> {
    let mut sorted: Vec<&T> = runs.iter().collect();
    sorted.sort_by(|a, b| key(a).total_cmp(&key(b)));
    sorted.get(sorted.len() / 2).copied()
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
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
