//! The schema history kept on disk, so that a restart replays it from the data dir and asks
//! TiDB only for jobs newer than the ones it holds (the original replays TiDB's whole DDL history
//! into memory on every start and runs out of memory doing so, tidb-binlog #1112).
//!
//! One append-only file, `<dir>/jobs.log`: the jobs in the order the history applied them, each
//! in a checksummed frame, synced before [`SchemaStore::append`] returns. Loading streams it
//! (one job in memory at a time) into a [`SchemaHistory`]. A crash can leave a torn last append:
//! loading cuts the file at the first frame that is incomplete or fails its checksum. What is
//! cut is only what TiDB still has and the next fetch asks for again.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use binlog_engine::data_dir::{replace_file, sync_dir};
use binlog_node::{Error, Result};
use binlog_tidb::{Job, SchemaHistory};

/// The file's name in the store's directory.
const FILE_NAME: &str = "jobs.log";

/// The first bytes of the file.
const MAGIC: [u8; 8] = *b"TIDBDDL\0";

/// The layout version written after the magic.
const FORMAT_VERSION: u32 = 1;

/// Magic and format version.
const HEADER_LEN: u64 = 12;

/// A frame's length and checksum.
const FRAME_HEADER_LEN: usize = 8;

/// The persisted DDL jobs of a [`SchemaHistory`].
#[derive(Debug)]
pub struct SchemaStore {
    /// `<dir>/jobs.log`.
    path: PathBuf,
    /// Open for writing at `end`.
    file: File,
    /// The end of the last whole frame.
    end: u64,
}

impl SchemaStore {
    /// Opens (or creates) the store in `dir` (the drainer's `<data-dir>/schema`) and replays its
    /// jobs into a history.
    pub fn open(dir: &Path) -> Result<(SchemaStore, SchemaHistory)> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
        let path = dir.join(FILE_NAME);
        match std::fs::metadata(&path) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                // Written whole or not at all: a crash never leaves a header cut short.
                replace_file(&path, &[&header()]).map_err(|e| Error::io("create", &path, e))?;
                sync_dir(dir).map_err(|e| Error::io("sync", dir, e))?;
            }
            Err(e) => return Err(Error::io("stat", &path, e)),
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io("open", &path, e))?;
        let started = std::time::Instant::now();
        let (history, end) = replay(&path, &file)?;
        let mut store = SchemaStore { path, file, end };
        store.cut_torn_tail()?;
        tracing::info!(
            path = %store.path.display(),
            jobs_bytes = store.end,
            schema_version = history.schema_version(),
            max_job_id = history.max_job_id(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "schema history loaded"
        );
        Ok((store, history))
    }

    /// Appends `jobs` (the ones the history applied, in the order it applied them); durable
    /// when it returns. On a failure nothing of them is kept.
    pub fn append(&mut self, jobs: &[Job]) -> Result<()> {
        let mut frames = Vec::new();
        for job in jobs {
            let json = serde_json::to_vec(job).map_err(|e| self.invalid(self.end, e))?;
            encode_frame(&mut frames, &json);
        }
        let written = self
            .file
            .seek(SeekFrom::Start(self.end))
            .and_then(|_| self.file.write_all(&frames))
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // Leave no partial frame for a later append to follow.
            let _ = self.file.set_len(self.end);
            return Err(Error::io("append to", &self.path, e));
        }
        self.end += frames.len() as u64;
        Ok(())
    }

    /// Cuts whatever follows the last whole frame (a torn append).
    fn cut_torn_tail(&mut self) -> Result<()> {
        let length = self
            .file
            .metadata()
            .map_err(|e| Error::io("stat", &self.path, e))?
            .len();
        if length > self.end {
            tracing::warn!(
                path = %self.path.display(),
                offset = self.end,
                dropped_bytes = length - self.end,
                "schema history ends in a torn append: cut (its jobs are fetched again)"
            );
            self.file
                .set_len(self.end)
                .and_then(|()| self.file.sync_all())
                .map_err(|e| Error::io("truncate", &self.path, e))?;
        }
        Ok(())
    }

    /// An [`Error::SchemaStore`] at `offset`.
    fn invalid(&self, offset: u64, reason: impl ToString) -> Error {
        schema_store_error(&self.path, offset, reason)
    }
}

