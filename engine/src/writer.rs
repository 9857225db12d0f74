//! Group commit: the writer thread that owns the active segment.
//!
//! It blocks for one request, takes every other request already queued (up to
//! `max-group-size` bytes), copies them into one buffer, and issues one write and one
//! `fdatasync` for the whole group (one linked submission with io_uring). Only then does it
//! index the records, feed the sorter, move the watermark and acknowledge every caller with its
//! position. It rolls to a prepared segment when the next record does not fit.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::data_dir::sync_dir;
use crate::error::{copy_io_error, Error, IoContext, Result};
use crate::housekeeper::Job;
use crate::index::{ActiveIndex, IndexEntry, Position};
use crate::log_files::{
    map_segment, ActiveSegment, SealedIndex, SealedSegment, SegmentSet, SparePool,
};
use crate::log_io::{write_all_at, IoFailure, LogIo, PAGE_SIZE};
use crate::record::{key_ts, EncodedRecord, Kind};
use crate::segment::{encode_footer, encode_header, segment_path, SegmentStats, FOOTER_LEN};
use crate::shared::Shared;
use crate::sorter::Sorter;

/// One append waiting for the writer.
pub struct WriteRequest {
    /// The encoded record.
    pub record: EncodedRecord,
    /// When the caller queued it.
    pub queued_at: Instant,
    /// Where the result goes.
    pub done: oneshot::Sender<Result<Position>>,
}

/// The writer's state; lives on the writer thread.
pub struct Writer {
    shared: Arc<Shared>,
    io: Box<dyn LogIo>,
    requests: Receiver<WriteRequest>,
    jobs: Sender<Job>,
    file: File,
    segment: Arc<ActiveSegment>,
    stats: SegmentStats,
    /// End of bytes a failed write may have left after `stats.data_end`; the next write covers
    /// them with zeros so no leftover of a failed group can ever be read back.
    dirty_until: u64,
    buffer: Vec<u8>,
    emitted: Vec<u64>,
}

impl Writer {
    /// A writer appending to `segment` (open as `file`) after the records described by `stats`.
    pub fn new(
        shared: Arc<Shared>,
        io: Box<dyn LogIo>,
        requests: Receiver<WriteRequest>,
        jobs: Sender<Job>,
        file: File,
        segment: Arc<ActiveSegment>,
        stats: SegmentStats,
    ) -> Writer {
        Writer {
            shared,
            io,
            requests,
            jobs,
            file,
            segment,
            stats,
            dirty_until: 0,
            buffer: Vec::new(),
            emitted: Vec::new(),
        }
    }

    /// Runs until every sender is gone.
    pub fn run(mut self) {
        let max_group = self.shared.config.max_group_size.0 as usize;
        while let Ok(first) = self.requests.recv() {
            let mut bytes = first.record.span();
            let mut group = vec![first];
            while bytes < max_group {
                match self.requests.try_recv() {
                    Ok(request) => {
                        bytes += request.record.span();
                        group.push(request);
                    }
                    Err(_) => break,
                }
            }
            self.commit_group(group);
        }
    }

    fn commit_group(&mut self, mut group: Vec<WriteRequest>) {
        let started = Instant::now();
        for request in &group {
            self.shared
                .metrics
                .queue_wait
                .record_duration(started.saturating_duration_since(request.queued_at));
        }
        if let Some(reason) = self.shared.writer_failure.get() {
            return fail_all(group, || Error::WriterFailed(reason.clone()), &self.shared);
        }
        let usable = self.shared.config.segment_size.0 - FOOTER_LEN as u64;
        while !group.is_empty() {
            // Saturating: a segment written with a larger segment-size may already be past it.
            let room = usable.saturating_sub(self.stats.data_end);
            let mut fits = 0;
            let mut bytes = 0u64;
            for request in &group {
                if bytes + request.record.span() as u64 > room {
                    break;
                }
                bytes += request.record.span() as u64;
                fits += 1;
            }
            if fits == 0 {
                if let Err(error) = self.roll() {
                    tracing::error!(%error, segment = self.segment.id, "failed to roll to the next segment");
                    let message = error.to_string();
                    let failure = self.shared.writer_failure.get().cloned();
                    return fail_all(
                        group,
                        || match &failure {
                            Some(reason) => Error::WriterFailed(reason.clone()),
                            None => Error::Io {
                                context: "roll to the next segment".into(),
                                source: std::io::Error::other(message.clone()),
                            },
                        },
                        &self.shared,
                    );
                }
                continue;
            }
            let rest = group.split_off(fits);
            self.flush(group);
            group = rest;
        }
    }

