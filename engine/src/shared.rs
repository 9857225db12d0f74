//! The state shared by the engine handle, the writer thread, the housekeeper thread and pull
//! streams.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use crate::config::Config;
use crate::error::Result;
use crate::log_files::{ReadContext, SegmentSet, SparePool};
use crate::meta::{write_meta, Meta};
use crate::metrics::Metrics;
use crate::sorter::Sorter;

/// State shared by the engine handle, the writer, the housekeeper and pull streams.
pub struct Shared {
    /// The sanitized configuration.
    pub config: Config,
    /// What reads need.
    pub read_context: ReadContext,
    /// Segments readers can see.
    pub segments: ArcSwap<SegmentSet>,
    /// Serialises replacements of `segments` (roll and GC).
    pub segments_update: Mutex<()>,
    /// The watermark and its change notification.
    pub watermark: watch::Sender<u64>,
    /// The last accepted GC TS.
    pub gc_ts: AtomicU64,
    /// The meta file's content; rewritten under this lock.
    pub meta: Mutex<Meta>,
    /// Free bytes under the data dir, refreshed by the housekeeper.
    pub available_space: AtomicU64,
    /// Set when an `fdatasync` failed: the writer refuses everything after.
    pub writer_failure: OnceLock<String>,
    /// Set by `close`.
    pub closed: AtomicBool,
    /// Counters and histograms.
    pub metrics: Metrics,
    /// The watermark computation, fed by the writer.
    pub sorter: Mutex<Sorter>,
    /// Prepared segment files.
    pub spares: SparePool,
}

impl Shared {
    /// Changes the meta with `change` and writes it.
    pub fn update_meta(&self, change: impl FnOnce(&mut Meta)) -> Result<()> {
        let mut meta = self.meta.lock().unwrap_or_else(|e| e.into_inner());
        let mut next = meta.clone();
        change(&mut next);
        write_meta(&self.config.dir, &next)?;
        *meta = next;
        Ok(())
    }

    /// Whether the engine has been closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}
