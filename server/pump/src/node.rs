//! The pump as a registry node: its ID, registration, heartbeat, telling drainers it is back,
//! and the way out (`paused`, or `offline` once every drainer has consumed everything).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::{until_shutdown, Pump, Shutdown};
use binlog_node::config::address::default_node_id;
use binlog_node::lifecycle::publish_final_state;
use binlog_node::proto::cistern_client::CisternClient;
use binlog_node::proto::NotifyReq;
use binlog_node::registry::{NodeKind, NodeState, NodeStatus};
use binlog_node::tls::{grpc_endpoint, Tls};
use binlog_node::{Error, Result};

/// The file in the data dir that holds the node ID.
pub const NODE_ID_FILE: &str = ".node";

/// Overall time allowed for telling drainers that this pump is online.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);

/// The node ID: the content of `<data-dir>/.node` if it exists, else `configured` if set (not
/// persisted, as the original), else `<hostname>:<port>`, which is persisted.
pub fn resolve_node_id(data_dir: &Path, configured: &str, port: u16) -> Result<String> {
    let path = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(content) => {
            let id = content.trim().to_owned();
            if id.is_empty() {
                return Err(Error::InvalidConfig(format!(
                    "{} is empty: write the node ID into it or remove it",
                    path.display()
                )));
            }
            if !configured.is_empty() && configured != id {
                tracing::warn!(file = %path.display(), %id, configured, "node-id is ignored: the data dir already has an ID");
            }
            Ok(id)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if !configured.is_empty() {
                return Ok(configured.to_owned());
            }
            let id = default_node_id(port);
            write_node_id(data_dir, &id)?;
            Ok(id)
        }
        Err(error) => Err(Error::io("cannot read node ID file", &path, error)),
    }
}

/// Writes `.node` atomically (temporary file, fsync, rename, directory fsync), mode 0600: a
/// crash never leaves an empty or partial ID behind.
fn write_node_id(data_dir: &Path, id: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(NODE_ID_FILE);
    let temporary = data_dir.join(format!("{NODE_ID_FILE}.tmp"));
    binlog_engine::data_dir::replace_file_with(&path, &temporary, |temporary| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(temporary)?;
        file.write_all(id.as_bytes())?;
        Ok(file)
    })
    .map_err(|e| Error::io("cannot write node ID file", &path, e))
}

impl Pump {
    /// This pump's registry entry in `state`, with a fresh `updateTS` and the watermark.
    pub async fn status(&self, state: NodeState) -> Result<NodeStatus> {
        Ok(NodeStatus {
            node_id: self.node_id.clone(),
            host: self.network.advertise_host.clone(),
            state,
            is_alive: false,
            score: 0,
            label: None,
            max_commit_ts: self.engine.max_commit_ts() as i64,
            update_ts: self.tso.get_ts().await? as i64,
        })
    }

    /// Writes this pump's entry in `state`.
    pub async fn publish(&self, state: NodeState) -> Result<()> {
        let status = self.status(state).await?;
        self.registry.update_node(NodeKind::Pump, &status).await
    }

    /// Registers `online`. If the previous entry was absent or `offline`, tells every online
    /// drainer (`Cistern.Notify`) so it starts pulling at once; if that fails, writes `offline`
    /// back and fails, as the original does.
    pub async fn register_online(&self) -> Result<()> {
        let previous = self.registry.node(NodeKind::Pump, &self.node_id).await?;
        self.publish(NodeState::Online).await?;
        let was_gone = previous.is_none_or(|p| p.state == NodeState::Offline);
        if was_gone {
            if let Err(error) = self.notify_drainers().await {
                self.publish(NodeState::Offline).await?;
                return Err(error);
            }
        }
        Ok(())
    }

