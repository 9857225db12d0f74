//! `peers`: `binlog-engine` against two embedded Rust stores, raft-engine and fjall, on the same
//! workload, on the same machine, in the same run, with ratios.
//!
//! **Append phase.** For every record payload size and number of concurrent writers, each
//! system runs `--runs` times for `--seconds` in a fresh directory; the runs of the three
//! systems are interleaved (run 1 of each, then run 2 of each, ...) so that whatever else the
//! machine does affects them alike. Each writer appends one record keyed by the next value of
//! a shared TS counter and waits until it is durable before appending the next:
//!
//! - `binlog-engine`: what `engine-append` runs (same configuration, same appender code): tokio
//!   tasks on 2 worker threads, each appending a prewrite (keyed by its start TS) and then its
//!   commit (keyed by its commit TS, the next TS), awaiting each; `sync-log = true`, so an
//!   append resolves once its group commit is `fdatasync`ed.
//! - raft-engine: one OS thread per writer (its API is synchronous; a tokio task would block a
//!   worker), each putting the record as a key-value pair of one region (key = TS big-endian)
//!   and calling `Engine::write(batch, sync = true)`, which group-commits concurrent writers.
//! - fjall: one OS thread per writer, each doing `Keyspace::insert(ts big-endian, value)` then
//!   `Database::persist(PersistMode::SyncData)`: fjall has no group commit, but a persist covers
//!   whatever other writers appended before it.
//!
//! Reported per system and configuration: records/s, payload MB/s, ack latency p50/p99/p99.9
//! (from the call to durability), and ours/peer in records/s; the median run by records/s.
//!
//! **Read phase.** Per system and payload size, a fresh store is loaded with `--read-mb` MB of
//! payload (TSs 1..=N, in durable batches of 4 MiB, the same for every system) and left to
//! finish its background work (binlog-engine's `.idx` files and next segment, fjall's flushes
//! and compactions), then: `--reads` gets of uniformly random TSs (latency p50/p99); a scan
//! from the middle TS to the end, `--runs` times (median MB/s of payload; for `binlog-engine`
//! this is `pull_commits`, which serves each commit with its prewrite); and a drop of
//! everything below the middle TS, made durable (time, and the log bytes it released:
//! `binlog-engine`'s GC at that TS, raft-engine's deletes followed by `purge_expired_files`,
//! fjall's removes of every key).
//!
//! The configuration of each system is in [`describe`] (printed in the header and JSON) and in
//! `benches/README.md`. Output: the header, two tables, then everything as JSON (also written to
//! `--json <path>`). Progress goes to stderr. Build and run (about 7 minutes here):
//!
//! ```text
//! cargo run --release -p binlog-benches --features peers --bin peers -- --json peers.json
//! ```
//!
//! or a smoke test: `... --bin peers -- --quick --sizes 1024 --writers 16 --read-mb 32`.

use std::fs;
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use binlog_benches::{
    append_transactions, device_run, duration_ns, engine_config, in_temp_dir, latency_histogram,
    median_by, prepare_device_file, print_and_save_json, pseudo_random_bytes, remove_run_dir,
    wait_for_spare, Appended, Backend, DeviceRun, Machine, MatrixArgs, Percentiles, MB,
    PROBE_WRITE_BYTES, WORKER_THREADS,
};
use binlog_engine::index::idx_path;
use binlog_engine::{Engine, GcOutcome, Kind, ReadableSize, Record};
use clap::{Parser, ValueEnum};
use fjall::config::CompressionPolicy;
use fjall::{CompressionType, Database, Keyspace, KeyspaceCreateOptions, PersistMode};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use raft_engine::LogBatch;
use serde::Serialize;
use tokio::runtime::Runtime;

/// Segment size of `binlog-engine` in the append phase: its default, as in `engine-append`.
const APPEND_SEGMENT_SIZE: ReadableSize = ReadableSize::mib(512);
/// Segment size of `binlog-engine` in the read phase: raft-engine's default file size, so that
/// both keep the read phase's data in a few files and a drop can release whole ones.
const READ_SEGMENT_SIZE: ReadableSize = ReadableSize::mib(128);
/// raft-engine's log file size (its default, `target-file-size`).
const RAFT_FILE_SIZE: raft_engine::ReadableSize = raft_engine::ReadableSize::mb(128);
/// The raft-engine region every record goes to: the workload is one log.
const REGION: u64 = 1;
/// Payload bytes per durable batch when loading the read phase's data.
const LOAD_BATCH_BYTES: usize = 4 << 20;
/// Most time to wait for a store's background work after a load.
const SETTLE_WAIT: Duration = Duration::from_secs(120);
/// Size of the file the header's single-write `fdatasync` latency is measured on.
const PROBE_FILE_SIZE: u64 = 64 << 20;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "binlog-engine against raft-engine and fjall on the same durable workload")]
struct Args {
    #[command(flatten)]
    matrix: MatrixArgs,
    /// Systems to run; ratios need `engine`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "engine,raft-engine,fjall"
    )]
    systems: Vec<System>,
    /// `binlog-engine`'s I/O backend (`auto`, its default, opens `pwrite`).
    #[arg(long, default_value = "auto")]
    backend: Backend,
    /// Payload loaded for the read phase, in MB (10^6 bytes) per system and size; 0 skips it.
    #[arg(long, default_value_t = 384)]
    read_mb: u64,
    /// Random gets in the read phase.
    #[arg(long, default_value_t = 10_000)]
    reads: usize,
}

