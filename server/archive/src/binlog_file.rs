//! The `file` destination (alias `pb`): the original's binlog files (`pkg/binlogfile`), so the
//! framing tools like `reparo` read is kept.
//!
//! Files are `<dir>/binlog-<16-digit index>-<YYYYMMDDhhmmss local time at creation>`, indexes
//! contiguous from 0; a new file starts once, after a write, the current one reaches the roll
//! size (512 MiB). An exclusive lock (`flock`) on `<dir>/.lock` keeps two drainers out of one dir.
//! With a retention time, files other than the newest whose mtime is older are removed (at open
//! and once an hour).
//!
//! The payload of each record is one of two kinds ([`FilePayload`]), never both in one
//! directory: the original's `pb_binlog.Binlog` (rows translated to named, typed columns;
//! [`crate::pb_binlog`]), which the original `reparo` and ours read, or the tipb
//! `binlog.Binlog` the pump served (a commit with its prewrite's value and DDL fields
//! attached), for setups without the table schemas. The kind of a record is told by its
//! bytes: a tipb commit carries `commit_ts` as field 3, a varint, where `pb_binlog` has
//! `dml_data`, a message, or nothing (DDL).
//!
//! Exactly once: at open the newest file's records are read back, a torn or corrupt tail is cut
//! off, and [`BinlogFiles::resume_ts`] is the commit TS of the last record kept, so a drainer
//! restarting from an older checkpoint skips what the files already hold. Records are written
//! through a buffer; [`BinlogFiles::flush`] makes them durable and runs before every
//! checkpoint save, so a checkpoint never covers a binlog that is not on disk.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use prost::Message;

use binlog_node::proto::Binlog;
use binlog_node::{Error, Result};

/// The original's record magic, `471532804`.
pub const MAGIC: u32 = 0x1C1B_0504;
/// Bytes before a record's payload: magic and length.
const FRAME_HEADER_LEN: usize = 12;
/// Bytes after a record's payload: its CRC-32C.
const FRAME_TRAILER_LEN: usize = 4;
/// The original's `SegmentSizeBytes`.
pub const DEFAULT_ROLL_SIZE: u64 = 512 << 20;
/// How often the retention check runs.
const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// Largest record payload read back (a longer length field is damage, not a binlog).
const MAX_PAYLOAD_LEN: u64 = 1 << 32;

/// Encodes one record.
// Format: { magic u32 LE | payload length u64 LE | payload | crc32c(payload) u32 LE }
pub fn encode_record(payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(FRAME_HEADER_LEN + payload.len() + FRAME_TRAILER_LEN);
    out.extend_from_slice(&MAGIC.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
}

/// One record read back from a file.
#[derive(Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// Offset of the record's magic in its file.
    pub offset: u64,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Decodes the records of a whole file: every valid record, and the offset where the valid
/// prefix ends (the file's length when it is all valid).
pub fn decode_records(bytes: &[u8]) -> (Vec<FileRecord>, u64) {
    let (spans, end) = record_spans(bytes);
    let records = spans
        .into_iter()
        .map(|(offset, payload)| FileRecord {
            offset,
            payload: bytes[payload].to_vec(),
        })
        .collect();
    (records, end)
}

/// The valid records of a file as (offset, payload range), without copying them, and the
/// offset where the valid prefix ends.
pub fn record_spans(bytes: &[u8]) -> (Vec<(u64, std::ops::Range<usize>)>, u64) {
    let mut spans = Vec::new();
    let mut at = 0usize;
    while let Some(header) = bytes.get(at..at + FRAME_HEADER_LEN) {
        let magic = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        let len = u64::from_le_bytes(header[4..].try_into().expect("8 bytes"));
        if magic != MAGIC || len > MAX_PAYLOAD_LEN {
            break;
        }
        let start = at + FRAME_HEADER_LEN;
        let Some(end) = start.checked_add(len as usize) else {
            break;
        };
        let (Some(payload), Some(crc)) = (bytes.get(start..end), bytes.get(end..end + 4)) else {
            break;
        };
        if crc32c::crc32c(payload).to_le_bytes() != crc {
            break;
        }
        spans.push((at as u64, start..end));
        at = end + FRAME_TRAILER_LEN;
    }
    (spans, at as u64)
}

/// Whether `rest`, the bytes after a file's valid records, is what a writer stopped mid-record
/// leaves (a record cut short, or zeros the file system had not yet filled in), rather than
/// damage: fewer bytes than a header, a header whose record runs past the end, or only zeros.
pub fn is_torn_tail(rest: &[u8]) -> bool {
    let Some(header) = rest.get(..FRAME_HEADER_LEN) else {
        return true;
    };
    let magic = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let len = u64::from_le_bytes(header[4..].try_into().expect("8 bytes"));
    let whole = (FRAME_HEADER_LEN + FRAME_TRAILER_LEN) as u64;
    (magic == MAGIC && len.saturating_add(whole) > rest.len() as u64)
        || rest.iter().all(|&byte| byte == 0)
}

/// The payload of the last valid record of `bytes`, and where the valid prefix ends.
fn last_record(bytes: &[u8]) -> (Option<Vec<u8>>, u64) {
    let (mut spans, end) = record_spans(bytes);
    (spans.pop().map(|(_, payload)| bytes[payload].to_vec()), end)
}

/// What the records of a directory hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilePayload {
    /// The original's `pb_binlog.Binlog` (`[syncer.to] file-payload = "pb"`).
    PbBinlog,
    /// The tipb `binlog.Binlog` as the pump served it (`file-payload = "tipb"`).
    Tipb,
}

