//! The TS index: fixed-width entries, the lock-free index of the active segment, the `.idx` file
//! of a sealed segment, and the merged range walk that reads use.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytemuck::{Pod, Zeroable};
use memmap2::Mmap;

use crate::data_dir::replace_file;
use crate::error::{IoContext, Result};
use crate::record::Kind;

/// Where a record lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// The segment id.
    pub segment_id: u64,
    /// Offset of the record's header in the segment.
    pub offset: u32,
}

/// Length of one index entry.
pub const INDEX_ENTRY_LEN: usize = 32;

// Format: { ts u64 | prewrite_segment u64 (0 = none) | offset u32 | payload_len u32
//           | prewrite_offset u32 | kind u8 | reserved [u8; 3] }, little-endian.
/// One index entry: a record's key, kind and place, and for a commit its prewrite's place.
#[derive(Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
#[repr(transparent)]
pub struct IndexEntry([u8; INDEX_ENTRY_LEN]);

impl IndexEntry {
    /// Builds the entry for a record of `kind` keyed `ts` at `offset`.
    pub fn new(
        ts: u64,
        kind: Kind,
        offset: u32,
        payload_len: u32,
        prewrite: Option<Position>,
    ) -> IndexEntry {
        let mut bytes = [0u8; INDEX_ENTRY_LEN];
        bytes[0..8].copy_from_slice(&ts.to_le_bytes());
        let (prewrite_segment, prewrite_offset) =
            prewrite.map_or((0, 0), |p| (p.segment_id, p.offset));
        bytes[8..16].copy_from_slice(&prewrite_segment.to_le_bytes());
        bytes[16..20].copy_from_slice(&offset.to_le_bytes());
        bytes[20..24].copy_from_slice(&payload_len.to_le_bytes());
        bytes[24..28].copy_from_slice(&prewrite_offset.to_le_bytes());
        bytes[28] = kind.code();
        IndexEntry(bytes)
    }

    /// The key: start TS for a prewrite, commit TS otherwise.
    pub fn ts(&self) -> u64 {
        u64::from_le_bytes(self.0[0..8].try_into().expect("8 bytes"))
    }

    /// The record's offset in its segment.
    pub fn offset(&self) -> u32 {
        u32::from_le_bytes(self.0[16..20].try_into().expect("4 bytes"))
    }

    /// The record's payload length.
    pub fn payload_len(&self) -> u32 {
        u32::from_le_bytes(self.0[20..24].try_into().expect("4 bytes"))
    }

    /// The record's kind, `None` if the entry is damaged.
    pub fn kind(&self) -> Option<Kind> {
        Kind::from_code(self.0[28])
    }

    /// For a commit: where its prewrite is, when it was found at write time.
    pub fn prewrite(&self) -> Option<Position> {
        let segment_id = u64::from_le_bytes(self.0[8..16].try_into().expect("8 bytes"));
        (segment_id != 0).then(|| Position {
            segment_id,
            offset: u32::from_le_bytes(self.0[24..28].try_into().expect("4 bytes")),
        })
    }
}

impl std::fmt::Debug for IndexEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexEntry")
            .field("ts", &self.ts())
            .field("kind", &self.kind())
            .field("offset", &self.offset())
            .field("prewrite", &self.prewrite())
            .finish()
    }
}

/// Index of the active segment: immutable sorted runs published through an `ArcSwap`, so
/// readers take a snapshot without any lock and the writer never waits for them.
///
/// The writer adds one sorted run per group and merges the newest runs while a run is not at
/// least twice the size of the one after it, which keeps O(log n) runs and amortises merging to
/// O(log n) copies per entry.
pub struct ActiveIndex {
    runs: ArcSwap<Vec<Arc<[IndexEntry]>>>,
}

impl Default for ActiveIndex {
    fn default() -> Self {
        ActiveIndex {
            runs: ArcSwap::from_pointee(Vec::new()),
        }
    }
}

