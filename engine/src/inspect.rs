//! Offline inspection and repair of segment files, for `binlog-inspect`: what a segment holds
//! (every record, damaged stretches included), whether its header, footer and `.idx` check out,
//! and the repairs that are safe to make without the engine.
//!
//! The checks are those recovery makes at open ([`scan_records`] with the same torn-tail rule,
//! [`decode_footer`], [`check_header`], the `.idx` checks of [`IdxFile`](crate::index::IdxFile)),
//! run with skipping enabled so that every problem in a file is found, not only the first. The
//! repairs only remove what recovery would never read back:
//! - [`RepairAction::TruncateTail`] cuts the active segment right after its last valid record;
//!   bytes there are the torn final group of a crash (never acknowledged, so recovery drops
//!   them too) or stale bytes of a recycled file. Open gives the file its full size back.
//! - [`RepairAction::RebuildIndex`] writes a missing or bad `.idx` from the segment's records,
//!   as the engine does on first read.
//! - [`RepairAction::RemoveOrphanIndex`] removes an `.idx` whose segment is gone, as open does.
//!
//! Damage before the tail (a bad record CRC in a sealed segment, a footer missing before later
//! segments, a bad header over records) has no safe offline repair: the damaged record is lost
//! either way, and the engine's `skip-corrupt-records` decides how to live without it.

use std::fs::{File, OpenOptions};
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, IoContext, Result};
use crate::index::{
    check_idx, idx_path, write_idx_file, IndexEntry, IDX_HEADER_LEN, INDEX_ENTRY_LEN,
};
use crate::log_files::{map_segment, rebuild_entries};
use crate::record::{read_record, RecordFault, RecordView, RECORD_HEADER_LEN};
use crate::segment::{
    check_header, decode_footer, scan_records, segment_path, ScanEnd, SegmentStats, FOOTER_LEN,
};

/// The bytes of a segment file: mapped, or copied when another process may still change it.
pub enum SegmentBytes {
    /// Mapped read-only: cheap, for files nobody writes (the data dir lock is held).
    Mapped(Mmap),
    /// Read into memory: safe while a pump may append to or trim the file.
    Copied(Vec<u8>),
}

impl Deref for SegmentBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            SegmentBytes::Mapped(map) => map,
            SegmentBytes::Copied(bytes) => bytes,
        }
    }
}

/// Loads segment file `path`: copied into memory when `copy` is set (a running pump may trim a
/// mapped file under the reader, which would fault), mapped otherwise.
pub fn load_segment(path: &Path, copy: bool) -> Result<SegmentBytes> {
    if copy {
        let bytes = std::fs::read(path).context(|| format!("read segment {}", path.display()))?;
        return Ok(SegmentBytes::Copied(bytes));
    }
    let file = File::open(path).context(|| format!("open segment {}", path.display()))?;
    let len = file
        .metadata()
        .context(|| format!("stat {}", path.display()))?
        .len();
    if len == 0 {
        return Ok(SegmentBytes::Copied(Vec::new()));
    }
    Ok(SegmentBytes::Mapped(map_segment(path, &file, len)?))
}

/// One item of a segment in file order, as [`inspect_segment`] hands it out.
#[derive(Clone, Copy, Debug)]
pub enum SegmentItem<'a> {
    /// A valid record (its CRC holds and it belongs to the log).
    Record {
        /// Offset of its header.
        offset: u64,
        /// The record.
        record: RecordView<'a>,
    },
    /// Bytes at `offset` that should be a record but are not; recovery stops or skips there.
    Damaged {
        /// Offset of the damage.
        offset: u64,
        /// What is wrong there.
        fault: RecordFault,
    },
}

impl SegmentItem<'_> {
    /// Where the item starts in its segment.
    pub fn offset(&self) -> u64 {
        match self {
            SegmentItem::Record { offset, .. } | SegmentItem::Damaged { offset, .. } => *offset,
        }
    }
}

