//! Segment files: naming, header and footer layout, per-segment statistics, and the record scan
//! that recovery and tools use.
//!
//! A segment is `<20-digit id>.seg` under `<data-dir>/log/`. Its complete byte layout, all
//! integers little-endian (the encoders below and in `record.rs` carry the same `Format` line):
//!
//! ```text
//! segment := header record* [footer]            footer only once sealed; the file is then
//!                                               trimmed to end right after it
//!
//! header (32 bytes, offset 0)
//!   0  magic        u64   "BLOGSEG\0"
//!   8  version      u32   1
//!  12  reserved     u32   0
//!  16  segment_id   u64   equals the id in the file name
//!  24  reserved     u32   0
//!  28  crc32        u32   crc32fast over bytes 0..28
//!
//! record (32-byte header + payload + zero padding to a multiple of 8; starts 8-aligned)
//!   0  crc32        u32   crc32fast over bytes 4..12, bytes 16..32, the payload,
//!                         then segment_id u64 and group_start u32
//!   4  payload_len  u32
//!   8  kind         u8    1 prewrite, 2 commit, 3 rollback, 4 fake (0 never: zeros are no record)
//!   9  flags        u8    0
//!  10  reserved     u16   0
//!  12  group_start  u32   offset of the first record of the group commit it was written in
//!  16  start_ts     u64
//!  24  commit_ts    u64
//!  32  payload      [payload_len]
//!
//! footer (72 bytes, at data_end)
//!   0  data_end       u64  offset just past the last record (= where the footer starts)
//!   8  record_count   u64
//!  16  min_key        u64  smallest index key (u64::MAX when empty)
//!  24  max_key        u64  largest index key
//!  32  max_ts         u64  largest start or commit TS (GC compares this)
//!  40  min_pull_ts    u64  smallest key of a commit or fake record (u64::MAX when none)
//!  48  max_pull_ts    u64  largest key of a commit or fake record
//!  56  crc32          u32  crc32fast over bytes 0..56, then segment_id u64
//!  60  reserved       u32  0
//!  64  end_magic      u64  "BLOGEND\0"
//! ```
//!
//! An active segment has no footer; the space after its last record holds zeros (a prepared
//! file) or records of a previous life of a recycled file, which never validate because the
//! record CRC covers the segment id. A record is part of the log only if it starts a group
//! (`group_start` = its own offset) or continues the group of the record before it.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::record::{read_record, Kind, RecordFault, RecordView, RECORD_ALIGN, RECORD_HEADER_LEN};

/// Bytes before the first record.
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Bytes of the footer of a sealed segment.
pub const FOOTER_LEN: usize = 72;

const SEGMENT_MAGIC: u64 = u64::from_le_bytes(*b"BLOGSEG\0");
const FOOTER_MAGIC: u64 = u64::from_le_bytes(*b"BLOGEND\0");
const FORMAT_VERSION: u32 = 1;

/// File name of segment `id`.
pub fn segment_file_name(id: u64) -> String {
    format!("{id:020}.seg")
}

/// The segment id a file name stands for, if it is a segment name.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// Path of segment `id` under `log_dir`.
pub fn segment_path(log_dir: &Path, id: u64) -> PathBuf {
    log_dir.join(segment_file_name(id))
}

// Format: { magic u64 "BLOGSEG\0" | version u32 | reserved u32 | segment_id u64 | reserved u32
//           | crc32 u32 over bytes 0..28 }
/// Encodes the header of segment `id`.
pub fn encode_header(id: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[0..8].copy_from_slice(&SEGMENT_MAGIC.to_le_bytes());
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&id.to_le_bytes());
    let crc = crc32fast::hash(&header[0..28]);
    header[28..32].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Checks that `data` starts with the header of segment `id`.
