//! The data dir every test reads: written through the engine in this process, with the position
//! of every append kept as the expected answer; and the damage the tests do to it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use binlog_engine::index::idx_path;
use binlog_engine::segment::segment_path;
use binlog_engine::{Config, Engine, IoBackend, Kind, Position, ReadableSize, Record};
use binlog_node::proto::{Binlog, BinlogType, MutationType, PrewriteValue, TableMutation};
use prost::Message;
use serde_json::{json, Value};

/// Physical milliseconds of the first transaction's TSs (2023-11-14 22:13:20 UTC).
pub const BASE_MS: u64 = 1_700_000_000_000;
/// Milliseconds between two transactions.
pub const STEP_MS: u64 = 250;
/// Segment size of the fixture: small, so that a few hundred records fill several segments.
pub const SEGMENT_SIZE: u64 = 8 << 10;

/// A PD-style TSO.
pub fn tso(ms: u64, logical: u64) -> u64 {
    (ms << 18) | logical
}

/// The transaction number of a TS the fixture wrote.
pub fn txn_of(ts: u64) -> u64 {
    ((ts >> 18) - BASE_MS) / STEP_MS
}

/// A record the fixture wrote, with the position the engine acknowledged it at.
#[derive(Clone, Debug)]
pub struct Written {
    pub kind: Kind,
    pub start_ts: u64,
    pub commit_ts: u64,
    pub payload: Vec<u8>,
    pub position: Position,
}

impl Written {
    /// The engine's key: start TS of a prewrite, commit TS of anything else.
    pub fn key(&self) -> u64 {
        match self.kind {
            Kind::Prewrite => self.start_ts,
            _ => self.commit_ts,
        }
    }

    /// The TS the tool shows and filters on: the commit TS, or the start TS without one.
    pub fn ts(&self) -> u64 {
        self.start_ts.max(self.commit_ts)
    }

    /// Offset of its header in its segment.
    pub fn offset(&self) -> u64 {
        self.position.offset as u64
    }

    pub fn segment(&self) -> u64 {
        self.position.segment_id
    }

    pub fn binlog(&self) -> Binlog {
        Binlog::decode(&self.payload[..]).expect("the fixture writes binlogs")
    }

    /// Whether no other record shares its key (TiDB's rollbacks are all keyed 0).
    pub fn has_unique_key(&self) -> bool {
        !(self.kind == Kind::Rollback && self.commit_ts == 0)
    }

    /// Its `dump --json` line.
    pub fn dump_json(&self) -> Value {
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
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub written: Vec<Written>,
}

impl Fixture {
    pub fn new() -> Fixture {
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

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data.pump")
    }

    /// The data dir as an argument.
    pub fn arg(&self) -> String {
        self.data_dir().display().to_string()
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data_dir().join("log")
    }

    pub fn seg(&self, id: u64) -> PathBuf {
        segment_path(&self.log_dir(), id)
    }

    pub fn idx(&self, id: u64) -> PathBuf {
        idx_path(&self.log_dir(), id)
    }

    /// The segment ids, ascending.
    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.written.iter().map(Written::segment).collect();
        ids.dedup();
        ids
    }

    pub fn active_id(&self) -> u64 {
        *self.ids().last().unwrap()
    }

    pub fn in_segment(&self, id: u64) -> Vec<&Written> {
        self.written.iter().filter(|w| w.segment() == id).collect()
    }

    /// The records of segment `id` that `get` finds by their key.
    pub fn unique_in(&self, id: u64) -> Vec<&Written> {
        let mut records = self.in_segment(id);
        records.retain(|w| w.has_unique_key());
        records
    }

    /// Total size of the segment files.
    pub fn segment_bytes(&self) -> u64 {
        self.ids().iter().map(|&id| file_len(&self.seg(id))).sum()
    }

    /// Every file of the log dir and its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
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
    pub fn expected_ls(&self) -> Value {
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
    pub fn open(&self) -> binlog_engine::Result<Engine> {
        Engine::open(config(&self.data_dir()))
    }

    /// Checks that the engine serves every record of `expected` (all the dir holds) with a
    /// unique key at its position with its payload, and for key 0 (TiDB's rollbacks) the last.
    pub fn assert_engine_reads(&self, expected: &[&Written]) {
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
pub fn config(dir: &Path) -> Config {
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
pub fn binlog(tp: BinlogType) -> Binlog {
    Binlog {
        tp: tp as i32,
        ..Binlog::default()
    }
}

/// The primary key of transaction `txn`'s row.
pub fn row_key(txn: u64) -> Vec<u8> {
    let mut key = b"t\x80\x00\x00\x00\x00\x00\x00\x65_r".to_vec();
    key.extend_from_slice(&txn.to_be_bytes());
    key
}

/// The table, inserted, updated and deleted row counts of DML transaction `txn`.
pub fn dml_shape(txn: u64) -> (i64, usize, usize, usize) {
    (
        100 + (txn % 3) as i64,
        1 + (txn % 4) as usize,
        (txn % 2) as usize,
        (txn % 3) as usize,
    )
}

/// The prewrite of DML transaction `txn`: rows of 20 to 150 bytes in one table.
pub fn dml_prewrite(txn: u64, start_ts: u64) -> Binlog {
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

pub fn file_len(path: &Path) -> u64 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}

/// XORs the lowest bit of the byte at `offset` of `path`.
pub fn flip_bit(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

/// Cuts `path` to `len` bytes.
pub fn truncate(path: &Path, len: u64) {
    fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}