impl ActiveIndex {
    /// Adds the entries of one group (in log order). Called by the writer only.
    pub fn push_group(&self, mut entries: Vec<IndexEntry>) {
        if entries.is_empty() {
            return;
        }
        entries.sort_by_key(IndexEntry::ts); // stable: equal keys keep log order
        let mut runs: Vec<Arc<[IndexEntry]>> = self.runs.load().as_ref().clone();
        runs.push(entries.into());
        while runs.len() >= 2 && runs[runs.len() - 2].len() <= 2 * runs[runs.len() - 1].len() {
            let newer = runs.pop().expect("two runs");
            let older = runs.pop().expect("two runs");
            runs.push(merge_two(&older, &newer).into());
        }
        self.runs.store(Arc::new(runs));
    }

    /// The current runs, oldest first.
    pub fn snapshot(&self) -> Arc<Vec<Arc<[IndexEntry]>>> {
        self.runs.load_full()
    }

    /// All entries as one sorted run (equal keys in log order).
    pub fn merged(&self) -> Vec<IndexEntry> {
        let runs = self.snapshot();
        let slices: Vec<&[IndexEntry]> = runs.iter().map(|run| &run[..]).collect();
        let mut merged = Vec::with_capacity(slices.iter().map(|s| s.len()).sum());
        MergedRange::new(&slices, 0, u64::MAX).for_each(|(_, entry)| merged.push(*entry));
        merged
    }
}

fn merge_two(older: &[IndexEntry], newer: &[IndexEntry]) -> Vec<IndexEntry> {
    let mut merged = Vec::with_capacity(older.len() + newer.len());
    let (mut i, mut j) = (0, 0);
    while i < older.len() && j < newer.len() {
        if newer[j].ts() < older[i].ts() {
            merged.push(newer[j]);
            j += 1;
        } else {
            merged.push(older[i]);
            i += 1;
        }
    }
    merged.extend_from_slice(&older[i..]);
    merged.extend_from_slice(&newer[j..]);
    merged
}

/// Walks entries with keys in `[from, to]` across several sorted slices in key order; on equal
/// keys, earlier slices come first. Yields `(slice number, entry)`.
pub struct MergedRange<'a> {
    heads: Vec<&'a [IndexEntry]>,
    to: u64,
}

