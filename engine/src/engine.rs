//! The engine: open and recovery, the public API, and GC.

use std::fs;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use arc_swap::{ArcSwap, ArcSwapOption};
use futures_util::Stream;
use tokio::sync::{oneshot, watch};

use crate::config::{Config, IoBackend};
use crate::data_dir::{space, DirLock};
use crate::error::{Error, IoContext, Result};
use crate::housekeeper::{self, ensure_spare, Job};
use crate::index::{idx_file_looks_complete, Position};
use crate::log_files::{ReadContext, SegmentSet, SparePool};
use crate::log_io::{write_all_at, LogIo};
use crate::meta::{read_meta, write_meta, Meta};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::pull::{pull_stream, PulledBinlog};
use crate::pwrite_io::PwriteIo;
use crate::record::{EncodedRecord, Kind, Record};
use crate::recovery::{list_segments, recover_segments};
use crate::segment::{encode_header, SegmentStats};
use crate::shared::Shared;
use crate::sorter::Sorter;
use crate::uring_io::UringIo;
use crate::writer::{open_spare_as_segment, WriteRequest, Writer};

/// A record read by TS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// Where it is.
    pub position: Position,
    /// Its kind.
    pub kind: Kind,
    /// Its start TS.
    pub start_ts: u64,
    /// Its commit TS.
    pub commit_ts: u64,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// What a [`Engine::gc`] call did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcOutcome {
    /// `ts` is not above the current GC point; nothing changed.
    NotNewer {
        /// The current GC point.
        gc_ts: u64,
    },
    /// `ts` is not below the watermark: unsorted binlogs could be lost, so nothing changed.
    AboveWatermark {
        /// The current watermark.
        watermark: u64,
    },
    /// The GC point moved to `ts`; `segments` whole segments were removed.
    Collected {
        /// Segments removed (or recycled).
        segments: usize,
    },
}

/// The storage engine of one pump. See the crate documentation.
pub struct Engine {
    shared: Arc<Shared>,
    /// Held until `close`: pull streams that outlive the engine only read.
    lock: Mutex<Option<DirLock>>,
    requests: ArcSwapOption<Sender<WriteRequest>>,
    jobs: Mutex<Option<Sender<Job>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    backend: &'static str,
}

impl Engine {
    /// Opens (or creates) the engine in `config.dir` with the I/O backend the config selects.
    pub fn open(config: Config) -> Result<Engine> {
        config.sanitize()?;
        let io = open_backend(config.io_backend)?;
        Engine::open_with_io(config, io)
    }