impl FilePayload {
    /// The kind and commit TS of a record's payload; `None` when it is neither.
    pub fn of(payload: &[u8]) -> Option<(FilePayload, u64)> {
        match Binlog::decode(payload) {
            Ok(binlog) if binlog.commit_ts > 0 => {
                return Some((FilePayload::Tipb, binlog.commit_ts as u64))
            }
            _ => {}
        }
        let commit_ts = crate::pb_binlog::commit_ts(payload).ok()?;
        (commit_ts > 0).then_some((FilePayload::PbBinlog, commit_ts))
    }

    /// Its `file-payload` value.
    pub fn name(self) -> &'static str {
        match self {
            FilePayload::PbBinlog => "pb",
            FilePayload::Tipb => "tipb",
        }
    }
}

/// The binlog files of a directory, open for appending.
pub struct BinlogFiles {
    dir: PathBuf,
    roll_size: u64,
    retention: Option<Duration>,
    _lock: File,
    index: u64,
    path: PathBuf,
    writer: BufWriter<File>,
    offset: u64,
    resume_ts: Option<u64>,
    frame: Vec<u8>,
    last_retention_check: Instant,
}

impl BinlogFiles {
    /// Opens (creating) `dir` for records of kind `payload`: takes its lock, repairs the newest
    /// file's tail, finds the resume TS, applies the retention. A directory whose newest record
    /// is of the other kind is refused (a directory never mixes them).
    pub fn open(
        dir: &Path,
        roll_size: u64,
        retention: Option<Duration>,
        payload: FilePayload,
    ) -> Result<BinlogFiles> {
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create binlog dir", dir, e))?;
        let lock = lock_dir(dir)?;
        let files = list_files(dir)?;
        let (index, offset, mut last_payload) = match files.last() {
            None => (0, 0, None),
            Some(&(index, ref path)) => {
                let (kept, last) = repair_tail(path)?;
                (index, kept, last)
            }
        };
        // The newest record is in an older file when the newest one is empty (just rolled).
        for (_, path) in files.iter().rev().skip(1) {
            if last_payload.is_some() {
                break;
            }
            let bytes =
                fs::read(path).map_err(|e| Error::io("cannot read binlog file", path, e))?;
            last_payload = last_record(&bytes).0;
        }
        let resume_ts = match last_payload.as_deref().map(FilePayload::of) {
            None => None,
            Some(Some((kind, commit_ts))) if kind == payload => Some(commit_ts),
            Some(Some((kind, _))) => {
                return Err(Error::InvalidConfig(format!(
                    "the binlog files in {} hold {} payloads and this drainer writes {} ones \
                     ([syncer.to] file-payload {:?}, which follows tidb-status-addr when unset): \
                     a directory never mixes them; set file-payload = {:?} or write to a new \
                     [syncer.to] dir",
                    dir.display(),
                    kind.name(),
                    payload.name(),
                    payload.name(),
                    kind.name()
                )))
            }
            Some(None) => {
                return Err(Error::InvalidConfig(format!(
                    "the newest record of the binlog files in {} is neither a pb_binlog nor a \
                     tipb binlog: not a drainer's file destination; write to a new [syncer.to] dir",
                    dir.display()
                )))
            }
        };
        let path = match files.last() {
            Some((_, path)) => path.clone(),
            None => dir.join(file_name(0)),
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io("cannot open binlog file", &path, e))?;
        binlog_engine::data_dir::sync_dir(dir)
            .map_err(|e| Error::io("cannot sync binlog dir", dir, e))?;
        let mut files = BinlogFiles {
            dir: dir.to_path_buf(),
            roll_size,
            retention,
            _lock: lock,
            index,
            path,
            writer: BufWriter::with_capacity(1 << 20, file),
            offset,
            resume_ts,
            frame: Vec::new(),
            last_retention_check: Instant::now(),
        };
        files.apply_retention()?;
        tracing::info!(dir = %dir.display(), index, offset, ?resume_ts, payload = payload.name(), "binlog files opened");
        Ok(files)
    }