/// What is wrong, by where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemKind {
    /// The segment header (offset 0).
    Header,
    /// The footer of a sealed segment, or its absence where one is needed.
    Footer,
    /// A damaged record before the end of the log.
    Record,
    /// The torn tail of the active segment.
    TornTail,
    /// The `.idx` file of a sealed segment (missing, invalid, or disagreeing with the segment),
    /// or one whose segment is gone.
    Index,
}

impl ProblemKind {
    /// A lower-case name for tools.
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Header => "header",
            ProblemKind::Footer => "footer",
            ProblemKind::Record => "record",
            ProblemKind::TornTail => "torn-tail",
            ProblemKind::Index => "index",
        }
    }
}

/// One problem found in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file it is in (the segment, or its `.idx`).
    pub file: PathBuf,
    /// The byte offset in `file` where it starts.
    pub offset: u64,
    /// Where it is.
    pub kind: ProblemKind,
    /// What is wrong, for people.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.file.display(),
            self.offset,
            self.reason
        )
    }
}

/// A change that fixes a problem without losing a record recovery would read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepairAction {
    /// Cut the active segment at `data_end`, just after its last valid record.
    TruncateTail {
        /// The segment file.
        path: PathBuf,
        /// Where the valid records end.
        data_end: u64,
        /// The file's length when inspected; the repair refuses if it changed since.
        file_len: u64,
    },
    /// Write the `.idx` of a sealed segment from its records.
    RebuildIndex {
        /// The directory holding the segment and its index.
        log_dir: PathBuf,
        /// The segment id.
        id: u64,
        /// Where its records end (from the footer).
        data_end: u64,
        /// How many records its footer counts.
        record_count: u64,
    },
    /// Remove an `.idx` file whose segment is gone.
    RemoveOrphanIndex {
        /// The index file.
        path: PathBuf,
    },
}

impl RepairAction {
    /// The file the action changes.
    pub fn file(&self) -> PathBuf {
        match self {
            RepairAction::TruncateTail { path, .. } | RepairAction::RemoveOrphanIndex { path } => {
                path.clone()
            }
            RepairAction::RebuildIndex { log_dir, id, .. } => idx_path(log_dir, *id),
        }
    }

    /// What the action does, for people.
    pub fn describe(&self) -> String {
        match self {
            RepairAction::TruncateTail {
                path,
                data_end,
                file_len,
            } => format!(
                "truncate {} from {file_len} to {data_end} bytes (drops the torn tail after the last valid record)",
                path.display()
            ),
            RepairAction::RebuildIndex { record_count, .. } => format!(
                "rebuild {} from the {record_count} records of its segment",
                self.file().display()
            ),
            RepairAction::RemoveOrphanIndex { path } => {
                format!("remove {} (its segment is gone)", path.display())
            }
        }
    }

    /// Makes the change, synced. The caller must hold the data dir lock.
    pub fn apply(&self) -> Result<()> {
        match self {
            RepairAction::TruncateTail {
                path,
                data_end,
                file_len,
            } => {
                let file = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .context(|| format!("open segment {}", path.display()))?;
                let len = file
                    .metadata()
                    .context(|| format!("stat {}", path.display()))?
                    .len();
                if len != *file_len {
                    return Err(Error::Corruption {
                        file: path.clone(),
                        offset: len,
                        reason: format!(
                            "file is {len} bytes, {file_len} when inspected: it changed since; not truncating"
                        ),
                    });
                }
                file.set_len(*data_end)
                    .and_then(|()| file.sync_all())
                    .context(|| format!("truncate {}", path.display()))
            }
            RepairAction::RebuildIndex {
                log_dir,
                id,
                data_end,
                record_count,
            } => {
                let path = segment_path(log_dir, *id);
                let data = load_segment(&path, false)?;
                let entries = rebuild_entries(&path, &data, *data_end, *id, false)?;
                if entries.len() as u64 != *record_count {
                    return Err(Error::Corruption {
                        file: path,
                        offset: *data_end,
                        reason: format!(
                            "{} records found, the footer counts {record_count}: not writing an index",
                            entries.len()
                        ),
                    });
                }
                write_idx_file(log_dir, *id, &entries)
            }
            RepairAction::RemoveOrphanIndex { path } => std::fs::remove_file(path)
                .context(|| format!("remove orphan index {}", path.display())),
        }
    }
}

