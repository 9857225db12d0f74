//! What the targets that need a running pump share: a real pump (engine, file registry, file
//! TSO) in a temporary directory, built once per fuzzing process. Each target uses part of it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use binlog_pump::{Pump, PumpTimings};
use binlog_node::registry::file::FileRegistry;
use binlog_node::tso::file::FileTso;
use tokio::runtime::Runtime;

/// A pump, its runtime and its directory (removed when dropped).
pub struct TestPump {
    /// The runtime its calls run on.
    pub runtime: Runtime,
    /// The pump.
    pub pump: Arc<Pump>,
    /// The registry and TSO the pump uses (a drainer can share them).
    pub registry: Arc<FileRegistry>,
    /// The TSO.
    pub tso: Arc<FileTso>,
    /// Its data, registry and TSO.
    pub dir: tempfile::TempDir,
}

/// A pump over 1 MiB segments (so that appends roll often); `sync_log` as asked.
pub fn test_pump(sync_log: bool) -> TestPump {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = Arc::new(FileRegistry::open(&dir.path().join("registry")).expect("registry"));
    let tso = Arc::new(FileTso::open(&dir.path().join("registry")).expect("TSO"));
    let engine = runtime
        .block_on(async {
            binlog_engine::Engine::open(binlog_engine::Config {
                dir: dir.path().join("pump"),
                segment_size: binlog_engine::ReadableSize::mib(1),
                max_record_size: binlog_engine::ReadableSize(64 << 10),
                stop_write_at_available_space: binlog_engine::ReadableSize(0),
                sync_log,
                ..Default::default()
            })
        })
        .expect("engine");
    let timings = PumpTimings {
        heartbeat_interval: Duration::from_secs(1),
        fake_binlog_interval: Duration::from_secs(1),
        gc_retention: Duration::from_secs(3600),
        gc_interval: Duration::from_secs(3600),
        gc_prewrite_margin: Duration::from_secs(600),
    };
    let pump = Pump::new(
        Arc::new(engine),
        registry.clone(),
        tso.clone(),
        1,
        "pump-1".into(),
        "127.0.0.1:8250".into(),
        timings,
    );
    TestPump {
        runtime,
        pump,
        registry,
        tso,
        dir,
    }
}