/// A system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum System {
    /// `binlog-engine`, ours.
    Engine,
    /// raft-engine (TiKV's raft log store).
    RaftEngine,
    /// fjall (an LSM-tree key-value store).
    Fjall,
}

impl System {
    /// The name in tables and JSON.
    fn name(self) -> &'static str {
        match self {
            System::Engine => "binlog-engine",
            System::RaftEngine => "raft-engine",
            System::Fjall => "fjall",
        }
    }
}

/// How `system` is configured and driven, as the header and the JSON give it.
fn describe(system: System, backend: Backend) -> String {
    match system {
        System::Engine => format!(
            "binlog-engine {}: defaults (group commit up to 4 MiB, zero-filled {APPEND_SEGMENT_SIZE} \
             segments, one prepared ahead; read phase: {READ_SEGMENT_SIZE} segments, \
             max-record-size = 16 MiB, gc-prewrite-margin = 0), sync-log = true (fdatasync per group), io-backend = {}; \
             writers are tokio tasks on {WORKER_THREADS} worker threads appending prewrite + commit \
             pairs",
            env!("CARGO_PKG_VERSION"),
            backend.name()
        ),
        System::RaftEngine => format!(
            "raft-engine {RAFT_ENGINE_VERSION} (default-features = false): defaults (format v2, \
             {RAFT_FILE_SIZE} files, log recycling, group commit, fdatasync) but \
             batch-compression-threshold = 0 and purge-threshold = {RAFT_FILE_SIZE}; one region, \
             records as key-value puts (its memtable keeps the values); write(batch, sync = true) \
             per record from one OS thread per writer"
        ),
        System::Fjall => format!(
            "fjall {FJALL_VERSION}: defaults (64 MiB memtables, leveled compaction, 32 MiB block \
             cache, {} background threads) but journal and data block compression off; one \
             keyspace; insert + persist(SyncData) per record from one OS thread per writer",
            std::thread::available_parallelism().map_or(1, usize::from).min(4)
        ),
    }
}

/// One append run of one system and configuration.
#[derive(Clone, Debug, Serialize)]
struct AppendRun {
    /// Records acknowledged as durable.
    records: u64,
    /// Wall time from the first append to the last acknowledgement, in seconds.
    elapsed_s: f64,
    /// Durable records per second.
    records_per_s: f64,
    /// Payload bytes per second, in MB/s.
    mb_per_s: f64,
    /// Latency of one append, from the call to its durability.
    latency: Percentiles,
    /// Mean records per group commit (`binlog-engine` only: the peers do not expose it).
    avg_group_records: Option<f64>,
}

impl AppendRun {
    /// The run `appended` of records of `payload_bytes` each.
    fn new(appended: &Appended, payload_bytes: usize, avg_group_records: Option<f64>) -> AppendRun {
        let records = appended.latency.len();
        let seconds = appended.elapsed.as_secs_f64();
        let per_second = |count: f64| if seconds > 0.0 { count / seconds } else { 0.0 };
        AppendRun {
            records,
            elapsed_s: seconds,
            records_per_s: per_second(records as f64),
            mb_per_s: per_second(records as f64 * payload_bytes as f64) / MB,
            latency: Percentiles::of(&appended.latency),
            avg_group_records,
        }
    }
}

/// The append runs of one system in one size x writers configuration.
#[derive(Debug, Serialize)]
struct AppendResult {
    /// System name.
    system: &'static str,
    /// Payload bytes per record.
    payload_bytes: usize,
    /// Concurrent writers.
    writers: usize,
    /// The median run by records/s.
    median: AppendRun,
    /// `binlog-engine`'s median records/s over this system's (absent without `engine`).
    ours_over_this: Option<f64>,
    /// Every run, in the order they ran.
    runs: Vec<AppendRun>,
}