// Format: header = { magic "TIDBDDL\0" (8 bytes) | format version u32 LE }
fn header() -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

// Format: frame = { len u32 LE | crc32c(json) u32 LE | json: one `Job` (len bytes) }
fn encode_frame(out: &mut Vec<u8>, json: &[u8]) {
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(json).to_le_bytes());
    out.extend_from_slice(json);
}

/// Replays every whole frame of `file` into a new history; gives it and the end of the last
/// whole frame. A frame that is cut short or fails its checksum ends the replay there.
fn replay(path: &Path, file: &File) -> Result<(SchemaHistory, u64)> {
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut head = [0u8; HEADER_LEN as usize];
    reader
        .read_exact(&mut head)
        .map_err(|e| Error::io("read", path, e))?;
    if head[..8] != MAGIC {
        return Err(schema_store_error(path, 0, "not a schema history file"));
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if version != FORMAT_VERSION {
        return Err(schema_store_error(
            path,
            8,
            format!("format version {version}, this drainer reads {FORMAT_VERSION}"),
        ));
    }
    let mut history = SchemaHistory::new();
    let mut offset = HEADER_LEN;
    let mut json = Vec::new();
    loop {
        let mut frame_header = [0u8; FRAME_HEADER_LEN];
        if !read_whole(&mut reader, &mut frame_header, path)? {
            break;
        }
        let len = u32::from_le_bytes([
            frame_header[0],
            frame_header[1],
            frame_header[2],
            frame_header[3],
        ]) as usize;
        let crc = u32::from_le_bytes([
            frame_header[4],
            frame_header[5],
            frame_header[6],
            frame_header[7],
        ]);
        json.resize(len, 0);
        if !read_whole(&mut reader, &mut json, path)? || crc32c::crc32c(&json) != crc {
            break;
        }
        let job: Job =
            serde_json::from_slice(&json).map_err(|e| schema_store_error(path, offset, e))?;
        history
            .apply(&job)
            .map_err(|e| schema_store_error(path, offset, e))?;
        offset += (FRAME_HEADER_LEN + len) as u64;
    }
    Ok((history, offset))
}

/// Fills `buf`; `false` when the file ends first.
fn read_whole(reader: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn schema_store_error(path: &Path, offset: u64, reason: impl ToString) -> Error {
    Error::SchemaStore {
        path: path.to_owned(),
        offset,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A finished job creating database `shop` (ID 1000) at schema version 10.
    fn create_schema() -> Job {
        serde_json::from_value(serde_json::json!({
            "id": 2, "type": 1, "schema_id": 1000, "table_id": 0, "state": 6,
            "query": "CREATE DATABASE shop",
            "binlog": {"SchemaVersion": 10, "DBInfo": {"id": 1000, "db_name": {"O": "shop", "L": "shop"}, "state": 5}}
        }))
        .unwrap()
    }

    /// A finished job creating table `shop.t<id>` (ID `table_id`) at `version`.
    fn create_table(job_id: i64, table_id: i64, version: i64) -> Job {
        serde_json::from_value(serde_json::json!({
            "id": job_id, "type": 3, "schema_id": 1000, "table_id": table_id, "state": 6,
            "query": "CREATE TABLE t (id INT PRIMARY KEY)",
            "binlog": {"SchemaVersion": version, "TableInfo": {
                "id": table_id, "name": {"O": format!("t{table_id}"), "L": format!("t{table_id}")},
                "cols": [{"id": 1, "name": {"O": "id", "L": "id"}, "offset": 0,
                          "type": {"Tp": 3, "Flag": 3, "Flen": 11, "Decimal": 0, "Charset": "binary",
                                   "Collate": "binary", "Elems": null}, "state": 5}],
                "index_info": null, "pk_is_handle": true, "partition": null, "state": 5}}
        }))
        .unwrap()
    }

    fn apply_and_append(store: &mut SchemaStore, history: &mut SchemaHistory, jobs: &[Job]) {
        for job in jobs {
            history.apply(job).unwrap();
        }
        store.append(jobs).unwrap();
    }

    #[test]
    fn a_restart_loads_what_was_appended_and_continues() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, mut history) = SchemaStore::open(dir.path()).unwrap();
            assert_eq!((history.schema_version(), history.max_job_id()), (0, 0));
            apply_and_append(
                &mut store,
                &mut history,
                &[create_schema(), create_table(4, 1001, 12)],
            );
        }
        let (mut store, mut history) = SchemaStore::open(dir.path()).unwrap();
        assert_eq!((history.schema_version(), history.max_job_id()), (12, 4));
        assert_eq!(
            history.table(1001, 12).unwrap().qualified_name(),
            "shop.t1001"
        );
        apply_and_append(&mut store, &mut history, &[create_table(6, 1002, 14)]);
        drop(store);
        let (_, history) = SchemaStore::open(dir.path()).unwrap();
        assert_eq!((history.schema_version(), history.max_job_id()), (14, 6));
        assert!(history.table(1001, 14).is_ok());
    }

    #[test]
    fn a_torn_last_append_is_cut_and_appending_continues_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        {
            let (mut store, mut history) = SchemaStore::open(dir.path()).unwrap();
            apply_and_append(
                &mut store,
                &mut history,
                &[create_schema(), create_table(4, 1001, 12)],
            );
        }
        let whole = std::fs::metadata(&path).unwrap().len();
        let mut torn = Vec::new();
        encode_frame(
            &mut torn,
            &serde_json::to_vec(&create_table(6, 1002, 14)).unwrap(),
        );
        for cut in [3, FRAME_HEADER_LEN + 5] {
            let mut file = OpenOptions::new().append(true).open(&path).unwrap();
            file.write_all(&torn[..cut]).unwrap();
            drop(file);
            let (store, history) = SchemaStore::open(dir.path()).unwrap();
            assert_eq!(history.max_job_id(), 4, "the torn job is not replayed");
            assert_eq!(store.end, whole);
            assert_eq!(
                std::fs::metadata(&path).unwrap().len(),
                whole,
                "cut at {cut}"
            );
        }

        // A whole frame whose bytes rotted: cut there too.
        let mut rotten = torn.clone();
        let last = rotten.len() - 1;
        rotten[last] ^= 0xFF;
        OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(&rotten)
            .unwrap();
        let (mut store, mut history) = SchemaStore::open(dir.path()).unwrap();
        assert_eq!(history.max_job_id(), 4);
        apply_and_append(&mut store, &mut history, &[create_table(6, 1002, 14)]);
        drop(store);
        let (_, history) = SchemaStore::open(dir.path()).unwrap();
        assert_eq!(history.max_job_id(), 6);
        assert_eq!(history.table(1002, 14).unwrap().name, "t1002");
    }

    #[test]
    fn a_job_that_does_not_replay_names_the_file_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut store, _) = SchemaStore::open(dir.path()).unwrap();
            // A table in a database the history never saw created.
            store.append(&[create_table(4, 1001, 12)]).unwrap();
        }
        let error = SchemaStore::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("jobs.log, byte 12"), "{error}");
        assert!(error.contains("database 1000"), "{error}");
    }

    #[test]
    fn a_file_of_another_kind_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"something else entirely").unwrap();
        let error = SchemaStore::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("not a schema history file"), "{error}");
    }
}