    /// Opens the engine with a caller-provided I/O backend (fault injection in tests, or a
    /// backend chosen by the caller).
    pub fn open_with_io(config: Config, mut io: Box<dyn LogIo>) -> Result<Engine> {
        config.sanitize()?;
        let started = Instant::now();
        fs::create_dir_all(&config.dir)
            .context(|| format!("create data dir {}", config.dir.display()))?;
        let lock = DirLock::acquire(&config.dir)?;
        let log_dir = config.dir.join("log");
        fs::create_dir_all(&log_dir).context(|| format!("create {}", log_dir.display()))?;
        let read_context = ReadContext {
            log_dir: log_dir.clone(),
            skip_corrupt: config.skip_corrupt_records,
        };

        let ids = list_segments(&log_dir)?;
        let meta = match read_meta(&config.dir)? {
            Some(meta) => meta,
            None if ids.is_empty() => {
                let meta = Meta::default();
                write_meta(&config.dir, &meta)?;
                meta
            }
            None => {
                tracing::warn!(dir = %config.dir.display(), "meta file is missing; replaying every segment");
                Meta {
                    replay_from: ids[0],
                    ..Meta::default()
                }
            }
        };
        let mut sorter = Sorter::decode(&meta.sorter).ok_or_else(|| Error::Corruption {
            file: crate::meta::meta_path(&config.dir),
            offset: 0,
            reason: "sorter checkpoint does not decode".into(),
        })?;
        let spares = SparePool::open(&log_dir, config.segment_size.0)?;

        let recovered =
            recover_segments(&config, &read_context, &ids, meta.replay_from, &mut sorter)?;
        // The sorter state before the active segment, when the meta's checkpoint is older: saving
        // it keeps the next recovery to the active segment.
        let (file, active, stats, checkpoint) = match recovered.active {
            Some((file, active, stats)) => {
                let checkpoint = recovered
                    .active_checkpoint
                    .filter(|_| meta.replay_from < active.id);
                (file, active, stats, checkpoint)
            }
            None => {
                let id = ids.last().map_or(meta.replay_from.max(1), |last| last + 1);
                // Prepared now, not fallocated by the writer's fallback: a first segment over
                // unwritten extents would make every fdatasync in it commit the journal.
                ensure_spare(&spares, &config);
                let (file, active) =
                    open_spare_as_segment(&spares, &log_dir, id, config.segment_size.0)?;
                write_all_at(io.as_mut(), &file, 0, &encode_header(id), true).map_err(
                    |failure| Error::Io {
                        context: format!("write header of {}", active.path.display()),
                        source: failure.into_io_error(),
                    },
                )?;
                (file, active, SegmentStats::empty(), Some(sorter.encode()))
            }
        };
        let (watermark, _) = watch::channel(sorter.watermark());
        let available = space(&config.dir)?.available;
        let shared = Arc::new(Shared {
            read_context,
            segments: ArcSwap::from_pointee(SegmentSet {
                sealed: recovered.sealed,
                active: active.clone(),
            }),
            segments_update: Mutex::new(()),
            watermark,
            gc_ts: AtomicU64::new(meta.gc_ts),
            meta: Mutex::new(meta),
            available_space: AtomicU64::new(available),
            writer_failure: OnceLock::new(),
            closed: AtomicBool::new(false),
            metrics: Metrics::default(),
            sorter: Mutex::new(sorter),
            spares,
            config,
        });
        if let Some(sorter) = checkpoint {
            shared.update_meta(|meta| {
                meta.replay_from = active.id;
                meta.sorter = sorter;
            })?;
        }

        let (request_tx, request_rx) = mpsc::channel();
        let (job_tx, job_rx) = mpsc::channel();
        let backend = io.name();
        let writer = Writer::new(
            shared.clone(),
            io,
            request_rx,
            job_tx.clone(),
            file,
            active,
            stats,
        );
        let writer_thread = std::thread::Builder::new()
            .name("binlog-writer".into())
            .spawn(move || writer.run())
            .context(|| "spawn the writer thread")?;
        let housekeeper_shared = shared.clone();
        let housekeeper_thread = std::thread::Builder::new()
            .name("binlog-housekeeper".into())
            .spawn(move || housekeeper::run(housekeeper_shared, job_rx))
            .context(|| "spawn the housekeeper thread")?;
        let _ = job_tx.send(Job::PrepareSpare);
        for segment in &shared.segments.load().sealed {
            if !idx_file_looks_complete(
                &shared.read_context.log_dir,
                segment.id,
                segment.stats.record_count,
            ) {
                tracing::info!(
                    segment = segment.id,
                    "segment index file missing or incomplete; rebuilding it in the background"
                );
                let _ = job_tx.send(Job::WriteIndex(segment.clone()));
            }
        }

        let elapsed = started.elapsed();
        shared.metrics.recovery.record_duration(elapsed);
        tracing::info!(
            dir = %shared.config.dir.display(),
            backend,
            watermark = *shared.watermark.borrow(),
            segments = shared.segments.load().sealed.len() + 1,
            ?elapsed,
            "storage engine opened"
        );
        Ok(Engine {
            shared,
            lock: Mutex::new(Some(lock)),
            requests: ArcSwapOption::from_pointee(request_tx),
            jobs: Mutex::new(Some(job_tx)),
            threads: Mutex::new(vec![writer_thread, housekeeper_thread]),
            backend,
        })
    }