/// The read phase of one system and payload size.
#[derive(Debug, Serialize)]
struct ReadResult {
    /// System name.
    system: &'static str,
    /// Payload bytes per record.
    payload_bytes: usize,
    /// Records loaded (TSs 1..=records).
    records: u64,
    /// Time the load took, in seconds (durable batches of 4 MiB of payload).
    load_s: f64,
    /// Latency of one get of a random TS.
    get: Percentiles,
    /// The TS the scan starts at and the drop stops below.
    middle_ts: u64,
    /// Records the scan returned (all of those from `middle_ts` on).
    scan_records: u64,
    /// Scan time in seconds.
    scan_s: f64,
    /// Payload bytes scanned per second, in MB/s.
    scan_mb_per_s: f64,
    /// Time the durable drop of every record below `middle_ts` took, in milliseconds.
    drop_ms: f64,
    /// Log bytes the drop released, in MB (negative when it added more, e.g. tombstones).
    freed_mb: f64,
    /// `binlog-engine`'s scan MB/s over this system's.
    scan_ours_over_this: Option<f64>,
    /// This system's get p50 over `binlog-engine`'s.
    get_p50_this_over_ours: Option<f64>,
    /// This system's drop time over `binlog-engine`'s.
    drop_this_over_ours: Option<f64>,
}

/// What one system's read phase measured, before the ratios.
struct ReadRun {
    /// Time the load took.
    load: Duration,
    /// Get latencies in nanoseconds.
    get: Histogram<u64>,
    /// Records and payload bytes the scan returned.
    scanned: Scanned,
    /// Scan time.
    scan: Duration,
    /// Drop time.
    drop: Duration,
    /// Log bytes the drop released (negative when it added more).
    freed_bytes: f64,
}

/// Records and payload bytes a scan returned.
#[derive(Default)]
struct Scanned {
    /// Records.
    records: u64,
    /// Payload bytes.
    bytes: u64,
}

impl Scanned {
    /// Counts one record of `payload_len` bytes.
    fn add(&mut self, payload_len: usize) {
        self.records += 1;
        self.bytes += payload_len as u64;
    }
}

/// One system's configuration, for the JSON.
#[derive(Debug, Serialize)]
struct SystemInfo {
    /// System name.
    name: &'static str,
    /// How it is configured and driven.
    configuration: String,
}

/// Everything the benchmark prints as JSON.
#[derive(Debug, Serialize)]
struct Report {
    /// Date, kernel and filesystem.
    #[serde(flatten)]
    machine: Machine,
    /// The temporary data directory.
    dir: String,
    /// Seconds per append run.
    seconds: f64,
    /// Append runs per configuration.
    runs: usize,
    /// Payload MB loaded per read phase.
    read_mb: u64,
    /// Random gets per read phase.
    reads: usize,
    /// Single 4 KiB write + `fdatasync` on a zero-filled file.
    sync_4k: DeviceRun,
    /// The systems and their configuration.
    systems: Vec<SystemInfo>,
    /// One entry per system x size x writers.
    append: Vec<AppendResult>,
    /// One entry per system x size.
    read: Vec<ReadResult>,
}

/// raft-engine's version as locked in `Cargo.lock` (update with it).
const RAFT_ENGINE_VERSION: &str = "0.4.2";
/// fjall's version as locked in `Cargo.lock` (update with it).
const FJALL_VERSION: &str = "3.1.13";

/// Parses the flags, creates the temporary data directory, runs everything, removes it.
fn main() -> Result<()> {
    let mut args = Args::parse();
    args.matrix.settle()?;
    ensure!(
        args.matrix.sizes.iter().all(|&n| n > 0),
        "--sizes must be positive numbers"
    );
    ensure!(!args.systems.is_empty(), "--systems must not be empty");
    args.systems.dedup();
    in_temp_dir(&args.matrix.dir, "peers-", |root| run_all(&args, root))
}

