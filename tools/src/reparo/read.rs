//! Reading a drainer `file` destination's directory: the `binlog-*` files in index order,
//! their records decoded as `pb_binlog.Binlog`, those in the commit-TS range.
//!
//! - Which files (the original's `filterFiles`): a file is skipped when the next file's first
//!   commit TS is at or below the start, or when its own first commit TS is above the stop. A
//!   file without records counts as starting at 0.
//! - Records: the framing of [`binlog_archive::binlog_file`]. Bytes after the last valid
//!   record of the newest file that only a writer stopped mid-record leaves (a record cut
//!   short, zeros) are its end, as a drainer still writing or killed leaves it; anything else
//!   that is not a valid record is an error naming the file and the offset, reported after
//!   the records before it were replayed.
//! - A payload that is the raw TiDB binlog (`file-payload = "tipb"`, or a drainer without
//!   schemas) is refused with how to get `pb_binlog` files, never skipped.
//! - Commit TSs grow through the files, so reading stops at the first one past the stop.

use std::collections::VecDeque;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use prost::Message;

use super::config::TsRange;
use super::error::ReparoError;
use binlog_archive::binlog_file::{is_torn_tail, list_files, record_spans, FilePayload};
use binlog_archive::pb_binlog::proto;

/// One record read, its payload decoded.
#[derive(Debug)]
pub struct Record {
    /// The file it is in.
    pub path: PathBuf,
    /// The offset of its frame in the file.
    pub offset: u64,
    /// The binlog.
    pub binlog: proto::Binlog,
}

impl Record {
    /// The binlog's commit TS.
    pub fn commit_ts(&self) -> u64 {
        self.binlog.commit_ts.unwrap_or_default() as u64
    }
}

/// A file being read: its bytes, its valid records, and what follows them.
struct OpenFile {
    path: PathBuf,
    bytes: Vec<u8>,
    spans: VecDeque<(u64, Range<usize>)>,
    /// Where the valid records end, when damage follows them.
    damage_at: Option<u64>,
}

/// The records of a directory in the range, in commit-TS order.
pub struct DirReader {
    files: VecDeque<PathBuf>,
    newest: Option<PathBuf>,
    range: TsRange,
    current: Option<OpenFile>,
    finished: bool,
}

impl DirReader {
    /// Lists `dir`'s binlog files and picks those that can hold binlogs of `range`.
    pub fn open(dir: &Path, range: TsRange) -> Result<DirReader, ReparoError> {
        let all: Vec<PathBuf> = list_files(dir)
            .map_err(ReparoError::Dir)?
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        let newest = all.last().cloned();
        let mut firsts = Vec::with_capacity(all.len());
        for path in all {
            let first = first_commit_ts(&path)?;
            firsts.push((path, first));
        }
        let files = select_files(firsts, range);
        tracing::info!(
            dir = %dir.display(),
            files = ?files.iter().map(|path| path.display().to_string()).collect::<Vec<_>>(),
            start_tso = range.start,
            stop_tso = range.stop,
            "binlog files to read"
        );
        Ok(DirReader {
            files: files.into(),
            newest,
            range,
            current: None,
            finished: false,
        })
    }

    /// The next binlog in the range, or `None` after the last one.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReparoError> {
        while !self.finished {
            let Some(file) = &mut self.current else {
                match self.files.pop_front() {
                    Some(path) => self.current = Some(self.open_file(path)?),
                    None => self.finished = true,
                }
                continue;
            };
            let Some((offset, payload)) = file.spans.pop_front() else {
                let done = self.current.take().expect("a file is open");
                if let Some(offset) = done.damage_at {
                    return Err(ReparoError::Corrupt {
                        path: done.path,
                        offset,
                    });
                }
                tracing::info!(file = %done.path.display(), "read file end");
                continue;
            };
            let binlog = decode_payload(&file.path, offset, &file.bytes[payload])?;
            let record = Record {
                path: file.path.clone(),
                offset,
                binlog,
            };
            let commit_ts = record.commit_ts();
            if self.range.is_past(commit_ts) {
                self.finished = true;
                return Ok(None);
            }
            if self.range.contains(commit_ts) {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    fn open_file(&self, path: PathBuf) -> Result<OpenFile, ReparoError> {
        let bytes = read_file(&path)?;
        let (spans, end) = record_spans(&bytes);
        let rest = &bytes[end as usize..];
        let damage_at = if rest.is_empty() {
            None
        } else if self.newest.as_ref() == Some(&path) && is_torn_tail(rest) {
            tracing::warn!(
                file = %path.display(),
                offset = end,
                bytes = rest.len(),
                "the newest file ends in a record cut short (a drainer writing or killed): read up to it"
            );
            None
        } else {
            Some(end)
        };
        Ok(OpenFile {
            path,
            bytes,
            spans: spans.into(),
            damage_at,
        })
    }
}

/// The files to read of `files` (in index order, with their first commit TS), as the
/// original's `filterFiles`: the last file starting at or below the start, then each file
/// starting inside the range.
fn select_files(files: Vec<(PathBuf, u64)>, range: TsRange) -> Vec<PathBuf> {
    let mut selected = Vec::new();
    let mut before_start: Option<PathBuf> = None;
    for (path, first) in files {
        if first <= range.start {
            before_start = Some(path);
            continue;
        }
        if range.is_past(first) {
            break;
        }
        selected.extend(before_start.take());
        selected.push(path);
    }
    selected.extend(before_start);
    selected
}

/// How much of a file is read first to find its first record (most binlogs are smaller).
const FIRST_RECORD_PREFIX: u64 = 1 << 20;

/// The commit TS of a file's first record, 0 when it has none.
fn first_commit_ts(path: &Path) -> Result<u64, ReparoError> {
    let io_error = |source| ReparoError::Io {
        context: "cannot read binlog file",
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(FIRST_RECORD_PREFIX).read_to_end(&mut bytes))
        .map_err(io_error)?;
    let (mut spans, _) = record_spans(&bytes);
    if spans.is_empty() && bytes.len() as u64 == FIRST_RECORD_PREFIX {
        bytes = read_file(path)?;
        spans = record_spans(&bytes).0;
    }
    match spans.first() {
        None => {
            tracing::warn!(file = %path.display(), "no binlog in file");
            Ok(0)
        }
        Some((offset, payload)) => {
            let binlog = decode_payload(path, *offset, &bytes[payload.clone()])?;
            Ok(binlog.commit_ts.unwrap_or_default() as u64)
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, ReparoError> {
    std::fs::read(path).map_err(|source| ReparoError::Io {
        context: "cannot read binlog file",
        path: path.to_owned(),
        source,
    })
}

/// A record's payload as a `pb_binlog.Binlog`; a raw TiDB binlog (told apart by
/// [`FilePayload::of`]) is named as such.
fn decode_payload(path: &Path, offset: u64, payload: &[u8]) -> Result<proto::Binlog, ReparoError> {
    proto::Binlog::decode(payload).map_err(|error| match FilePayload::of(payload) {
        Some((FilePayload::Tipb, commit_ts)) => ReparoError::TidbPayload {
            path: path.to_owned(),
            offset,
            commit_ts,
        },
        _ => ReparoError::Payload {
            path: path.to_owned(),
            offset,
            reason: error.to_string(),
        },
    })
}

#[cfg(test)]
mod tests;
