//! `engine-read`: what a pump costs after it has stored a lot: reopen after SIGKILL, pulls
//! from the page cache, `get(ts)` latency, and GC, each at a stored size given on the command
//! line.
//!
//! One data dir grows through the sizes of `--sizes` (default 1, 4, 8 GiB). For each size, a
//! child process (this binary, `--child-fill`) opens the engine, appends prewrite/commit pairs
//! (1 KiB prewrite values, 256 concurrent appenders, `sync-log = true`) until the data dir
//! holds that many bytes of segments, reports how far it got, and is killed with SIGKILL while
//! still appending. The next child first rolls back the prewrites the killed one left without
//! a commit, as TiDB would, so the watermark moves on. The parent then measures, in its own process:
//!
//! - **reopen**: `Engine::open` on the killed dir (lock, sealed segments checked by footer
//!   and index size, the active segment scanned and its torn tail cut, the sorter replayed);
//! - **pull**: `pull_commits(0)` over everything stored, each commit with its prewrite value,
//!   twice (the second pass reads from the page cache; both are reported), in MB/s of payload
//!   bytes delivered (prewrite values and commit payloads);
//! - **get**: `get(ts)` of 100 000 random stored prewrites, latency p50/p99;
//! - **gc** (last size only): `gc(ts)` of everything below the 600 s margin: the time the call
//!   takes (segments out of the set, GC point persisted) and the time until their files are
//!   gone (the housekeeper unlinks them or keeps two as spares).
//!
//! TSs are PD-style, one per millisecond of physical time, so the stored span is long enough for
//! GC's 600 s margin. Output: a table, then JSON (also to `--json <path>`).
//!
//! ```text
//! cargo run --release -p binlog-benches --bin engine-read -- --json engine-read.json
//! ```
//!
//! Needs the largest size plus about 1.5 GiB free under `--dir` (default `./bench-data`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use binlog_benches::{print_and_save_json, Backend};
use binlog_engine::{Config, Engine, Kind, ReadableSize, Record};
use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde::Serialize;

/// Prewrite value size.
const VALUE_SIZE: usize = 1024;
/// Concurrent appenders of the fill.
const FILL_WRITERS: usize = 256;
/// Random gets measured.
const GETS: usize = 100_000;
/// Bytes in a GiB.
const GIB: u64 = 1 << 30;
/// Bytes in the megabyte of MB/s.
const MB: f64 = 1e6;
/// The TS step: one TS per millisecond of physical time.
const TS_STEP: u64 = 1 << 18;
/// Physical start of the TSs: a day ago. 8 GiB of pairs span about 4 hours of TSs, so GC (600 s
/// margin) can drop nearly all of it.
const START_AGO: Duration = Duration::from_secs(24 * 3600);

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "binlog-engine after storing a lot: reopen after SIGKILL, pull, get, GC")]
struct Args {
    /// Directory under which a temporary data dir is made (and removed afterwards).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Stored sizes to measure at, in GiB, ascending.
    #[arg(long, value_delimiter = ',', default_value = "1,4,8")]
    sizes: Vec<u64>,
    /// I/O backend of the engine.
    #[arg(long, value_enum, default_value = "pwrite")]
    backend: Backend,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Internal: fill `<dir>` to `<bytes>` of segments, then keep appending until killed.
    #[arg(long, num_args = 2, value_names = ["DIR", "BYTES"], hide = true)]
    child_fill: Vec<String>,
}

/// The measurements at one stored size.
#[derive(Debug, Serialize)]
struct SizeResult {
    stored_bytes: u64,
    segments: usize,
    reopen_ms: f64,
    pull_cold_mb_s: Option<f64>,
    pull_warm_mb_s: Option<f64>,
    pull_binlogs: Option<u64>,
    get_p50_us: Option<f64>,
    get_p99_us: Option<f64>,
    gc_ms: Option<f64>,
    gc_files_gone_ms: Option<f64>,
    gc_removed_segments: Option<usize>,
    gc_removed_bytes: Option<u64>,
}

fn engine_config(dir: &Path, backend: Backend) -> Config {
    Config {
        dir: dir.to_path_buf(),
        io_backend: backend.io_backend(),
        stop_write_at_available_space: ReadableSize(0),
        ..Config::default()
    }
}

/// Bytes of `.seg` files in `dir/log`.
fn stored_bytes(dir: &Path) -> Result<(u64, usize)> {
    let mut bytes = 0;
    let mut count = 0;
    for entry in std::fs::read_dir(dir.join("log")).context("list segments")? {
        let entry = entry?;
        if entry.path().extension().is_some_and(|e| e == "seg") {
            bytes += entry.metadata()?.len();
            count += 1;
        }
    }
    Ok((bytes, count))
}

fn start_ts() -> u64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    (now_ms - START_AGO.as_millis() as u64) << 18
}