/// Runs both phases under `root` and prints the header, tables and JSON.
fn run_all(args: &Args, root: &Path) -> Result<()> {
    let machine = Machine::describe(root);
    let duration = Duration::from_secs_f64(args.matrix.seconds);
    println!("peers: binlog-engine, raft-engine and fjall on the same durable workload");
    machine.print(root);
    println!(
        "append:     {} x {} s per configuration (median run shown), runs of the systems \
         interleaved",
        args.matrix.runs, args.matrix.seconds
    );
    println!(
        "read:       {} MB of payload per system and size, {} random gets",
        args.read_mb, args.reads
    );
    let probe_path = root.join("sync-probe");
    let probe = prepare_device_file(&probe_path, PROBE_FILE_SIZE)?;
    let sync_4k = device_run(&probe, PROBE_WRITE_BYTES, duration, 0)?;
    drop(probe);
    fs::remove_file(&probe_path).with_context(|| format!("remove {}", probe_path.display()))?;
    println!(
        "4 KiB pwrite + fdatasync: p50 {:.1} us, p99 {:.1} us ({} writes)",
        sync_4k.latency.p50_us, sync_4k.latency.p99_us, sync_4k.writes
    );
    let systems: Vec<SystemInfo> = args
        .systems
        .iter()
        .map(|&system| SystemInfo {
            name: system.name(),
            configuration: describe(system, args.backend),
        })
        .collect();
    for system in &systems {
        println!("- {}", system.configuration);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .build()
        .context("build the tokio runtime")?;
    let mut append = Vec::new();
    for &payload_bytes in &args.matrix.sizes {
        for &writers in &args.matrix.writers {
            append.extend(append_config(
                args,
                &runtime,
                root,
                payload_bytes,
                writers,
                duration,
            )?);
        }
    }
    let mut read = Vec::new();
    if args.read_mb > 0 {
        for &payload_bytes in &args.matrix.sizes {
            read.extend(read_config(args, &runtime, root, payload_bytes)?);
        }
    }

    println!();
    print_append_table(&append);
    if !read.is_empty() {
        println!();
        print_read_table(&read);
    }
    let report = Report {
        machine,
        dir: root.display().to_string(),
        seconds: args.matrix.seconds,
        runs: args.matrix.runs,
        read_mb: args.read_mb,
        reads: args.reads,
        sync_4k,
        systems,
        append,
        read,
    };
    print_and_save_json(&report, args.matrix.json.as_deref())
}

/// The append runs of every system for one size x writers configuration, each in a fresh
/// directory under `root`, interleaved by run; medians and ratios.
fn append_config(
    args: &Args,
    runtime: &Runtime,
    root: &Path,
    payload_bytes: usize,
    writers: usize,
    duration: Duration,
) -> Result<Vec<AppendResult>> {
    let mut runs: Vec<Vec<AppendRun>> = args.systems.iter().map(|_| Vec::new()).collect();
    for run in 0..args.matrix.runs {
        let seed = (run as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ payload_bytes as u64;
        let payload = pseudo_random_bytes(payload_bytes, seed);
        for (index, &system) in args.systems.iter().enumerate() {
            let dir = root.join(format!("{}-{payload_bytes}-{writers}-{run}", system.name()));
            fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
            let result = match system {
                System::Engine => {
                    engine_append(runtime, &dir, args.backend, &payload, writers, duration)
                }
                System::RaftEngine => raft_engine_append(&dir, &payload, writers, duration),
                System::Fjall => fjall_append(&dir, &payload, writers, duration),
            };
            let removed = remove_run_dir(root, &dir);
            let result = result
                .with_context(|| format!("{} {payload_bytes} B x {writers}", system.name()))?;
            removed?;
            eprintln!(
                "{} {payload_bytes} B x {writers}, run {}/{}: {:.0} records/s, {:.1} MB/s, \
                 p99 {:.0} us",
                system.name(),
                run + 1,
                args.matrix.runs,
                result.records_per_s,
                result.mb_per_s,
                result.latency.p99_us
            );
            runs[index].push(result);
        }
    }
    let mut results = Vec::new();
    for (&system, runs) in args.systems.iter().zip(runs) {
        let median = median_by(&runs, |run| run.records_per_s)
            .context("no run")?
            .clone();
        results.push(AppendResult {
            system: system.name(),
            payload_bytes,
            writers,
            median,
            ours_over_this: None,
            runs,
        });
    }
    let ours = results
        .iter()
        .find(|result| result.system == System::Engine.name())
        .map(|result| result.median.records_per_s);
    for result in &mut results {
        result.ours_over_this = ours.and_then(|ours| ratio(ours, result.median.records_per_s));
    }
    Ok(results)
}

/// `numerator / denominator`, `None` unless the denominator is positive.
fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| numerator / denominator)
}

/// One append run of `binlog-engine` as `engine-append` does it: a fresh engine in `dir`, its
/// spare segment ready, prewrite + commit pairs from tokio tasks.
fn engine_append(
    runtime: &Runtime,
    dir: &Path,
    backend: Backend,
    payload: &[u8],
    writers: usize,
    duration: Duration,
) -> Result<AppendRun> {
    let engine = Engine::open(engine_config(
        dir,
        backend.io_backend(),
        APPEND_SEGMENT_SIZE,
    ))
    .with_context(|| format!("open the engine in {}", dir.display()))?;
    let engine = Arc::new(engine);
    wait_for_spare(&dir.join("log"));
    let appended = append_transactions(runtime, &engine, payload.into(), writers, duration, None);
    let group = engine.metrics().group_records.mean();
    engine.close();
    Ok(AppendRun::new(&appended?, payload.len(), Some(group)))
}

/// Opens raft-engine in `dir` as the benchmark configures it (see [`describe`]).
fn open_raft_engine(dir: &Path) -> Result<raft_engine::Engine> {
    let config = raft_engine::Config {
        dir: dir.to_string_lossy().into_owned(),
        // The payloads are incompressible pseudo-random bytes and binlog-engine does not
        // compress: compressing them would only cost raft-engine CPU.
        batch_compression_threshold: raft_engine::ReadableSize(0),
        // Its smallest value, so that `purge_expired_files` in the read phase releases files;
        // nothing calls it while appending.
        purge_threshold: RAFT_FILE_SIZE,
        target_file_size: RAFT_FILE_SIZE,
        ..raft_engine::Config::default()
    };
    raft_engine::Engine::open(config)
        .with_context(|| format!("open raft-engine in {}", dir.display()))
}

