//! `pull_commits`: commit and fake binlogs in strictly increasing commit TS up to the watermark,
//! each commit with its prewrite's payload, waiting on the watermark's notification for more.
//!
//! Each step takes a lock-free snapshot of the segments, walks the merged index range
//! `(last, watermark]` of every segment that may hold it, and copies up to [`PULL_BATCH`]
//! records out of the mapped files; the writer is never waited for.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, Stream};

use crate::error::{Error, Result};
use crate::index::{IndexEntry, MergedRange, Position};
use crate::log_files::SegmentSet;
use crate::record::Kind;
use crate::shared::Shared;

/// Most binlogs read per step of a pull.
pub const PULL_BATCH: usize = 256;

/// A binlog served by [`crate::Engine::pull_commits`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PulledBinlog {
    /// [`Kind::Commit`] or [`Kind::Fake`].
    pub kind: Kind,
    /// Start TS.
    pub start_ts: u64,
    /// Commit TS (strictly increasing along a pull).
    pub commit_ts: u64,
    /// The commit (or fake) binlog's payload.
    pub payload: Vec<u8>,
    /// For a commit: its prewrite's payload. `None` for a fake binlog.
    pub prewrite_payload: Option<Vec<u8>>,
}

struct PullState {
    shared: Arc<Shared>,
    watermark: tokio::sync::watch::Receiver<u64>,
    last: u64,
    ready: VecDeque<PulledBinlog>,
    /// An error met while reading a batch, reported after the binlogs read before it.
    error: Option<Error>,
    failed: bool,
}

/// Starts a pull after `after_ts`; fails at once if that is below the GC point.
pub fn pull_stream(
    shared: Arc<Shared>,
    after_ts: u64,
) -> Result<impl Stream<Item = Result<PulledBinlog>> + Send + 'static> {
    check_not_purged(&shared, after_ts)?;
    let state = PullState {
        watermark: shared.watermark.subscribe(),
        shared,
        last: after_ts,
        ready: VecDeque::new(),
        error: None,
        failed: false,
    };
    Ok(stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        state.failed = item.is_err();
        Some((item, state))
    }))
}

fn check_not_purged(shared: &Shared, after_ts: u64) -> Result<()> {
    let gc_ts = shared.gc_ts.load(Ordering::Acquire);
    if after_ts < gc_ts {
        return Err(Error::Purged {
            requested: after_ts,
            gc_ts,
        });
    }
    Ok(())
}

impl PullState {
    /// The next binlog; `None` once the engine is closed or after an error.
    async fn next(&mut self) -> Option<Result<PulledBinlog>> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(binlog) = self.ready.pop_front() {
                return Some(Ok(binlog));
            }
            if let Some(error) = self.error.take() {
                return Some(Err(error));
            }
            if self.shared.is_closed() {
                return None;
            }
            let watermark = *self.watermark.borrow_and_update();
            if watermark <= self.last {
                if self.watermark.changed().await.is_err() {
                    return None;
                }
                continue;
            }
            if let Err(error) = check_not_purged(&self.shared, self.last) {
                return Some(Err(error));
            }
            let started = Instant::now();
            match read_batch(&self.shared, self.last, watermark, &mut self.ready) {
                Ok(last) => self.last = last,
                Err(error) => self.error = Some(error),
            }
            self.shared
                .metrics
                .pull_batch
                .record_duration(started.elapsed());
            self.shared
                .metrics
                .pulled_records
                .fetch_add(self.ready.len() as u64, Ordering::Relaxed);
        }
    }
}

/// Reads up to [`PULL_BATCH`] pulled binlogs keyed in `(after, upto]` into `out`; returns the
/// key the next step continues after. On an error, `out` keeps what was read before it.
fn read_batch(
    shared: &Shared,
    after: u64,
    upto: u64,
    out: &mut VecDeque<PulledBinlog>,
) -> Result<u64> {
    let context = &shared.read_context;
    let segments = shared.segments.load_full();
    let mut sealed = Vec::new();
    for segment in segments
        .sealed
        .iter()
        .filter(|s| s.stats.may_hold_pull_range(after, upto))
    {
        let index = segment.index(&context.log_dir, context.skip_corrupt)?;
        sealed.push((segment.id, index));
    }
    let active_runs = segments.active.index.snapshot();
    let mut sources: Vec<(u64, &[IndexEntry])> = sealed
        .iter()
        .map(|(id, index)| (*id, index.entries()))
        .collect();
    sources.extend(active_runs.iter().map(|run| (segments.active.id, &run[..])));
    let slices: Vec<&[IndexEntry]> = sources.iter().map(|&(_, entries)| entries).collect();
    let mut last = after;
    let mut served = 0;
    for (source, entry) in MergedRange::new(&slices, after.saturating_add(1), upto) {
        if !entry.kind().is_some_and(Kind::is_pulled) || entry.ts() == last {
            continue; // a prewrite or rollback, or a duplicate key whose first copy was served
        }
        if served == PULL_BATCH {
            return Ok(last);
        }
        last = entry.ts();
        let position = Position {
            segment_id: sources[source].0,
            offset: entry.offset(),
        };
        if let Some(binlog) = read_pulled(&segments, shared, position, entry)? {
            out.push_back(binlog);
            served += 1;
        }
    }
    Ok(upto)
}

/// Reads one commit or fake binlog; `None` for a commit whose prewrite is not stored here
/// (skipped, as the original pump does: the prewrite may be on another pump).
fn read_pulled(
    segments: &SegmentSet,
    shared: &Shared,
    position: Position,
    entry: &IndexEntry,
) -> Result<Option<PulledBinlog>> {
    let context = &shared.read_context;
    let record = match segments.read(position) {
        Ok(record) => record,
        Err(error) if context.skip_corrupt => {
            tracing::warn!(%error, "skipping a corrupt binlog in a pull");
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    let prewrite_payload = match record.kind {
        Kind::Fake => None,
        _ => {
            let prewrite = match entry.prewrite() {
                Some(prewrite) => Some(prewrite),
                None => segments.find_prewrite(record.start_ts, context)?,
            };
            // Not here, or in a segment GC removed: skipped, as the original skips a commit whose
            // prewrite it cannot find (it may be on another pump, or older than the GC margin).
            let Some(prewrite) = prewrite.filter(|p| segments.segment_data(p.segment_id).is_some())
            else {
                tracing::debug!(
                    start_ts = record.start_ts,
                    commit_ts = record.commit_ts,
                    "commit without a stored prewrite; skipped"
                );
                return Ok(None);
            };
            match segments.read(prewrite) {
                Ok(prewrite) => Some(prewrite.payload.to_vec()),
                Err(error) if context.skip_corrupt => {
                    tracing::warn!(%error, "skipping a commit whose prewrite is corrupt");
                    return Ok(None);
                }
                Err(error) => return Err(error),
            }
        }
    };
    Ok(Some(PulledBinlog {
        kind: record.kind,
        start_ts: record.start_ts,
        commit_ts: record.commit_ts,
        payload: record.payload.to_vec(),
        prewrite_payload,
    }))
}