    /// Appends `record`. Checks and encoding (with the CRC) happen now, in the caller; the
    /// returned future resolves once the record is durable (with `sync-log`) and gives its position.
    pub fn append(
        &self,
        record: Record<'_>,
    ) -> impl std::future::Future<Output = Result<Position>> + Send + 'static {
        let queued = self.enqueue(&record);
        async move { queued?.await.map_err(|_| Error::Closed)? }
    }

    fn enqueue(&self, record: &Record<'_>) -> Result<oneshot::Receiver<Result<Position>>> {
        if record.kind != Kind::Fake {
            let available = self.shared.available_space.load(Ordering::Relaxed);
            let required = self.shared.config.stop_write_at_available_space.0;
            if available < required {
                self.shared
                    .metrics
                    .append_errors
                    .fetch_add(1, Ordering::Relaxed);
                return Err(Error::NoSpace {
                    available,
                    required,
                });
            }
        }
        if let Some(reason) = self.shared.writer_failure.get() {
            return Err(Error::WriterFailed(reason.clone()));
        }
        let encoded = EncodedRecord::encode(record, self.shared.config.max_record_size.0 as usize)?;
        let (done, receiver) = oneshot::channel();
        let request = WriteRequest {
            record: encoded,
            queued_at: Instant::now(),
            done,
        };
        let requests = self.requests.load();
        let sender = requests.as_ref().ok_or(Error::Closed)?;
        sender.send(request).map_err(|_| Error::Closed)?;
        Ok(receiver)
    }

    /// The record keyed `ts` (a prewrite by start TS, anything else by commit TS); the latest
    /// one if several share the key.
    pub fn get(&self, ts: u64) -> Result<Option<StoredRecord>> {
        let segments = self.shared.segments.load_full();
        let Some(position) = segments.find_latest(ts, |_| true, &self.shared.read_context)? else {
            return Ok(None);
        };
        let record = segments.read(position)?;
        Ok(Some(StoredRecord {
            position,
            kind: record.kind,
            start_ts: record.start_ts,
            commit_ts: record.commit_ts,
            payload: record.payload.to_vec(),
        }))
    }

    /// Commit and fake binlogs with commit TS above `after_ts`, in strictly increasing commit
    /// TS, up to the watermark and then as it advances; each commit carries its prewrite's
    /// payload. Fails with [`Error::Purged`] if `after_ts` is below the GC point.
    pub fn pull_commits(
        &self,
        after_ts: u64,
    ) -> Result<impl Stream<Item = Result<PulledBinlog>> + Send + 'static> {
        pull_stream(self.shared.clone(), after_ts)
    }

    /// The watermark (`maxCommitTS`): every binlog with a lower commit TS is stored and indexed.
    pub fn max_commit_ts(&self) -> u64 {
        *self.shared.watermark.borrow()
    }

    /// A receiver notified whenever the watermark moves.
    pub fn watch_max_commit_ts(&self) -> watch::Receiver<u64> {
        self.shared.watermark.subscribe()
    }

    /// The start TS of the oldest prewrite that has no commit or rollback yet, if any: what
    /// holds the watermark back, found without collecting and sorting them all.
    pub fn oldest_pending_prewrite(&self) -> Option<u64> {
        let sorter = self.shared.sorter.lock().unwrap_or_else(|e| e.into_inner());
        sorter.pending_prewrites().map(|(ts, _)| ts).min()
    }

    /// Start TSs of prewrites that have no commit or rollback yet, ascending.
    pub fn pending_prewrites(&self) -> Vec<u64> {
        let sorter = self.shared.sorter.lock().unwrap_or_else(|e| e.into_inner());
        let mut pending: Vec<u64> = sorter.pending_prewrites().map(|(ts, _)| ts).collect();
        pending.sort_unstable();
        pending
    }

    /// The last accepted GC TS.
    pub fn gc_ts(&self) -> u64 {
        self.shared.gc_ts.load(Ordering::Acquire)
    }

    /// The I/O backend in use (`io-uring` or `pwrite`; `auto` opens `pwrite`).
    pub fn io_backend(&self) -> &'static str {
        self.backend
    }

    /// Free bytes under the data dir, as last measured.
    pub fn available_space(&self) -> u64 {
        self.shared.available_space.load(Ordering::Relaxed)
    }

    /// Ids of the segments on disk, oldest first (the last one is active).
    pub fn segment_ids(&self) -> Vec<u64> {
        let segments = self.shared.segments.load();
        segments
            .sealed
            .iter()
            .map(|s| s.id)
            .chain([segments.active.id])
            .collect()
    }

    /// A copy of the metrics.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.metrics.snapshot()
    }

    /// Moves the GC point to `ts` (persisted) and removes every sealed segment whose records
    /// are all at or below `ts - gc-prewrite-margin` and that holds no pending prewrite, as the
    /// original does: ignored when `ts` is not above the current GC point or not below the
    /// watermark. Costs a few file operations per removed segment, whatever their size.
    pub fn gc(&self, ts: u64) -> Result<GcOutcome> {
        let started = Instant::now();
        let shared = &self.shared;
        let removed = {
            let _update = shared
                .segments_update
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let gc_ts = self.gc_ts();
            if ts <= gc_ts {
                return Ok(GcOutcome::NotNewer { gc_ts });
            }
            let watermark = self.max_commit_ts();
            if watermark <= ts {
                return Ok(GcOutcome::AboveWatermark { watermark });
            }
            shared.update_meta(|meta| meta.gc_ts = ts)?;
            shared.gc_ts.store(ts, Ordering::Release);

            let drop_through = ts.saturating_sub(shared.config.gc_margin_tso());
            let oldest_pending = shared
                .sorter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pending_prewrites()
                .map(|(_, position)| position.segment_id)
                .min()
                .unwrap_or(u64::MAX);
            // Recovery replays from the checkpoint's segment on: those must stay.
            let replay_from = shared
                .meta
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .replay_from;
            let current = shared.segments.load_full();
            let (removed, kept): (Vec<_>, Vec<_>) = current.sealed.iter().cloned().partition(|s| {
                s.stats.max_ts <= drop_through && s.id < oldest_pending.min(replay_from)
            });
            if !removed.is_empty() {
                shared.segments.store(Arc::new(SegmentSet {
                    sealed: kept,
                    active: current.active.clone(),
                }));
            }
            removed
        };
        let count = removed.len();
        if !removed.is_empty() {
            // Unlinking a 512 MiB file frees its extents, about 0.1 s each on ext4: the
            // housekeeper does it, so GC returns once the segments are out of the set and the
            // GC point is persisted. Files left by a crash meanwhile are collected again.
            let queued = self
                .jobs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|jobs| jobs.send(Job::Dispose(removed)));
            if let Some(Err(mpsc::SendError(Job::Dispose(removed)))) = queued {
                removed
                    .into_iter()
                    .for_each(|segment| housekeeper::dispose_segment(shared, segment));
            }
        }
        shared
            .metrics
            .gc_segments
            .fetch_add(count as u64, Ordering::Relaxed);
        shared.metrics.gc.record_duration(started.elapsed());
        if count > 0 {
            tracing::info!(gc_ts = ts, segments = count, elapsed = ?started.elapsed(), "GC removed segments");
        }
        Ok(GcOutcome::Collected { segments: count })
    }

    /// Stops the writer after the queued appends and the housekeeper; wakes pull streams so
    /// they end. Later appends fail with [`Error::Closed`]. Idempotent.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.requests.store(None);
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        let mut threads = threads.into_iter();
        if let Some(writer) = threads.next() {
            let _ = writer.join();
        }
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        for thread in threads {
            let _ = thread.join();
        }
        self.shared.watermark.send_modify(|_| {});
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.close();
    }
}

/// Opens the backend `choice` resolves to and logs, once per open, which one and why.
fn open_backend(choice: IoBackend) -> Result<Box<dyn LogIo>> {
    let why = match choice {
        IoBackend::Auto => {
            "io-backend = \"auto\": pwrite, measured faster than io_uring on ext4 (buffered \
             io_uring writes are handed to iou-wrk threads); io-backend = \"io-uring\" selects it"
        }
        _ => "chosen by io-backend",
    };
    let io: Box<dyn LogIo> = match choice.resolve() {
        IoBackend::IoUring => Box::new(UringIo::new().map_err(|source| Error::Io {
            context: "io-backend = \"io-uring\" but io_uring is not available".into(),
            source,
        })?),
        _ => Box::new(PwriteIo),
    };
    tracing::info!(backend = io.name(), why, "storage I/O backend");
    Ok(io)
}
