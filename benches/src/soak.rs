//! `soak`: pumps, a drainer and `binlog-load` at about half the maximum rate for a given time,
//! with the pumps and the drainer killed by SIGKILL at random moments and restarted (same
//! address, same data dir); at the end every commit `binlog-load` saw acknowledged must be in
//! the drainer's `file` destination exactly once, in commit-TS order, with the content it was
//! written with, and no rolled-back transaction may be there.
//!
//! The run:
//! 1. starts `--pumps` pumps and a drainer (`file` destination, from commit TS 0) on the file
//!    registry of a temporary directory under `--dir`;
//! 2. unless `--rate` is given, runs `binlog-load` at full speed for `--calibrate` and takes half
//!    of its transaction rate;
//! 3. runs `binlog-load` at that rate for `--duration` (`--allow-errors`, `--acked-file`), and
//!    meanwhile kills `--pump-kills` times a random pump and `--drainer-kills` times the drainer,
//!    at random moments, each down for a random time up to `--max-down`;
//! 4. waits until the drainer's checkpoint reaches the last acknowledged commit, stops it, and
//!    checks its binlog files against both loads' `--acked-file`s.
//!
//! It prints one summary line (and JSON with `--json`) and exits non-zero if anything was lost,
//! duplicated, corrupt, out of order or rolled back. Needs the release binaries:
//!
//! ```text
//! cargo run --release -p binlog-benches --bin soak -- --duration 20m --pump-kills 12 --drainer-kills 6
//! ```

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use binlog_archive::binlog_file::{decode_records, list_files};
use binlog_benches::nodes::{http_get, wait_http, Process};
use binlog_benches::save_json;
use binlog_node::proto::Binlog;
use binlog_testkit::{binary, free_addr};
use binlog_tools::load::spec::{parse_duration, Rng};
use binlog_tools::load::verify::{Expected, StreamCheck};
use clap::Parser;
use prost::Message;
use serde::Serialize;
use serde_json::Value;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(
    about = "Pumps + drainer + binlog-load with random SIGKILLs; checks that nothing acknowledged \
             is lost, duplicated or corrupt"
)]
struct Args {
    /// Directory under which a temporary directory is made (removed afterwards unless the run
    /// failed or --keep).
    #[arg(long, default_value = "bench-data")]
    dir: PathBuf,
    /// How long the load runs, e.g. 20m.
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    duration: Duration,
    /// Pumps.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=8))]
    pumps: u32,
    /// SIGKILLs of a random pump during the load.
    #[arg(long, default_value_t = 12)]
    pump_kills: u32,
    /// SIGKILLs of the drainer during the load.
    #[arg(long, default_value_t = 6)]
    drainer_kills: u32,
    /// Longest time a killed node stays down before it is restarted.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    max_down: Duration,
    /// Transactions per second of the load; default: half of the calibration run's rate.
    #[arg(long)]
    rate: Option<f64>,
    /// How long the full-speed calibration run lasts.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    calibrate: Duration,
    /// binlog-load clients.
    #[arg(long, default_value_t = 32)]
    clients: u32,
    /// Size of the prewrite values (binlog-load's --value-size).
    #[arg(long, default_value = "128B..2KiB")]
    value_size: String,
    /// Seed of the kill schedule; default: from the clock.
    #[arg(long)]
    seed: Option<u64>,
    /// Keep the data directory even when the run passed.
    #[arg(long)]
    keep: bool,
    /// Also write the summary as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Which node a scheduled kill hits.
#[derive(Clone, Copy, Debug)]
enum Target {
    Pump(usize),
    Drainer,
}

/// A pump or the drainer: how to start it, and its process while it runs.
struct Node {
    name: String,
    addr: String,
    /// `GET /status` contains this once the node is ready.
    ready: &'static str,
    program: PathBuf,
    args: Vec<String>,
    process: Option<Process>,
}

impl Node {
    /// Starts the node and waits until it is ready.
    fn start(&mut self) -> Result<()> {
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("start {}", self.name))?;
        self.process = Some(Process(child));
        wait_http(&self.addr, "/status", self.ready)
            .with_context(|| format!("{} did not come up", self.name))?;
        Ok(())
    }