/// One append run of raft-engine in `dir`: one thread per writer, a synced write per record.
fn raft_engine_append(
    dir: &Path,
    payload: &[u8],
    writers: usize,
    duration: Duration,
) -> Result<AppendRun> {
    let engine = open_raft_engine(dir)?;
    let appended = run_threads(writers, duration, || {
        let mut batch = LogBatch::default();
        let engine = &engine;
        move |ts: u64| {
            batch.put(REGION, ts.to_be_bytes().to_vec(), payload.to_vec())?;
            engine.write(&mut batch, true)?;
            Ok(())
        }
    })?;
    Ok(AppendRun::new(&appended, payload.len(), None))
}

/// Opens fjall in `dir` with its one keyspace, as the benchmark configures it (see
/// [`describe`]).
fn open_fjall(dir: &Path) -> Result<(Database, Keyspace)> {
    // Compression off for the same reason as raft-engine's: the payloads are incompressible.
    let db = Database::builder(dir)
        .journal_compression(CompressionType::None)
        .open()
        .with_context(|| format!("open fjall in {}", dir.display()))?;
    let keyspace = db
        .keyspace("records", || {
            KeyspaceCreateOptions::default()
                .data_block_compression_policy(CompressionPolicy::all(CompressionType::None))
        })
        .context("open the fjall keyspace")?;
    Ok((db, keyspace))
}

/// One append run of fjall in `dir`: one thread per writer, insert + persist per record.
fn fjall_append(
    dir: &Path,
    payload: &[u8],
    writers: usize,
    duration: Duration,
) -> Result<AppendRun> {
    let (db, keyspace) = open_fjall(dir)?;
    let appended = run_threads(writers, duration, || {
        let (db, keyspace) = (&db, &keyspace);
        move |ts: u64| {
            keyspace.insert(ts.to_be_bytes(), payload)?;
            db.persist(PersistMode::SyncData)?;
            Ok(())
        }
    })?;
    Ok(AppendRun::new(&appended, payload.len(), None))
}

/// Runs `writers` OS threads for `duration`, each calling its own `writer()` with the next TS
/// of a shared counter (from 1) until the deadline, and times every call.
fn run_threads<W, F>(writers: usize, duration: Duration, writer: F) -> Result<Appended>
where
    W: FnMut(u64) -> Result<()>,
    F: Fn() -> W + Sync,
{
    let next_ts = AtomicU64::new(1);
    let started = Instant::now();
    let deadline = started + duration;
    let outcomes: Vec<Result<Histogram<u64>>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..writers)
            .map(|_| {
                scope.spawn(|| {
                    let mut write = writer();
                    let mut latency = latency_histogram()?;
                    while Instant::now() < deadline {
                        let ts = next_ts.fetch_add(1, Ordering::Relaxed);
                        let called = Instant::now();
                        write(ts).with_context(|| format!("append {ts}"))?;
                        latency.saturating_record(duration_ns(called.elapsed()));
                    }
                    Ok(latency)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("writer thread panicked")))
            })
            .collect()
    });
    let elapsed = started.elapsed();
    let mut latency = latency_histogram()?;
    for outcome in outcomes {
        latency.add(outcome?)?;
    }
    Ok(Appended { latency, elapsed })
}