    async fn notify_drainers(&self) -> Result<()> {
        let drainers = self.registry.nodes(NodeKind::Drainer).await?;
        let online = drainers
            .into_iter()
            .filter(|d| d.state == NodeState::Online);
        let notify_all = async {
            for drainer in online {
                notify_drainer(&drainer.host, self.network.client_tls.as_ref())
                    .await
                    .map_err(|error| {
                        Error::Registry(format!(
                            "notify drainer {} at {} failed: {error}",
                            drainer.node_id, drainer.host
                        ))
                    })?;
                tracing::info!(drainer = %drainer.node_id, "notified drainer");
            }
            Ok(())
        };
        tokio::time::timeout(NOTIFY_TIMEOUT, notify_all)
            .await
            .map_err(|_| Error::Registry("notifying drainers timed out after 10 s".into()))?
    }

    /// Publishes the status every `heartbeat-interval` until a shutdown starts. Errors are
    /// logged and retried at the next beat.
    pub async fn heartbeat_loop(self: Arc<Self>) {
        let shutdown = until_shutdown(self.shutdown_signal());
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.timings.heartbeat_interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {}
            }
            if let Err(error) = self.publish(NodeState::Online).await {
                tracing::warn!(%error, "heartbeat failed");
            }
        }
    }

    /// The end of a shutdown of `kind`: `paused`, or `offline` once it is safe (a signal meanwhile
    /// gives up and ends `paused`). The final state is written to the registry, retried for up
    /// to 30 s.
    pub async fn final_state(&self, kind: Shutdown) -> Result<NodeState> {
        let state = match kind {
            Shutdown::Pause => NodeState::Paused,
            Shutdown::Close => tokio::select! {
                _ = self.wait_safe_to_offline() => NodeState::Offline,
                _ = self.lifecycle.interrupted() => {
                    tracing::warn!("close interrupted by a signal: ending paused, not offline");
                    NodeState::Paused
                }
            },
        };
        publish_final_state(state, || self.publish(state)).await?;
        Ok(state)
    }

    /// Waits until every drainer that is not offline has a checkpoint at or past this pump's
    /// watermark. A fake binlog written first puts the watermark above every stored binlog; no
    /// more are written while waiting, so the `offline` entry's `maxCommitTS` is exactly what
    /// the drainers have consumed (the other pumps' fake binlogs let their merges pass it).
    async fn wait_safe_to_offline(&self) {
        let fake_ts = loop {
            match self.write_fake_binlog().await {
                Ok(ts) => break ts,
                Err(error) => {
                    tracing::warn!(%error, "close: writing a fake binlog failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let mut watermark = self.engine.watch_max_commit_ts();
        while *watermark.borrow_and_update() < fake_ts
            || self.engine.oldest_pending_prewrite().is_some()
        {
            tracing::info!(
                fake_ts,
                "close: waiting for every stored binlog to be sorted"
            );
            let _ = tokio::time::timeout(Duration::from_secs(1), watermark.changed()).await;
        }
        let target = self.engine.max_commit_ts() as i64;
        loop {
            match self.registry.nodes(NodeKind::Drainer).await {
                Ok(drainers) => {
                    let behind: Vec<_> = drainers
                        .iter()
                        .filter(|d| d.state != NodeState::Offline && d.max_commit_ts < target)
                        .map(|d| format!("{} at {}", d.node_id, d.max_commit_ts))
                        .collect();
                    if behind.is_empty() {
                        tracing::info!(target, "close: every drainer has consumed this pump");
                        return;
                    }
                    tracing::info!(target, behind = ?behind, "close: waiting for drainers");
                }
                Err(error) => tracing::warn!(%error, "close: cannot read drainers"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// `Cistern.Notify` on the drainer at `host`, tried 3 times with a 1 s then 2 s backoff.
async fn notify_drainer(host: &str, tls: Option<&Tls>) -> std::result::Result<(), String> {
    let mut backoff = Duration::from_secs(1);
    let mut last_error = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        let result = async {
            let channel = grpc_endpoint(host, tls)
                .map_err(|e| e.to_string())?
                .connect()
                .await
                .map_err(|e| e.to_string())?;
            let mut client = CisternClient::new(channel);
            client.notify(NotifyReq {}).await.map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok(_) => return Ok(()),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}
