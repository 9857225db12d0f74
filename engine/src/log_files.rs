//! The segment files as readers see them: the set of sealed segments plus the active one
//! (published through an `ArcSwap`), reading a record at a position, finding records by TS, the
//! lazily loaded (or rebuilt) index of a sealed segment, and the pool of prepared spare files.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use memmap2::{Mmap, MmapOptions};

use crate::data_dir::replace_file_with;
use crate::error::{Error, IoContext, Result};
use crate::index::{find_latest, write_idx_file, ActiveIndex, IdxFile, IndexEntry, Position};
use crate::log_io::PAGE_SIZE;
use crate::record::{read_record, Kind, RecordView};
use crate::segment::{scan_records, segment_path, SegmentStats};

/// Maps a whole segment file read-only. Writes through the file descriptor are visible through
/// the mapping (one page cache); readers only touch bytes the index points at.
pub fn map_segment(path: &Path, file: &File, len: u64) -> Result<Mmap> {
    // SAFETY: the mapping is read-only; readers only touch indexed records, which lie below
    // every length the file is ever trimmed to while a reader can hold it (the seal trims after
    // the last record; GC recycles a file, and so resizes it, only when no mapping of it is left).
    unsafe { MmapOptions::new().len(len as usize).map(file) }
        .context(|| format!("map segment {}", path.display()))
}

/// The segment being written.
pub struct ActiveSegment {
    /// Segment id.
    pub id: u64,
    /// Its file.
    pub path: PathBuf,
    /// Read-only view of the whole (preallocated) file.
    pub map: Arc<Mmap>,
    /// Entries of the records written so far.
    pub index: ActiveIndex,
}

/// The index of a sealed segment, in memory until its `.idx` file is written and mapped.
pub enum SealedIndex {
    /// Entries held in memory (just sealed, or rebuilt).
    InMemory(Box<[IndexEntry]>),
    /// The mapped `.idx` file.
    Mapped(IdxFile),
}

impl SealedIndex {
    /// The sorted entries.
    pub fn entries(&self) -> &[IndexEntry] {
        match self {
            SealedIndex::InMemory(entries) => entries,
            SealedIndex::Mapped(file) => file.entries(),
        }
    }
}

/// A sealed segment: immutable records and footer, with an index loaded on first use.
pub struct SealedSegment {
    /// Segment id.
    pub id: u64,
    /// Its file.
    pub path: PathBuf,
    /// Read-only view of the file.
    pub map: Arc<Mmap>,
    /// What its footer says.
    pub stats: SegmentStats,
    index: ArcSwapOption<SealedIndex>,
    index_load: Mutex<()>,
}

impl SealedSegment {
    /// A sealed segment whose index is `index` (or not loaded yet).
    pub fn new(
        id: u64,
        path: PathBuf,
        map: Arc<Mmap>,
        stats: SegmentStats,
        index: Option<SealedIndex>,
    ) -> SealedSegment {
        SealedSegment {
            id,
            path,
            map,
            stats,
            index: ArcSwapOption::new(index.map(Arc::new)),
            index_load: Mutex::new(()),
        }
    }

    /// The index, mapping the `.idx` file on first use, or rebuilding it from the records when
    /// the file is missing or damaged (and writing the rebuilt file).
    pub fn index(&self, log_dir: &Path, skip_corrupt: bool) -> Result<Arc<SealedIndex>> {
        if let Some(index) = self.index.load_full() {
            return Ok(index);
        }
        let _loading = self.index_load.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = self.index.load_full() {
            return Ok(index);
        }
        let index = match IdxFile::open(log_dir, self.id, self.stats.record_count)? {
            Some(file) => SealedIndex::Mapped(file),
            None => {
                let entries = rebuild_entries(
                    &self.path,
                    &self.map,
                    self.stats.data_end,
                    self.id,
                    skip_corrupt,
                )?;
                if entries.len() as u64 == self.stats.record_count {
                    write_idx_file(log_dir, self.id, &entries)?;
                }
                SealedIndex::InMemory(entries.into_boxed_slice())
            }
        };
        let index = Arc::new(index);
        self.index.store(Some(index.clone()));
        Ok(index)
    }

    /// Swaps an in-memory index for the mapped `.idx` file once it has been written.
    pub fn switch_to_idx_file(&self, log_dir: &Path) -> Result<()> {
        if let Some(file) = IdxFile::open(log_dir, self.id, self.stats.record_count)? {
            self.index.store(Some(Arc::new(SealedIndex::Mapped(file))));
        }
        Ok(())
    }
}

/// Index entries of a segment's records (in key order), from a scan of its bytes. A commit gets
/// its prewrite's position when the prewrite is in the same segment.
pub fn rebuild_entries(
    path: &Path,
    data: &[u8],
    data_end: u64,
    id: u64,
    skip_corrupt: bool,
) -> Result<Vec<IndexEntry>> {
    let mut prewrites = HashMap::new();
    let mut entries = Vec::new();
    scan_records(
        path,
        data,
        data_end as usize,
        id,
        false,
        skip_corrupt,
        |scanned| {
            let record = scanned.record;
            let offset = scanned.offset as u32;
            let prewrite = match record.kind {
                Kind::Prewrite => {
                    prewrites.insert(record.start_ts, offset);
                    None
                }
                Kind::Commit => prewrites.get(&record.start_ts).map(|&offset| Position {
                    segment_id: id,
                    offset,
                }),
                _ => None,
            };
            entries.push(IndexEntry::new(
                record.key_ts(),
                record.kind,
                offset,
                record.payload.len() as u32,
                prewrite,
            ));
        },
    )?;
    entries.sort_by_key(IndexEntry::ts);
    Ok(entries)
}

