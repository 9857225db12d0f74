//! `binlog-inspect` end to end: the real binary on data dirs the engine wrote in this process
//! (8 KiB segments, so several seal), clean and damaged (a flipped bit in a sealed and in the
//! active segment, a torn tail, missing, corrupt and orphan `.idx` files), with the data dir
//! locked by the engine, and on the data dir of a running `pump` fed by `binlog-load`.
//!
//! Expected offsets, counts and TSs come from what the engine reported while writing (the
//! position of every append), never from the tool under test.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use binlog_engine::index::idx_path;
use binlog_engine::record::{record_span, RECORD_HEADER_LEN};
use binlog_engine::segment::{segment_path, FOOTER_LEN};
use binlog_engine::{Config, Engine, Error, IoBackend, Kind, Position, ReadableSize, Record};
use binlog_node::binlog_text::{debug_json, debug_text};
use binlog_node::proto::{Binlog, BinlogType, MutationType, PrewriteValue, TableMutation};
use binlog_testkit::pump::start_pump;
use prost::Message;
use serde_json::{json, Value};

/// Physical milliseconds of the first transaction's TSs (2023-11-14 22:13:20 UTC).
const BASE_MS: u64 = 1_700_000_000_000;
/// Milliseconds between two transactions.
const STEP_MS: u64 = 250;
/// Segment size of the fixture: small, so that a few hundred records fill several segments.
const SEGMENT_SIZE: u64 = 8 << 10;

/// A PD-style TSO.
fn tso(ms: u64, logical: u64) -> u64 {
    (ms << 18) | logical
}

/// The transaction number of a TS the fixture wrote.
fn txn_of(ts: u64) -> u64 {
    ((ts >> 18) - BASE_MS) / STEP_MS
}

/// A record the fixture wrote, with the position the engine acknowledged it at.
#[derive(Clone, Debug)]
struct Written {
    kind: Kind,
    start_ts: u64,
    commit_ts: u64,
    payload: Vec<u8>,
    position: Position,
}

impl Written {
    /// The engine's key: start TS of a prewrite, commit TS of anything else.
    fn key(&self) -> u64 {
        match self.kind {
            Kind::Prewrite => self.start_ts,
            _ => self.commit_ts,
        }
    }

    /// The TS the tool shows and filters on: the commit TS, or the start TS without one.
    fn ts(&self) -> u64 {
        self.start_ts.max(self.commit_ts)
    }

    /// Offset of its header in its segment.
    fn offset(&self) -> u64 {
        self.position.offset as u64
    }

    fn segment(&self) -> u64 {
        self.position.segment_id
    }

    fn binlog(&self) -> Binlog {
        Binlog::decode(&self.payload[..]).expect("the fixture writes binlogs")
    }

    /// Whether no other record shares its key (TiDB's rollbacks are all keyed 0).
    fn has_unique_key(&self) -> bool {
        !(self.kind == Kind::Rollback && self.commit_ts == 0)
    }

    /// Its `dump --json` line.
    fn dump_json(&self) -> Value {
        json!({
            "segment": self.segment(),
            "offset": self.offset(),
            "kind": self.kind.name(),
            "start_ts": self.start_ts,
            "commit_ts": self.commit_ts,
            "size": self.payload.len(),
            "crc": "ok",
        })
    }
}