/// The read phase of every system for one payload size, each in a fresh directory under
/// `root`, with ratios to `binlog-engine`.
fn read_config(
    args: &Args,
    runtime: &Runtime,
    root: &Path,
    payload_bytes: usize,
) -> Result<Vec<ReadResult>> {
    // An even count, so that binlog-engine's prewrite + commit pairs cover 1..=records exactly,
    // and at least a few records below and above the middle.
    let records = ((args.read_mb as f64 * MB / payload_bytes as f64) as u64 / 2 * 2).max(4);
    // Odd, so that binlog-engine's scan (commits after `middle - 1`, each with its prewrite)
    // starts exactly at `middle`.
    let middle = (records / 2) | 1;
    let seed = 0x5EED ^ payload_bytes as u64;
    let payload = pseudo_random_bytes(payload_bytes, seed);
    let load = Load {
        payload: &payload,
        records,
        middle,
        reads: args.reads,
        seed,
        scans: args.matrix.runs,
    };
    let mut results = Vec::new();
    for &system in &args.systems {
        let dir = root.join(format!("{}-{payload_bytes}-read", system.name()));
        fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        eprintln!(
            "{} {payload_bytes} B: loading {records} records for the read phase",
            system.name()
        );
        let result = match system {
            System::Engine => engine_read(runtime, &dir, args.backend, &load),
            System::RaftEngine => raft_engine_read(&dir, &load),
            System::Fjall => fjall_read(&dir, &load),
        };
        let removed = remove_run_dir(root, &dir);
        let run = result.with_context(|| format!("{} {payload_bytes} B read", system.name()))?;
        removed?;
        ensure!(
            run.scanned.records == records - middle + 1,
            "{}: the scan from {middle} returned {} records, not {}",
            system.name(),
            run.scanned.records,
            records - middle + 1
        );
        let scan_s = run.scan.as_secs_f64();
        let result = ReadResult {
            system: system.name(),
            payload_bytes,
            records,
            load_s: run.load.as_secs_f64(),
            get: Percentiles::of(&run.get),
            middle_ts: middle,
            scan_records: run.scanned.records,
            scan_s,
            scan_mb_per_s: ratio(run.scanned.bytes as f64 / MB, scan_s).unwrap_or(0.0),
            drop_ms: run.drop.as_secs_f64() * 1e3,
            freed_mb: run.freed_bytes / MB,
            scan_ours_over_this: None,
            get_p50_this_over_ours: None,
            drop_this_over_ours: None,
        };
        eprintln!(
            "{} {payload_bytes} B: load {:.1} s, get p50 {:.1} us p99 {:.1} us, scan {:.0} MB/s, \
             drop {:.1} ms, freed {:.0} MB",
            result.system,
            result.load_s,
            result.get.p50_us,
            result.get.p99_us,
            result.scan_mb_per_s,
            result.drop_ms,
            result.freed_mb
        );
        results.push(result);
    }
    let ours = results
        .iter()
        .find(|result| result.system == System::Engine.name())
        .map(|ours| (ours.scan_mb_per_s, ours.get.p50_us, ours.drop_ms));
    if let Some((scan, get_p50, drop_ms)) = ours {
        for result in &mut results {
            result.scan_ours_over_this = ratio(scan, result.scan_mb_per_s);
            result.get_p50_this_over_ours = ratio(result.get.p50_us, get_p50);
            result.drop_this_over_ours = ratio(result.drop_ms, drop_ms);
        }
    }
    Ok(results)
}

/// What every system's read phase loads and reads.
struct Load<'a> {
    /// The payload of every record.
    payload: &'a [u8],
    /// Records, keyed 1..=records.
    records: u64,
    /// Where the scan starts and below which the drop removes.
    middle: u64,
    /// Random gets.
    reads: usize,
    /// Seed of the random TSs.
    seed: u64,
    /// Times the scan runs (the median time is reported).
    scans: usize,
}

impl Load<'_> {
    /// Records per durable batch of the load.
    fn batch_records(&self) -> u64 {
        (LOAD_BATCH_BYTES / self.payload.len()).max(2) as u64
    }

    /// Times `get` on `reads` uniformly random TSs in 1..=records; each must return the
    /// payload's length.
    fn timed_gets(
        &self,
        mut get: impl FnMut(u64) -> Result<Option<usize>>,
    ) -> Result<Histogram<u64>> {
        let mut latency = latency_histogram()?;
        let mut state = self.seed | 1;
        for _ in 0..self.reads {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let ts = 1 + state % self.records;
            let called = Instant::now();
            let found = get(ts).with_context(|| format!("get {ts}"))?;
            latency.saturating_record(duration_ns(called.elapsed()));
            ensure!(
                found == Some(self.payload.len()),
                "get {ts}: {found:?} bytes instead of {}",
                self.payload.len()
            );
        }
        Ok(latency)
    }

    /// Runs `scan` [`Load::scans`] times: the records and bytes it returned, and the median
    /// time (a scan is short, so a single one would be at the mercy of whatever else runs).
    fn timed_scans(
        &self,
        mut scan: impl FnMut() -> Result<Scanned>,
    ) -> Result<(Scanned, Duration)> {
        let mut scanned = Scanned::default();
        let mut times = Vec::with_capacity(self.scans);
        for _ in 0..self.scans.max(1) {
            let (run, time) = timed(&mut scan)?;
            scanned = run;
            times.push(time);
        }
        times.sort_unstable();
        Ok((scanned, times[times.len() / 2]))
    }
}

/// Times `body`.
fn timed<T>(body: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let started = Instant::now();
    let value = body()?;
    Ok((value, started.elapsed()))
}

