//! `pump-e2e`: the real `pump` over loopback gRPC, driven by the real `binlog-load`, against a
//! no-op `WriteBinlog` server built from the same gRPC stack (tonic, axum, our protos) in the
//! same run: the protocol's ceiling on this machine. Then the drainer: binlogs/s merged from
//! three pumps into the `file` destination.
//!
//! Measured:
//! - for 64 and 256 client tasks: transactions/s (prewrite + commit pairs, 1 KiB prewrite
//!   values, no DDL, no rollbacks) against the no-op server and against the pump, `--runs`
//!   times each, alternating; the medians and their ratio;
//! - at half of the pump's maximum rate at the smallest client count: WriteBinlog latency
//!   p50/p99 of the prewrites and commits, and the no-op server's at the same rate (the load
//!   generator's own noise);
//! - the pump's peak RSS (`VmHWM`) after all of that;
//! - a drainer started at commit TS 0 over three pumps holding what the loads wrote (plus a
//!   load on the two others): binlogs/s until its checkpoint reaches the last commit.
//!
//! Builds the release binaries it runs when they are missing or stale (the test kit's
//! `binary`, `cargo build --release --workspace --bins`). Run:
//!
//! ```text
//! cargo run --release -p binlog-benches --bin pump-e2e -- --json pump-e2e.json
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use binlog_benches::nodes::{http_get, wait_http, Process};
use binlog_benches::print_and_save_json;
use binlog_node::proto::pump_server::{Pump, PumpServer};
use binlog_node::proto::{PullBinlogReq, PullBinlogResp, WriteBinlogReq, WriteBinlogResp};
use binlog_testkit::{binary, free_addr};
use clap::Parser;
use serde::Serialize;
use serde_json::Value;
use tonic::{Request, Response, Status};

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "The pump end to end against a no-op gRPC server, and the drainer's merge rate")]
struct Args {
    /// Directory under which a temporary directory is made (and removed afterwards).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// Client task counts.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    clients: Vec<u32>,
    /// Seconds per load run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Runs per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Also write the JSON results to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Internal: serve the no-op `binlog.Pump` on this address.
    #[arg(long, hide = true)]
    noop_server: Option<String>,
}

/// A `binlog.Pump` that acknowledges every write at once and streams nothing.
struct NoopPump;

#[tonic::async_trait]
impl Pump for NoopPump {
    async fn write_binlog(
        &self,
        _request: Request<WriteBinlogReq>,
    ) -> Result<Response<WriteBinlogResp>, Status> {
        Ok(Response::new(WriteBinlogResp::default()))
    }

    type PullBinlogsStream = futures_util::stream::Empty<Result<PullBinlogResp, Status>>;

    async fn pull_binlogs(
        &self,
        _request: Request<PullBinlogReq>,
    ) -> Result<Response<Self::PullBinlogsStream>, Status> {
        Ok(Response::new(futures_util::stream::empty()))
    }
}

/// Serves [`NoopPump`] the way the pump serves itself (one port, TCP_NODELAY, same runtime).
fn serve_noop(addr: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (listener, _) = binlog_node::serve::bind(addr).await?;
        let grpc = tonic::service::Routes::new(PumpServer::new(NoopPump));
        let app = binlog_node::serve::one_port_app(
            grpc,
            axum::Router::new().route("/status", axum::routing::get(|| async { "noop" })),
        );
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        binlog_node::serve::serve(listener, app, std::future::pending()).await?;
        Ok(())
    })
}

/// Starts a pump with its data in `dir/<name>`.
fn start_pump(dir: &Path, name: &str) -> Result<(Process, String)> {
    let addr = free_addr();
    let config = dir.join("pump.toml");
    std::fs::write(
        &config,
        "[storage]\nstop-write-at-available-space = \"1 MiB\"\n",
    )?;
    let child = Command::new(binary("pump"))
        .args(["-addr", &addr, "-L", "warn"])
        .arg("-data-dir")
        .arg(dir.join(name))
        .arg("-registry-dir")
        .arg(dir.join("registry"))
        .arg("-config")
        .arg(&config)
        .arg("-log-file")
        .arg(dir.join(format!("{name}.log")))
        .stdout(Stdio::null())
        .spawn()
        .context("start the pump")?;
    let process = Process(child);
    wait_http(&addr, "/status", "\"online\"")?;
    Ok((process, addr))
}

