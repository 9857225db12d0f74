//! `binlog-load`: a load generator that behaves like TiDB towards its pumps.
//!
//! `--clients` concurrent gRPC clients each write transactions to one pump (round robin by
//! client): a start TS from the TSO, the prewrite binlog (a `PrewriteValue` inserting one row of
//! a `--value-size` drawn size), then, once the pump acknowledged it, a commit TS from the TSO
//! and the commit binlog. Every `--ddl-every`th transaction is a DDL (prewrite and commit with
//! `ddl_job_id` and `ddl_query`); a `--rollback-fraction` of the others writes a rollback binlog
//! (commit TS 0) instead of committing. TSs come from the TSO the pumps use (the host's file
//! TSO in `--registry-dir`, or etcd with `--pd-urls`), so the pumps' watermarks and the
//! drainer's merge see them as they would TiDB's.
//!
//! The run ends after `--count` transactions or `--duration` (or on Ctrl-C), then reports
//! per-type counts, errors, rates and latency percentiles as a table and, with `--json`, as
//! JSON. `--verify` then pulls everything back and checks it (see [`verify`]).
//!
//! Modules: [`spec`] parses the command line's values, [`pump`] connects to a pump as TiDB
//! does, [`workload`] runs the clients, [`stats`] is what they measure, [`acked`] what they
//! remember of each acknowledged commit, [`report`] prints the measurements, [`verify`] checks
//! what the pumps return.

pub mod acked;
pub mod pump;
pub mod report;
pub mod spec;
pub mod stats;
pub mod verify;
pub mod workload;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use binlog_node::config::security::SecurityConfig;
use binlog_node::config::DEFAULT_REGISTRY_DIR;
use binlog_node::registry::{self, NodeKind, NodeState, Registry};
use binlog_node::tls::Tls;
use binlog_node::tso;
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};

use pump::Pump;
use report::{Report, Settings};
use spec::{parse_duration, parse_fraction, parse_rate, ValueSize};
use stats::Stats;
use verify::{Expected, VerifyReport};
use workload::{Load, Plan};

/// The load's duration when neither `--duration` nor `--count` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// How often progress bars are refreshed.
const PROGRESS_TICK: Duration = Duration::from_millis(200);

/// The command line of `binlog-load`.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "binlog-load",
    version,
    about = "Write binlogs to pumps the way TiDB does, and measure throughput and latency",
    long_about = "Write binlogs to pumps the way TiDB does, and measure throughput and latency.\n\n\
        Each of --clients concurrent gRPC clients writes whole transactions to one pump (round \
        robin by client): a start TS from the TSO, the prewrite binlog, then - after the pump \
        acknowledged it - a commit TS from the TSO and the commit binlog. Every --ddl-every'th \
        transaction is a DDL; a --rollback-fraction of the others is rolled back (prewrite, then \
        a rollback binlog with commit TS 0). TSs come from the pumps' own TSO: the host's file \
        TSO in --registry-dir, or etcd with --pd-urls. Like TiDB, a client retries a failed \
        commit or rollback binlog for --finish-retry, and writes a rollback binlog for a \
        transaction that fails after its prewrite was sent.\n\n\
        The run ends after --count transactions or --duration (default 10s), or on Ctrl-C. It \
        prints a table of per-type counts, errors, rates and latency percentiles (µs), and JSON \
        with --json. The exit code is non-zero if a write failed (unless --allow-errors) or \
        --verify found a problem.",
    after_help = "Examples:\n  \
        binlog-load --pump 127.0.0.1:8250 --count 10000 --verify\n  \
        binlog-load --clients 16 --duration 1m --value-size 256B..16KiB --rate 2000 --json out.json\n  \
        binlog-load --pd-urls http://127.0.0.1:2379 --duration 30s --json - | jq .types.commit"
)]
pub struct Options {
    /// A pump's gRPC address HOST:PORT; repeat for several. Default: every online pump in the
    /// registry.
    #[arg(long = "pump", value_name = "HOST:PORT")]
    pub pumps: Vec<String>,

    /// etcd endpoints (comma-separated) of the registry and TSO, as the pumps' -pd-urls; empty
    /// selects the file registry and file TSO in --registry-dir.
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    pub pd_urls: Vec<String>,

