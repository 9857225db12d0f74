//! Fault injection through the I/O trait: short writes, ENOSPC on write, EIO on fdatasync.

use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex};

use binlog_engine::{Engine, Error, IoBackend, IoFailure, Kind, LogIo, PwriteIo, UringIo, Written};

use crate::both_backends;
use crate::common::*;

both_backends!(
    short_writes_are_completed,
    enospc_fails_the_group_and_later_writes_succeed,
    failed_fdatasync_stops_the_writer
);

/// What the next calls should do.
#[derive(Default)]
struct Plan {
    /// Write at most this many bytes per call.
    short_writes: Option<usize>,
    /// Fail this many write calls with ENOSPC.
    enospc: usize,
    /// Fail the next sync with EIO.
    eio_on_sync: bool,
    /// Write calls seen.
    writes: usize,
}

/// Wraps a real backend and injects the planned faults.
struct FaultyIo {
    inner: Box<dyn LogIo>,
    plan: Arc<Mutex<Plan>>,
}

/// An engine over a faulty backend in a fresh dir, with one transaction (2 -> 3) written.
async fn faulty_engine(
    backend: IoBackend,
) -> (
    tempfile::TempDir,
    binlog_engine::Config,
    Engine,
    Arc<Mutex<Plan>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), backend);
    let (io, plan) = faulty(backend);
    let engine = Engine::open_with_io(config.clone(), io).unwrap();
    prewrite(&engine, 2).await.unwrap();
    commit(&engine, 2, 3).await.unwrap();
    (dir, config, engine, plan)
}

fn faulty(backend: IoBackend) -> (Box<dyn LogIo>, Arc<Mutex<Plan>>) {
    let inner: Box<dyn LogIo> = match backend {
        IoBackend::Pwrite => Box::new(PwriteIo),
        _ => Box::new(UringIo::new().expect("io_uring available")),
    };
    let plan = Arc::new(Mutex::new(Plan::default()));
    (
        Box::new(FaultyIo {
            inner,
            plan: plan.clone(),
        }),
        plan,
    )
}

impl LogIo for FaultyIo {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn write_at(
        &mut self,
        file: &File,
        offset: u64,
        buf: &[u8],
        sync: bool,
    ) -> Result<Written, IoFailure> {
        let mut plan = self.plan.lock().unwrap();
        plan.writes += 1;
        if plan.enospc > 0 {
            plan.enospc -= 1;
            // Like a real full disk: part of the buffer may land before the error.
            let half = buf.len() / 2;
            self.inner.write_at(file, offset, &buf[..half], false)?;
            return Err(IoFailure::Write(io::Error::from_raw_os_error(libc::ENOSPC)));
        }
        if plan.eio_on_sync && sync {
            plan.eio_on_sync = false;
            self.inner.write_at(file, offset, buf, false)?;
            return Err(IoFailure::Sync(io::Error::from_raw_os_error(libc::EIO)));
        }
        if let Some(limit) = plan.short_writes {
            if buf.len() > limit {
                let written = self.inner.write_at(file, offset, &buf[..limit], sync)?;
                return Ok(Written {
                    bytes: written.bytes,
                    synced: false,
                    sync_time: None,
                });
            }
        }
        self.inner.write_at(file, offset, buf, sync)
    }

    fn sync(&mut self, file: &File) -> io::Result<()> {
        self.inner.sync(file)
    }
}

async fn short_writes_are_completed(backend: IoBackend) {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), backend);
    let (io, plan) = faulty(backend);
    // Groups are padded to their page's end: 100-byte writes split each one many times.
    plan.lock().unwrap().short_writes = Some(100);
    let engine = Engine::open_with_io(config.clone(), io).unwrap();
    for ts in (2..600).step_by(2) {
        prewrite(&engine, ts).await.unwrap();
        commit(&engine, ts, ts + 1).await.unwrap();
    }
    assert!(plan.lock().unwrap().writes > 10 * 600, "writes were split");
    let pulled = pull_all(&engine, 0).await;
    check_pulled(&pulled);
    assert_eq!(pulled.len(), 299);
    drop(engine);
    let engine = Engine::open(config).unwrap();
    assert_eq!(pull_all(&engine, 0).await, pulled);
}

async fn enospc_fails_the_group_and_later_writes_succeed(backend: IoBackend) {
    let (_dir, config, engine, plan) = faulty_engine(backend).await;
    // 4: the group's write fails, the writer's clean-up write over its leftovers succeeds.
    // 6: both fail, so the next group's write must cover the leftovers itself.
    for (ts, failing_writes) in [(4, 1), (6, 2)] {
        plan.lock().unwrap().enospc = failing_writes;
        let error = prewrite(&engine, ts).await.unwrap_err();
        assert!(
            matches!(&error, Error::Io { source, .. } if source.raw_os_error() == Some(libc::ENOSPC)),
            "{error}"
        );
        assert!(
            error.to_string().contains("No space left on device"),
            "{error}"
        );
        assert_eq!(plan.lock().unwrap().enospc, 0);
    }
    // Space is back: the writer goes on, over the leftovers of the failed writes.
    prewrite(&engine, 8).await.unwrap();
    commit(&engine, 8, 9).await.unwrap();
    assert_eq!(engine.get(4).unwrap(), None);
    assert_eq!(engine.get(6).unwrap(), None);
    assert_eq!(engine.metrics().append_errors, 2);
    let pulled = pull_all(&engine, 0).await;
    check_pulled(&pulled);
    assert_eq!(
        pulled.iter().map(|b| b.commit_ts).collect::<Vec<_>>(),
        [3, 9]
    );
    drop(engine);

    let engine = Engine::open(config).unwrap();
    assert_eq!(
        engine.get(4).unwrap(),
        None,
        "a failed write never comes back"
    );
    assert_eq!(engine.get(6).unwrap(), None);
    assert_eq!(pull_all(&engine, 0).await, pulled);
}

async fn failed_fdatasync_stops_the_writer(backend: IoBackend) {
    let (_dir, config, engine, plan) = faulty_engine(backend).await;
    plan.lock().unwrap().eio_on_sync = true;
    let error = prewrite(&engine, 4).await.unwrap_err();
    assert!(matches!(error, Error::WriterFailed(_)), "{error}");
    assert!(error.to_string().contains("Input/output error"), "{error}");
    // Fatal: later appends fail too, even fake binlogs, although the disk would work again.
    for kind in [Kind::Prewrite, Kind::Fake] {
        let error = bare(&engine, kind, 6, 6).await.unwrap_err();
        assert!(error.to_string().contains("reopen the engine"), "{error}");
    }
    drop(engine);
    let engine = Engine::open(config).unwrap();
    let pulled = pull_all(&engine, 0).await;
    assert_eq!(pulled.iter().map(|b| b.commit_ts).collect::<Vec<_>>(), [3]);
    prewrite(&engine, 8).await.unwrap();
}