    /// Kills the node with SIGKILL and reaps it.
    fn kill(&mut self) {
        drop(self.process.take());
    }
}

/// The summary of a run.
#[derive(Debug, Serialize)]
struct Summary {
    seconds: f64,
    pumps: u32,
    pump_kills: u32,
    drainer_kills: u32,
    rate: f64,
    /// Commit binlogs written (acknowledged or not).
    written: u64,
    acknowledged: u64,
    delivered: u64,
    lost: u64,
    duplicated: u64,
    corrupt: u64,
    out_of_order: u64,
    rolled_back_seen: u64,
    /// Commits written without an ack that are in the destination (allowed).
    unconfirmed_delivered: u64,
    /// Failed writes binlog-load saw (and retried where it had to).
    write_errors: u64,
    /// Commit TSs of the first lost commits.
    first_lost: Vec<i64>,
}

impl Summary {
    fn failed(&self) -> bool {
        self.lost + self.duplicated + self.corrupt + self.out_of_order + self.rolled_back_seen > 0
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    let temp = tempfile::Builder::new()
        .prefix("soak-")
        .tempdir_in(&args.dir)?;
    let dir = temp.path().to_path_buf();
    let result = soak(&args, &dir);
    let keep = args.keep || !matches!(result, Ok(ref summary) if !summary.failed());
    if keep {
        let kept = temp.keep();
        eprintln!(
            "soak: data, logs and acked files kept in {}",
            kept.display()
        );
    }
    let summary = result?;
    println!(
        "soak: {:.0} s, {} pumps, {} pump kills, {} drainer kills, {:.0} txn/s: written {}, \
         acknowledged {}, delivered {}, lost {}, duplicated {}, corrupt {}, out of order {}, \
         rolled back seen {} (unconfirmed delivered {}, write errors {})",
        summary.seconds,
        summary.pumps,
        summary.pump_kills,
        summary.drainer_kills,
        summary.rate,
        summary.written,
        summary.acknowledged,
        summary.delivered,
        summary.lost,
        summary.duplicated,
        summary.corrupt,
        summary.out_of_order,
        summary.rolled_back_seen,
        summary.unconfirmed_delivered,
        summary.write_errors
    );
    if let Some(path) = &args.json {
        save_json(&summary, path)?;
    }
    if summary.failed() {
        bail!(
            "the soak run lost, duplicated or damaged binlogs (first lost commit TSs: {:?})",
            summary.first_lost
        );
    }
    Ok(())
}

fn soak(args: &Args, dir: &Path) -> Result<Summary> {
    let registry = dir.join("registry");
    let pump_config = dir.join("pump.toml");
    std::fs::write(
        &pump_config,
        "[storage]\nstop-write-at-available-space = \"1 GiB\"\n",
    )?;
    let mut pumps = Vec::new();
    for index in 0..args.pumps {
        let name = format!("pump{index}");
        let addr = free_addr();
        let mut pump = Node {
            args: node_args(&addr, dir, &name, &registry)
                .into_iter()
                .chain(["-heartbeat-interval", "1", "-config"].map(String::from))
                .chain([pump_config.display().to_string()])
                .collect(),
            name,
            addr,
            ready: "\"online\"",
            program: binary("pump"),
            process: None,
        };
        pump.start()?;
        pumps.push(pump);
    }
    let drainer_addr = free_addr();
    let mut drainer = Node {
        args: node_args(&drainer_addr, dir, "drainer", &registry)
            .into_iter()
            .chain(["-initial-commit-ts", "0", "-detect-interval", "1"].map(String::from))
            .collect(),
        name: "drainer".into(),
        addr: drainer_addr,
        ready: "PumpPos",
        program: binary("drainer"),
        process: None,
    };
    drainer.start()?;
    let pump_addrs: Vec<String> = pumps.iter().map(|pump| pump.addr.clone()).collect();

    let rate = match args.rate {
        Some(rate) => rate,
        None => {
            let calibration = dir.join("calibration");
            run_load(args, dir, &pump_addrs, args.calibrate, None, &calibration)?.wait()?;
            let report = read_report(&calibration)?;
            let full = report["txn_per_sec"]
                .as_f64()
                .context("no txn rate in the calibration report")?;
            eprintln!("soak: calibration {full:.0} txn/s at full speed; the load runs at half");
            full / 2.0
        }
    };

    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64
    });
    let schedule = kill_schedule(args, seed);
    eprintln!(
        "soak: {:?} at {rate:.0} txn/s over {} pumps, {} kills (seed {seed}); logs in {}",
        args.duration,
        args.pumps,
        schedule.len(),
        dir.display()
    );
    let began = Instant::now();
    let mut load = run_load(
        args,
        dir,
        &pump_addrs,
        args.duration,
        Some(rate),
        &dir.join("load"),
    )?;
    let mut rng = Rng::new(seed ^ 0x5eed);
    let (mut pump_kills, mut drainer_kills) = (0, 0);
    for (at, target) in schedule {
        if let Some(wait) = at.checked_sub(began.elapsed()) {
            std::thread::sleep(wait);
        }
        let node = match target {
            Target::Pump(index) => {
                pump_kills += 1;
                &mut pumps[index]
            }
            Target::Drainer => {
                drainer_kills += 1;
                &mut drainer
            }
        };
        node.kill();
        let down = args.max_down.mul_f64(rng.next_f64());
        eprintln!(
            "soak: {:>6.1} s: killed {}, restarting in {:.1} s",
            began.elapsed().as_secs_f64(),
            node.name,
            down.as_secs_f64()
        );
        std::thread::sleep(down);
        node.start()?;
    }
    let status = load.wait()?;
    let seconds = began.elapsed().as_secs_f64();
    ensure!(
        status.success(),
        "binlog-load failed ({status}); see {}",
        dir.join("load.log").display()
    );
    let report = read_report(&dir.join("load"))?;

    let mut expected = read_acked(&dir.join("load"))?;
    if args.rate.is_none() {
        expected.merge(read_acked(&dir.join("calibration"))?);
    }
    let target = expected
        .acked
        .iter()
        .map(|c| c.commit_ts)
        .max()
        .unwrap_or(0);
    wait_for_checkpoint(&drainer, &pumps, target)?;
    drainer.kill();
    let mut check = StreamCheck::new(0);
    for (commit, acknowledged) in expected.commits() {
        check.want(commit, acknowledged);
    }
    let undecodable = check_destination(&dir.join("drainer"), &mut check, &expected.rolled_back)?;
    let lost = check.missing();
    Ok(Summary {
        seconds,
        pumps: args.pumps,
        pump_kills,
        drainer_kills,
        rate,
        written: (expected.acked.len() + expected.unconfirmed.len()) as u64,
        acknowledged: expected.acked.len() as u64,
        delivered: check.delivered(),
        lost,
        duplicated: check.duplicated,
        corrupt: check.corrupt + undecodable,
        out_of_order: check.out_of_order,
        rolled_back_seen: check.rolled_back_seen,
        unconfirmed_delivered: check.unconfirmed_delivered,
        write_errors: report["write_errors"].as_u64().unwrap_or(0),
        first_lost: check.missing_commits().into_iter().take(10).collect(),
    })
}

