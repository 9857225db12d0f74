//! The pump's shared state ([`Pump`]): the engine, the TSO, the node's state, and the write
//! and pull paths every service and loop goes through.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use binlog_engine::record::{Kind, Record};
use binlog_engine::Engine;
use prost::Message;
use tokio::sync::watch;

use binlog_node::lifecycle::Lifecycle;
pub use binlog_node::lifecycle::{until_shutdown, Shutdown};
use binlog_node::proto::{Binlog, BinlogHead, BinlogType};
use binlog_node::registry::{NodeState, Registry};
use binlog_node::tls::Tls;
use binlog_node::tso::Tso;
use binlog_node::Result;

use crate::gc_trigger::GcTrigger;
use crate::metrics::PumpMetrics;
use crate::refusal::WriteRefusal;

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
    /// What GC keeps below the GC point for late prewrites (the engine's margin).
    pub gc_prewrite_margin: Duration,
}

/// How others reach a pump and how it reaches them.
#[derive(Clone, Debug)]
pub struct PumpNetwork {
    /// The advertised `host:port`.
    pub advertise_host: String,
    /// TLS for the pump's own calls (`Cistern.Notify`), `None` in plain text.
    pub client_tls: Option<Tls>,
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
    /// How others reach this pump and how it reaches them.
    pub network: PumpNetwork,
    /// Loop timings.
    pub timings: PumpTimings,
    /// Metrics.
    pub metrics: PumpMetrics,
    /// State and shutdown request.
    pub lifecycle: Lifecycle,
    /// Calls of `write_binlog` so far (real and fake), for the fake-binlog generator.
    writes: AtomicU64,
    /// Set once the final state is written: pull streams end then, not before (a closing
    /// pump keeps serving drainers until they have consumed everything).
    pulls_closed: watch::Sender<bool>,
    gc: GcTrigger,
}

impl Pump {
    /// A pump over an opened engine, registry and TSO, in state `online`.
    pub fn new(
        engine: Arc<Engine>,
        registry: Arc<dyn Registry>,
        tso: Arc<dyn Tso>,
        cluster_id: u64,
        node_id: String,
        network: PumpNetwork,
        timings: PumpTimings,
    ) -> Arc<Pump> {
        Arc::new(Pump {
            metrics: PumpMetrics::new(engine.clone()),
            engine,
            registry,
            tso,
            cluster_id,
            node_id,
            network,
            timings,
            lifecycle: Lifecycle::default(),
            writes: AtomicU64::new(0),
            pulls_closed: watch::channel(false).0,
            gc: GcTrigger::default(),
        })
    }

    /// The in-memory state (`pausing`/`closing` are never written to the registry).
    pub fn state(&self) -> NodeState {
        self.lifecycle.state()
    }

    /// Ends every pull stream (after the final state is written).
    pub fn close_pulls(&self) {
        self.pulls_closed.send_replace(true);
    }

    /// Resolves once [`Pump::close_pulls`] has been called.
    pub fn pulls_closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut closed = self.pulls_closed.subscribe();
        async move {
            let _ = closed.wait_for(|closed| *closed).await;
        }
    }

    /// Validates and stores one binlog (the body of `WriteBinlog`); resolves once it is durable.
    /// Only the head is decoded: the payload is copied once, into the engine record.
    pub async fn write_binlog(&self, payload: &[u8]) -> std::result::Result<(), WriteRefusal> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let head = BinlogHead::decode(payload)?;
        if head.tp == BinlogType::Prewrite as i32 {
            let state = self.state();
            if state != NodeState::Online {
                return Err(WriteRefusal::NotOnline(state));
            }
        }
        if head.start_ts == 0 && head.commit_ts == 0 {
            return Ok(()); // TiDB's liveness probe
        }
        let kind = head
            .engine_kind()
            .ok_or(WriteRefusal::UnsupportedType(head.tp))?;
        check_ts(kind, &head)?;
        Ok(self.append(kind, &head, payload).await?)
    }

    /// Writes a fake binlog at a fresh TSO (bypassing the state and free-space checks) and
    /// returns its TS once durable.
    pub async fn write_fake_binlog(&self) -> Result<u64> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        let ts = self.tso.get_ts().await?;
        let binlog = Binlog::fake(ts);
        self.append(Kind::Fake, &binlog.head(), &binlog.encode_to_vec())
            .await?;
        Ok(ts)
    }

    async fn append(&self, kind: Kind, head: &BinlogHead, payload: &[u8]) -> Result<()> {
        let started = Instant::now();
        let record = Record {
            kind,
            start_ts: head.start_ts as u64,
            commit_ts: head.commit_ts as u64,
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
        self.lifecycle.shutdown_signal()
    }

    /// The GC trigger shared by the loop and `/debug/gc/trigger`.
    pub fn gc_trigger(&self) -> &GcTrigger {
        &self.gc
    }
}

/// Rejects TSs that could never be matched or ordered: a prewrite needs a start TS (it would
/// hold the watermark forever otherwise), a commit a commit TS above its start TS.
fn check_ts(kind: Kind, head: &BinlogHead) -> std::result::Result<(), WriteRefusal> {
    let (start, commit) = (head.start_ts, head.commit_ts);
    let valid = start >= 0
        && commit >= 0
        && match kind {
            Kind::Prewrite => start > 0,
            Kind::Commit => commit > start,
            Kind::Rollback | Kind::Fake => true,
        };
    if valid {
        Ok(())
    } else {
        Err(WriteRefusal::InvalidTs {
            kind,
            start_ts: start,
            commit_ts: commit,
        })
    }
}
