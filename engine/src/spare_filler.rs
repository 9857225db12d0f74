//! Keeping `spare-segments` prepared segment files ready without competing with the writer.
//!
//! Zero-filled spares let every `fdatasync` flush data only, but each costs the device a second
//! write of the segment's bytes: a fill running while the writer streams large records halves
//! the bandwidth left to it. So only the first spare is urgent (prepared, paced, as soon as the
//! writer takes the last one); the others are zero-filled in the housekeeper's moments without
//! a job, one chunk at a time and only while the writer has appended nothing for
//! [`WRITER_IDLE`]. A burst then rolls through up to `spare-segments` files at the device's
//! overwrite speed; a load longer than the pool continues in the urgent spare, or in a file
//! the writer fallocates when that one is not ready.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::config::Preallocate;
use crate::error::{Error, Result};
use crate::housekeeper::ensure_spare;
use crate::log_files::prepare_spare;
use crate::shared::Shared;
use crate::zero_fill::ZeroFill;

/// The writer counts as idle once it has appended nothing for this long.
pub const WRITER_IDLE: Duration = Duration::from_millis(50);
/// How often the housekeeper looks at the writer while the pool wants a spare.
const IDLE_POLL: Duration = Duration::from_millis(10);
/// Longest run of chunks one idle step writes before it lets the housekeeper look at its jobs.
const IDLE_STEP: Duration = Duration::from_millis(100);
/// Pause after a failed preparation, so that a persistent failure warns rarely.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// The housekeeper's state for filling the spare pool.
pub struct SpareFiller {
    /// An extra spare being zero-filled, chunk by chunk, in idle moments.
    fill: Option<ZeroFill>,
    /// The writer's `appended_bytes` when last looked at, and when it last changed.
    appended_bytes: u64,
    writer_active_at: Instant,
    /// No extra spare is started before this (after a failure).
    retry_at: Instant,
}

impl SpareFiller {
    /// A filler that has not seen the writer idle yet.
    pub fn new(shared: &Shared) -> SpareFiller {
        let now = Instant::now();
        SpareFiller {
            fill: None,
            appended_bytes: shared.metrics.appended_bytes.load(Ordering::Relaxed),
            writer_active_at: now,
            retry_at: now,
        }
    }

    /// How long the housekeeper may wait for a job before calling [`SpareFiller::idle_step`]:
    /// `None` while the pool wants nothing.
    pub fn poll_interval(&self, shared: &Shared) -> Option<Duration> {
        self.wants_work(shared).then_some(IDLE_POLL)
    }

    fn wants_work(&self, shared: &Shared) -> bool {
        self.fill.is_some()
            || (shared.spares.len() < shared.config.spare_segments
                && Instant::now() >= self.retry_at
                && space_allows_extra(shared))
    }

    /// The writer took the last spare (or the engine opened): the next must be ready soon.
    /// A fill in progress is finished, paced, rather than a second one started.
    pub fn ensure_one(&mut self, shared: &Shared) {
        if !shared.spares.is_empty() {
            return;
        }
        match self.fill.take() {
            Some(fill) => match fill.run_paced() {
                Ok(path) => shared.spares.put(path),
                // The writer fallocates a file itself when it finds none ready.
                Err(error) => tracing::warn!(%error, "could not prepare the next segment file"),
            },
            None => ensure_spare(&shared.spares, &shared.config),
        }
    }

    /// Prepares part of an extra spare if the pool wants one and the writer is idle, for at
    /// most [`IDLE_STEP`] and only while the writer stays idle. Returns whether a spare was
    /// completed (free space moved).
    pub fn idle_step(&mut self, shared: &Shared) -> bool {
        let started = Instant::now();
        while started.elapsed() < IDLE_STEP && self.writer_idle(shared) && self.wants_work(shared) {
            match self.prepare_chunk(shared) {
                Ok(false) => {}
                Ok(true) => return true,
                Err(error) => {
                    self.fill = None;
                    self.retry_at = Instant::now() + RETRY_AFTER;
                    tracing::warn!(%error, "could not prepare a spare segment file");
                    return false;
                }
            }
        }
        false
    }

    fn writer_idle(&mut self, shared: &Shared) -> bool {
        let appended = shared.metrics.appended_bytes.load(Ordering::Relaxed);
        if appended != self.appended_bytes {
            self.appended_bytes = appended;
            self.writer_active_at = Instant::now();
        }
        self.writer_active_at.elapsed() >= WRITER_IDLE
    }

    /// Writes the next chunk of the extra spare (starting one if none is under way); returns
    /// whether the spare is now in the pool.
    fn prepare_chunk(&mut self, shared: &Shared) -> Result<bool> {
        let size = shared.config.segment_size.0;
        let fill = match &mut self.fill {
            Some(fill) => fill,
            None => {
                let path = shared.spares.new_spare_path();
                if shared.config.preallocate == Preallocate::Fallocate {
                    prepare_spare(&path, size, false)?;
                    shared.spares.put(path);
                    return Ok(true);
                }
                self.fill
                    .insert(ZeroFill::start(&path, size).map_err(|source| Error::Io {
                        context: format!("start zero-filling {}", path.display()),
                        source,
                    })?)
            }
        };
        if let Err(source) = fill.step() {
            return Err(Error::Io {
                context: format!("zero-fill {}", fill.path().display()),
                source,
            });
        }
        if !fill.is_written() {
            return Ok(false);
        }
        let fill = self.fill.take().expect("checked above");
        let context = format!("finish zero-filling {}", fill.path().display());
        let path = fill
            .finish()
            .map_err(|source| Error::Io { context, source })?;
        shared.spares.put(path);
        Ok(true)
    }
}

/// Whether free space allows another spare beyond the urgent one: preparing it must leave more
/// than one segment above the stop-write floor, so a full pool never brings stop-write nearer
/// than a segment.
fn space_allows_extra(shared: &Shared) -> bool {
    let segment = shared.config.segment_size.0;
    let floor = shared.config.stop_write_at_available_space.0 + 2 * segment;
    shared.available_space.load(Ordering::Relaxed) >= floor
}