    /// Writes `group` (which fits in the active segment) durably, then indexes and acknowledges it.
    fn flush(&mut self, group: Vec<WriteRequest>) {
        let segment_id = self.segment.id;
        let offset = self.stats.data_end;
        let group_start = offset as u32;
        self.buffer.clear();
        let mut offsets = Vec::with_capacity(group.len());
        for request in &group {
            offsets.push((offset + self.buffer.len() as u64) as u32);
            request
                .record
                .place(segment_id, group_start, &mut self.buffer);
        }
        let data_len = self.buffer.len() as u64;
        // Zeros up to the end of the last page (the file holds zeros there anyway): spares are
        // zero-filled past the page cache, and a write ending inside a page that is not cached
        // would make the kernel read that page from the device first. Also over whatever a
        // failed write may have left.
        let page_end = (offset + data_len)
            .next_multiple_of(PAGE_SIZE)
            .min(self.shared.config.segment_size.0);
        let write_end = page_end.max(self.dirty_until).max(offset + data_len);
        self.buffer.resize((write_end - offset) as usize, 0);

        let sync = self.shared.config.sync_log;
        let started = Instant::now();
        let result = write_all_at(self.io.as_mut(), &self.file, offset, &self.buffer, sync);
        let metrics = &self.shared.metrics;
        metrics.write.record_duration(started.elapsed());
        match result {
            Ok(sync_time) => {
                self.dirty_until = 0;
                if let Some(sync_time) = sync_time {
                    metrics.sync.record_duration(sync_time);
                }
            }
            Err(IoFailure::Write(source)) => {
                tracing::error!(%source, segment = segment_id, offset, "write to segment failed; failing the group");
                // Part of the group may be in the page cache with valid CRCs: overwrite it now,
                // or else with the next group, so a failed append never comes back.
                let zeros = vec![0u8; self.buffer.len()];
                match write_all_at(self.io.as_mut(), &self.file, offset, &zeros, sync) {
                    Ok(_) => {}
                    Err(IoFailure::Write(_)) => {
                        self.dirty_until = self.dirty_until.max(offset + self.buffer.len() as u64);
                    }
                    Err(IoFailure::Sync(sync_error)) => {
                        return self.fail_after_sync_error(group, sync_error)
                    }
                }
                return fail_all(
                    group,
                    || Error::Io {
                        context: format!("write segment {segment_id} at offset {offset}"),
                        source: copy_io_error(&source),
                    },
                    &self.shared,
                );
            }
            Err(IoFailure::Sync(source)) => return self.fail_after_sync_error(group, source),
        }
        metrics.group_records.record(group.len() as u64);
        metrics.group_bytes.record(data_len);
        metrics
            .appended_records
            .fetch_add(group.len() as u64, Ordering::Relaxed);
        metrics
            .appended_bytes
            .fetch_add(data_len, Ordering::Relaxed);

        let mut entries = Vec::with_capacity(group.len());
        self.emitted.clear();
        {
            let mut sorter = self.shared.sorter.lock().unwrap_or_else(|e| e.into_inner());
            for (request, &record_offset) in group.iter().zip(&offsets) {
                let record = &request.record;
                let position = Position {
                    segment_id,
                    offset: record_offset,
                };
                entries.push(index_record(
                    &mut sorter,
                    position,
                    record.kind(),
                    record.start_ts(),
                    record.commit_ts(),
                    record.payload_len(),
                    &mut self.emitted,
                    |start_ts| find_prewrite(&self.shared, start_ts),
                ));
                self.stats.add(
                    record.kind(),
                    record.start_ts(),
                    record.commit_ts(),
                    record.span(),
                );
            }
        }
        self.segment.index.push_group(entries);
        if let Some(&watermark) = self.emitted.last() {
            self.shared.watermark.send_replace(watermark);
        }
        for (request, record_offset) in group.into_iter().zip(offsets) {
            let _ = request.done.send(Ok(Position {
                segment_id,
                offset: record_offset,
            }));
        }
    }