/// One `binlog-load` run; its JSON report.
fn load(
    dir: &Path,
    pumps: &[&str],
    clients: u32,
    seconds: u64,
    rate: Option<f64>,
) -> Result<Value> {
    let mut command = Command::new(binary("binlog-load"));
    command
        .arg("--registry-dir")
        .arg(dir.join("registry"))
        .args(["--clients", &clients.to_string()])
        .args(["--duration", &format!("{seconds}s")])
        .args([
            "--value-size",
            "1KiB",
            "--ddl-every",
            "0",
            "--rollback-fraction",
            "0",
        ])
        .args(["--json", "-", "--quiet"]);
    for pump in pumps {
        command.args(["--pump", pump]);
    }
    if let Some(rate) = rate {
        command.args(["--rate", &format!("{rate:.0}")]);
    }
    let output = command.stderr(Stdio::null()).output()?;
    ensure!(
        output.status.success(),
        "binlog-load failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// `VmHWM` of `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .context("VmHWM value")?
        .parse()?;
    Ok(kib / 1024.0)
}

/// Throughput of one client count.
#[derive(Debug, Serialize)]
struct LoadResult {
    clients: u32,
    noop_txn_per_sec: f64,
    pump_txn_per_sec: f64,
    ratio: f64,
    pump_prewrite_p99_us: f64,
    noop_runs: Vec<f64>,
    pump_runs: Vec<f64>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(addr) = &args.noop_server {
        return serve_noop(addr);
    }
    if args.runs == 0 || args.clients.is_empty() {
        bail!("--runs and --clients must not be empty");
    }
    std::fs::create_dir_all(&args.dir)?;
    let temp = tempfile::Builder::new()
        .prefix("pump-e2e-")
        .tempdir_in(&args.dir)?;
    let dir = temp.path();
    let noop_addr = free_addr();
    let _noop = Process(
        Command::new(std::env::current_exe()?)
            .args(["--noop-server", &noop_addr])
            .spawn()?,
    );
    wait_http(&noop_addr, "/status", "noop")?;
    let (pump, pump_addr) = start_pump(dir, "pump0")?;

    let mut loads = Vec::new();
    for &clients in &args.clients {
        let (mut noop_runs, mut pump_runs, mut p99s) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..args.runs {
            eprintln!("{clients} clients, run {}: no-op, then pump", run + 1);
            let noop = load(dir, &[&noop_addr], clients, args.seconds, None)?;
            noop_runs.push(noop["txn_per_sec"].as_f64().unwrap_or_default());
            let real = load(dir, &[&pump_addr], clients, args.seconds, None)?;
            pump_runs.push(real["txn_per_sec"].as_f64().unwrap_or_default());
            p99s.push(
                real["types"]["prewrite"]["latency_us"]["p99"]
                    .as_f64()
                    .unwrap_or_default(),
            );
        }
        let (noop, real) = (median(noop_runs.clone()), median(pump_runs.clone()));
        loads.push(LoadResult {
            clients,
            noop_txn_per_sec: noop,
            pump_txn_per_sec: real,
            ratio: real / noop,
            pump_prewrite_p99_us: median(p99s),
            noop_runs,
            pump_runs,
        });
    }
    // Latency at load: half of the pump's rate at the smallest client count, where the load
    // generator's own scheduling noise on this machine is smallest; the no-op server at the
    // same rate shows that noise.
    let low = loads.first().expect("clients not empty");
    let half_rate = low.pump_txn_per_sec / 2.0;
    eprintln!(
        "{} clients at half the pump's rate ({half_rate:.0} txn/s)",
        low.clients
    );
    let half = load(
        dir,
        &[&pump_addr],
        low.clients,
        args.seconds,
        Some(half_rate),
    )?;
    let half_noop = load(
        dir,
        &[&noop_addr],
        low.clients,
        args.seconds,
        Some(half_rate),
    )?;
    let latency = |report: &Value, kind: &str, q: &str| {
        report["types"][kind]["latency_us"][q]
            .as_f64()
            .unwrap_or_default()
    };
    let rss = peak_rss_mib(pump.0.id())?;

    // The drainer: two more pumps, a load over all three, then a drainer from commit TS 0.
    let (_pump1, addr1) = start_pump(dir, "pump1")?;
    let (_pump2, addr2) = start_pump(dir, "pump2")?;
    load(dir, &[&pump_addr, &addr1, &addr2], 256, args.seconds, None)?;
    let pumps: Value = serde_json::from_str(&wait_http(&pump_addr, "/status", "online")?)?;
    let target = pumps["status"]
        .as_object()
        .context("pump /status")?
        .values()
        .filter_map(|p| p["maxCommitTS"].as_i64())
        .max()
        .context("no pump watermark")?;
    let drainer_addr = free_addr();
    let started = Instant::now();
    let _drainer = Process(
        Command::new(binary("drainer"))
            .args([
                "-addr",
                &drainer_addr,
                "-initial-commit-ts",
                "0",
                "-L",
                "warn",
            ])
            .arg("-data-dir")
            .arg(dir.join("drainer"))
            .arg("-registry-dir")
            .arg(dir.join("registry"))
            .arg("-log-file")
            .arg(dir.join("drainer.log"))
            .spawn()?,
    );
    loop {
        let caught_up = http_get(&drainer_addr, "/commit_ts")
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .and_then(|reply| reply["data"]["ts"].as_i64())
            .is_some_and(|ts| ts >= target);
        if caught_up {
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the drainer did not catch up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let drain_secs = started.elapsed().as_secs_f64();
    let mut merged = 0usize;
    for (_, path) in binlog_archive::binlog_file::list_files(&dir.join("drainer"))? {
        merged += binlog_archive::binlog_file::decode_records(&std::fs::read(path)?)
            .0
            .len();
    }

    println!(
        "pump-e2e: binlog-load over loopback gRPC, 1 KiB prewrite values, {} s runs, median of {}",
        args.seconds, args.runs
    );
    println!(
        "{:>8} {:>14} {:>14} {:>7} {:>16}",
        "clients", "no-op txn/s", "pump txn/s", "ratio", "pump p99 us (pw)"
    );
    for l in &loads {
        println!(
            "{:>8} {:>14.0} {:>14.0} {:>7.2} {:>16.0}",
            l.clients, l.noop_txn_per_sec, l.pump_txn_per_sec, l.ratio, l.pump_prewrite_p99_us
        );
    }
    for (name, report) in [("pump", &half), ("no-op", &half_noop)] {
        println!(
            "half rate ({half_rate:.0} txn/s, {} clients), {name}: prewrite p50 {:.0} us p99 {:.0} us; commit p50 {:.0} us p99 {:.0} us",
            low.clients,
            latency(report, "prewrite", "p50"),
            latency(report, "prewrite", "p99"),
            latency(report, "commit", "p50"),
            latency(report, "commit", "p99")
        );
    }
    println!("pump peak RSS: {rss:.0} MiB");
    println!(
        "drainer: {merged} binlogs from 3 pumps into the file destination in {drain_secs:.1} s: {:.0} binlogs/s",
        merged as f64 / drain_secs
    );
    let report = serde_json::json!({
        "benchmark": "pump-e2e",
        "loads": loads,
        "half_rate": { "clients": low.clients, "txn_per_sec": half_rate, "pump": half, "noop": half_noop },
        "pump_peak_rss_mib": rss,
        "drainer": { "binlogs": merged, "seconds": drain_secs, "binlogs_per_sec": merged as f64 / drain_secs },
    });
    print_and_save_json(&report, args.json.as_deref())
}