    /// The commit TS of the newest binlog the files hold (written before this open or since).
    pub fn resume_ts(&self) -> Option<u64> {
        self.resume_ts
    }

    /// Appends one binlog (durable after [`BinlogFiles::flush`]); rolls to a new file after it
    /// when the current one is full.
    pub fn write(&mut self, commit_ts: u64, payload: &[u8]) -> Result<()> {
        self.frame.clear();
        encode_record(payload, &mut self.frame);
        self.writer
            .write_all(&self.frame)
            .map_err(|e| Error::io("cannot write binlog file", &self.path, e))?;
        self.offset += self.frame.len() as u64;
        self.resume_ts = Some(commit_ts);
        if self.offset >= self.roll_size {
            self.roll()?;
        }
        Ok(())
    }

    /// Makes every record written so far durable.
    pub fn flush(&mut self) -> Result<()> {
        self.writer
            .flush()
            .and_then(|()| self.writer.get_ref().sync_data())
            .map_err(|e| Error::io("cannot sync binlog file", &self.path, e))?;
        if self.last_retention_check.elapsed() >= RETENTION_CHECK_INTERVAL {
            self.apply_retention()?;
        }
        Ok(())
    }

    fn roll(&mut self) -> Result<()> {
        self.flush()?;
        self.index += 1;
        let path = self.dir.join(file_name(self.index));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io("cannot create binlog file", &path, e))?;
        binlog_engine::data_dir::sync_dir(&self.dir)
            .map_err(|e| Error::io("cannot sync binlog dir", &self.dir, e))?;
        self.writer = BufWriter::with_capacity(1 << 20, file);
        self.offset = 0;
        tracing::info!(file = %path.display(), "new binlog file");
        self.path = path;
        Ok(())
    }

    /// Removes files other than the newest whose mtime is older than the retention time.
    fn apply_retention(&mut self) -> Result<()> {
        self.last_retention_check = Instant::now();
        let Some(retention) = self.retention else {
            return Ok(());
        };
        let now = SystemTime::now();
        for (index, path) in list_files(&self.dir)? {
            if index == self.index {
                continue;
            }
            let modified = fs::metadata(&path).and_then(|meta| meta.modified());
            let old = modified.is_ok_and(|m| now.duration_since(m).unwrap_or_default() > retention);
            if old {
                fs::remove_file(&path)
                    .map_err(|e| Error::io("cannot remove old binlog file", &path, e))?;
                tracing::info!(file = %path.display(), "removed binlog file past retention-time");
            }
        }
        Ok(())
    }
}

/// Takes the exclusive lock on `<dir>/.lock`.
fn lock_dir(dir: &Path) -> Result<File> {
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("cannot open lock file", &path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(Error::io(
                "binlog dir is in use by another drainer (lock held)",
                &path,
                std::io::ErrorKind::WouldBlock.into(),
            ))
        }
        Err(std::fs::TryLockError::Error(error)) => {
            return Err(Error::io("cannot lock", &path, error))
        }
    }
    Ok(file)
}

/// `binlog-<index>-<local time now>`.
fn file_name(index: u64) -> String {
    format!("binlog-{index:016}-{}", local_timestamp())
}