/// `binlog-engine`'s read phase in `dir`: the load as prewrite + commit pairs, `get`,
/// `pull_commits` from the middle, GC at the middle.
fn engine_read(runtime: &Runtime, dir: &Path, backend: Backend, load: &Load) -> Result<ReadRun> {
    let config = binlog_engine::Config {
        // Without a margin, GC at a TS may drop every segment at or below it: what the peers
        // are asked to drop.
        gc_prewrite_margin: Duration::ZERO,
        // The default (128 MiB) does not fit in a segment of this size.
        max_record_size: ReadableSize::mib(16),
        ..engine_config(dir, backend.io_backend(), READ_SEGMENT_SIZE)
    };
    let engine =
        Engine::open(config).with_context(|| format!("open the engine in {}", dir.display()))?;
    let payload = load.payload;
    let ((), load_time) = timed(|| {
        runtime.block_on(async {
            let mut start_ts = 1;
            while start_ts < load.records {
                // Every append of a batch is queued before any is awaited: the writer
                // group-commits them.
                let mut acks = Vec::new();
                while start_ts < load.records && (acks.len() as u64) < load.batch_records() {
                    acks.push(engine.append(Record {
                        kind: Kind::Prewrite,
                        start_ts,
                        commit_ts: 0,
                        payload,
                    }));
                    acks.push(engine.append(Record {
                        kind: Kind::Commit,
                        start_ts,
                        commit_ts: start_ts + 1,
                        payload,
                    }));
                    start_ts += 2;
                }
                for ack in acks {
                    ack.await?;
                }
            }
            Ok(())
        })
    })?;
    // Its housekeeper writes the sealed segments' `.idx` files and prepares the next segment
    // after a load; reads start once it is done, as fjall's once its compactions are.
    let log_dir = dir.join("log");
    let ids = engine.segment_ids();
    let sealed = &ids[..ids.len().saturating_sub(1)];
    settle("binlog-engine's .idx files", || {
        sealed.iter().all(|&id| idx_path(&log_dir, id).exists())
    });
    wait_for_spare(&log_dir);
    let get = load.timed_gets(|ts| Ok(engine.get(ts)?.map(|record| record.payload.len())))?;
    let (scanned, scan) = load.timed_scans(|| {
        runtime.block_on(async {
            let mut scanned = Scanned::default();
            let mut commits = pin!(engine.pull_commits(load.middle - 1)?);
            while let Some(binlog) = commits.next().await {
                let binlog = binlog?;
                scanned.add(binlog.payload.len());
                if let Some(prewrite) = &binlog.prewrite_payload {
                    scanned.add(prewrite.len());
                }
                // The stream waits for more at the end: the last commit is the end.
                if binlog.commit_ts >= load.records {
                    break;
                }
            }
            anyhow::Ok(scanned)
        })
    })?;
    let (outcome, drop) = timed(|| Ok(engine.gc(load.middle - 1)?))?;
    engine.close();
    let GcOutcome::Collected { segments } = outcome else {
        anyhow::bail!("GC at {} changed nothing: {outcome:?}", load.middle - 1);
    };
    Ok(ReadRun {
        load: load_time,
        get,
        scanned,
        scan,
        drop,
        freed_bytes: (segments as u64 * READ_SEGMENT_SIZE.0) as f64,
    })
}

/// raft-engine's read phase in `dir`: the load as puts, `get`, `scan_raw_messages` from the
/// middle, deletes of every key below it (one synced batch) and `purge_expired_files`.
fn raft_engine_read(dir: &Path, load: &Load) -> Result<ReadRun> {
    let engine = open_raft_engine(dir)?;
    let ((), load_time) = timed(|| {
        let mut batch = LogBatch::default();
        for ts in 1..=load.records {
            batch.put(REGION, ts.to_be_bytes().to_vec(), load.payload.to_vec())?;
            if ts % load.batch_records() == 0 || ts == load.records {
                engine.write(&mut batch, true)?;
            }
        }
        Ok(())
    })?;
    let get = load.timed_gets(|ts| Ok(engine.get(REGION, &ts.to_be_bytes()).map(|v| v.len())))?;
    let (scanned, scan) = load.timed_scans(|| {
        let mut scanned = Scanned::default();
        engine.scan_raw_messages(
            REGION,
            Some(&load.middle.to_be_bytes()),
            None,
            false,
            |_, value| {
                // The others hand each record out as a buffer of its own; raft-engine lends
                // its memtable's copy, which a reader has to copy out before it can send it.
                scanned.add(std::hint::black_box(value.to_vec()).len());
                true
            },
        )?;
        Ok(scanned)
    })?;
    let used = engine.get_used_size();
    let ((), drop) = timed(|| {
        let mut batch = LogBatch::default();
        for ts in 1..load.middle {
            batch.delete(REGION, ts.to_be_bytes().to_vec());
        }
        engine.write(&mut batch, true)?;
        engine.purge_expired_files()?;
        Ok(())
    })?;
    let freed_bytes = used as f64 - engine.get_used_size() as f64;
    check_dropped(load, |ts| {
        Ok(engine.get(REGION, &ts.to_be_bytes()).is_some())
    })?;
    Ok(ReadRun {
        load: load_time,
        get,
        scanned,
        scan,
        drop,
        freed_bytes,
    })
}

