//! Pump discovery: the registry is read every `detect-interval` and on `Cistern.Notify` (no
//! watch, as the original), and each pump's stream follows its registry state:
//!
//! | pump state | unknown pump | known pump |
//! |---|---|---|
//! | `offline` | ignored | stream stopped, source removed from the merge |
//! | `online` | stream started at the merge's position | pulling (resumed if paused) |
//! | `paused` | stream started | stops reading (the merge holds, as the original) |
//! | `pausing`, `closing` | stream started | keeps pulling |

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::merge::SourceCommand;
use crate::pull::{self, PumpTarget};
use crate::Drainer;
use binlog_node::lifecycle::until_shutdown;
use binlog_node::registry::{NodeKind, NodeState};
use binlog_node::Result;

/// A pump being pulled.
struct PumpStream {
    target: watch::Sender<PumpTarget>,
    task: JoinHandle<()>,
}

/// The discovery's state: the known pumps.
pub struct Collector {
    drainer: Arc<Drainer>,
    commands: mpsc::UnboundedSender<Vec<SourceCommand>>,
    pumps: tokio::sync::Mutex<BTreeMap<String, PumpStream>>,
}

impl Collector {
    /// A collector for `drainer` that hands new sources to the merge through `commands`.
    pub fn new(
        drainer: Arc<Drainer>,
        commands: mpsc::UnboundedSender<Vec<SourceCommand>>,
    ) -> Arc<Collector> {
        Arc::new(Collector {
            drainer,
            commands,
            pumps: tokio::sync::Mutex::new(BTreeMap::new()),
        })
    }

    /// One refresh (see the module doc). Serialised from the registry read on, so a Notify
    /// and a poll never apply an older snapshot over a newer one. The source changes of one
    /// refresh reach the merge together: it never runs on half of the pumps found.
    pub async fn refresh(&self) -> Result<()> {
        let drainer = &self.drainer;
        let mut pumps = self.pumps.lock().await;
        let registered = drainer.registry.nodes(NodeKind::Pump).await?;
        let mut commands = Vec::new();
        for status in registered {
            let id = status.node_id.trim().to_owned();
            let pull = status.state != NodeState::Paused;
            match (status.state, pumps.get(&id)) {
                (NodeState::Offline, None) => {}
                (NodeState::Offline, Some(_)) => {
                    if let Some(stream) = pumps.remove(&id) {
                        stream.task.abort();
                        // Ended before its position is forgotten, so it cannot set it again.
                        let _ = stream.task.await;
                    }
                    commands.push(SourceCommand::Remove { pump: id.clone() });
                    drainer.set_pump_position(&id, None);
                    tracing::info!(pump = %id, "pump is offline: stopped pulling it");
                }
                (_, Some(stream)) => {
                    stream.target.send_if_modified(|target| {
                        let changed = target.host != status.host || target.pull != pull;
                        target.host = status.host.clone();
                        target.pull = pull;
                        changed
                    });
                }
                (state, None) => {
                    let start_ts = drainer.merged_ts();
                    let (tx, rx) = mpsc::channel(drainer.settings.stream_buffer);
                    // A paused pump still holds the merge, but is not read until it is back.
                    let (target, target_rx) = watch::channel(PumpTarget {
                        host: status.host.clone(),
                        pull,
                    });
                    let task = tokio::spawn(pull::pull_loop(
                        drainer.clone(),
                        id.clone(),
                        target_rx,
                        start_ts,
                        tx,
                    ));
                    commands.push(SourceCommand::Add {
                        pump: id.clone(),
                        binlogs: rx,
                    });
                    drainer.set_pump_position(&id, Some(start_ts));
                    tracing::info!(pump = %id, host = %status.host, %state, start_ts, "new pump: pulling it");
                    pumps.insert(id, PumpStream { target, task });
                }
            }
        }
        if !commands.is_empty() {
            let _ = self.commands.send(commands);
        }
        Ok(())
    }

    /// Stops every stream.
    pub async fn stop(&self) {
        for (_, stream) in std::mem::take(&mut *self.pumps.lock().await) {
            stream.task.abort();
        }
    }

    /// Refreshes every `detect-interval` until a shutdown starts; errors are logged.
    pub async fn detect_loop(self: Arc<Self>) {
        let lifecycle = &self.drainer.lifecycle;
        let shutdown = until_shutdown(lifecycle.shutdown_signal());
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.drainer.settings.detect_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {}
            }
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "cannot read the pumps from the registry");
            }
        }
    }
}