    /// Directory of the file registry and file TSO (used without --pd-urls), as the pumps'
    /// -registry-dir.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_REGISTRY_DIR)]
    pub registry_dir: PathBuf,

    /// Concurrent clients (each writes one transaction at a time).
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub clients: u32,

    /// How long to write: a Go duration such as 500ms, 10s, 2m or 1h30m, or seconds (default
    /// 10s when --count is absent).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,

    /// How many transactions to write (in total, over every client).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Size of the row in each prewrite value: SIZE (fixed) or MIN..MAX (uniform, both
    /// included), written as the pump's sizes: KB, MB = 10^3, 10^6 bytes; KiB, MiB = 2^10,
    /// 2^20 bytes; e.g. 1KiB or 256B..16KiB. The marshalled value is ~15 bytes more.
    #[arg(long, value_name = "SIZE[..MAX]", default_value = "1KiB")]
    pub value_size: ValueSize,

    /// Make every Nth transaction a DDL (ddl_job_id > 0 and a ddl_query); 0 for none.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub ddl_every: u64,

    /// Fraction (0 to 1) of the non-DDL transactions that roll back.
    #[arg(long, value_name = "FRACTION", default_value = "0.01", value_parser = parse_fraction)]
    pub rollback_fraction: f64,

    /// Limit the start of transactions to this many per second in total; default: as fast as
    /// the clients go.
    #[arg(long, value_name = "TXNS_PER_SEC", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Gzip-compress the gRPC messages.
    #[arg(long)]
    pub gzip: bool,

    /// Talk to the pumps (and to etcd at https:// --pd-urls) over TLS, trusting the CAs of
    /// this PEM file (the pumps' `[security] ssl-ca`); with --ssl-cert and --ssl-key, the
    /// client certificate to present.
    #[arg(long, value_name = "FILE")]
    pub ssl_ca: Option<PathBuf>,

    /// The client certificate (PEM) presented to pumps (and etcd) serving TLS.
    #[arg(long, value_name = "FILE", requires = "ssl_ca", requires = "ssl_key")]
    pub ssl_cert: Option<PathBuf>,

    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE", requires = "ssl_cert")]
    pub ssl_key: Option<PathBuf>,

    /// Write the report as JSON to FILE; "-" prints it to stdout (the table then goes to
    /// stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// After the load, pull every pump's binlogs back and check that each acknowledged commit
    /// arrives once, in commit-TS order, with its prewrite value, and no rollback shows up.
    #[arg(long)]
    pub verify: bool,

    /// At the end, write every transaction to FILE, one line each: `commit PUMP START_TS
    /// COMMIT_TS DIGEST` (acknowledged), `unconfirmed ...` (commit written, never acknowledged),
    /// `rollback START_TS`. PUMP indexes the pump list, DIGEST is the 64-bit FNV-1a of the
    /// prewrite value and DDL fields, in hex. For checking a downstream (the soak run does).
    #[arg(long, value_name = "FILE")]
    pub acked_file: Option<PathBuf>,

    /// How long a commit or rollback binlog is retried when its write fails, as TiDB retries
    /// it: the pump's watermark cannot pass a prewrite until one arrives.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub finish_retry: Duration,

    /// How long --verify waits for the last acknowledged commit.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub verify_timeout: Duration,

    /// Exit with 0 even if some writes failed.
    #[arg(long)]
    pub allow_errors: bool,

    /// No progress bars and no progress messages.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Options {
    fn pd_urls(&self) -> Vec<String> {
        self.pd_urls
            .iter()
            .map(|url| url.trim())
            .filter(|url| !url.is_empty())
            .map(String::from)
            .collect()
    }

    fn json_to_stdout(&self) -> bool {
        self.json.as_deref() == Some(std::path::Path::new("-"))
    }

    fn show_progress(&self) -> bool {
        !self.quiet && std::io::stdout().is_terminal()
    }

    /// Prints a progress message to stderr unless `--quiet`.
    fn say(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }
}