/// The flags every node gets: its address (HTTP and gRPC, also its node ID's port), data dir,
/// registry and log file.
fn node_args(addr: &str, dir: &Path, name: &str, registry: &Path) -> Vec<String> {
    let path = |p: PathBuf| p.display().to_string();
    vec![
        "-addr".into(),
        addr.into(),
        "-data-dir".into(),
        path(dir.join(name)),
        "-registry-dir".into(),
        path(registry.to_path_buf()),
        "-log-file".into(),
        path(dir.join(format!("{name}.log"))),
    ]
}

/// Starts `binlog-load` over `pumps` for `duration` (at `rate`, else full speed), writing its
/// JSON report to `<out>.json`, its acked file to `<out>.acked` and its stderr to `<out>.log`.
fn run_load(
    args: &Args,
    dir: &Path,
    pumps: &[String],
    duration: Duration,
    rate: Option<f64>,
    out: &Path,
) -> Result<Process> {
    let mut command = Command::new(binary("binlog-load"));
    command
        .arg("--registry-dir")
        .arg(dir.join("registry"))
        .args(["--clients", &args.clients.to_string()])
        .args(["--duration", &format!("{}ms", duration.as_millis())])
        .args(["--value-size", &args.value_size])
        .args(["--allow-errors", "--quiet", "--json"])
        .arg(out.with_extension("json"))
        .arg("--acked-file")
        .arg(out.with_extension("acked"));
    for pump in pumps {
        command.args(["--pump", pump]);
    }
    if let Some(rate) = rate {
        command.args(["--rate", &format!("{rate:.0}")]);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(out.with_extension("log"))?)
        .spawn()
        .context("start binlog-load")?;
    Ok(Process(child))
}