/// The index of a binlog file name (`binlog-<16 digits>` optionally followed by `-...`).
pub fn parse_file_name(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("binlog-")?;
    let digits = rest.get(..16)?;
    let tail = &rest[16..];
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !(tail.is_empty() || tail.starts_with('-')) {
        return None;
    }
    if name.ends_with("checkpoint") || name.ends_with(".lock") || name.ends_with(".tar.gz") {
        return None;
    }
    digits.parse().ok()
}

/// The binlog files of `dir`, by index; their indexes must be contiguous.
pub fn list_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io("cannot list binlog dir", dir, e))? {
        let entry = entry.map_err(|e| Error::io("cannot list binlog dir", dir, e))?;
        if let Some(index) = entry.file_name().to_str().and_then(parse_file_name) {
            files.push((index, entry.path()));
        }
    }
    files.sort();
    for pair in files.windows(2) {
        if pair[1].0 != pair[0].0 + 1 {
            return Err(Error::InvalidConfig(format!(
                "binlog files in {} are not contiguous: {} follows {}; restore the missing file \
                 or move the later ones away",
                dir.display(),
                pair[1].1.display(),
                pair[0].1.display()
            )));
        }
    }
    Ok(files)
}

/// Cuts a file after its last valid record and syncs it (its tail may be only in the page
/// cache after a SIGKILL, and the checkpoint may soon cover it); returns the length kept and
/// the last record's payload.
fn repair_tail(path: &Path) -> Result<(u64, Option<Vec<u8>>)> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("cannot open binlog file", path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io("cannot read binlog file", path, e))?;
    let (last, valid) = last_record(&bytes);
    if valid < bytes.len() as u64 {
        tracing::warn!(
            file = %path.display(),
            valid,
            len = bytes.len(),
            "cutting a torn or damaged tail off the newest binlog file (never checkpointed)"
        );
        file.set_len(valid)
            .map_err(|e| Error::io("cannot truncate binlog file", path, e))?;
    }
    file.sync_all()
        .map_err(|e| Error::io("cannot sync binlog file", path, e))?;
    Ok((valid, last))
}