pub fn check_header(data: &[u8], id: u64) -> std::result::Result<(), String> {
    let header = data.get(..SEGMENT_HEADER_LEN).ok_or_else(|| {
        format!("file is shorter than the {SEGMENT_HEADER_LEN}-byte segment header")
    })?;
    if header[0..8] != SEGMENT_MAGIC.to_le_bytes() {
        return Err("not a segment file (bad magic)".into());
    }
    if u32::from_le_bytes(header[28..32].try_into().expect("4 bytes"))
        != crc32fast::hash(&header[0..28])
    {
        return Err("segment header checksum mismatch".into());
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(format!("unsupported segment format version {version}"));
    }
    let stored_id = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
    if stored_id != id {
        return Err(format!(
            "header names segment {stored_id}, file name says {id}"
        ));
    }
    Ok(())
}

/// What a segment holds, kept by the writer for the active segment and stored in the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentStats {
    /// Offset just past the last record.
    pub data_end: u64,
    /// Number of records.
    pub record_count: u64,
    /// Smallest index key, `u64::MAX` when empty.
    pub min_key: u64,
    /// Largest index key.
    pub max_key: u64,
    /// Largest start or commit TS of any record (what GC compares against).
    pub max_ts: u64,
    /// Smallest key of a pulled record (commit or fake), `u64::MAX` when none.
    pub min_pull_ts: u64,
    /// Largest key of a pulled record.
    pub max_pull_ts: u64,
}

impl SegmentStats {
    /// Statistics of a segment with no records.
    pub fn empty() -> SegmentStats {
        SegmentStats {
            data_end: SEGMENT_HEADER_LEN as u64,
            record_count: 0,
            min_key: u64::MAX,
            max_key: 0,
            max_ts: 0,
            min_pull_ts: u64::MAX,
            max_pull_ts: 0,
        }
    }

    /// Accounts for a record of `span` bytes appended at the end.
    pub fn add(&mut self, kind: Kind, start_ts: u64, commit_ts: u64, span: usize) {
        let key = crate::record::key_ts(kind, start_ts, commit_ts);
        self.data_end += span as u64;
        self.record_count += 1;
        self.min_key = self.min_key.min(key);
        self.max_key = self.max_key.max(key);
        self.max_ts = self.max_ts.max(start_ts).max(commit_ts);
        if kind.is_pulled() {
            self.min_pull_ts = self.min_pull_ts.min(key);
            self.max_pull_ts = self.max_pull_ts.max(key);
        }
    }

    /// Accounts for a record read back from the segment.
    pub fn add_record(&mut self, record: &RecordView<'_>) {
        self.add(
            record.kind,
            record.start_ts,
            record.commit_ts,
            record.span(),
        );
    }

    /// Whether `ts` may be a key in this segment.
    pub fn may_hold_key(&self, ts: u64) -> bool {
        self.min_key <= ts && ts <= self.max_key
    }

    /// Whether the segment may hold a pulled record with key in `(after, upto]`.
    pub fn may_hold_pull_range(&self, after: u64, upto: u64) -> bool {
        self.max_pull_ts > after && self.min_pull_ts <= upto
    }
}

// Format: { data_end u64 | record_count u64 | min_key u64 | max_key u64 | max_ts u64
//           | min_pull_ts u64 | max_pull_ts u64 | crc32 u32 | reserved u32 | end_magic u64 "BLOGEND\0" }
// crc32 covers bytes 0..56 and the segment id (u64), so a footer copied from another file fails.
/// Encodes the footer sealing segment `id`.
pub fn encode_footer(id: u64, stats: &SegmentStats) -> [u8; FOOTER_LEN] {
    let mut footer = [0u8; FOOTER_LEN];
    let fields = [
        stats.data_end,
        stats.record_count,
        stats.min_key,
        stats.max_key,
        stats.max_ts,
        stats.min_pull_ts,
        stats.max_pull_ts,
    ];
    for (i, field) in fields.iter().enumerate() {
        footer[i * 8..i * 8 + 8].copy_from_slice(&field.to_le_bytes());
    }
    let crc = footer_crc(&footer, id);
    footer[56..60].copy_from_slice(&crc.to_le_bytes());
    footer[64..72].copy_from_slice(&FOOTER_MAGIC.to_le_bytes());
    footer
}