/// The child: appends pairs into `dir` until it holds `target` bytes, prints `filled <last ts>`,
/// then keeps appending until it is killed.
fn child_fill(dir: &Path, target: u64, backend: Backend) -> Result<()> {
    let engine = Arc::new(Engine::open(engine_config(dir, backend))?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let next = Arc::new(AtomicU64::new(
        engine.max_commit_ts().max(start_ts()) + TS_STEP,
    ));
    runtime.block_on(async {
        // As TiDB would after the pump's restart: the transactions whose prewrite was stored
        // by the killed run roll back, so the watermark can pass them.
        for start_ts in engine.pending_prewrites() {
            let rollback = Record {
                kind: Kind::Rollback,
                start_ts,
                commit_ts: 0,
                payload: b"rollback",
            };
            engine.append(rollback).await?;
        }
        let mut writers = Vec::new();
        for _ in 0..FILL_WRITERS {
            let engine = engine.clone();
            let next = next.clone();
            writers.push(tokio::spawn(async move {
                let value = vec![0x5a; VALUE_SIZE];
                loop {
                    let start = next.fetch_add(TS_STEP, Ordering::Relaxed);
                    let prewrite = Record {
                        kind: Kind::Prewrite,
                        start_ts: start,
                        commit_ts: 0,
                        payload: &value,
                    };
                    engine.append(prewrite).await?;
                    let commit_ts = next.fetch_add(TS_STEP, Ordering::Relaxed);
                    let commit = Record {
                        kind: Kind::Commit,
                        start_ts: start,
                        commit_ts,
                        payload: b"commit",
                    };
                    engine.append(commit).await?;
                }
                #[allow(unreachable_code)]
                Ok::<(), binlog_engine::Error>(())
            }));
        }
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stored_bytes(dir)?.0 >= target {
                println!("filled {}", next.load(Ordering::Relaxed));
                break;
            }
        }
        // Still appending when the parent's SIGKILL arrives.
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<(), anyhow::Error>(())
    })
}