/// A data dir written through the engine: transactions TiDB-style (prewrite, then commit or
/// rollback), DDL and fake binlogs, one record per group commit, until four segments are
/// sealed and the active one holds a dozen records. The last record is a DML commit.
struct Fixture {
    dir: tempfile::TempDir,
    written: Vec<Written>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data.pump");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime");
        let engine = Engine::open(config(&data_dir)).expect("open the engine");
        let append = |kind: Kind, binlog: Binlog| {
            let payload = binlog.encode_to_vec();
            let record = Record {
                kind,
                start_ts: binlog.start_ts as u64,
                commit_ts: binlog.commit_ts as u64,
                payload: &payload,
            };
            // Awaited one by one, so every record is a group commit of its own.
            let position = runtime
                .block_on(engine.append(record))
                .expect("append a record");
            Written {
                kind,
                start_ts: record.start_ts,
                commit_ts: record.commit_ts,
                payload,
                position,
            }
        };
        let mut written: Vec<Written> = Vec::new();
        for txn in 0.. {
            let ids = engine.segment_ids();
            let active = *ids.last().unwrap();
            let done =
                ids.len() >= 5 && written.iter().filter(|w| w.segment() == active).count() >= 12;
            let ms = BASE_MS + txn * STEP_MS;
            let (start_ts, commit_ts) = (tso(ms, 0), tso(ms, 1));
            // The last transaction is a DML one, so the last record is a commit.
            match if done { 0 } else { txn % 10 } {
                9 => written.push(append(Kind::Fake, Binlog::fake(start_ts))),
                3 | 7 => {
                    let ddl = Binlog {
                        start_ts: start_ts as i64,
                        ddl_query: Some(format!("CREATE TABLE t{txn} (id BIGINT)").into_bytes()),
                        ddl_job_id: txn as i64,
                        ..binlog(BinlogType::Prewrite)
                    };
                    written.push(append(Kind::Prewrite, ddl.clone()));
                    // TiDB repeats the DDL fields in the commit binlog.
                    let commit = Binlog {
                        tp: BinlogType::Commit as i32,
                        commit_ts: commit_ts as i64,
                        ..ddl
                    };
                    written.push(append(Kind::Commit, commit));
                }
                1 | 5 => {
                    written.push(append(Kind::Prewrite, dml_prewrite(txn, start_ts)));
                    let rollback = Binlog {
                        start_ts: start_ts as i64,
                        ..binlog(BinlogType::Rollback)
                    };
                    written.push(append(Kind::Rollback, rollback));
                }
                _ => {
                    written.push(append(Kind::Prewrite, dml_prewrite(txn, start_ts)));
                    let commit = Binlog {
                        start_ts: start_ts as i64,
                        commit_ts: commit_ts as i64,
                        prewrite_key: Some(row_key(txn)),
                        ..binlog(BinlogType::Commit)
                    };
                    written.push(append(Kind::Commit, commit));
                }
            }
            if done {
                break;
            }
        }
        drop(engine);
        Fixture { dir, written }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data.pump")
    }

    /// The data dir as an argument.
    fn arg(&self) -> String {
        self.data_dir().display().to_string()
    }

    fn log_dir(&self) -> PathBuf {
        self.data_dir().join("log")
    }

    fn seg(&self, id: u64) -> PathBuf {
        segment_path(&self.log_dir(), id)
    }

    fn idx(&self, id: u64) -> PathBuf {
        idx_path(&self.log_dir(), id)
    }

    /// The segment ids, ascending.
    fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.written.iter().map(Written::segment).collect();
        ids.dedup();
        ids
    }

    fn active_id(&self) -> u64 {
        *self.ids().last().unwrap()
    }

    fn in_segment(&self, id: u64) -> Vec<&Written> {
        self.written.iter().filter(|w| w.segment() == id).collect()
    }

    /// The records of segment `id` that `get` finds by their key.
    fn unique_in(&self, id: u64) -> Vec<&Written> {
        let mut records = self.in_segment(id);
        records.retain(|w| w.has_unique_key());
        records
    }

    /// Total size of the segment files.
    fn segment_bytes(&self) -> u64 {
        self.ids().iter().map(|&id| file_len(&self.seg(id))).sum()
    }

    /// Every file of the log dir and its bytes.
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fs::read_dir(self.log_dir())
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                let bytes = fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect()
    }

    /// What `ls --json` must say about the undamaged dir.
    fn expected_ls(&self) -> Value {
        let active = self.active_id();
        let segments: Vec<Value> = self
            .ids()
            .into_iter()
            .map(|id| {
                let records = self.in_segment(id);
                json!({
                    "id": id,
                    "file": self.seg(id),
                    "size": file_len(&self.seg(id)),
                    "records": records.len(),
                    "min_ts": records.iter().map(|w| w.ts()).min(),
                    "max_ts": records.iter().map(|w| w.ts()).max(),
                    "state": if id == active { "active" } else { "sealed" },
                    "index": if id == active { "-" } else { "valid" },
                    "problems": 0,
                })
            })
            .collect();
        json!({ "path": self.log_dir(), "segments": segments })
    }

    /// Opens the engine on the dir (checking it as the pump would at start).
    fn open(&self) -> binlog_engine::Result<Engine> {
        Engine::open(config(&self.data_dir()))
    }

    /// Checks that the engine serves every record of `expected` (all the dir holds) with a
    /// unique key at its position with its payload, and for key 0 (TiDB's rollbacks) the last.
    fn assert_engine_reads(&self, expected: &[&Written]) {
        let engine = self.open().expect("the engine opens the dir");
        for w in expected.iter().filter(|w| w.has_unique_key()) {
            let stored = engine
                .get(w.key())
                .unwrap_or_else(|e| panic!("get {}: {e}", w.key()))
                .unwrap_or_else(|| panic!("record {} at {:?} is gone", w.key(), w.position));
            assert_eq!(
                (stored.position, stored.kind, stored.payload.as_slice()),
                (w.position, w.kind, w.payload.as_slice())
            );
        }
        let last_rollback = expected.iter().rfind(|w| !w.has_unique_key()).unwrap();
        let stored = engine.get(0).unwrap().unwrap();
        assert_eq!(stored.position, last_rollback.position);
    }
}

/// The engine configuration of the fixture.
fn config(dir: &Path) -> Config {
    Config {
        dir: dir.to_path_buf(),
        // Durability across a power loss is not under test; thousands of fdatasyncs would be slow.
        sync_log: false,
        io_backend: IoBackend::Pwrite,
        segment_size: ReadableSize(SEGMENT_SIZE),
        max_record_size: ReadableSize(4 << 10),
        stop_write_at_available_space: ReadableSize(0),
        ..Config::default()
    }
}

/// A binlog of type `tp` with nothing else set.
fn binlog(tp: BinlogType) -> Binlog {
    Binlog {
        tp: tp as i32,
        ..Binlog::default()
    }
}

/// The primary key of transaction `txn`'s row.
fn row_key(txn: u64) -> Vec<u8> {
    let mut key = b"t\x80\x00\x00\x00\x00\x00\x00\x65_r".to_vec();
    key.extend_from_slice(&txn.to_be_bytes());
    key
}

/// The table, inserted, updated and deleted row counts of DML transaction `txn`.
fn dml_shape(txn: u64) -> (i64, usize, usize, usize) {
    (
        100 + (txn % 3) as i64,
        1 + (txn % 4) as usize,
        (txn % 2) as usize,
        (txn % 3) as usize,
    )
}