fn footer_crc(footer: &[u8], id: u64) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&footer[0..56]);
    crc.update(&id.to_le_bytes());
    crc.finalize()
}

/// Reads the footer of a sealed segment file of `file_len` bytes whose last bytes are `tail`.
pub fn decode_footer(
    tail: &[u8],
    id: u64,
    file_len: u64,
) -> std::result::Result<SegmentStats, String> {
    if tail.len() != FOOTER_LEN {
        return Err("file too short for a footer".into());
    }
    if tail[64..72] != FOOTER_MAGIC.to_le_bytes() {
        return Err("no footer (segment was not sealed)".into());
    }
    if u32::from_le_bytes(tail[56..60].try_into().expect("4 bytes")) != footer_crc(tail, id) {
        return Err("footer checksum mismatch".into());
    }
    let field = |i: usize| u64::from_le_bytes(tail[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    let stats = SegmentStats {
        data_end: field(0),
        record_count: field(1),
        min_key: field(2),
        max_key: field(3),
        max_ts: field(4),
        min_pull_ts: field(5),
        max_pull_ts: field(6),
    };
    if stats.data_end + FOOTER_LEN as u64 != file_len || stats.data_end < SEGMENT_HEADER_LEN as u64
    {
        return Err(format!(
            "footer says records end at {} but the file is {file_len} bytes",
            stats.data_end
        ));
    }
    Ok(stats)
}

/// A record found by [`scan_records`], with its offset.
pub struct ScannedRecord<'a> {
    /// Offset of the record in the segment.
    pub offset: u64,
    /// The record.
    pub record: RecordView<'a>,
}

/// How a scan of a segment's records ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// The records end cleanly at this offset (zeros, the footer, or end of file follow).
    Clean,
    /// The final group was torn: valid records end at `data_end`; nothing after it belongs to a
    /// later group. `garbage_end` is the end of the last CRC-valid leftover of the torn group
    /// (so it can be zeroed), or `data_end` if there is none.
    TornTail {
        /// The first offset that is not a valid record.
        fault: RecordFault,
        /// End of the last CRC-valid leftover after the tear.
        garbage_end: u64,
    },
}

/// Result of [`scan_records`].
#[derive(Debug)]
pub struct ScanOutcome {
    /// Where the valid records end.
    pub data_end: u64,
    /// How the scan ended.
    pub end: ScanEnd,
    /// Corrupt stretches that were skipped: `(offset, fault)`; empty unless skipping was allowed.
    pub skipped: Vec<(u64, RecordFault)>,
}