/// The state of a segment's `.idx` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexState {
    /// The segment is not sealed: it has no `.idx` (its index lives in memory).
    NotSealed,
    /// The file checks out and agrees with the segment.
    Valid,
    /// There is no file.
    Missing,
    /// The file is damaged or disagrees with the segment: why.
    Invalid(String),
    /// The segment's records are damaged, so the file was checked only on its own.
    Unchecked,
}

impl IndexState {
    /// A short name for tools: `-`, `valid`, `missing`, `invalid`, `unchecked`.
    pub fn name(&self) -> &'static str {
        match self {
            IndexState::NotSealed => "-",
            IndexState::Valid => "valid",
            IndexState::Missing => "missing",
            IndexState::Invalid(_) => "invalid",
            IndexState::Unchecked => "unchecked",
        }
    }
}

/// Everything [`inspect_segment`] found about one segment.
#[derive(Clone, Debug)]
pub struct SegmentReport {
    /// The segment id.
    pub id: u64,
    /// Its file.
    pub path: PathBuf,
    /// The file's length.
    pub file_len: u64,
    /// What its footer says, when it has a valid one (it is sealed).
    pub footer: Option<SegmentStats>,
    /// What its valid records add up to; `data_end` is where they end.
    pub stats: SegmentStats,
    /// Its `.idx` file.
    pub index: IndexState,
    /// Problems, in file order (index problems last).
    pub problems: Vec<Problem>,
    /// Safe repairs for some of the problems.
    pub repairs: Vec<RepairAction>,
    /// A harmless remark about the active segment's tail (stale bytes after the last record).
    pub note: Option<String>,
}

impl SegmentReport {
    /// Whether the segment is sealed (has a valid footer).
    pub fn is_sealed(&self) -> bool {
        self.footer.is_some()
    }
}

