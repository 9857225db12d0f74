//! The drainer's shared state ([`Drainer`]): registry, TSO, settings, the pumps it knows and
//! the commit TS it has reached.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use binlog_node::lifecycle::Lifecycle;
use binlog_node::registry::{NodeKind, NodeState, NodeStatus, Registry};
use binlog_node::tso::Tso;
use binlog_node::Result;

use crate::held_by::PullFailure;
use crate::metrics::DrainerMetrics;

/// Settings of a running drainer that its parts read.
#[derive(Clone, Debug)]
pub struct DrainerSettings {
    /// This node's ID.
    pub node_id: String,
    /// The advertised `host:port`.
    pub advertise_host: String,
    /// How often the registry is read for pumps.
    pub detect_interval: Duration,
    /// Compress the pull streams with gzip.
    pub gzip: bool,
    /// Binlogs buffered per pump stream.
    pub stream_buffer: usize,
    /// TLS for the drainer's calls to pumps, `None` in plain text.
    pub client_tls: Option<binlog_node::tls::Tls>,
}

/// The state every part of a running drainer shares.
pub struct Drainer {
    /// Where nodes publish their status.
    pub registry: Arc<dyn Registry>,
    /// The TSO (`updateTS`, `initial-commit-ts = -1`).
    pub tso: Arc<dyn Tso>,
    /// The cluster ID pumps expect.
    pub cluster_id: u64,
    /// Settings.
    pub settings: DrainerSettings,
    /// State and shutdown request.
    pub lifecycle: Lifecycle,
    /// Metrics.
    pub metrics: DrainerMetrics,
    /// The saved checkpoint's commit TS.
    checkpoint: watch::Sender<u64>,
    /// The merge's position: new pumps start pulling here.
    pub(crate) merged_ts: AtomicU64,
    /// `PumpPos`: the commit TS of the last binlog taken from each known pump.
    pump_positions: Mutex<BTreeMap<String, u64>>,
    /// The pumps whose pull stream fails, for `/status`'s `HeldBy`: touched when a stream
    /// breaks or opens, never per binlog.
    pull_failures: Mutex<BTreeMap<String, PullFailure>>,
}

impl Drainer {
    /// A drainer starting at checkpoint `checkpoint_ts`, in state `online`.
    pub fn new(
        registry: Arc<dyn Registry>,
        tso: Arc<dyn Tso>,
        cluster_id: u64,
        settings: DrainerSettings,
        checkpoint_ts: u64,
        metrics: DrainerMetrics,
    ) -> Arc<Drainer> {
        Arc::new(Drainer {
            registry,
            tso,
            cluster_id,
            settings,
            lifecycle: Lifecycle::default(),
            metrics,
            checkpoint: watch::channel(checkpoint_ts).0,
            merged_ts: AtomicU64::new(checkpoint_ts),
            pump_positions: Mutex::new(BTreeMap::new()),
            pull_failures: Mutex::new(BTreeMap::new()),
        })
    }

    /// The saved checkpoint's commit TS.
    pub fn checkpoint_ts(&self) -> u64 {
        *self.checkpoint.borrow()
    }

    /// Records a checkpoint save.
    pub(crate) fn checkpoint_saved(&self, ts: u64) {
        self.checkpoint.send_replace(ts);
        self.metrics.set_checkpoint(ts);
    }

    /// The merge's position.
    pub fn merged_ts(&self) -> u64 {
        self.merged_ts.load(Ordering::Acquire)
    }

    /// `PumpPos`: last commit TS taken from each pump.
    pub fn pump_positions(&self) -> BTreeMap<String, u64> {
        self.pump_positions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_pump_position(&self, pump: &str, ts: Option<u64>) {
        let mut positions = self
            .pump_positions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match ts {
            Some(ts) => {
                positions.insert(pump.to_owned(), ts);
                self.metrics.set_pump_position(pump, ts);
            }
            None => {
                positions.remove(pump);
                self.metrics.remove_pump(pump);
                self.pull_recovered(pump);
            }
        }
    }

    /// The pumps whose pull stream fails, and since when.
    pub fn pull_failures(&self) -> BTreeMap<String, PullFailure> {
        self.pull_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `pump`'s stream failed with `reason`; a run of failures keeps the time of its first.
    pub(crate) fn pull_failed(&self, pump: &str, reason: &str) {
        let mut failures = self.pull_failures.lock().unwrap_or_else(|e| e.into_inner());
        let failure = failures
            .entry(pump.to_owned())
            .or_insert_with(|| PullFailure {
                reason: String::new(),
                since: SystemTime::now(),
            });
        failure.reason = reason.to_owned();
    }

    /// `pump`'s stream is open again (or the pump is gone).
    pub(crate) fn pull_recovered(&self, pump: &str) {
        self.pull_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(pump);
    }

    /// This drainer's registry entry in `state`: `maxCommitTS` is the saved checkpoint.
    pub async fn publish(&self, state: NodeState) -> Result<()> {
        let status = NodeStatus {
            node_id: self.settings.node_id.clone(),
            host: self.settings.advertise_host.clone(),
            state,
            is_alive: false,
            score: 0,
            label: None,
            max_commit_ts: self.checkpoint_ts() as i64,
            update_ts: self.tso.get_ts().await? as i64,
        };
        self.registry.update_node(NodeKind::Drainer, &status).await
    }
}