/// Every segment a reader can see, oldest first; replaced as a whole on roll and GC.
pub struct SegmentSet {
    /// Sealed segments by increasing id.
    pub sealed: Vec<Arc<SealedSegment>>,
    /// The segment being written.
    pub active: Arc<ActiveSegment>,
}

/// What reads need besides the segment set: limits and where `.idx` files live.
#[derive(Clone)]
pub struct ReadContext {
    /// `<data-dir>/log`.
    pub log_dir: PathBuf,
    /// `skip-corrupt-records`.
    pub skip_corrupt: bool,
}

impl SegmentSet {
    /// The bytes of segment `id`, with its path.
    pub fn segment_data(&self, id: u64) -> Option<(&Path, &[u8])> {
        if self.active.id == id {
            return Some((&self.active.path, &self.active.map[..]));
        }
        let at = self.sealed.binary_search_by_key(&id, |s| s.id).ok()?;
        let segment = &self.sealed[at];
        Some((
            &segment.path,
            &segment.map[..segment.stats.data_end as usize],
        ))
    }

    /// Reads and checks the record at `position`.
    pub fn read(&self, position: Position) -> Result<RecordView<'_>> {
        let (path, data) =
            self.segment_data(position.segment_id)
                .ok_or_else(|| Error::Corruption {
                    file: segment_path(Path::new("log"), position.segment_id),
                    offset: position.offset as u64,
                    reason: "segment referenced by the index no longer exists".into(),
                })?;
        read_record(data, position.offset as usize, position.segment_id).map_err(|fault| {
            Error::Corruption {
                file: path.to_path_buf(),
                offset: position.offset as u64,
                reason: fault.describe().into(),
            }
        })
    }

    /// Where the prewrite of the transaction that started at `start_ts` is, if it is stored here.
    pub fn find_prewrite(&self, start_ts: u64, context: &ReadContext) -> Result<Option<Position>> {
        self.find_latest(start_ts, |kind| kind == Kind::Prewrite, context)
    }

    /// Where the most recently written record keyed `ts` whose kind passes `wanted` is,
    /// newest segment first.
    pub fn find_latest(
        &self,
        ts: u64,
        wanted: impl Fn(Kind) -> bool,
        context: &ReadContext,
    ) -> Result<Option<Position>> {
        let position_in = |segment_id: u64, entries: &[IndexEntry]| {
            find_latest(entries, ts, &wanted).map(|entry| Position {
                segment_id,
                offset: entry.offset(),
            })
        };
        for run in self.active.index.snapshot().iter().rev() {
            if let Some(position) = position_in(self.active.id, run) {
                return Ok(Some(position));
            }
        }
        for segment in self
            .sealed
            .iter()
            .rev()
            .filter(|s| s.stats.may_hold_key(ts))
        {
            let index = segment.index(&context.log_dir, context.skip_corrupt)?;
            if let Some(position) = position_in(segment.id, index.entries()) {
                return Ok(Some(position));
            }
        }
        Ok(None)
    }
}

/// Prepared segment files (zero-filled, fallocated, or recycled by GC) waiting to become the
/// next active segment. The housekeeper fills it; the writer takes from it when it rolls.
pub struct SparePool {
    dir: PathBuf,
    state: Mutex<SpareState>,
}

struct SpareState {
    files: VecDeque<PathBuf>,
    next_name: u64,
}

/// Most files kept for reuse; GC deletes freed segments beyond this.
pub const MAX_SPARES: usize = 2;