/// Inspects segment `id`, whose file in `log_dir` holds `data`, calling `visit` for each record
/// and each damaged stretch in file order. `is_last` says whether it is the newest segment (the
/// only one that may lack a footer and end in a torn tail).
pub fn inspect_segment<'a>(
    log_dir: &Path,
    id: u64,
    is_last: bool,
    data: &'a [u8],
    visit: impl FnMut(&SegmentItem<'a>),
) -> Result<SegmentReport> {
    let path = segment_path(log_dir, id);
    let file_len = data.len() as u64;
    let mut problems = Vec::new();
    let mut repairs = Vec::new();
    let mut note = None;
    let problem = |offset: u64, kind: ProblemKind, reason: String| Problem {
        file: path.clone(),
        offset,
        kind,
        reason,
    };
    if let Err(reason) = check_header(data, id) {
        problems.push(problem(0, ProblemKind::Header, reason));
    }
    let footer = data
        .get(data.len().saturating_sub(FOOTER_LEN)..)
        .ok_or_else(|| "file too short".to_string())
        .and_then(|tail| decode_footer(tail, id, file_len));
    let (limit, tail_may_be_torn) = match &footer {
        Ok(stats) => (stats.data_end as usize, false),
        Err(_) if is_last => (data.len(), true),
        Err(reason) => {
            problems.push(problem(
                file_len.saturating_sub(FOOTER_LEN as u64),
                ProblemKind::Footer,
                format!("{reason}, but later segments exist (the pump refuses to open; skip-corrupt-records re-seals it)"),
            ));
            (data.len(), false)
        }
    };

    let mut items = Vec::new();
    let mut stats = SegmentStats::empty();
    let outcome = scan_records(&path, data, limit, id, tail_may_be_torn, true, |scanned| {
        stats.add_record(&scanned.record);
        items.push(SegmentItem::Record {
            offset: scanned.offset,
            record: scanned.record,
        });
    })?;
    stats.data_end = outcome.data_end;
    // Open checks a sealed segment by its footer only, so its damage is found on read; the
    // records of an unsealed one are all scanned at open.
    let consequence = if footer.is_ok() {
        "reading it fails and pulls stop there"
    } else {
        "the pump refuses to open"
    };
    for &(offset, fault) in &outcome.skipped {
        items.push(SegmentItem::Damaged { offset, fault });
        problems.push(problem(
            offset,
            ProblemKind::Record,
            format!(
                "{}, followed by valid records ({consequence}; skip-corrupt-records skips it)",
                fault.describe()
            ),
        ));
    }
    // Where the log ends, if something there is wrong: (fault, problem kind, reason).
    let mut end_damage = None;
    match (&footer, outcome.end) {
        (Ok(sealed), _) if outcome.data_end != sealed.data_end => {
            // Nothing valid follows the damage, yet the footer says records go on.
            let fault = read_record(&data[..limit], outcome.data_end as usize, id)
                .err()
                .unwrap_or(RecordFault::BadHeader);
            end_damage = Some((
                fault,
                ProblemKind::Record,
                format!(
                    "{} inside a sealed segment whose records end at {}",
                    fault.describe(),
                    sealed.data_end
                ),
            ));
        }
        (Ok(sealed), _) if outcome.skipped.is_empty() && !same_contents(sealed, &stats) => {
            problems.push(problem(
                sealed.data_end,
                ProblemKind::Footer,
                format!(
                    "footer says {} records with keys {}..={}, the segment holds {} with keys {}..={}",
                    sealed.record_count,
                    sealed.min_key,
                    sealed.max_key,
                    stats.record_count,
                    stats.min_key,
                    stats.max_key
                ),
            ));
        }
        (Err(_), ScanEnd::TornTail { fault, garbage_end }) if tail_may_be_torn => {
            if fault == RecordFault::Truncated || garbage_end > outcome.data_end {
                end_damage = Some((
                    fault,
                    ProblemKind::TornTail,
                    format!(
                        "torn tail: {} after the last valid record (the pump drops it at open)",
                        fault.describe()
                    ),
                ));
            } else {
                note = Some(format!(
                    "bytes after the last record at offset {} are not a record (stale data of a recycled file, or a write a crash tore inside its first record); the pump appends over them",
                    outcome.data_end
                ));
            }
        }
        (Err(_), ScanEnd::Clean) if tail_may_be_torn => {
            // Fewer bytes than a record header after the last record: a cut inside a header.
            // A file shorter than its header has no rest at all.
            let rest = data.get(outcome.data_end as usize..).unwrap_or_default();
            if rest.len() < RECORD_HEADER_LEN && rest.iter().any(|&b| b != 0) {
                end_damage = Some((
                    RecordFault::Truncated,
                    ProblemKind::TornTail,
                    "torn tail: truncated record header after the last valid record".into(),
                ));
            }
        }
        _ => {}
    }
    if let Some((fault, kind, reason)) = end_damage {
        items.push(SegmentItem::Damaged {
            offset: outcome.data_end,
            fault,
        });
        problems.push(problem(outcome.data_end, kind, reason));
        if kind == ProblemKind::TornTail {
            repairs.push(RepairAction::TruncateTail {
                path: path.clone(),
                data_end: outcome.data_end,
                file_len,
            });
        }
    }
    items.sort_by_key(SegmentItem::offset);
    items.iter().for_each(visit);
    problems.sort_by_key(|p| p.offset);

    let footer = footer.ok();
    let index = match &footer {
        None => IndexState::NotSealed,
        Some(sealed) => {
            let records_damaged = problems.iter().any(|p| p.kind == ProblemKind::Record);
            let state = check_index(log_dir, id, sealed, data, !records_damaged)?;
            let reason = match &state {
                IndexState::Invalid(reason) => Some(format!("index file is invalid: {reason}")),
                IndexState::Missing => {
                    Some("index file is missing (the pump rebuilds it on first read)".into())
                }
                _ => None,
            };
            if let Some(reason) = reason {
                problems.push(Problem {
                    file: idx_path(log_dir, id),
                    offset: 0,
                    kind: ProblemKind::Index,
                    reason,
                });
                if !records_damaged {
                    repairs.push(RepairAction::RebuildIndex {
                        log_dir: log_dir.to_path_buf(),
                        id,
                        data_end: sealed.data_end,
                        record_count: sealed.record_count,
                    });
                }
            }
            state
        }
    };
    Ok(SegmentReport {
        id,
        path,
        file_len,
        footer,
        stats,
        index,
        problems,
        repairs,
        note,
    })
}

