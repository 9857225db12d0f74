//! Background work kept off the write path: preparing the next segment file, writing the
//! `.idx` of a sealed segment, deleting (or recycling) the files GC dropped, saving the sorter
//! checkpoint, and refreshing the free space that stop-write compares against.

use std::fs::{self, OpenOptions};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, Preallocate};
use crate::data_dir::space;
use crate::index::{idx_file_looks_complete, write_idx_file};
use crate::log_files::{prepare_spare, SealedIndex, SealedSegment, SparePool, MAX_SPARES};
use crate::shared::Shared;

/// How often free space is measured.
pub const SPACE_REFRESH: Duration = Duration::from_secs(1);

/// Work for the housekeeper thread.
pub enum Job {
    /// Make sure a spare segment file is ready.
    PrepareSpare,
    /// Write the `.idx` of a sealed segment (just sealed, or found without one at open) and
    /// switch it to the mapped file.
    WriteIndex(Arc<SealedSegment>),
    /// Delete (or keep as spares) the files of segments GC dropped.
    Dispose(Vec<Arc<SealedSegment>>),
    /// Save the sorter state as of the start of segment `replay_from`.
    Checkpoint {
        /// First segment recovery must replay.
        replay_from: u64,
        /// Encoded sorter state.
        sorter: Vec<u8>,
    },
}

/// Runs jobs until the sender is dropped; refreshes free space every [`SPACE_REFRESH`], busy
/// or not.
pub fn run(shared: Arc<Shared>, jobs: Receiver<Job>) {
    let mut next_refresh = Instant::now() + SPACE_REFRESH;
    loop {
        match jobs.recv_timeout(next_refresh.saturating_duration_since(Instant::now())) {
            // Preparing and deleting files is what moves free space: measure it at once, so
            // stop-write holds before the disk fills however fast the writer goes.
            Ok(Job::PrepareSpare) => {
                ensure_spare(&shared.spares, &shared.config);
                refresh_space(&shared);
            }
            Ok(Job::WriteIndex(segment)) => write_index(&shared, &segment),
            Ok(Job::Dispose(segments)) => {
                segments
                    .into_iter()
                    .for_each(|segment| dispose_segment(&shared, segment));
                refresh_space(&shared);
            }
            Ok(Job::Checkpoint {
                replay_from,
                sorter,
            }) => {
                if let Err(error) = shared.update_meta(|meta| {
                    meta.replay_from = replay_from;
                    meta.sorter = sorter;
                }) {
                    // Not fatal: recovery replays from the previous checkpoint instead.
                    tracing::warn!(%error, replay_from, "could not save the sorter checkpoint");
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if Instant::now() >= next_refresh {
            refresh_space(&shared);
            next_refresh = Instant::now() + SPACE_REFRESH;
        }
    }
}

/// Deletes a segment dropped by GC, or keeps its file as a spare when nobody reads it.
pub fn dispose_segment(shared: &Shared, segment: Arc<SealedSegment>) {
    let log_dir = &shared.read_context.log_dir;
    let _ = fs::remove_file(crate::index::idx_path(log_dir, segment.id));
    let path = segment.path.clone();
    let recyclable = shared.config.recycle_segments
        && shared.spares.len() < MAX_SPARES
        && Arc::strong_count(&segment) == 1
        && Arc::strong_count(&segment.map) == 1;
    drop(segment);
    let mut doomed = path;
    if recyclable {
        let spare = shared.spares.new_spare_path();
        match fs::rename(&doomed, &spare) {
            Ok(()) => {
                doomed = spare;
                let prepare = || -> std::io::Result<()> {
                    OpenOptions::new()
                        .write(true)
                        .open(&doomed)?
                        .set_len(shared.config.segment_size.0)?;
                    crate::data_dir::sync_dir(log_dir)
                };
                match prepare() {
                    Ok(()) => return shared.spares.put(doomed),
                    Err(error) => {
                        tracing::warn!(%error, file = %doomed.display(), "could not recycle segment; deleting it")
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, file = %doomed.display(), "could not recycle segment; deleting it")
            }
        }
    }
    if let Err(error) = fs::remove_file(&doomed) {
        tracing::warn!(%error, file = %doomed.display(), "could not delete collected segment");
    }
}

/// Measures free space under the data dir now.
fn refresh_space(shared: &Shared) {
    match space(&shared.config.dir).map(|space| space.available) {
        Ok(bytes) => shared.available_space.store(bytes, Ordering::Relaxed),
        Err(error) => tracing::warn!(%error, "could not measure free space"),
    }
}

/// Prepares a spare segment file unless one is ready.
pub fn ensure_spare(spares: &SparePool, config: &Config) {
    if !spares.is_empty() {
        return;
    }
    let path = spares.new_spare_path();
    let zero_fill = config.preallocate == Preallocate::ZeroFill;
    match prepare_spare(&path, config.segment_size.0, zero_fill) {
        Ok(()) => spares.put(path),
        // The writer fallocates a file itself when it finds none ready.
        Err(error) => tracing::warn!(%error, "could not prepare the next segment file"),
    }
}

fn write_index(shared: &Shared, segment: &SealedSegment) {
    if !shared
        .segments
        .load()
        .sealed
        .iter()
        .any(|s| s.id == segment.id)
    {
        return; // collected by GC meanwhile: no index file for it
    }
    let log_dir = &shared.read_context.log_dir;
    let context = &shared.read_context;
    let result = segment
        .index(log_dir, context.skip_corrupt)
        .and_then(|index| match &*index {
            SealedIndex::Mapped(_) => Ok(()),
            SealedIndex::InMemory(entries) => {
                if !idx_file_looks_complete(log_dir, segment.id, segment.stats.record_count) {
                    write_idx_file(log_dir, segment.id, entries)?;
                }
                segment.switch_to_idx_file(log_dir)
            }
        });
    if let Err(error) = result {
        // The in-memory index keeps serving; the next open rebuilds the file.
        tracing::warn!(%error, segment = segment.id, "could not write the segment index file");
    }
}