    /// Opens spare as segment `id` and writes its header (synced with its first group).
    fn open_next(&mut self, spare: &Path, id: u64) -> Result<(File, Arc<ActiveSegment>)> {
        let (file, segment) = open_spare_file_as_segment(
            spare,
            &self.shared.read_context.log_dir,
            id,
            self.shared.config.segment_size.0,
        )?;
        write_all_at(self.io.as_mut(), &file, 0, &encode_header(id), false).map_err(|failure| {
            io_failure_error(failure, || {
                format!("write header of {}", segment.path.display())
            })
        })?;
        Ok((file, segment))
    }

    /// A failed `fdatasync` loses what the kernel held: stop the writer and fail `group`.
    fn fail_after_sync_error(&self, group: Vec<WriteRequest>, source: std::io::Error) {
        let reason = format!("fdatasync of segment {} failed: {source}", self.segment.id);
        self.stop(reason.clone());
        fail_all(group, || Error::WriterFailed(reason.clone()), &self.shared);
    }

    /// Stops the writer for good: this and every later append fails with `reason`.
    fn stop(&self, reason: String) -> Error {
        tracing::error!(
            reason,
            "the storage writer stops accepting appends until reopened"
        );
        let _ = self.shared.writer_failure.set(reason.clone());
        Error::WriterFailed(reason)
    }

    /// Seals the active segment and continues in a prepared one.
    fn roll(&mut self) -> Result<()> {
        let started = Instant::now();
        // The next file first: without one (a full disk), the segment stays active and
        // unsealed, this group fails, and a later group tries again once space is back.
        let spare = self
            .shared
            .spares
            .take_or_fallocate(self.shared.config.segment_size.0)?;
        let old = self.segment.clone();
        let footer = encode_footer(old.id, &self.stats);
        let footer_end = self.stats.data_end + FOOTER_LEN as u64;
        let sealed_on_disk = write_all_at(
            self.io.as_mut(),
            &self.file,
            self.stats.data_end,
            &footer,
            false,
        )
        .map_err(|failure| {
            io_failure_error(failure, || {
                format!("write footer of {}", old.path.display())
            })
        })
        .and_then(|_| {
            self.file
                .set_len(footer_end)
                .context(|| format!("trim {}", old.path.display()))
        });
        if let Err(error) = sealed_on_disk {
            // The segment still takes appends; they must cover the footer bytes written.
            self.dirty_until = self.dirty_until.max(footer_end);
            self.shared.spares.put(spare);
            return Err(error);
        }
        if let Err(source) = self.io.sync(&self.file) {
            return Err(self.stop(format!(
                "fdatasync of sealed segment {} failed: {source}",
                old.id
            )));
        }

        // Sealed on disk: the segment must never take another record, so failing to continue
        // in the next one stops the writer (reopen recovers: the sealed segment is last).
        let next_id = old.id + 1;
        let (file, segment) = match self.open_next(&spare, next_id) {
            Ok(next) => next,
            Err(error) => {
                return Err(self.stop(format!(
                    "cannot continue after sealing segment {}: {error}",
                    old.id
                )))
            }
        };

        let sealed = Arc::new(SealedSegment::new(
            old.id,
            old.path.clone(),
            old.map.clone(),
            self.stats,
            Some(SealedIndex::InMemory(old.index.merged().into_boxed_slice())),
        ));
        {
            let _update = self
                .shared
                .segments_update
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let current = self.shared.segments.load();
            let mut sealed_list = current.sealed.clone();
            sealed_list.push(sealed.clone());
            self.shared.segments.store(Arc::new(SegmentSet {
                sealed: sealed_list,
                active: segment.clone(),
            }));
        }
        self.file = file;
        self.segment = segment;
        self.stats = SegmentStats::empty();
        self.dirty_until = 0;

        let sorter = self
            .shared
            .sorter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .encode();
        let _ = self.jobs.send(Job::Checkpoint {
            replay_from: next_id,
            sorter,
        });
        let _ = self.jobs.send(Job::WriteIndex(sealed));
        let _ = self.jobs.send(Job::PrepareSpare);
        tracing::info!(sealed = old.id, next = next_id, elapsed = ?started.elapsed(), "rolled to a new segment");
        Ok(())
    }
}

