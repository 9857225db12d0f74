//! Background work kept off the write path: preparing the next segment file, writing the
//! `.idx` of a sealed segment, saving the sorter checkpoint, and refreshing the free space that
//! stop-write compares against.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{Config, Preallocate};
use crate::data_dir::space;
use crate::index::{idx_file_looks_complete, write_idx_file};
use crate::log_files::{prepare_spare, SealedIndex, SealedSegment, SparePool};
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
            Ok(Job::PrepareSpare) => ensure_spare(&shared.spares, &shared.config),
            Ok(Job::WriteIndex(segment)) => write_index(&shared, &segment),
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