fn read_report(out: &Path) -> Result<Value> {
    let path = out.with_extension("json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn read_acked(out: &Path) -> Result<Expected> {
    let path = out.with_extension("acked");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    Expected::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// `--pump-kills` kills of random pumps and `--drainer-kills` of the drainer, at random
/// moments between 5% and 90% of the duration, in time order.
fn kill_schedule(args: &Args, seed: u64) -> Vec<(Duration, Target)> {
    let mut rng = Rng::new(seed);
    let mut schedule = Vec::new();
    for kill in 0..args.pump_kills + args.drainer_kills {
        let at = args.duration.mul_f64(0.05 + 0.85 * rng.next_f64());
        let target = if kill < args.pump_kills {
            Target::Pump((rng.next_u64() % u64::from(args.pumps)) as usize)
        } else {
            Target::Drainer
        };
        schedule.push((at, target));
    }
    schedule.sort_by_key(|(at, _)| *at);
    schedule
}

/// How long the drainer may take to deliver the last acknowledged commit after the load.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(300);

/// Waits until the drainer's checkpoint (`/commit_ts`) is at or above `target`.
fn wait_for_checkpoint(drainer: &Node, pumps: &[Node], target: i64) -> Result<()> {
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    loop {
        let checkpoint = http_get(&drainer.addr, "/commit_ts")
            .and_then(|body| serde_json::from_str::<Value>(&body).ok())
            .and_then(|reply| reply["data"]["ts"].as_i64())
            .unwrap_or(0);
        if checkpoint >= target {
            return Ok(());
        }
        if Instant::now() > deadline {
            let watermarks: Vec<String> = pumps
                .iter()
                .map(|pump| {
                    format!(
                        "{}: {}",
                        pump.name,
                        http_get(&pump.addr, "/status").unwrap_or_default()
                    )
                })
                .collect();
            bail!(
                "the drainer's checkpoint {checkpoint} did not reach the last acknowledged \
                 commit {target} within {CATCH_UP_TIMEOUT:?}; pumps: {}",
                watermarks.join("; ")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Feeds every binlog of the `file` destination in `dir` to `check`, in file order; returns
/// how many records were damaged or undecodable (a torn tail of the newest file, which the
/// drainer cuts at its next start, is not counted).
fn check_destination(
    dir: &Path,
    check: &mut StreamCheck,
    rolled_back: &HashSet<i64>,
) -> Result<u64> {
    let files = list_files(dir)?;
    let mut damaged = 0;
    for (position, (_, path)) in files.iter().enumerate() {
        let bytes = std::fs::read(path)?;
        let (records, valid) = decode_records(&bytes);
        if valid < bytes.len() as u64 && position + 1 < files.len() {
            eprintln!("soak: damage in {} at byte {valid}", path.display());
            damaged += 1;
        }
        for record in records {
            match Binlog::decode(&record.payload[..]) {
                Ok(binlog) => check.check(&binlog, rolled_back),
                Err(_) => damaged += 1,
            }
        }
    }
    Ok(damaged)
}