/// Walks the records of segment `id` in `data[SEGMENT_HEADER_LEN..limit]`, calling `visit` for
/// each valid one in order.
///
/// A record is part of the log when its CRC holds and it either starts a group (its group start
/// is its own offset) or continues the group of the record before it. At the first offset that
/// is not such a record the scan looks ahead. In the active segment (`tail_may_be_torn`), a
/// final group may have been torn by a crash: unless CRC-valid records of a *later* group
/// follow, the log ends there. Anywhere else (a sealed segment, whose every group was synced),
/// any CRC-valid record after the damage means the damage is corruption. Corruption is an error
/// naming the file and offset, unless `skip_corrupt` is set: then the scan resumes at the first
/// CRC-valid record after the damage, so no valid record is dropped.
pub fn scan_records<'a>(
    path: &Path,
    data: &'a [u8],
    limit: usize,
    id: u64,
    tail_may_be_torn: bool,
    skip_corrupt: bool,
    mut visit: impl FnMut(ScannedRecord<'a>),
) -> Result<ScanOutcome> {
    let limit = limit.min(data.len());
    let mut offset = SEGMENT_HEADER_LEN;
    let mut previous_group: Option<u32> = None;
    let mut skipped = Vec::new();
    loop {
        if offset + RECORD_HEADER_LEN > limit {
            // Fewer bytes than a header: the end of the file region, nothing torn can hide here.
            return Ok(ScanOutcome {
                data_end: offset as u64,
                end: ScanEnd::Clean,
                skipped,
            });
        }
        let fault = match read_record(&data[..limit], offset, id) {
            Ok(record)
                if record.group_start as usize == offset
                    || Some(record.group_start) == previous_group =>
            {
                previous_group = Some(record.group_start);
                let span = record.span();
                visit(ScannedRecord {
                    offset: offset as u64,
                    record,
                });
                offset += span;
                continue;
            }
            Ok(_) => RecordFault::BadHeader,
            Err(fault) => fault,
        };
        let ahead = find_valid_after(data, limit, offset, id);
        let more_log = if tail_may_be_torn {
            ahead.later_group
        } else {
            ahead.first_valid
        };
        let Some(more_at) = more_log else {
            let end = if !tail_may_be_torn
                || (is_blank(&data[offset..(offset + RECORD_HEADER_LEN).min(limit)])
                    && ahead.first_valid.is_none())
            {
                ScanEnd::Clean
            } else {
                ScanEnd::TornTail {
                    fault,
                    garbage_end: ahead.garbage_end.unwrap_or(offset as u64),
                }
            };
            return Ok(ScanOutcome {
                data_end: offset as u64,
                end,
                skipped,
            });
        };
        if !skip_corrupt {
            return Err(Error::Corruption {
                file: path.to_path_buf(),
                offset: offset as u64,
                reason: format!(
                    "{}, followed by valid records written after it (at offset {more_at}); \
                     refusing to drop them (set skip-corrupt-records to skip the damage)",
                    fault.describe()
                ),
            });
        }
        // The first valid record after the damage: `more_at` or an earlier one of the same write.
        let resume = ahead.first_valid.unwrap_or(more_at) as usize;
        tracing::warn!(
            file = %path.display(),
            offset,
            resume_at = resume,
            reason = fault.describe(),
            "skipping corrupt bytes in segment"
        );
        skipped.push((offset as u64, fault));
        offset = resume;
        // Continue the group the record there belongs to (its first record may be the damage).
        previous_group = read_record(&data[..limit], offset, id)
            .ok()
            .map(|r| r.group_start);
    }
}

/// Where a segment whose header is unreadable still shows records that may have been
/// acknowledged: its first record, which shares the header's page (so a header page lost in a
/// crash takes it along), or any record of a later group. `None` for a spare, or a segment whose
/// first group never completely reached the disk.
pub fn surviving_records(data: &[u8], id: u64) -> Option<u64> {
    if read_record(data, SEGMENT_HEADER_LEN, id).is_ok() {
        return Some(SEGMENT_HEADER_LEN as u64);
    }
    find_valid_after(data, data.len(), SEGMENT_HEADER_LEN, id).later_group
}

struct LookAhead {
    /// Offset of the first CRC-valid record after the damage, of any group.
    first_valid: Option<u64>,
    /// Offset of the first CRC-valid record that starts or belongs to a later group.
    later_group: Option<u64>,
    /// End of the last CRC-valid record of the damaged group.
    garbage_end: Option<u64>,
}

/// Bytes of zeros [`find_valid_after`] skips at once; a multiple of [`RECORD_ALIGN`].
const ZERO_SKIP_CHUNK: usize = 4096;