/// `YYYYMMDDhhmmss` in the local time zone, now.
fn local_timestamp() -> String {
    jiff::ZonedDateTime::now()
        .strftime("%Y%m%d%H%M%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(ts: i64) -> Vec<u8> {
        Binlog {
            tp: binlog_node::proto::BinlogType::Commit as i32,
            start_ts: ts - 1,
            commit_ts: ts,
            prewrite_value: Some(vec![ts as u8; 100]),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn framing_is_the_originals() {
        let mut out = Vec::new();
        encode_record(b"abc", &mut out);
        assert_eq!(&out[..4], &471_532_804u32.to_le_bytes());
        assert_eq!(&out[4..12], &3u64.to_le_bytes());
        assert_eq!(&out[12..15], b"abc");
        // CRC-32C of "abc" (Castagnoli).
        assert_eq!(&out[15..], &0x364B_3FB7u32.to_le_bytes());
        let (records, end) = decode_records(&out);
        assert_eq!(records.len(), 1);
        assert_eq!(end, out.len() as u64);
    }

    #[test]
    fn names_parse_like_the_originals() {
        assert_eq!(
            parse_file_name("binlog-0000000000000007-20240101120000"),
            Some(7)
        );
        assert_eq!(parse_file_name("binlog-0000000000000007"), Some(7));
        assert_eq!(parse_file_name("binlog-000000000000007"), None);
        assert_eq!(parse_file_name("binlog-0000000000000007x"), None);
        assert_eq!(parse_file_name("savepoint"), None);
        assert_eq!(parse_file_name("binlog-0000000000000001-x.tar.gz"), None);
        let name = file_name(3);
        assert_eq!(parse_file_name(&name), Some(3));
        assert_eq!(name.len(), "binlog-0000000000000003-20240101120000".len());
    }

    #[test]
    fn rolls_repairs_a_torn_tail_and_resumes_after_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = BinlogFiles::open(dir.path(), 1000, None, FilePayload::Tipb).unwrap();
        assert_eq!(files.resume_ts(), None);
        for ts in 1..=30 {
            files.write(ts, &commit(ts as i64)).unwrap();
        }
        files.flush().unwrap();
        drop(files);
        let listed = list_files(dir.path()).unwrap();
        assert!(listed.len() > 3, "{listed:?}");
        let mut all = Vec::new();
        for (_, path) in &listed {
            let (records, end) = decode_records(&fs::read(path).unwrap());
            assert_eq!(end, fs::metadata(path).unwrap().len());
            all.extend(
                records
                    .into_iter()
                    .map(|r| Binlog::decode(&r.payload[..]).unwrap().commit_ts),
            );
        }
        assert_eq!(all, (1..=30).collect::<Vec<i64>>());

        // A torn last record (half written by a killed drainer) is cut; 29 is the resume point.
        let (_, last) = listed
            .iter()
            .rev()
            .find(|(_, p)| fs::metadata(p).unwrap().len() > 0)
            .unwrap();
        let len = fs::metadata(last).unwrap().len();
        let (records, _) = decode_records(&fs::read(last).unwrap());
        let cut = records.last().unwrap().offset + 20;
        OpenOptions::new()
            .write(true)
            .open(last)
            .unwrap()
            .set_len(cut)
            .unwrap();
        assert!(cut < len);
        let files = BinlogFiles::open(dir.path(), 1000, None, FilePayload::Tipb).unwrap();
        assert_eq!(files.resume_ts(), Some(29));
        assert_eq!(
            fs::metadata(last).unwrap().len(),
            records.last().unwrap().offset
        );
        // Two drainers on one dir are refused.
        let error = BinlogFiles::open(dir.path(), 1000, None, FilePayload::Tipb)
            .err()
            .unwrap();
        assert!(
            error.to_string().contains("in use by another drainer"),
            "{error}"
        );
    }

    #[test]
    fn retention_removes_old_files_but_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = BinlogFiles::open(dir.path(), 100, None, FilePayload::Tipb).unwrap();
        for ts in 1..=5 {
            files.write(ts, &commit(ts as i64)).unwrap();
        }
        files.flush().unwrap();
        drop(files);
        let before = list_files(dir.path()).unwrap().len();
        assert!(before >= 5);
        std::thread::sleep(Duration::from_millis(20));
        let files = BinlogFiles::open(
            dir.path(),
            100,
            Some(Duration::from_millis(10)),
            FilePayload::Tipb,
        )
        .unwrap();
        let after = list_files(dir.path()).unwrap();
        // Each record fills a file, so the newest file is the empty one after the last roll.
        assert_eq!(after, [(before as u64 - 1, after[0].1.clone())]);
        assert_eq!(fs::metadata(&after[0].1).unwrap().len(), 0);
        // The resume point is read before old files go.
        assert_eq!(files.resume_ts(), Some(5));
    }

    #[test]
    fn payload_kinds_are_told_apart_and_never_mixed() {
        use crate::pb_binlog::proto as pb;
        let dml = pb::Binlog {
            commit_ts: Some(9),
            dml_data: Some(pb::DmlData::default()),
            ..Default::default()
        };
        let ddl = pb::Binlog {
            tp: Some(pb::BinlogType::Ddl as i32),
            commit_ts: Some(10),
            ddl_query: Some(b"use `d`; CREATE TABLE t (a INT);".to_vec()),
            ..Default::default()
        };
        assert_eq!(
            FilePayload::of(&dml.encode_to_vec()),
            Some((FilePayload::PbBinlog, 9))
        );
        assert_eq!(
            FilePayload::of(&ddl.encode_to_vec()),
            Some((FilePayload::PbBinlog, 10))
        );
        assert_eq!(FilePayload::of(&commit(11)), Some((FilePayload::Tipb, 11)));
        assert_eq!(FilePayload::of(b"\xff\xff"), None);

        let dir = tempfile::tempdir().unwrap();
        let mut files = BinlogFiles::open(dir.path(), 1000, None, FilePayload::PbBinlog).unwrap();
        files.write(10, &ddl.encode_to_vec()).unwrap();
        files.flush().unwrap();
        drop(files);
        let error = BinlogFiles::open(dir.path(), 1000, None, FilePayload::Tipb)
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("hold pb payloads and this drainer writes tipb ones"),
            "{error}"
        );
        let files = BinlogFiles::open(dir.path(), 1000, None, FilePayload::PbBinlog).unwrap();
        assert_eq!(files.resume_ts(), Some(10));
    }
}