/// The prewrite of DML transaction `txn`: rows of 20 to 150 bytes in one table.
fn dml_prewrite(txn: u64, start_ts: u64) -> Binlog {
    let (table_id, inserted, updated, deleted) = dml_shape(txn);
    let row =
        |n: usize| vec![(txn + n as u64) as u8; 20 + ((txn * 37 + n as u64 * 11) % 130) as usize];
    let mut sequence = vec![MutationType::Insert as i32; inserted];
    sequence.extend(vec![MutationType::Update as i32; updated]);
    sequence.extend(vec![MutationType::DeleteId as i32; deleted]);
    let value = PrewriteValue {
        schema_version: 1,
        mutations: vec![TableMutation {
            table_id,
            inserted_rows: (0..inserted).map(row).collect(),
            updated_rows: (0..updated).map(row).collect(),
            deleted_ids: (0..deleted as i64).collect(),
            sequence,
            ..TableMutation::default()
        }],
    };
    Binlog {
        start_ts: start_ts as i64,
        prewrite_key: Some(row_key(txn)),
        prewrite_value: Some(value.encode_to_vec()),
        ..binlog(BinlogType::Prewrite)
    }
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

/// XORs the lowest bit of the byte at `offset` of `path`.
fn flip_bit(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

/// Cuts `path` to `len` bytes.
fn truncate(path: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// What a run of `binlog-inspect` gave.
struct Run {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `binlog-inspect` with `args`.
fn inspect(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_binlog-inspect"))
        .args(args)
        .output()
        .expect("run binlog-inspect");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

impl Run {
    /// Asserts the exit code; returns the run.
    fn exits(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "binlog-inspect {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts success; returns stdout.
    fn ok(self) -> String {
        self.exits(0).stdout
    }

    /// Stdout as one JSON value.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Stdout as one JSON value a line.
    fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

/// `dump --json` of `target` with `extra` arguments.
fn dump(target: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["dump", "--json", target];
    args.extend_from_slice(extra);
    inspect(&args).exits(0).json_lines()
}

/// The `dump --json` lines of `records`.
fn dump_lines<'a>(records: impl IntoIterator<Item = &'a Written>) -> Vec<Value> {
    records.into_iter().map(Written::dump_json).collect()
}

#[test]
fn ls_lists_every_segment_with_records_ts_range_state_and_index() {
    let f = Fixture::new();
    assert!(f.ids().len() >= 5, "{:?}", f.ids());
    let expected = f.expected_ls();
    assert_eq!(
        inspect(&["ls", "--json", &f.arg()]).exits(0).json(),
        expected
    );

    // Sealed segments are trimmed right after their footer; the active one keeps its full size.
    for id in f.ids() {
        let last = *f.in_segment(id).last().unwrap();
        let data_end = last.offset() + record_span(last.payload.len()) as u64;
        let size = if id == f.active_id() {
            SEGMENT_SIZE
        } else {
            data_end + FOOTER_LEN as u64
        };
        assert_eq!(file_len(&f.seg(id)), size, "segment {id}");
    }

    let text = inspect(&["ls", &f.arg()]).ok();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["ID", "SIZE", "RECORDS", "MIN", "TS", "MAX", "TS", "STATE", "INDEX", "PROBLEMS"]
    );
    let rows: Vec<Vec<String>> = lines
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect();
    let expected_rows: Vec<Vec<String>> = expected["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            [
                "id", "size", "records", "min_ts", "max_ts", "state", "index", "problems",
            ]
            .iter()
            .map(|field| match &s[field] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            })
            .collect()
        })
        .collect();
    assert_eq!(rows, expected_rows);
}

#[test]
fn dump_prints_records_at_their_offsets_filtered_and_decoded() {
    let f = Fixture::new();
    let dir = f.arg();
    assert_eq!(dump(&dir, &[]), dump_lines(&f.written));

    let of_kinds =
        |kinds: &[Kind]| dump_lines(f.written.iter().filter(|w| kinds.contains(&w.kind)));
    assert_eq!(
        dump(&dir, &["--kind", "commit,rollback"]),
        of_kinds(&[Kind::Commit, Kind::Rollback])
    );
    assert_eq!(
        dump(&dir, &["--kind", "fake", "--kind", "prewrite"]),
        of_kinds(&[Kind::Fake, Kind::Prewrite])
    );
    assert!(f.written.iter().any(|w| w.kind == Kind::Rollback));

    // A TS range catches rollbacks by their start TS (their commit TS, the engine's key, is 0).
    let (from, to) = (f.written[20].ts(), f.written[90].ts());
    let in_range: Vec<&Written> = f
        .written
        .iter()
        .filter(|w| (from..=to).contains(&w.ts()))
        .collect();
    assert!(in_range.iter().any(|w| w.kind == Kind::Rollback));
    assert_eq!(
        dump(
            &dir,
            &["--from-ts", &from.to_string(), "--to-ts", &to.to_string()]
        ),
        dump_lines(in_range.iter().copied())
    );
    assert_eq!(dump(&dir, &["--segment", "2"]), dump_lines(f.in_segment(2)));
    assert_eq!(
        dump(&f.seg(3).display().to_string(), &["--kind", "commit"]),
        dump_lines(
            f.in_segment(3)
                .into_iter()
                .filter(|w| w.kind == Kind::Commit)
        )
    );
    let missing = inspect(&["dump", &dir, "--segment", "99"]).exits(2);
    assert!(
        missing.stderr.contains("no segment 99 in"),
        "{}",
        missing.stderr
    );

    // One DML prewrite (updating and deleting rows too) and one DDL commit, as text with --decode.
    let prewrite = f
        .written
        .iter()
        .find(|w| {
            let (_, _, updated, deleted) = dml_shape(txn_of(w.start_ts));
            w.kind == Kind::Prewrite
                && w.binlog().prewrite_value.is_some()
                && updated > 0
                && deleted > 0
        })
        .unwrap();
    let (table, inserted, updated, deleted) = dml_shape(txn_of(prewrite.start_ts));
    let ts = prewrite.start_ts.to_string();
    let text = inspect(&[
        "dump",
        &dir,
        "--decode",
        "--kind",
        "prewrite",
        "--from-ts",
        &ts,
        "--to-ts",
        &ts,
    ])
    .ok();
    assert_eq!(
        text,
        format!(
            "segment={} offset={} kind=prewrite start_ts={ts} commit_ts=0 size={} crc=ok\n    \
             commit_ts=0 start_ts={ts} tp=Prewrite schema_version=1 tables=[{table}: {inserted} \
             inserted {updated} updated {deleted} deleted]\n",
            prewrite.segment(),
            prewrite.offset(),
            prewrite.payload.len()
        )
    );
    let ddl = f
        .written
        .iter()
        .find(|w| w.kind == Kind::Commit && w.binlog().ddl_query.is_some())
        .unwrap();
    let (start, commit) = (ddl.start_ts, ddl.commit_ts);
    let job = ddl.binlog().ddl_job_id;
    let text = inspect(&[
        "dump",
        &dir,
        "--decode",
        "--kind",
        "commit",
        "--from-ts",
        &commit.to_string(),
        "--to-ts",
        &commit.to_string(),
    ])
    .ok();
    assert_eq!(
        text,
        format!(
            "segment={} offset={} kind=commit start_ts={start} commit_ts={commit} size={} crc=ok\n    \
             commit_ts={commit} start_ts={start} tp=Commit ddl_job_id={job} ddl_query=\"CREATE TABLE t{job} (id BIGINT)\"\n",
            ddl.segment(),
            ddl.offset(),
            ddl.payload.len()
        )
    );

    // --decode --json: each line carries the binlog as /debug/binlog?format=json shows it.
    let decoded = dump(&dir, &["--decode", "--segment", "1"]);
    assert_eq!(decoded.len(), f.in_segment(1).len());
    for (line, w) in decoded.iter().zip(f.in_segment(1)) {
        let mut expected = w.dump_json();
        expected["binlog"] = debug_json(&w.binlog());
        assert_eq!(line, &expected);
    }
    let line = &decoded[f
        .in_segment(1)
        .iter()
        .position(|w| w.offset() == prewrite.offset())
        .unwrap()];
    assert_eq!(line["binlog"]["tp"], "Prewrite");
    let mutation = &line["binlog"]["prewrite_value"]["mutations"][0];
    assert_eq!(mutation["table_id"], table);
    assert_eq!(
        mutation["inserted_rows"].as_array().unwrap().len(),
        inserted
    );
    assert_eq!(mutation["deleted_ids"].as_array().unwrap().len(), deleted);
}

#[test]
fn get_prints_one_record_as_the_debug_binlog_route() {
    let f = Fixture::new();
    let dir = f.arg();
    // A DML prewrite (with rows), a commit and a fake binlog, past the first segment.
    let pick = |kind: Kind| {
        f.written
            .iter()
            .find(|w| {
                w.kind == kind
                    && w.segment() > 1
                    && (kind != Kind::Prewrite || w.binlog().prewrite_value.is_some())
            })
            .unwrap()
    };
    for w in [pick(Kind::Prewrite), pick(Kind::Commit), pick(Kind::Fake)] {
        let ts = w.key().to_string();
        let run = inspect(&["get", &dir, &ts]).exits(0);
        assert_eq!(run.stdout, debug_text(&w.binlog()) + "\n");
        assert!(run.stdout.starts_with(&format!(
            "tp:{}",
            BinlogType::try_from(w.binlog().tp).unwrap().as_str_name()
        )));
        assert_eq!(
            run.stderr,
            format!(
                "binlog {ts}: segment {} offset {}\n",
                w.segment(),
                w.offset()
            )
        );
        assert_eq!(
            inspect(&["get", "--json", &dir, &ts]).exits(0).json(),
            debug_json(&w.binlog())
        );
    }
    let prewrite = pick(Kind::Prewrite);
    assert!(debug_text(&prewrite.binlog())
        .contains("\n\n PrewriteValue: \nschema_version:1 mutations:<table_id:"));

    let missing = inspect(&["get", &dir, "5"]).exits(1);
    assert_eq!(missing.stdout, "");
    assert_eq!(missing.stderr, "fail read binlog by ts: 5: not found\n");

    // On a single segment only that segment's records are found.
    let seg = f.seg(prewrite.segment()).display().to_string();
    let ts = prewrite.key().to_string();
    assert_eq!(
        inspect(&["get", &seg, &ts]).ok(),
        debug_text(&prewrite.binlog()) + "\n"
    );
    let elsewhere = f.unique_in(prewrite.segment() + 1)[0].key().to_string();
    inspect(&["get", &seg, &elsewhere]).exits(1);
}

#[test]
fn stats_counts_kinds_sizes_ts_span_and_write_rate() {
    let f = Fixture::new();
    let stats = inspect(&["stats", "--json", &f.arg()]).exits(0).json();
    let count = |kind: Kind| f.written.iter().filter(|w| w.kind == kind).count();
    let payload_bytes: usize = f.written.iter().map(|w| w.payload.len()).sum();
    let mut sizes: BTreeMap<u64, u64> = BTreeMap::new();
    for w in &f.written {
        *sizes
            .entry((w.payload.len() as u64).next_power_of_two())
            .or_default() += 1;
    }
    let min_ts = f.written.iter().map(Written::ts).min().unwrap();
    let max_ts = f.written.iter().map(Written::ts).max().unwrap();
    let span_ms = (max_ts >> 18) - BASE_MS;
    assert_eq!(min_ts >> 18, BASE_MS);
    for (field, value) in [
        ("segments", json!(f.ids().len())),
        ("records", json!(f.written.len())),
        ("payload_bytes", json!(payload_bytes)),
        ("damaged", json!(0)),
        (
            "by_kind",
            json!({
                "prewrite": count(Kind::Prewrite),
                "commit": count(Kind::Commit),
                "rollback": count(Kind::Rollback),
                "fake": count(Kind::Fake),
            }),
        ),
        (
            "size_histogram",
            sizes
                .iter()
                .map(|(max, n)| json!({"max_size": max, "records": n}))
                .collect(),
        ),
        ("min_ts", json!(min_ts)),
        ("max_ts", json!(max_ts)),
        ("span_ms", json!(span_ms)),
    ] {
        assert_eq!(stats[field], value, "{field} in {stats:#}");
    }

    // The rate buckets are whole seconds from the first record and hold every record once.
    let rate = stats["rate"].as_array().unwrap();
    let width = rate[0]["width_ms"].as_u64().unwrap();
    assert!(
        width >= 1000 && width.is_multiple_of(1000) && width * 20 > span_ms,
        "{rate:?}"
    );
    let mut expected: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for w in &f.written {
        let bucket = expected
            .entry(((w.ts() >> 18) - BASE_MS) / width)
            .or_default();
        bucket.0 += 1;
        bucket.1 += w.payload.len() as u64;
    }
    let expected: Vec<Value> = expected
        .into_iter()
        .map(|(i, (records, bytes))| {
            json!({"start_ms": BASE_MS + i * width, "width_ms": width, "records": records, "bytes": bytes})
        })
        .collect();
    assert_eq!(rate, &expected);

    let text = inspect(&["stats", &f.arg()]).ok();
    let head = format!(
        "{} segments, {} records, {payload_bytes} payload bytes, 0 damaged stretches\nby kind:\n  \
         prewrite   {}\n  commit     {}\n  rollback   {}\n  fake       {}\npayload size:\n",
        f.ids().len(),
        f.written.len(),
        count(Kind::Prewrite),
        count(Kind::Commit),
        count(Kind::Rollback),
        count(Kind::Fake)
    );
    assert!(text.starts_with(&head), "{text}");
    let span = format!(
        "TS span: {min_ts} (2023-11-14 22:13:20.000 UTC) .. {max_ts} ({}): {}.{:03} s\n",
        utc_of(max_ts >> 18),
        span_ms / 1000,
        span_ms % 1000
    );
    assert!(text.contains(&span), "no {span:?} in\n{text}");
    assert!(
        text.contains("\nwrite rate:\n  2023-11-14 22:13:20.000 UTC  "),
        "{text}"
    );
}

/// `YYYY-MM-DD HH:MM:SS.mmm UTC` of `ms` after [`BASE_MS`] (2023-11-14 22:13:20 UTC), for
/// spans under a day.
fn utc_of(ms: u64) -> String {
    let of_day = (ms - BASE_MS) + (22 * 3600 + 13 * 60 + 20) * 1000;
    assert!(of_day < 86_400_000, "the fixture spans under a day");
    format!(
        "2023-11-14 {:02}:{:02}:{:02}.{:03} UTC",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

#[test]
fn verify_passes_a_clean_dir_and_a_single_segment() {
    let f = Fixture::new();
    let records = f.written.len();
    assert_eq!(
        inspect(&["verify", &f.arg()]).ok(),
        format!(
            "OK: {} segments, {} bytes, {records} records: no problems\n",
            f.ids().len(),
            f.segment_bytes()
        )
    );
    assert_eq!(
        inspect(&["verify", "--json", &f.arg()]).exits(0).json(),
        json!({
            "ok": true,
            "segments": f.ids().len(),
            "bytes": f.segment_bytes(),
            "records": records,
            "files": [],
            "notes": [],
        })
    );
    let seg = f.seg(2);
    assert_eq!(
        inspect(&["verify", &seg.display().to_string()]).ok(),
        format!(
            "OK: 1 segment, {} bytes, {} records: no problems\n",
            file_len(&seg),
            f.in_segment(2).len()
        )
    );
    let before = f.snapshot();
    assert_eq!(
        inspect(&["repair", "--apply", &f.arg()]).ok(),
        "nothing to repair: no problems found\n"
    );
    assert_eq!(f.snapshot(), before);
}

/// Flips a bit in the payload of `victim`; checks that `verify` reports exactly its offset,
/// that `dump` shows the damage there and every other record, and that `repair` changes
/// nothing, with or without `--apply` (the record is lost either way; nothing offline can
/// restore it). Returns the reason `verify` gave.
fn check_flipped_record(f: &Fixture, victim: &Written) -> String {
    let seg = f.seg(victim.segment());
    flip_bit(
        &seg,
        victim.offset() + (RECORD_HEADER_LEN + victim.payload.len() / 2) as u64,
    );

    let report = inspect(&["verify", "--json", &f.arg()]).exits(1).json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["records"], f.written.len() - 1);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report:#}");
    assert_eq!(files[0]["file"], json!(seg));
    assert_eq!(files[0]["first_bad_offset"], victim.offset());
    let problems = files[0]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report:#}");
    assert_eq!(problems[0]["offset"], victim.offset());
    assert_eq!(problems[0]["kind"], "record");
    let reason = problems[0]["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("record checksum mismatch, followed by valid records"),
        "{reason}"
    );

    let text = inspect(&["verify", &f.arg()]).exits(1).stdout;
    assert_eq!(
        text,
        format!(
            "{}: first bad offset {off}\n  offset {off} [record]: {reason}\nFAILED: {} segments, {} bytes, {} records: 1 problem in 1 file\n",
            seg.display(),
            f.ids().len(),
            f.segment_bytes(),
            f.written.len() - 1,
            off = victim.offset()
        )
    );

    let ls = inspect(&["ls", "--json", &f.arg()]).exits(0).json();
    let row = &ls["segments"][f
        .ids()
        .iter()
        .position(|&id| id == victim.segment())
        .unwrap()];
    assert_eq!(row["problems"], 1);
    assert_eq!(row["records"], f.in_segment(victim.segment()).len() - 1);

    let expected: Vec<Value> = f
        .in_segment(victim.segment())
        .into_iter()
        .map(|w| {
            if w.offset() == victim.offset() {
                json!({"segment": w.segment(), "offset": w.offset(), "crc": "bad", "fault": "record checksum mismatch"})
            } else {
                w.dump_json()
            }
        })
        .collect();
    assert_eq!(
        dump(&f.arg(), &["--segment", &victim.segment().to_string()]),
        expected
    );

    let before = f.snapshot();
    let dry = inspect(&["repair", &f.arg()]).exits(1).stdout;
    assert_eq!(
        dry,
        format!(
            "cannot repair offline: {} at offset {}: {reason}\ndry run: nothing changed; run with --apply to make 0 repairs\n",
            seg.display(),
            victim.offset()
        )
    );
    let applied = inspect(&["repair", "--apply", &f.arg()]).exits(1).stdout;
    assert!(
        applied.ends_with("0 repairs made; 1 problem left\n"),
        "{applied}"
    );
    assert_eq!(f.snapshot(), before, "repair changed files it cannot fix");
    reason
}

#[test]
fn a_flipped_bit_in_a_sealed_segment_is_reported_at_its_record() {
    let f = Fixture::new();
    let in_two = f.unique_in(2);
    let victim = in_two[in_two.len() / 2].clone();
    let reason = check_flipped_record(&f, &victim);
    assert!(
        reason.contains("reading it fails and pulls stop there"),
        "{reason}"
    );
    assert_eq!(
        inspect(&["ls", "--json", &f.arg()]).exits(0).json()["segments"][1]["index"],
        "unchecked"
    );

    // What the reason says: the pump opens the dir, then fails to read that very record.
    let engine = f
        .open()
        .expect("damage in a sealed segment is found on read");
    match engine.get(victim.key()) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (f.seg(2), victim.offset()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_flipped_bit_in_the_active_segment_is_reported_at_its_record() {
    let f = Fixture::new();
    let active = f.unique_in(f.active_id());
    let victim = active[active.len() / 2].clone();
    let reason = check_flipped_record(&f, &victim);
    assert!(reason.contains("the pump refuses to open"), "{reason}");

    // What the reason says: the engine refuses, naming the same file and offset.
    match f.open() {
        Err(Error::Corruption { file, offset, .. }) => {
            assert_eq!((file, offset), (f.seg(f.active_id()), victim.offset()));
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("the engine opened a dir with damage before the tail"),
    }
}

#[test]
fn a_damaged_footer_is_reported_at_its_offset() {
    let f = Fixture::new();
    let seg = f.seg(2);
    let footer_at = file_len(&seg) - FOOTER_LEN as u64;
    // The footer's record count.
    flip_bit(&seg, footer_at + 8);

    let reason = "footer checksum mismatch, but later segments exist (the pump refuses to open; \
                  skip-corrupt-records re-seals it)";
    assert_eq!(
        inspect(&["verify", "--json", &f.arg()]).exits(1).json()["files"],
        json!([{
            "file": seg,
            "first_bad_offset": footer_at,
            "problems": [{"offset": footer_at, "kind": "footer", "reason": reason}],
        }])
    );
    let ls = inspect(&["ls", "--json", &f.arg()]).exits(0).json();
    let row = &ls["segments"][1];
    assert_eq!(
        (&row["id"], &row["state"], &row["records"], &row["problems"]),
        (
            &json!(2),
            &json!("unsealed"),
            &json!(f.in_segment(2).len()),
            &json!(1)
        )
    );
    // The records themselves are intact.
    assert_eq!(
        dump(&f.arg(), &["--segment", "2"]),
        dump_lines(f.in_segment(2))
    );

    let before = f.snapshot();
    inspect(&["repair", "--apply", &f.arg()]).exits(1);
    assert_eq!(f.snapshot(), before, "repair changed files it cannot fix");
    match f.open() {
        Err(Error::Corruption { file, offset, .. }) => assert_eq!((file, offset), (seg, footer_at)),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("the engine opened a dir with an unsealed segment before the last"),
    }
}

/// Cuts the active segment `into_last` bytes into its last record; checks that `verify` flags
/// the torn tail there, that a dry run changes nothing, and that `repair --apply` makes the dir
/// verify clean with every other record still served by the tool and the engine.
fn check_torn_tail(into_last: u64) {
    let f = Fixture::new();
    let last = f.written.last().unwrap().clone();
    assert_eq!((last.kind, last.segment()), (Kind::Commit, f.active_id()));
    let seg = f.seg(f.active_id());
    let cut = last.offset() + into_last;
    assert!(cut < last.offset() + (RECORD_HEADER_LEN + last.payload.len()) as u64);
    truncate(&seg, cut);

    let report = inspect(&["verify", "--json", &f.arg()]).exits(1).json();
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{report:#}");
    assert_eq!(files[0]["file"], json!(seg));
    assert_eq!(files[0]["first_bad_offset"], last.offset());
    assert_eq!(files[0]["problems"][0]["kind"], "torn-tail");
    let text = inspect(&["verify", &f.arg()]).exits(1).stdout;
    assert!(
        text.starts_with(&format!(
            "{}: first bad offset {}\n",
            seg.display(),
            last.offset()
        )),
        "{text}"
    );

    let before = f.snapshot();
    assert_eq!(
        inspect(&["repair", &f.arg()]).exits(1).stdout,
        format!(
            "would truncate {} from {cut} to {} bytes (drops the torn tail after the last valid record)\n\
             dry run: nothing changed; run with --apply to make 1 repair\n",
            seg.display(),
            last.offset()
        )
    );
    assert_eq!(f.snapshot(), before, "the dry run changed files");

    assert_eq!(
        inspect(&["repair", "--apply", &f.arg()]).ok(),
        format!(
            "done: truncate {} from {cut} to {} bytes (drops the torn tail after the last valid record)\n\
             1 repair made; 0 problems left\n",
            seg.display(),
            last.offset()
        )
    );
    assert_eq!(file_len(&seg), last.offset());
    assert!(inspect(&["verify", &f.arg()]).ok().starts_with("OK: "));

    let kept: Vec<&Written> = f.written[..f.written.len() - 1].iter().collect();
    assert_eq!(dump(&f.arg(), &[]), dump_lines(kept.iter().copied()));
    let samples = f.ids().into_iter().map(|id| f.unique_in(id)[0]);
    for w in samples.chain([kept[kept.len() - 1]]) {
        let run = inspect(&["get", &f.arg(), &w.key().to_string()]).exits(0);
        assert_eq!(run.stdout, debug_text(&w.binlog()) + "\n");
    }
    inspect(&["get", &f.arg(), &last.key().to_string()]).exits(1);
    f.assert_engine_reads(&kept);
    assert!(f.open().unwrap().get(last.key()).unwrap().is_none());
}

#[test]
fn repair_cuts_a_tail_torn_inside_a_record_header() {
    check_torn_tail(RECORD_HEADER_LEN as u64 - 12);
}

#[test]
fn repair_cuts_a_tail_torn_inside_a_payload() {
    check_torn_tail(RECORD_HEADER_LEN as u64 + 5);
}

#[test]
fn repair_rebuilds_missing_and_corrupt_indexes_and_removes_orphans() {
    let f = Fixture::new();
    let original = f.snapshot();
    fs::remove_file(f.idx(1)).unwrap();
    // The offset field of the third entry.
    flip_bit(&f.idx(3), 40 + 2 * 32 + 16);
    let orphan = f.idx(99);
    fs::copy(f.idx(2), &orphan).unwrap();

    let ls = inspect(&["ls", "--json", &f.arg()]).exits(0).json();
    let states: Vec<&Value> = ls["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["index"])
        .collect();
    assert_eq!(
        states[..4],
        [
            &json!("missing"),
            &json!("valid"),
            &json!("invalid"),
            &json!("valid")
        ]
    );

    let report = inspect(&["verify", "--json", &f.arg()]).exits(1).json();
    let files: Vec<(Value, Value, String)> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            let problem = &file["problems"][0];
            assert_eq!(problem["kind"], "index");
            (
                file["file"].clone(),
                file["first_bad_offset"].clone(),
                problem["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            (
                json!(f.idx(1)),
                json!(0),
                "index file is missing (the pump rebuilds it on first read)".to_owned()
            ),
            (
                json!(f.idx(3)),
                json!(0),
                "index file is invalid: entries checksum mismatch".to_owned()
            ),
            (
                json!(orphan),
                json!(0),
                "index file without a segment (the pump removes it at open)".to_owned()
            ),
        ]
    );

    let before = f.snapshot();
    assert_eq!(
        inspect(&["repair", &f.arg()]).exits(1).stdout,
        format!(
            "would remove {} (its segment is gone)\n\
             would rebuild {} from the {} records of its segment\n\
             would rebuild {} from the {} records of its segment\n\
             dry run: nothing changed; run with --apply to make 3 repairs\n",
            orphan.display(),
            f.idx(1).display(),
            f.in_segment(1).len(),
            f.idx(3).display(),
            f.in_segment(3).len()
        )
    );
    assert_eq!(f.snapshot(), before, "the dry run changed files");

    let applied = inspect(&["repair", "--apply", &f.arg()]).ok();
    assert!(
        applied.ends_with("3 repairs made; 0 problems left\n"),
        "{applied}"
    );
    assert!(!orphan.exists());
    assert_eq!(
        inspect(&["ls", "--json", &f.arg()]).exits(0).json(),
        f.expected_ls()
    );
    inspect(&["verify", &f.arg()]).exits(0);
    // Every commit of the first segment has its prewrite there too, so its rebuilt index is
    // the writer's own, byte for byte.
    assert_eq!(fs::read(f.idx(1)).unwrap(), original[&f.idx(1)]);
    f.assert_engine_reads(&f.written.iter().collect::<Vec<_>>());
}

#[test]
fn a_held_lock_refuses_all_but_read_only_reads() {
    let f = Fixture::new();
    let engine = f.open().unwrap();
    let dir = f.arg();
    let dir = dir.as_str();
    let seg = f.seg(2).display().to_string();
    let key = f.written[5].key().to_string();
    let locked = format!(
        "binlog-inspect: error: data dir {dir} is locked by a running pump (pid {})",
        std::process::id()
    );
    let reads: [&[&str]; 6] = [
        &["ls", dir],
        &["dump", dir],
        &["get", dir, &key],
        &["verify", dir],
        &["stats", dir],
        &["verify", &seg],
    ];
    for args in reads {
        let run = inspect(args).exits(2);
        assert_eq!(
            run.stderr,
            format!("{locked}; use --read-only to read it anyway (the active segment may be mid-write)\n"),
            "{args:?}"
        );
        assert_eq!(run.stdout, "");
    }
    for args in [vec!["repair", dir], vec!["repair", "--apply", dir]] {
        let run = inspect(&args).exits(2);
        assert_eq!(
            run.stderr,
            format!("{locked}; stop it before repairing\n"),
            "{args:?}"
        );
    }

    // With --read-only every read command works around the lock.
    assert_eq!(
        inspect(&["ls", "--read-only", "--json", dir])
            .exits(0)
            .json(),
        f.expected_ls()
    );
    assert_eq!(dump(dir, &["--read-only"]), dump_lines(&f.written));
    assert_eq!(
        inspect(&["get", "--read-only", dir, &key]).ok(),
        debug_text(&f.written[5].binlog()) + "\n"
    );
    assert!(inspect(&["verify", "--read-only", dir])
        .ok()
        .starts_with("OK: "));
    assert_eq!(
        inspect(&["stats", "--read-only", "--json", dir])
            .exits(0)
            .json()["records"],
        f.written.len()
    );
    assert_eq!(
        inspect(&["dump", "--read-only", "--json", &seg])
            .exits(0)
            .json_lines(),
        dump_lines(f.in_segment(2))
    );
    drop(engine);
    inspect(&["ls", dir]).exits(0);
}

#[test]
fn a_running_pump_is_read_with_read_only_and_get_matches_its_debug_route() {
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let mut pump = start_pump(&dir.path().join("pump"), &registry);
    let data_dir = pump.data_dir.display().to_string();
    let load = Command::new(env!("CARGO_BIN_EXE_binlog-load"))
        .args(["--quiet", "--pump", &pump.addr, "--registry-dir"])
        .arg(&registry)
        .args(["--count", "40", "--clients", "4", "--ddl-every", "10"])
        .args(["--rollback-fraction", "0.2", "--value-size", "64B..512B"])
        .output()
        .expect("run binlog-load");
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );

    let refused = inspect(&["ls", &data_dir]).exits(2);
    assert!(
        refused.stderr.contains(&format!(
            "is locked by a running pump (pid {}); use --read-only",
            pump.pid()
        )),
        "{}",
        refused.stderr
    );
    let refused = inspect(&["repair", "--apply", &data_dir]).exits(2);
    assert!(
        refused.stderr.ends_with("; stop it before repairing\n"),
        "{}",
        refused.stderr
    );

    // A copy of the active segment may end in a record being written: only whole ones count.
    let records: Vec<Value> = dump(&data_dir, &["--read-only", "--decode"])
        .into_iter()
        .filter(|line| line["crc"] == "ok")
        .collect();
    let of_kind = |kind: &'static str| records.iter().filter(move |r| r["kind"] == kind);
    assert_eq!(of_kind("prewrite").count(), 40);
    let rollbacks = of_kind("rollback").count();
    assert!(rollbacks > 0);
    assert_eq!(of_kind("commit").count(), 40 - rollbacks);
    let ddl = of_kind("commit")
        .find(|r| !r["binlog"]["ddl_query"].is_null())
        .expect("a DDL commit");
    let dml = of_kind("prewrite")
        .find(|r| !r["binlog"]["prewrite_value"].is_null())
        .unwrap();
    let commit = of_kind("commit").next().unwrap();
    let fake = of_kind("fake").next().expect("a fake binlog");
    for (record, key) in [
        (ddl, "commit_ts"),
        (dml, "start_ts"),
        (commit, "commit_ts"),
        (fake, "commit_ts"),
    ] {
        let ts = record[key].to_string();
        let route = format!("/debug/binlog/{ts}");
        assert_eq!(
            inspect(&["get", "--read-only", &data_dir, &ts]).ok(),
            pump.get(&route) + "\n"
        );
        let served: Value =
            serde_json::from_str(&pump.get(&format!("{route}?format=json"))).unwrap();
        assert_eq!(
            inspect(&["get", "--read-only", "--json", &data_dir, &ts])
                .exits(0)
                .json(),
            served
        );
        assert_eq!(record["binlog"], served);
    }

    assert!(pump.stop().success(), "log:\n{}", pump.log());
    assert!(inspect(&["verify", &data_dir]).ok().starts_with("OK: "));
    // Records stay where they were written: the ones read around the running pump are all there.
    let after = dump(&data_dir, &["--decode"]);
    for record in &records {
        assert!(after.contains(record), "{record} is gone");
    }
}