impl SparePool {
    /// The pool of `log_dir`, adopting spare files left by an earlier run whose size is right
    /// and deleting unfinished preparations.
    pub fn open(log_dir: &Path, segment_size: u64) -> Result<SparePool> {
        let mut files = VecDeque::new();
        let mut next_name = 0;
        for entry in fs::read_dir(log_dir).context(|| format!("list {}", log_dir.display()))? {
            let entry = entry.context(|| format!("list {}", log_dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if let Some(n) = name
                .strip_prefix("spare-")
                .and_then(|n| n.parse::<u64>().ok())
            {
                let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                if len == segment_size {
                    files.push_back(path);
                    next_name = next_name.max(n + 1);
                    continue;
                }
            } else if !name.ends_with(".tmp") {
                continue;
            }
            fs::remove_file(&path).context(|| format!("remove stale file {}", path.display()))?;
        }
        Ok(SparePool {
            dir: log_dir.to_path_buf(),
            state: Mutex::new(SpareState { files, next_name }),
        })
    }

    /// Number of spares ready.
    pub fn len(&self) -> usize {
        self.lock().files.len()
    }

    /// Whether no spare is ready.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SpareState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A fresh name for a spare file (`spare-<n>`).
    pub fn new_spare_path(&self) -> PathBuf {
        let mut state = self.lock();
        state.next_name += 1;
        self.dir.join(format!("spare-{}", state.next_name))
    }

    /// Adds a prepared file (already at its spare path and synced).
    pub fn put(&self, path: PathBuf) {
        self.lock().files.push_back(path);
    }

    /// Takes a prepared spare. When none is ready (the writer outran the zero-filling), it
    /// fallocates one at once: its `fdatasync`s cost a journal commit, but appends never wait
    /// for a zero-fill.
    pub fn take_or_fallocate(&self, segment_size: u64) -> Result<PathBuf> {
        if let Some(path) = self.lock().files.pop_front() {
            return Ok(path);
        }
        let path = self.new_spare_path();
        tracing::info!(file = %path.display(), "no prepared segment file ready; fallocating one now");
        prepare_spare(&path, segment_size, false)?;
        Ok(path)
    }
}

/// Creates a spare segment file of `size` bytes at `path`: zero-filled (and synced) or
/// fallocated, through a temporary name so a crash never leaves a half-prepared spare.
pub fn prepare_spare(path: &Path, size: u64, zero_fill: bool) -> Result<()> {
    replace_file_with(path, &path.with_extension("tmp"), |tmp| {
        if zero_fill {
            zero_filled(tmp, size)
        } else {
            let file = create_truncated(tmp, 0)?;
            fallocate(&file, size)?;
            Ok(file)
        }
    })
    .context(|| format!("prepare segment file {}", path.display()))
}

fn create_truncated(path: &Path, custom_flags: i32) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(custom_flags)
        .open(path)
}

/// Bytes the zero-fill writes (and waits for) at a time.
const ZERO_FILL_CHUNK: usize = 1 << 20;

/// Creates `path` holding `size` zeros, written to the device one [`ZERO_FILL_CHUNK`] at a time
/// and each followed by a pause as long as it took.
///
/// The zeros go around the page cache (`O_DIRECT`): copying 512 MiB of zeros into the cache
/// took a quarter of the CPU of a 2-core machine at high append rates, and left pages for the
/// kernel to write back in front of the writer's `fdatasync`s. The writer pads every group to
/// its last page's end, so it never has to read one of these uncached pages back. Where
/// `O_DIRECT` is refused (some filesystems), the chunks are written through the cache and each
/// written back (`sync_file_range`) before the next. Paced, the device is free half the time,
/// at the price of a fill about twice as long (the writer fallocates a file when it finds no
/// spare ready).
fn zero_filled(path: &Path, size: u64) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let (file, direct) = match create_truncated(path, libc::O_DIRECT) {
        Ok(file) => (file, true),
        Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
            (create_truncated(path, 0)?, false)
        }
        Err(error) => return Err(error),
    };
    // O_DIRECT needs page-aligned memory, offsets and lengths: a page-aligned window into a
    // slightly larger buffer, and a fill rounded up to whole pages (then cut to `size`).
    let buffer = vec![0u8; ZERO_FILL_CHUNK + PAGE_SIZE as usize];
    let align = buffer.as_ptr().align_offset(PAGE_SIZE as usize);
    let zeros = &buffer[align..align + ZERO_FILL_CHUNK];
    let fill_len = if direct {
        size.next_multiple_of(PAGE_SIZE)
    } else {
        size
    };
    let mut offset = 0u64;
    while offset < fill_len {
        let started = std::time::Instant::now();
        let n = (fill_len - offset).min(ZERO_FILL_CHUNK as u64) as usize;
        file.write_all_at(&zeros[..n], offset)?;
        if !direct {
            let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER;
            // SAFETY: sync_file_range on a valid descriptor we own, within the written range.
            let result =
                unsafe { libc::sync_file_range(file.as_raw_fd(), offset as i64, n as i64, flags) };
            if result != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        offset += n as u64;
        std::thread::sleep(started.elapsed());
    }
    if fill_len != size {
        file.set_len(size)?;
    }
    Ok(file)
}

fn fallocate(file: &File, size: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fallocate on a valid descriptor we own.
    let result = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, size as libc::off_t) };
    if result == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EOPNOTSUPP) {
        // Filesystems without fallocate (tmpfs on old kernels): a sparse file of the right size.
        return file.set_len(size);
    }
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_filled_spares_have_the_exact_size_and_only_zeros() {
        let dir = tempfile::tempdir().unwrap();
        // Not a multiple of a page or of a chunk: the O_DIRECT fill is rounded up, then cut.
        let size = 3 * ZERO_FILL_CHUNK as u64 + 100;
        let path = dir.path().join("spare-1");
        prepare_spare(&path, size, true).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, size);
        assert!(bytes.iter().all(|&b| b == 0));
        assert!(!path.with_extension("tmp").exists());
        let fallocated = dir.path().join("spare-2");
        prepare_spare(&fallocated, size, false).unwrap();
        assert_eq!(fs::metadata(&fallocated).unwrap().len(), size);
    }
}