/// Where the prewrite of a commit whose prewrite is no longer pending is (a duplicate commit).
fn find_prewrite(shared: &Shared, start_ts: u64) -> Option<Position> {
    let segments = shared.segments.load();
    match segments.find_prewrite(start_ts, &shared.read_context) {
        Ok(found) => found,
        Err(error) => {
            tracing::warn!(%error, start_ts, "could not look up the prewrite of a commit; pulls will look again");
            None
        }
    }
}

/// Turns a spare file into segment `id`: renames it, makes the rename durable, opens and maps it.
pub fn open_spare_as_segment(
    spares: &SparePool,
    log_dir: &Path,
    id: u64,
    segment_size: u64,
) -> Result<(File, Arc<ActiveSegment>)> {
    let spare = spares.take_or_fallocate(segment_size)?;
    open_spare_file_as_segment(&spare, log_dir, id, segment_size)
}

/// Turns the prepared file `spare` into segment `id` (see [`open_spare_as_segment`]).
pub fn open_spare_file_as_segment(
    spare: &Path,
    log_dir: &Path,
    id: u64,
    segment_size: u64,
) -> Result<(File, Arc<ActiveSegment>)> {
    let path = segment_path(log_dir, id);
    std::fs::rename(spare, &path)
        .context(|| format!("rename {} to {}", spare.display(), path.display()))?;
    sync_dir(log_dir).context(|| format!("sync {}", log_dir.display()))?;
    open_active(&path, id, segment_size)
}

/// Opens segment `id` at `path` for writing and maps it for readers.
pub fn open_active(path: &Path, id: u64, segment_size: u64) -> Result<(File, Arc<ActiveSegment>)> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .context(|| format!("open segment {}", path.display()))?;
    let len = file
        .metadata()
        .context(|| format!("stat {}", path.display()))?
        .len();
    if len < segment_size {
        // A torn or trimmed file becoming active again: give it its full size back.
        file.set_len(segment_size)
            .context(|| format!("extend {}", path.display()))?;
    }
    let map = map_segment(path, &file, segment_size.max(len))?;
    let segment = Arc::new(ActiveSegment {
        id,
        path: path.to_path_buf(),
        map: Arc::new(map),
        index: ActiveIndex::default(),
    });
    Ok((file, segment))
}

fn io_failure_error(failure: IoFailure, context: impl FnOnce() -> String) -> Error {
    Error::Io {
        context: context(),
        source: failure.into_io_error(),
    }
}

fn fail_all(group: Vec<WriteRequest>, error: impl Fn() -> Error, shared: &Shared) {
    shared
        .metrics
        .append_errors
        .fetch_add(group.len() as u64, Ordering::Relaxed);
    for request in group {
        let _ = request.done.send(Err(error()));
    }
}

/// Feeds one durable record to the sorter and returns its index entry. A commit's entry gets
/// its prewrite's position: the pending prewrite it matched, or else `find_prewrite`'s answer.
#[allow(clippy::too_many_arguments)]
pub fn index_record(
    sorter: &mut Sorter,
    position: Position,
    kind: Kind,
    start_ts: u64,
    commit_ts: u64,
    payload_len: u32,
    emitted: &mut Vec<u64>,
    find_prewrite: impl FnOnce(u64) -> Option<Position>,
) -> IndexEntry {
    let prewrite = match kind {
        Kind::Prewrite => {
            sorter.push_prewrite(start_ts, position);
            None
        }
        Kind::Commit => sorter
            .push_other(start_ts, commit_ts, emitted)
            .or_else(|| find_prewrite(start_ts)),
        Kind::Rollback | Kind::Fake => {
            sorter.push_other(start_ts, commit_ts, emitted);
            None
        }
    };
    IndexEntry::new(
        key_ts(kind, start_ts, commit_ts),
        kind,
        position.offset,
        payload_len,
        prewrite,
    )
}