/// fjall's read phase in `dir`: the load as batches, `get`, `range` from the middle, one
/// durable batch removing every key below it.
fn fjall_read(dir: &Path, load: &Load) -> Result<ReadRun> {
    let (db, keyspace) = open_fjall(dir)?;
    let ((), load_time) = timed(|| {
        let mut ts = 1;
        while ts <= load.records {
            let mut batch = db.batch().durability(Some(PersistMode::SyncData));
            let end = (ts + load.batch_records()).min(load.records + 1);
            for ts in ts..end {
                batch.insert(&keyspace, ts.to_be_bytes(), load.payload);
            }
            batch.commit()?;
            ts = end;
        }
        Ok(())
    })?;
    // Its flushes and compactions run in the background after a load; reads start once they
    // are done. (These two counters are marked experimental in fjall.)
    settle("fjall's flushes and compactions", || {
        db.outstanding_flushes() == 0 && db.active_compactions() == 0
    });
    let get = load.timed_gets(|ts| Ok(keyspace.get(ts.to_be_bytes())?.map(|v| v.len())))?;
    let (scanned, scan) = load.timed_scans(|| {
        let mut scanned = Scanned::default();
        for item in keyspace.range(load.middle.to_be_bytes()..) {
            scanned.add(item.value()?.len());
        }
        Ok(scanned)
    })?;
    let disk = db.disk_space()?;
    let ((), drop) = timed(|| {
        let mut batch = db.batch().durability(Some(PersistMode::SyncData));
        for ts in 1..load.middle {
            batch.remove(&keyspace, ts.to_be_bytes());
        }
        batch.commit()?;
        Ok(())
    })?;
    let freed_bytes = disk as f64 - db.disk_space()? as f64;
    check_dropped(load, |ts| Ok(keyspace.contains_key(ts.to_be_bytes())?))?;
    Ok(ReadRun {
        load: load_time,
        get,
        scanned,
        scan,
        drop,
        freed_bytes,
    })
}

/// Waits until `done` (up to [`SETTLE_WAIT`]) so that background work after a load does not run
/// during the reads; warns if it never is.
fn settle(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > SETTLE_WAIT {
            eprintln!("warning: {what} still busy after {SETTLE_WAIT:?}; reading anyway");
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Checks that a peer's drop removed the record just below the middle and kept the middle.
fn check_dropped(load: &Load, mut contains: impl FnMut(u64) -> Result<bool>) -> Result<()> {
    ensure!(
        !contains(load.middle - 1)?,
        "{} still present after the drop",
        load.middle - 1
    );
    ensure!(contains(load.middle)?, "{} lost by the drop", load.middle);
    Ok(())
}

/// Formats `value` with `decimals`, or `-` when absent.
fn or_dash(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".into(), |value| format!("{value:.decimals$}"))
}

/// Prints one row per system x size x writers (its median run).
fn print_append_table(results: &[AppendResult]) {
    println!(
        "{:<14} {:>6} {:>7} {:>10} {:>8} {:>8} {:>8} {:>9} {:>6} {:>9}",
        "append",
        "size",
        "writers",
        "records/s",
        "MB/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "group",
        "ours/this"
    );
    for result in results {
        let run = &result.median;
        println!(
            "{:<14} {:>6} {:>7} {:>10.0} {:>8.1} {:>8.0} {:>8.0} {:>9.0} {:>6} {:>9}",
            result.system,
            result.payload_bytes,
            result.writers,
            run.records_per_s,
            run.mb_per_s,
            run.latency.p50_us,
            run.latency.p99_us,
            run.latency.p999_us,
            or_dash(run.avg_group_records, 1),
            or_dash(result.ours_over_this, 2)
        );
    }
    println!(
        "size: payload bytes; MB/s: 10^6 payload bytes per second; latency: call to durability; \
         group: mean records per group commit; ours/this: binlog-engine's records/s over this \
         system's"
    );
}

/// Prints one row per system x size of the read phase.
fn print_read_table(results: &[ReadResult]) {
    println!(
        "{:<14} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7} {:>7} {:>7}",
        "read",
        "size",
        "records",
        "get p50",
        "get p99",
        "scan MB/s",
        "drop ms",
        "freed MB",
        "x scan",
        "x get",
        "x drop"
    );
    for result in results {
        println!(
            "{:<14} {:>6} {:>8} {:>8.1} {:>8.1} {:>9.0} {:>9.1} {:>8.0} {:>7} {:>7} {:>7}",
            result.system,
            result.payload_bytes,
            result.records,
            result.get.p50_us,
            result.get.p99_us,
            result.scan_mb_per_s,
            result.drop_ms,
            result.freed_mb,
            or_dash(result.scan_ours_over_this, 2),
            or_dash(result.get_p50_this_over_ours, 2),
            or_dash(result.drop_this_over_ours, 1)
        );
    }
    println!(
        "get: random TS, us; scan: from the middle TS to the end, payload MB/s; drop: every \
         record below the middle TS, durable; freed: log bytes released (negative: added); \
         x scan: binlog-engine's scan MB/s over this system's; x get: this system's get p50 \
         over binlog-engine's; x drop: this system's drop time over binlog-engine's"
    );
}