/// Runs the load (and the verification) described by `options`, prints the table, writes the
/// JSON, and returns the report. Problems with the run itself (a failed write, a failed
/// verification) are in the report: see [`problems`].
pub async fn run(options: &Options) -> Result<Report> {
    let pd_urls = options.pd_urls();
    let tls = Tls::from_config(&SecurityConfig {
        ssl_ca: options.ssl_ca.clone(),
        ssl_cert: options.ssl_cert.clone(),
        ssl_key: options.ssl_key.clone(),
        cert_allowed_cn: Vec::new(),
    })?;
    let registry = registry::open(&pd_urls, tls.as_ref(), &options.registry_dir)
        .await
        .context("cannot open the registry")?;
    let cluster_id = registry.cluster_id().await.with_context(|| {
        format!(
            "cannot read the cluster ID from the {}",
            registry.describe()
        )
    })?;
    let addrs = if options.pumps.is_empty() {
        online_pumps(&*registry).await?
    } else {
        options.pumps.clone()
    };
    let tso = tso::open(&pd_urls, tls.as_ref(), &options.registry_dir)
        .await
        .context("cannot open the TSO")?;
    let mut pumps = Vec::with_capacity(addrs.len());
    for addr in &addrs {
        pumps.push(Pump::connect(addr, cluster_id, options.gzip, tls.as_ref()).await?);
    }
    let begin_ts = tso.get_ts().await.context("cannot get a TS from the TSO")? as i64;
    let settings = Settings {
        pumps: pumps.iter().map(|pump| pump.addr.clone()).collect(),
        clients: options.clients,
        value_size: options.value_size.to_string(),
        ddl_every: options.ddl_every,
        rollback_fraction: options.rollback_fraction,
        rate: options.rate,
        gzip: options.gzip,
    };
    let plan = Plan {
        count: options.count,
        duration: options
            .count
            .is_none()
            .then(|| options.duration.unwrap_or(DEFAULT_DURATION)),
        value_size: options.value_size,
        ddl_every: options.ddl_every,
        rollback_fraction: options.rollback_fraction,
        keep_acked: options.verify || options.acked_file.is_some(),
        finish_retry: options.finish_retry,
    };
    options.say(&format!(
        "binlog-load: {} clients writing to {} (cluster ID {cluster_id})",
        options.clients,
        settings.pumps.join(", ")
    ));
    let (stats, expected, load) = run_load(options, plan, tso, cluster_id, pumps.clone()).await;
    let mut report = Report::new(
        settings,
        load.started().elapsed(),
        &stats,
        load.first_errors(),
    );
    print_result(options, &report.table());
    if let Some(path) = &options.acked_file {
        write_acked_file(path, &expected)?;
    }
    if options.verify {
        let verified = run_verify(options, &pumps, cluster_id, begin_ts, expected).await;
        print_result(options, &format!("{verified}\n"));
        report.verify = Some(verified);
    }
    write_json(options, &report)?;
    Ok(report)
}

/// What is wrong with a finished run, given its options: failed writes (unless
/// `--allow-errors`) and verification problems. Empty means success.
pub fn problems(options: &Options, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    if report.write_errors > 0 && !options.allow_errors {
        problems.push(format!(
            "{} writes failed (first: {}); pass --allow-errors to accept failures",
            report.write_errors,
            report.first_errors.first().map_or("?", String::as_str)
        ));
    }
    if let Some(verified) = &report.verify {
        problems.extend(verified.problems(options.verify_timeout));
    }
    problems
}

/// The addresses of the registry's online pumps.
async fn online_pumps(registry: &dyn Registry) -> Result<Vec<String>> {
    let nodes = registry
        .nodes(NodeKind::Pump)
        .await
        .with_context(|| format!("cannot list the pumps in the {}", registry.describe()))?;
    let online: Vec<String> = nodes
        .into_iter()
        .filter(|node| node.state == NodeState::Online)
        .map(|node| node.host)
        .collect();
    if online.is_empty() {
        bail!(
            "no online pump in the {}: start one, or name one with --pump HOST:PORT",
            registry.describe()
        );
    }
    Ok(online)
}