/// Searches `data[from + 8 .. limit]` at record alignment for CRC-valid records of segment `id`.
fn find_valid_after(data: &[u8], limit: usize, from: usize, id: u64) -> LookAhead {
    let mut result = LookAhead {
        first_valid: None,
        later_group: None,
        garbage_end: None,
    };
    let mut offset = from + RECORD_ALIGN;
    while offset + RECORD_HEADER_LEN <= limit {
        // Zero-filled space (most of an active segment) is skipped a chunk at a time: no header
        // starts where its kind byte is zero. The OR-fold has no early exit, so it vectorises.
        let kinds_end = (offset + 8 + ZERO_SKIP_CHUNK).min(limit);
        if kinds_end - (offset + 8) == ZERO_SKIP_CHUNK
            && data[offset + 8..kinds_end]
                .iter()
                .fold(0, |acc, &b| acc | b)
                == 0
        {
            offset += ZERO_SKIP_CHUNK;
            continue;
        }
        // Cheap filters next: random bytes rarely look like a header.
        let kind = data[offset + 8];
        if !(1..=4).contains(&kind) || data[offset + 9..offset + 12] != [0, 0, 0] {
            offset += RECORD_ALIGN;
            continue;
        }
        match read_record(&data[..limit], offset, id) {
            Ok(record) => {
                result.first_valid.get_or_insert(offset as u64);
                if record.group_start as usize > from {
                    result.later_group = Some(offset as u64);
                    return result;
                }
                let end = offset + record.span();
                result.garbage_end = Some(end as u64);
                offset = end;
            }
            Err(_) => offset += RECORD_ALIGN,
        }
    }
    result
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EncodedRecord, Record};

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(7), "00000000000000000007.seg");
        assert_eq!(parse_segment_file_name("00000000000000000007.seg"), Some(7));
        assert_eq!(parse_segment_file_name("7.seg"), None);
        assert_eq!(parse_segment_file_name("00000000000000000007.idx"), None);
    }

    #[test]
    fn header_and_footer_round_trip() {
        let header = encode_header(9);
        assert!(check_header(&header, 9).is_ok());
        assert!(check_header(&header, 8)
            .unwrap_err()
            .contains("names segment 9"));
        let mut stats = SegmentStats::empty();
        stats.add(Kind::Prewrite, 5, 0, 64);
        stats.add(Kind::Commit, 5, 8, 64);
        let footer = encode_footer(9, &stats);
        let len = stats.data_end + FOOTER_LEN as u64;
        assert_eq!(decode_footer(&footer, 9, len).unwrap(), stats);
        assert!(decode_footer(&footer, 10, len).is_err());
        assert!(decode_footer(&footer, 9, len + 1).is_err());
        assert_eq!((stats.min_key, stats.max_key, stats.max_pull_ts), (5, 8, 8));
    }

    fn build_segment(id: u64, groups: &[usize]) -> (Vec<u8>, Vec<u64>) {
        let mut data = encode_header(id).to_vec();
        let mut offsets = Vec::new();
        let mut ts = 1;
        for &size in groups {
            let group_start = data.len() as u32;
            for _ in 0..size {
                let payload = vec![ts as u8; 40 + ts as usize % 9];
                let record = Record {
                    kind: Kind::Fake,
                    start_ts: ts,
                    commit_ts: ts,
                    payload: &payload,
                };
                offsets.push(data.len() as u64);
                EncodedRecord::encode(&record, 1024)
                    .unwrap()
                    .place(id, group_start, &mut data);
                ts += 1;
            }
        }
        (data, offsets)
    }

    fn scan(data: &[u8], skip: bool) -> Result<(ScanOutcome, Vec<u64>)> {
        scan_as(data, true, skip)
    }

    fn scan_as(data: &[u8], tail_may_be_torn: bool, skip: bool) -> Result<(ScanOutcome, Vec<u64>)> {
        let mut seen = Vec::new();
        let outcome = scan_records(
            Path::new("x.seg"),
            data,
            data.len(),
            3,
            tail_may_be_torn,
            skip,
            |r| seen.push(r.offset),
        )?;
        Ok((outcome, seen))
    }

    #[test]
    fn clean_end_over_zeros() {
        let (mut data, offsets) = build_segment(3, &[2, 3]);
        let end = data.len() as u64;
        data.resize(data.len() + 4096, 0);
        let (outcome, seen) = scan(&data, false).unwrap();
        assert_eq!(seen, offsets);
        assert_eq!((outcome.data_end, outcome.end), (end, ScanEnd::Clean));
    }

    #[test]
    fn torn_last_group_is_a_tail_even_with_valid_leftovers() {
        let (mut data, offsets) = build_segment(3, &[2, 3]);
        // Damage the first record of the last group; its later records stay CRC-valid.
        let damaged = offsets[2] as usize;
        data[damaged + 40] ^= 0xff;
        let (outcome, seen) = scan(&data, false).unwrap();
        assert_eq!(seen, offsets[..2]);
        assert_eq!(outcome.data_end, offsets[2]);
        assert!(
            matches!(outcome.end, ScanEnd::TornTail { garbage_end, .. } if garbage_end == data.len() as u64)
        );
    }

    #[test]
    fn damage_before_a_later_group_is_corruption_unless_skipped() {
        let (mut data, offsets) = build_segment(3, &[2, 3]);
        data[offsets[1] as usize + 40] ^= 0x01;
        let error = scan(&data, false).unwrap_err().to_string();
        assert!(error.contains(&format!("offset {}", offsets[1])), "{error}");
        let (outcome, seen) = scan(&data, true).unwrap();
        assert_eq!(seen, [offsets[0], offsets[2], offsets[3], offsets[4]]);
        assert_eq!(
            outcome.skipped,
            vec![(offsets[1], RecordFault::CrcMismatch)]
        );
        assert_eq!(outcome.end, ScanEnd::Clean);
    }

    #[test]
    fn skipping_keeps_the_valid_rest_of_a_damaged_group() {
        let (mut data, offsets) = build_segment(3, &[3, 2]);
        data[offsets[0] as usize + 40] ^= 0x01;
        let (outcome, seen) = scan(&data, true).unwrap();
        assert_eq!(seen, offsets[1..]);
        assert_eq!(
            outcome.skipped,
            vec![(offsets[0], RecordFault::CrcMismatch)]
        );
    }

    #[test]
    fn a_sealed_segment_has_no_torn_tail() {
        // Damage in the last group: a tail in the active segment, corruption in a sealed one.
        let (mut data, offsets) = build_segment(3, &[2, 3]);
        data[offsets[2] as usize + 40] ^= 0x01;
        assert!(matches!(
            scan_as(&data, true, false).unwrap().0.end,
            ScanEnd::TornTail { .. }
        ));
        let error = scan_as(&data, false, false).unwrap_err().to_string();
        assert!(error.contains(&format!("offset {}", offsets[2])), "{error}");
        let (_, seen) = scan_as(&data, false, true).unwrap();
        assert_eq!(seen, [offsets[0], offsets[1], offsets[3], offsets[4]]);
    }

    #[test]
    fn surviving_records_behind_a_lost_header() {
        let (data, offsets) = build_segment(3, &[2, 3]);
        assert_eq!(surviving_records(&data, 3), Some(offsets[0]));
        // The header page lost with the start of the first group: nothing was acknowledged.
        let mut torn = data.clone();
        torn[..offsets[0] as usize + 40].fill(0);
        let first_group_only = &torn[..offsets[2] as usize];
        assert_eq!(surviving_records(first_group_only, 3), None);
        assert_eq!(surviving_records(&torn, 3), Some(offsets[2]));
        assert_eq!(surviving_records(&vec![0u8; 8192], 3), None);
    }

    #[test]
    fn records_of_another_segment_never_validate() {
        let (old, _) = build_segment(2, &[4]);
        let (mut data, offsets) = build_segment(3, &[1]);
        let end = data.len();
        data.extend_from_slice(&old[end..]);
        let (outcome, seen) = scan(&data, false).unwrap();
        assert_eq!(seen, offsets);
        assert_eq!(outcome.data_end, end as u64);
    }
}