/// Runs the child to `target` bytes and kills it 200 ms after it reports.
fn fill_and_kill(dir: &Path, target: u64, backend: Backend) -> Result<()> {
    let exe = std::env::current_exe()?;
    let backend_name = backend.name();
    let mut child = Command::new(exe)
        .args(["--backend", backend_name, "--child-fill"])
        .arg(dir)
        .arg(target.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .context("spawn the fill child")?;
    let mut line = String::new();
    let stdout = child.stdout.take().context("child stdout")?;
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    ensure!(
        line.starts_with("filled"),
        "the fill child failed: {line:?}"
    );
    std::thread::sleep(Duration::from_millis(200));
    child.kill()?;
    child.wait()?;
    Ok(())
}

fn percentile_us(histogram: &Histogram<u64>, q: f64) -> f64 {
    histogram.value_at_quantile(q) as f64 / 1000.0
}

/// Pulls everything: (payload bytes delivered, binlogs, seconds).
async fn pull_all(engine: &Engine) -> Result<(u64, u64, f64)> {
    let end = engine.max_commit_ts();
    let started = Instant::now();
    let mut stream = Box::pin(engine.pull_commits(0)?);
    let (mut bytes, mut count) = (0u64, 0u64);
    while let Some(item) = stream.next().await {
        let item = item?;
        bytes += (item.payload.len() + item.prewrite_payload.map_or(0, |p| p.len())) as u64;
        count += 1;
        if item.commit_ts >= end {
            break;
        }
    }
    Ok((bytes, count, started.elapsed().as_secs_f64()))
}

fn measure(dir: &Path, backend: Backend, with_reads: bool, with_gc: bool) -> Result<SizeResult> {
    let (stored, segments) = stored_bytes(dir)?;
    let started = Instant::now();
    let engine = Engine::open(engine_config(dir, backend))?;
    let reopen_ms = started.elapsed().as_secs_f64() * 1000.0;
    eprintln!(
        "  reopen after SIGKILL: {reopen_ms:.1} ms ({} GiB, {segments} segments)",
        stored / GIB
    );
    let mut result = SizeResult {
        stored_bytes: stored,
        segments,
        reopen_ms,
        pull_cold_mb_s: None,
        pull_warm_mb_s: None,
        pull_binlogs: None,
        get_p50_us: None,
        get_p99_us: None,
        gc_ms: None,
        gc_files_gone_ms: None,
        gc_removed_segments: None,
        gc_removed_bytes: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if with_reads {
        let (bytes, count, secs) = runtime.block_on(pull_all(&engine))?;
        result.pull_cold_mb_s = Some(bytes as f64 / MB / secs);
        let (bytes, count_warm, secs) = runtime.block_on(pull_all(&engine))?;
        ensure!(count == count_warm, "two pulls disagree");
        result.pull_warm_mb_s = Some(bytes as f64 / MB / secs);
        result.pull_binlogs = Some(count);
        eprintln!(
            "  pull: {count} binlogs, first {:.0} MB/s, again {:.0} MB/s",
            result.pull_cold_mb_s.unwrap_or_default(),
            result.pull_warm_mb_s.unwrap_or_default()
        );
        let first = start_ts();
        let last = engine.max_commit_ts();
        let mut histogram = Histogram::<u64>::new(3)?;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut found = 0;
        for _ in 0..GETS {
            // xorshift: cheap and reproducible. Every point of the fill's TS grid is a
            // prewrite's start TS or a commit's commit TS.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let ts = first + (state % ((last - first) / TS_STEP)) * TS_STEP;
            let started = Instant::now();
            let record = engine.get(ts)?;
            histogram.record(started.elapsed().as_nanos() as u64)?;
            found += u64::from(record.is_some());
        }
        ensure!(found > 0, "no get found a record");
        result.get_p50_us = Some(percentile_us(&histogram, 0.5));
        result.get_p99_us = Some(percentile_us(&histogram, 0.99));
        eprintln!(
            "  get: p50 {:.1} us, p99 {:.1} us ({found} of {GETS} found)",
            result.get_p50_us.unwrap_or_default(),
            result.get_p99_us.unwrap_or_default()
        );
    }
    if with_gc {
        let before = stored_bytes(dir)?;
        let started = Instant::now();
        let outcome = engine.gc(engine.max_commit_ts() - 1)?;
        let gc_ms = started.elapsed().as_secs_f64() * 1000.0;
        let binlog_engine::GcOutcome::Collected { segments: dropped } = outcome else {
            bail!("GC collected nothing: {outcome:?}");
        };
        // The files go in the background (recycled as spares or unlinked): wait for them.
        let files_left = |(_, count): (u64, usize)| count + dropped > before.1;
        while files_left(stored_bytes(dir)?) && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let gone_ms = started.elapsed().as_secs_f64() * 1000.0;
        let after = stored_bytes(dir)?;
        result.gc_ms = Some(gc_ms);
        result.gc_files_gone_ms = Some(gone_ms);
        result.gc_removed_segments = Some(dropped);
        result.gc_removed_bytes = Some(before.0.saturating_sub(after.0));
        eprintln!(
            "  gc: returned in {gc_ms:.1} ms, {dropped} segments dropped, files gone after {gone_ms:.0} ms ({} MiB freed or recycled)",
            before.0.saturating_sub(after.0) >> 20
        );
    }
    engine.close();
    Ok(result)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let [dir, bytes] = args.child_fill.as_slice() {
        return child_fill(Path::new(dir), bytes.parse()?, args.backend);
    }
    if args.sizes.is_empty() || args.sizes.windows(2).any(|w| w[0] >= w[1]) {
        bail!("--sizes must be ascending");
    }
    std::fs::create_dir_all(&args.dir)?;
    let temp = tempfile::Builder::new()
        .prefix("engine-read-")
        .tempdir_in(&args.dir)?;
    let dir = temp.path().join("data");
    let mut results = Vec::new();
    let last = *args.sizes.last().expect("not empty");
    for &size in &args.sizes {
        eprintln!("filling to {size} GiB, then SIGKILL");
        fill_and_kill(&dir, size * GIB, args.backend)?;
        results.push(measure(
            &dir,
            args.backend,
            size == 4 || size == last,
            size == last,
        )?);
    }
    println!("engine-read ({:?} backend), {}", args.backend, utc_now());
    println!(
        "{:>8} {:>8} {:>10} {:>12} {:>12} {:>10} {:>9} {:>9} {:>8} {:>11} {:>8}",
        "seg GiB",
        "segments",
        "reopen ms",
        "pull1 MB/s",
        "pull2 MB/s",
        "binlogs",
        "get p50",
        "get p99",
        "gc ms",
        "files gone",
        "gc segs"
    );
    let show = |value: Option<f64>, digits: usize| {
        value.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
    };
    for r in &results {
        println!(
            "{:>8.2} {:>8} {:>10.1} {:>12} {:>12} {:>10} {:>9} {:>9} {:>8} {:>11} {:>8}",
            r.stored_bytes as f64 / GIB as f64,
            r.segments,
            r.reopen_ms,
            show(r.pull_cold_mb_s, 0),
            show(r.pull_warm_mb_s, 0),
            r.pull_binlogs.map_or("-".into(), |c| c.to_string()),
            show(r.get_p50_us, 1),
            show(r.get_p99_us, 1),
            show(r.gc_ms, 1),
            show(r.gc_files_gone_ms, 0),
            r.gc_removed_segments.map_or("-".into(), |c| c.to_string()),
        );
    }
    let report = serde_json::json!({
        "benchmark": "engine-read",
        "backend": args.backend,
        "results": results,
    });
    print_and_save_json(&report, args.json.as_deref())
}

/// The UTC date and time now, without a date crate.
fn utc_now() -> String {
    let output = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output();
    output
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
