//! `binlog-inspect`: offline listing, dumping, verification and repair of a pump's segments.
//!
//! Every command takes a pump data dir (its segments are `<dir>/log/*.seg`) or one `.seg` file.
//! The data dir lock is taken for the whole command, so a pump cannot start meanwhile; a read
//! command refuses while a pump holds it unless `--read-only` is given (segments are then copied
//! into memory rather than mapped, and the active one may be mid-write). `repair`, even as a
//! dry run, always needs the lock.
//!
//! The checks and repairs are the engine's own ([`binlog_engine::inspect`]); this module parses
//! arguments, filters, decodes payloads as [`Binlog`]s and prints text or JSON.
//!
//! Exit codes: 0 success; 1 `verify` or `repair` found problems left unrepaired, or `get` found
//! nothing; 2 the command could not run (bad arguments, unreadable files, a held lock).

mod dump;
mod stats;
pub mod target;
mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use binlog_engine::inspect::{SegmentItem, SegmentReport};
use binlog_engine::record::RecordView;
use binlog_engine::Kind;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

use self::target::{byte_progress, Access, Target};

/// Inspect, verify and repair the segments of a pump data dir, offline.
#[derive(Debug, Parser)]
#[command(
    name = "binlog-inspect",
    version,
    after_help = "PATH is a pump data dir (segments in <dir>/log/) or a single .seg file.\n\
                  The data dir lock is taken while the command runs; a running pump makes read \
                  commands refuse unless --read-only is given, and repair refuse always.\n\n\
                  Exit codes: 0 ok; 1 problems found (verify, repair) or nothing found (get); \
                  2 the command could not run."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every segment: id, size, record count, TS range, sealed or active, `.idx` state.
    ///
    /// A record's TS is its commit TS, or its start TS when it has none (prewrites, and
    /// rollbacks, which TiDB writes with commit TS 0).
    Ls {
        /// What to read.
        #[command(flatten)]
        target: TargetArgs,
        /// Print JSON: `{"path", "segments": [{"id", "file", "size", "records", "min_ts",
        /// "max_ts", "state", "index", "problems"}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Print records: offset, kind, start and commit TS, payload size, CRC status.
    ///
    /// Damaged stretches are printed too (`crc=bad`), whatever the filters.
    Dump(DumpArgs),
    /// Print the binlog keyed TS as the pump's `/debug/binlog/{ts}` shows it (the newest one if
    /// several share the key).
    Get {
        /// What to read.
        #[command(flatten)]
        target: TargetArgs,
        /// The key: start TS of a prewrite, commit TS of anything else.
        ts: u64,
        /// Print `/debug/binlog/{ts}?format=json` instead of the compact text.
        #[arg(long)]
        json: bool,
    },
    /// Check every record CRC, footer and `.idx` against its segment; print the first bad
    /// offset of each file. Exits 1 on any problem.
    Verify {
        /// What to read.
        #[command(flatten)]
        target: TargetArgs,
        /// Print JSON: `{"ok", "segments", "bytes", "records", "files": [{"file",
        /// "first_bad_offset", "problems": [{"offset", "kind", "reason"}]}], "notes"}`.
        #[arg(long)]
        json: bool,
    },
    /// Truncate a torn tail of the active segment, rebuild missing or bad `.idx` files, remove
    /// orphan `.idx` files. A dry run unless --apply; never removes a record the pump would
    /// read back. Exits 1 while problems remain.
    Repair {
        /// The data dir or segment (the data dir lock is always taken).
        path: PathBuf,
        /// Make the changes (otherwise only say what would be done).
        #[arg(long)]
        apply: bool,
    },
    /// Record counts by kind, payload size histogram, TS span and write rate over time.
    Stats {
        /// What to read.
        #[command(flatten)]
        target: TargetArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The data dir or segment a read command works on.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// A pump data dir or a single .seg file.
    pub path: PathBuf,
    /// Read even while a running pump holds the data dir lock (its active segment may be
    /// mid-write).
    #[arg(long)]
    pub read_only: bool,
}

impl TargetArgs {
    fn open(&self) -> anyhow::Result<Target> {
        Target::open(
            &self.path,
            Access::Read {
                read_only: self.read_only,
            },
        )
    }
}

/// Arguments of `dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// What to read.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Only records of these kinds (repeat or separate with commas).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub kind: Vec<KindArg>,
    /// Only records whose TS (commit TS, or start TS of a prewrite or rollback) is >= this.
    #[arg(long)]
    pub from_ts: Option<u64>,
    /// Only records whose TS is <= this.
    #[arg(long)]
    pub to_ts: Option<u64>,
    /// Only this segment.
    #[arg(long)]
    pub segment: Option<u64>,
    /// Decode payloads as binlogs: type, TSs, DDL, table ids and row counts (with --json: the
    /// `/debug/binlog?format=json` object).
    #[arg(long)]
    pub decode: bool,
    /// Print one JSON object a line: `{"segment", "offset", "kind", "start_ts", "commit_ts",
    /// "size", "crc"[, "binlog"]}`, or `{"segment", "offset", "crc": "bad", "fault"}`.
    #[arg(long)]
    pub json: bool,
}