/// Runs the clients to the end of the load, with a progress bar; stops early on Ctrl-C.
async fn run_load(
    options: &Options,
    plan: Plan,
    tso: Arc<dyn tso::Tso>,
    cluster_id: u64,
    pumps: Vec<Pump>,
) -> (Stats, Expected, Arc<Load>) {
    let bar = load_bar(options, &plan);
    let counted = plan.count.is_some();
    let load = Arc::new(Load::new(plan, tso, cluster_id, pumps, options.rate));
    let clients: Vec<_> = (0..options.clients as usize)
        .map(|index| tokio::spawn(load.clone().client(index)))
        .collect();
    let ticker = tokio::spawn(tick_load(load.clone(), bar.clone(), counted));
    let interrupt = {
        let load = load.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                load.stop();
            }
        })
    };
    let mut stats = Stats::default();
    let mut expected = Expected::default();
    for client in clients {
        // A client task only ends early if it panicked; its measurements are then lost.
        if let Ok(outcome) = client.await {
            stats.merge(&outcome.stats);
            expected.acked.extend(outcome.acked);
            expected.unconfirmed.extend(outcome.unconfirmed);
            expected.rolled_back.extend(outcome.rolled_back);
        }
    }
    ticker.abort();
    interrupt.abort();
    bar.finish_and_clear();
    (stats, expected, load)
}

/// The load's progress bar: transactions of `--count`, or time of the duration.
fn load_bar(options: &Options, plan: &Plan) -> ProgressBar {
    if !options.show_progress() {
        return ProgressBar::hidden();
    }
    let (len, template) = match (plan.count, plan.duration) {
        (Some(count), _) => (count, "{elapsed_precise} [{bar:40}] {pos}/{len} txns {msg}"),
        (None, duration) => (
            duration.map_or(0, |d| d.as_millis() as u64),
            "{elapsed_precise} [{bar:40}] {msg}",
        ),
    };
    let style = ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(len).with_style(style)
}

/// Refreshes the load's progress bar until aborted; `counted`: the bar counts transactions (a
/// `--count` run), else milliseconds.
async fn tick_load(load: Arc<Load>, bar: ProgressBar, counted: bool) {
    loop {
        tokio::time::sleep(PROGRESS_TICK).await;
        let finished = load.finished.load(Ordering::Relaxed);
        let elapsed = load.started().elapsed();
        bar.set_position(if counted {
            finished
        } else {
            elapsed.as_millis() as u64
        });
        bar.set_message(format!(
            "{finished} txns, {:.0} txn/s, {} errors",
            finished as f64 / elapsed.as_secs_f64().max(1e-3),
            load.failures.load(Ordering::Relaxed)
        ));
    }
}

/// Runs `--verify` with a progress bar of delivered commits.
async fn run_verify(
    options: &Options,
    pumps: &[Pump],
    cluster_id: u64,
    begin_ts: i64,
    expected: Expected,
) -> VerifyReport {
    let total = expected.acked.len() as u64;
    options.say(&format!(
        "verifying: pulling {total} acknowledged commits back from {} pump(s)",
        pumps.len()
    ));
    let bar = if options.show_progress() {
        let style = ProgressStyle::with_template("verify [{bar:40}] {pos}/{len} commits")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        ProgressBar::new(total).with_style(style)
    } else {
        ProgressBar::hidden()
    };
    let delivered = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (bar, delivered) = (bar.clone(), delivered.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROGRESS_TICK).await;
                bar.set_position(delivered.load(Ordering::Relaxed));
            }
        })
    };
    let verified = verify::verify(
        pumps,
        cluster_id,
        begin_ts,
        expected,
        options.verify_timeout,
        delivered,
    )
    .await;
    ticker.abort();
    bar.finish_and_clear();
    verified
}

/// Prints a result: to stdout, or to stderr when stdout carries the JSON.
fn print_result(options: &Options, text: &str) {
    if options.json_to_stdout() {
        eprint!("{text}");
    } else {
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
}

/// Writes the `--acked-file`.
fn write_acked_file(path: &std::path::Path, expected: &Expected) -> Result<()> {
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        expected.write_to(&mut out)?;
        out.flush()
    };
    write().with_context(|| format!("cannot write the acked file {}", path.display()))
}

/// Writes the JSON report where `--json` says.
fn write_json(options: &Options, report: &Report) -> Result<()> {
    let Some(path) = &options.json else {
        return Ok(());
    };
    let json = serde_json::to_string_pretty(report).context("cannot serialise the report")?;
    if options.json_to_stdout() {
        println!("{json}");
    } else {
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write the JSON report to {}", path.display()))?;
    }
    Ok(())
}