/// Problems and repairs for `.idx` files whose segment is gone (see
/// [`scan_log_dir`](crate::recovery::scan_log_dir)).
pub fn orphan_index_problems(orphans: &[PathBuf]) -> (Vec<Problem>, Vec<RepairAction>) {
    orphans
        .iter()
        .map(|path| {
            (
                Problem {
                    file: path.clone(),
                    offset: 0,
                    kind: ProblemKind::Index,
                    reason: "index file without a segment (the pump removes it at open)".into(),
                },
                RepairAction::RemoveOrphanIndex { path: path.clone() },
            )
        })
        .unzip()
}

/// Whether a footer's counts and keys match those of the records found (`data_end` aside).
fn same_contents(footer: &SegmentStats, found: &SegmentStats) -> bool {
    SegmentStats {
        data_end: found.data_end,
        ..*footer
    } == *found
}

/// Checks the `.idx` of sealed segment `id` on its own and, when `compare`, against the index
/// rebuilt from the segment's records (`data`).
fn check_index(
    log_dir: &Path,
    id: u64,
    footer: &SegmentStats,
    data: &[u8],
    compare: bool,
) -> Result<IndexState> {
    let path = idx_path(log_dir, id);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(IndexState::Missing),
        Err(e) => return Err(e).context(|| format!("read index file {}", path.display())),
    };
    let count = match check_idx(&bytes, id, footer.record_count) {
        Ok(count) => count,
        Err(reason) => return Ok(IndexState::Invalid(reason)),
    };
    if !compare {
        return Ok(IndexState::Unchecked);
    }
    let stored: &[IndexEntry] =
        bytemuck::cast_slice(&bytes[IDX_HEADER_LEN..IDX_HEADER_LEN + count * INDEX_ENTRY_LEN]);
    let segment = segment_path(log_dir, id);
    let rebuilt = rebuild_entries(&segment, data, footer.data_end, id, true)?;
    if rebuilt.len() != stored.len() {
        return Ok(IndexState::Invalid(format!(
            "{} entries, the segment holds {} records",
            stored.len(),
            rebuilt.len()
        )));
    }
    // Entries agree on key, kind, place and size; a commit's prewrite position may point into
    // another segment, which only the writer knew, so it is not compared.
    let fields = |e: &IndexEntry| (e.ts(), e.kind(), e.offset(), e.payload_len());
    if let Some((i, (a, b))) = stored
        .iter()
        .zip(&rebuilt)
        .enumerate()
        .find(|(_, (a, b))| fields(a) != fields(b))
    {
        return Ok(IndexState::Invalid(format!(
            "entry {i} is ts {} at offset {}, the segment has ts {} at offset {}",
            a.ts(),
            a.offset(),
            b.ts(),
            b.offset()
        )));
    }
    Ok(IndexState::Valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `record_decoder` fuzz target: an empty (or shorter-than-header) file made
    /// the torn-tail check index past its end.
    #[test]
    fn files_shorter_than_a_header_are_reported_not_a_panic() {
        for len in [0, 1, crate::segment::SEGMENT_HEADER_LEN - 1] {
            let data = vec![0u8; len];
            for is_last in [true, false] {
                let report = inspect_segment(Path::new("x"), 1, is_last, &data, |_| {});
                if let Ok(report) = report {
                    assert!(
                        !report.problems.is_empty(),
                        "{len} bytes, is_last {is_last}"
                    );
                }
            }
        }
    }
}