impl<'a> MergedRange<'a> {
    /// Positions each slice at its first key `>= from`.
    pub fn new(slices: &[&'a [IndexEntry]], from: u64, to: u64) -> MergedRange<'a> {
        let heads = slices
            .iter()
            .map(|slice| &slice[slice.partition_point(|e| e.ts() < from)..])
            .collect();
        MergedRange { heads, to }
    }
}

impl<'a> Iterator for MergedRange<'a> {
    type Item = (usize, &'a IndexEntry);

    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(usize, u64)> = None;
        for (i, head) in self.heads.iter().enumerate() {
            if let Some(entry) = head.first() {
                if entry.ts() <= self.to && best.is_none_or(|(_, ts)| entry.ts() < ts) {
                    best = Some((i, entry.ts()));
                }
            }
        }
        let (i, _) = best?;
        let head = self.heads[i];
        self.heads[i] = &head[1..];
        Some((i, &head[0]))
    }
}

/// The last entry keyed `ts` whose kind passes `wanted`, in a sorted slice (equal keys are in
/// log order, so that is the latest written).
pub fn find_latest(
    entries: &[IndexEntry],
    ts: u64,
    wanted: impl Fn(Kind) -> bool,
) -> Option<&IndexEntry> {
    let end = entries.partition_point(|e| e.ts() <= ts);
    entries[..end]
        .iter()
        .rev()
        .take_while(|e| e.ts() == ts)
        .find(|e| e.kind().is_some_and(&wanted))
}

/// Bytes before the entries of an `.idx` file.
pub const IDX_HEADER_LEN: usize = 40;
const IDX_MAGIC: u64 = u64::from_le_bytes(*b"BLOGIDX\0");
const IDX_VERSION: u32 = 1;

/// File name of the index of segment `id`.
pub fn idx_file_name(id: u64) -> String {
    format!("{id:020}.idx")
}

/// Path of the index of segment `id` under `log_dir`.
pub fn idx_path(log_dir: &Path, id: u64) -> PathBuf {
    log_dir.join(idx_file_name(id))
}

// Format: { magic u64 "BLOGIDX\0" | version u32 | entries_crc u32 | segment_id u64 | entry_count u64
//           | reserved u32 | header_crc u32 over bytes 0..36 | entries [entry_count * 32] }
/// Writes the sorted `entries` of segment `id` to its `.idx` file (via a temporary file and a
/// rename, synced), so a reader never sees half an index.
pub fn write_idx_file(log_dir: &Path, id: u64, entries: &[IndexEntry]) -> Result<()> {
    let path = idx_path(log_dir, id);
    let body: &[u8] = bytemuck::cast_slice(entries);
    let mut header = [0u8; IDX_HEADER_LEN];
    header[0..8].copy_from_slice(&IDX_MAGIC.to_le_bytes());
    header[8..12].copy_from_slice(&IDX_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
    header[16..24].copy_from_slice(&id.to_le_bytes());
    header[24..32].copy_from_slice(&(entries.len() as u64).to_le_bytes());
    let header_crc = crc32fast::hash(&header[0..36]);
    header[36..40].copy_from_slice(&header_crc.to_le_bytes());
    replace_file(&path, &[&header, body]).context(|| format!("write index file {}", path.display()))
}

/// Whether the `.idx` of segment `id` exists with the size `expected_count` entries need: a
/// cheap check at open (one `stat`); the contents are checked in full when first mapped.
pub fn idx_file_looks_complete(log_dir: &Path, id: u64, expected_count: u64) -> bool {
    fs::metadata(idx_path(log_dir, id))
        .is_ok_and(|m| m.len() == IDX_HEADER_LEN as u64 + expected_count * INDEX_ENTRY_LEN as u64)
}

/// A sealed segment's index, read from its mmapped `.idx` file.
pub struct IdxFile {
    map: Mmap,
    entry_count: usize,
}

impl IdxFile {
    /// Maps and fully checks the `.idx` of segment `id`, which must hold `expected_count`
    /// entries. `Ok(None)` when the file is missing or does not check out (the caller rebuilds it).
    pub fn open(log_dir: &Path, id: u64, expected_count: u64) -> Result<Option<IdxFile>> {
        let path = idx_path(log_dir, id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context(|| format!("open index file {}", path.display())),
        };
        // SAFETY: index files are written once (through a rename) and never modified in place.
        let map =
            unsafe { Mmap::map(&file) }.context(|| format!("map index file {}", path.display()))?;
        match check_idx(&map, id, expected_count) {
            Ok(entry_count) => Ok(Some(IdxFile { map, entry_count })),
            Err(reason) => {
                tracing::warn!(file = %path.display(), reason, "index file is invalid; rebuilding it from its segment");
                Ok(None)
            }
        }
    }

    /// The sorted entries.
    pub fn entries(&self) -> &[IndexEntry] {
        bytemuck::cast_slice(
            &self.map[IDX_HEADER_LEN..IDX_HEADER_LEN + self.entry_count * INDEX_ENTRY_LEN],
        )
    }
}

/// Checks the bytes of the `.idx` of segment `id` against its header, checksums, order and the
/// `expected_count` of the segment footer: the entry count, or why the file is invalid.
pub(crate) fn check_idx(
    map: &[u8],
    id: u64,
    expected_count: u64,
) -> std::result::Result<usize, String> {
    let header = map.get(..IDX_HEADER_LEN).ok_or("shorter than its header")?;
    let u32_at = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
    if u64_at(0) != IDX_MAGIC || u32_at(36) != crc32fast::hash(&header[0..36]) {
        return Err("bad header".into());
    }
    if u32_at(8) != IDX_VERSION || u64_at(16) != id {
        return Err(format!(
            "header is for segment {} version {}",
            u64_at(16),
            u32_at(8)
        ));
    }
    let count = u64_at(24);
    if count != expected_count
        || map.len() as u64 != IDX_HEADER_LEN as u64 + count * INDEX_ENTRY_LEN as u64
    {
        return Err(format!(
            "{count} entries in a file of {} bytes, segment footer says {expected_count} records",
            map.len()
        ));
    }
    if crc32fast::hash(&map[IDX_HEADER_LEN..]) != u32_at(12) {
        return Err("entries checksum mismatch".into());
    }
    let entries: &[IndexEntry] = bytemuck::cast_slice(&map[IDX_HEADER_LEN..]);
    if entries.windows(2).any(|pair| pair[0].ts() > pair[1].ts()) {
        return Err("entries are not sorted".into());
    }
    Ok(count as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts: u64, offset: u32) -> IndexEntry {
        IndexEntry::new(ts, Kind::Commit, offset, 10, None)
    }

    #[test]
    fn entry_fields_round_trip() {
        let prewrite = Position {
            segment_id: 3,
            offset: 4096,
        };
        let e = IndexEntry::new(99, Kind::Commit, 77, 12, Some(prewrite));
        assert_eq!((e.ts(), e.offset(), e.payload_len()), (99, 77, 12));
        assert_eq!(
            (e.kind(), e.prewrite()),
            (Some(Kind::Commit), Some(prewrite))
        );
        assert_eq!(entry(1, 2).prewrite(), None);
    }

    #[test]
    fn runs_stay_few_and_merge_in_order() {
        let index = ActiveIndex::default();
        let mut expected = Vec::new();
        for group in 0..1000u64 {
            let entries: Vec<_> = (0..3)
                .map(|i| entry((group * 7 + i * 13) % 2000, (group * 3 + i) as u32))
                .collect();
            expected.extend(entries.iter().copied());
            index.push_group(entries);
        }
        assert!(
            index.snapshot().len() <= 12,
            "{} runs",
            index.snapshot().len()
        );
        expected.sort_by_key(IndexEntry::ts);
        assert_eq!(
            index.merged(),
            expected,
            "stable: equal keys keep log order"
        );
    }

    #[test]
    fn merged_range_and_find_latest() {
        let a = [entry(1, 0), entry(5, 1), entry(9, 2)];
        let b = [entry(2, 3), entry(5, 4), entry(7, 5)];
        let walked: Vec<_> = MergedRange::new(&[&a, &b], 2, 7)
            .map(|(i, e)| (i, e.ts()))
            .collect();
        assert_eq!(walked, [(1, 2), (0, 5), (1, 5), (1, 7)]);
        let prewrite = IndexEntry::new(5, Kind::Prewrite, 3, 10, None);
        let dup = [entry(5, 1), entry(5, 2), prewrite, entry(6, 4)];
        assert_eq!(find_latest(&dup, 5, |_| true).unwrap().offset(), 3);
        assert_eq!(
            find_latest(&dup, 5, |k| k == Kind::Commit)
                .unwrap()
                .offset(),
            2
        );
        assert!(find_latest(&dup, 4, |_| true).is_none());
    }

    #[test]
    fn idx_file_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let entries: Vec<_> = (0..100).map(|i| entry(i * 2, i as u32)).collect();
        write_idx_file(dir.path(), 4, &entries).unwrap();
        let idx = IdxFile::open(dir.path(), 4, 100).unwrap().unwrap();
        assert_eq!(idx.entries(), &entries[..]);
        assert!(IdxFile::open(dir.path(), 4, 99).unwrap().is_none());
        assert!(IdxFile::open(dir.path(), 5, 0).unwrap().is_none());
        let path = idx_path(dir.path(), 4);
        let mut bytes = fs::read(&path).unwrap();
        bytes[IDX_HEADER_LEN + 50] ^= 4;
        fs::write(&path, bytes).unwrap();
        assert!(IdxFile::open(dir.path(), 4, 100).unwrap().is_none());
    }
}
