//! The pump node: TiDB writes binlogs to it over gRPC, drainers pull them back in commit-TS
//! order, operators look at it and change its state over HTTP.
//!
//! - [`service`]: the `binlog.Pump` gRPC service (`WriteBinlog`, `PullBinlogs`).
//! - [`http`]: the HTTP routes of `http-api.md`.
//! - [`node`]: identity, registration, heartbeat, the state machine and the way out.
//! - [`server`]: start, serve, shut down.
//! - [`background`]: fake binlogs, GC, the pending-prewrite watch.
//! - [`metrics`]: the Prometheus metrics under the original names.

pub mod background;
pub mod http;
pub mod metrics;
pub mod node;
pub mod server;
pub mod service;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binlog_engine::record::{Kind, Record};
use binlog_engine::Engine;
use prost::Message;
use tokio::sync::watch;

use crate::proto::Binlog;
use crate::registry::{NodeState, Registry};
use crate::tso::Tso;
use crate::Result;

use self::metrics::PumpMetrics;

/// Why the pump is shutting down, and so which state it ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// A signal or `pause`: end `paused`.
    Pause,
    /// `close`: wait until every drainer has consumed everything, then end `offline`.
    Close,
}

/// Timing options of the pump's loops.
#[derive(Clone, Debug)]
pub struct PumpTimings {
    /// Registry heartbeat period.
    pub heartbeat_interval: Duration,
    /// Write silence after which a fake binlog is written.
    pub fake_binlog_interval: Duration,
    /// How long binlogs are kept.
    pub gc_retention: Duration,
    /// Period of the GC loop (1 h in the original).
    pub gc_interval: Duration,
}

/// The state every part of a running pump shares.
pub struct Pump {
    /// The storage engine.
    pub engine: Arc<Engine>,
    /// Where nodes publish their status.
    pub registry: Arc<dyn Registry>,
    /// The TSO every binlog's TS comes from.
    pub tso: Arc<dyn Tso>,
    /// The cluster ID clients must send.
    pub cluster_id: u64,
    /// This node's ID.
    pub node_id: String,
    /// The advertised `host:port`.
    pub advertise_host: String,
    /// Loop timings.
    pub timings: PumpTimings,
    /// Metrics.
    pub metrics: PumpMetrics,
    state: Mutex<NodeState>,
    /// Calls of `write_binlog` so far (real and fake), for the fake-binlog generator.
    writes: AtomicU64,
    shutdown: watch::Sender<Option<Shutdown>>,
    gc: background::GcTrigger,
}

impl Pump {
    /// A pump over an opened engine, registry and TSO, in state `online`.
    pub fn new(
        engine: Arc<Engine>,
        registry: Arc<dyn Registry>,
        tso: Arc<dyn Tso>,
        cluster_id: u64,
        node_id: String,
        advertise_host: String,
        timings: PumpTimings,
    ) -> Arc<Pump> {
        Arc::new(Pump {
            metrics: PumpMetrics::new(engine.clone()),
            engine,
            registry,
            tso,
            cluster_id,
            node_id,
            advertise_host,
            timings,
            state: Mutex::new(NodeState::Online),
            writes: AtomicU64::new(0),
            shutdown: watch::channel(None).0,
            gc: background::GcTrigger::default(),
        })
    }

    /// The in-memory state (`pausing`/`closing` are never written to the registry).
    pub fn state(&self) -> NodeState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a shutdown of `kind`, unless one has started already.
    pub fn request_shutdown(&self, kind: Shutdown) {
        self.shutdown.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(kind);
            true
        });
    }

    /// Resolves once a shutdown has been requested, with its kind.
    pub async fn shutdown_requested(&self) -> Shutdown {
        let mut receiver = self.shutdown.subscribe();
        loop {
            if let Some(kind) = *receiver.borrow_and_update() {
                return kind;
            }
            if receiver.changed().await.is_err() {
                return Shutdown::Pause;
            }
        }
    }

    /// Applies an HTTP state action: only an `online` pump moves, to `pausing` or `closing`.
    /// Returns the state it was in when it did not move.
    pub fn begin_transition(&self, next: NodeState) -> std::result::Result<(), NodeState> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *state != NodeState::Online {
            return Err(*state);
        }
        *state = next;
        Ok(())
    }

    /// Validates and stores one binlog (the body of `WriteBinlog`); resolves once it is durable.
    /// Errors are the texts the original sends.
    pub async fn write_binlog(&self, payload: &[u8]) -> std::result::Result<(), String> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let binlog = Binlog::decode(payload).map_err(|e| e.to_string())?;
        if binlog.tp == crate::proto::BinlogType::Prewrite as i32 {
            let state = self.state();
            if state != NodeState::Online {
                return Err(format!("no online: {state}"));
            }
        }
        if binlog.start_ts == 0 && binlog.commit_ts == 0 {
            return Ok(()); // TiDB's liveness probe
        }
        let kind = binlog.engine_kind().ok_or_else(|| {
            format!(
                "unsupported binlog type {} (PreDDL and PostDDL are obsolete)",
                binlog.tp
            )
        })?;
        if binlog.start_ts < 0 || binlog.commit_ts < 0 {
            return Err(format!(
                "invalid binlog TS: start_ts {} commit_ts {}",
                binlog.start_ts, binlog.commit_ts
            ));
        }
        self.append(kind, &binlog, payload)
            .await
            .map_err(|e| e.to_string())
    }

    /// Writes a fake binlog at a fresh TSO (bypassing the state and free-space checks) and
    /// returns its TS once durable.
    pub async fn write_fake_binlog(&self) -> Result<u64> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let ts = self.tso.get_ts().await?;
        let binlog = Binlog::fake(ts);
        self.append(Kind::Fake, &binlog, &binlog.encode_to_vec())
            .await?;
        Ok(ts)
    }

    async fn append(&self, kind: Kind, binlog: &Binlog, payload: &[u8]) -> Result<()> {
        let started = Instant::now();
        let record = Record {
            kind,
            start_ts: binlog.start_ts as u64,
            commit_ts: binlog.commit_ts as u64,
            payload,
        };
        let result = self.engine.append(record).await;
        self.metrics
            .write_single_size
            .with_label_values(&["single"])
            .observe(payload.len() as f64);
        self.metrics
            .write_single_duration
            .with_label_values(&["single"])
            .observe(started.elapsed().as_secs_f64());
        if result.is_err() {
            self.metrics
                .storage_errors
                .with_label_values(&["write_binlog"])
                .inc();
        }
        result.map(drop).map_err(Into::into)
    }

    /// How many `write_binlog` calls (real and fake) there have been.
    pub fn write_count(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// A receiver that fires when a shutdown starts (for pull streams and loops).
    pub fn shutdown_signal(&self) -> watch::Receiver<Option<Shutdown>> {
        self.shutdown.subscribe()
    }

    /// The GC trigger shared by the loop and `/debug/gc/trigger`.
    pub fn gc_trigger(&self) -> &background::GcTrigger {
        &self.gc
    }
}

/// Resolves when `receiver` reports a shutdown (or its sender is gone).
pub async fn until_shutdown(mut receiver: watch::Receiver<Option<Shutdown>>) {
    while receiver.borrow_and_update().is_none() {
        if receiver.changed().await.is_err() {
            return;
        }
    }
}