/// A record kind on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// P-binlogs.
    Prewrite,
    /// C-binlogs.
    Commit,
    /// Rollbacks.
    Rollback,
    /// Fake binlogs.
    Fake,
}

impl From<KindArg> for Kind {
    fn from(kind: KindArg) -> Kind {
        match kind {
            KindArg::Prewrite => Kind::Prewrite,
            KindArg::Commit => Kind::Commit,
            KindArg::Rollback => Kind::Rollback,
            KindArg::Fake => Kind::Fake,
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Ls { target, json } => ls(&target.open()?, json),
        Command::Dump(args) => dump::dump(&args),
        Command::Get { target, ts, json } => dump::get(&target.open()?, ts, json),
        Command::Verify { target, json } => verify::verify(&target.open()?, json),
        Command::Repair { path, apply } => verify::repair(&path, apply),
        Command::Stats { target, json } => stats::stats(&target.open()?, json),
    }
}

/// Whether a segment is sealed, active (the newest, unsealed) or unsealed in the middle.
fn segment_state(report: &SegmentReport, is_newest: bool) -> &'static str {
    match (report.is_sealed(), is_newest) {
        (true, _) => "sealed",
        (false, true) => "active",
        (false, false) => "unsealed",
    }
}

/// The TS a record was written at: its commit TS, or its start TS when it has none (prewrites,
/// and TiDB's rollbacks, whose commit TS is 0). The engine keys a rollback by that 0, so ranges
/// and rates over key TSs would reach back to 1970.
fn record_ts(record: &RecordView<'_>) -> u64 {
    record.start_ts.max(record.commit_ts)
}

/// The smallest and largest [`record_ts`] of some records, `None` while there are none.
#[derive(Clone, Copy, Debug, Default)]
struct TsRange {
    min: Option<u64>,
    max: Option<u64>,
}

impl TsRange {
    fn add(&mut self, record: &RecordView<'_>) {
        let ts = record_ts(record);
        self.min = Some(self.min.map_or(ts, |m| m.min(ts)));
        self.max = Some(self.max.map_or(ts, |m| m.max(ts)));
    }
}

/// `n` followed by `one` or `many`, as `n` asks: `1 problem`, `2 problems`.
fn count(n: u64, one: &str, many: &str) -> String {
    match n {
        1 => format!("1 {one}"),
        n => format!("{n} {many}"),
    }
}

/// `ls`.
fn ls(target: &Target, json: bool) -> anyhow::Result<ExitCode> {
    let progress = byte_progress(target.total_bytes(), !json);
    let mut ranges: BTreeMap<u64, TsRange> = BTreeMap::new();
    let reports = target.inspect_all(&progress, |id, item| {
        if let SegmentItem::Record { record, .. } = item {
            ranges.entry(id).or_default().add(record);
        }
    })?;
    let range = |id: u64| ranges.get(&id).copied().unwrap_or_default();
    if json {
        let segments: Vec<_> = reports
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "file": r.path,
                    "size": r.file_len,
                    "records": r.stats.record_count,
                    "min_ts": range(r.id).min,
                    "max_ts": range(r.id).max,
                    "state": segment_state(r, target.is_newest(r.id)),
                    "index": r.index.name(),
                    "problems": r.problems.len(),
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "path": target.log_dir, "segments": segments })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>20} {:>12} {:>9} {:>20} {:>20} {:>8} {:>9} {:>8}",
        "ID", "SIZE", "RECORDS", "MIN TS", "MAX TS", "STATE", "INDEX", "PROBLEMS"
    );
    for r in &reports {
        let show = |ts: Option<u64>| ts.map_or_else(|| "-".to_owned(), |ts| ts.to_string());
        println!(
            "{:>20} {:>12} {:>9} {:>20} {:>20} {:>8} {:>9} {:>8}",
            r.id,
            r.file_len,
            r.stats.record_count,
            show(range(r.id).min),
            show(range(r.id).max),
            segment_state(r, target.is_newest(r.id)),
            r.index.name(),
            r.problems.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}
