//! The node state machine the pump and the drainer share: `online` until a state action
//! (`PUT /state/{nodeID}/{action}`) or a signal starts a shutdown, which ends `paused` or
//! `offline`; the action route's checks and messages; the termination signals.

use std::sync::Mutex;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{watch, Notify};

use crate::registry::{NodeKind, NodeState};
use crate::serve::ApiResponse;

/// Why a node is shutting down, and so which state it ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// A signal or `pause`: end `paused`.
    Pause,
    /// `close`: end `offline` (a pump first waits for every drainer to consume it).
    Close,
}

/// A node's in-memory state and its shutdown request.
pub struct Lifecycle {
    state: Mutex<NodeState>,
    shutdown: watch::Sender<Option<Shutdown>>,
    /// A signal arrived while a shutdown was already going on.
    interrupted: Notify,
}

impl Default for Lifecycle {
    fn default() -> Lifecycle {
        Lifecycle {
            state: Mutex::new(NodeState::Online),
            shutdown: watch::channel(None).0,
            interrupted: Notify::new(),
        }
    }
}

impl Lifecycle {
    /// The in-memory state (`pausing`/`closing` are never written to the registry).
    pub fn state(&self) -> NodeState {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves an `online` node to `next` (`pausing` or `closing`) and starts a shutdown of
    /// `kind`, as one step. Returns the state it was in when it did not move.
    pub fn begin_shutdown(
        &self,
        next: NodeState,
        kind: Shutdown,
    ) -> std::result::Result<(), NodeState> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *state != NodeState::Online {
            return Err(*state);
        }
        *state = next;
        self.shutdown.send_replace(Some(kind));
        Ok(())
    }

    /// A termination signal: an online node starts pausing; one already shutting down is told
    /// to stop waiting (see [`Lifecycle::interrupted`]).
    pub fn on_signal(&self) {
        if let Err(state) = self.begin_shutdown(NodeState::Pausing, Shutdown::Pause) {
            tracing::warn!(%state, "signal during shutdown: not waiting any longer");
            self.interrupted.notify_one();
        }
    }

    /// Resolves when a signal arrives during a shutdown.
    pub async fn interrupted(&self) {
        self.interrupted.notified().await
    }

    /// Resolves once a shutdown has been requested, with its kind.
    pub async fn shutdown_requested(&self) -> Shutdown {
        until_shutdown(self.shutdown_signal()).await;
        (*self.shutdown.borrow()).unwrap_or(Shutdown::Pause)
    }

    /// A receiver that fires when a shutdown starts (for streams and loops).
    pub fn shutdown_signal(&self) -> watch::Receiver<Option<Shutdown>> {
        self.shutdown.subscribe()
    }

    /// `PUT /state/{node_id}/{action}` on node `own_id` of `kind`: `pause`/`stop` or `close`,
    /// checked in the order of `http-api.md`, with its messages.
    pub fn apply_action(
        &self,
        kind: NodeKind,
        own_id: &str,
        node_id: &str,
        action: &str,
    ) -> ApiResponse {
        let name = kind.name();
        if node_id != own_id {
            return ApiResponse::failure(format!(
                "invalid nodeID {node_id}, this {name}'s nodeID is {own_id}"
            ));
        }
        let transition = match action {
            "pause" | "stop" => Some((NodeState::Pausing, Shutdown::Pause)),
            "close" => Some((NodeState::Closing, Shutdown::Close)),
            _ => None,
        };
        match transition {
            None if self.state() != NodeState::Online => ApiResponse::failure(format!(
                "this {name}'s state is {}, apply {action} failed!",
                self.state()
            )),
            None => ApiResponse::failure(format!("invalid action {action}")),
            Some((next, shutdown)) => match self.begin_shutdown(next, shutdown) {
                Err(state) => ApiResponse::failure(format!(
                    "this {name}'s state is {state}, apply {action} failed!"
                )),
                Ok(()) => {
                    tracing::info!(%action, "state change requested over HTTP");
                    ApiResponse::success(format!("apply action {action} success!"))
                }
            },
        }
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

/// Listeners for SIGTERM, SIGINT, SIGHUP and SIGQUIT (the original's set). Made before
/// anything is published, so that a signal from then on shuts down cleanly.
pub fn shutdown_signals() -> Vec<Signal> {
    [
        SignalKind::terminate(),
        SignalKind::interrupt(),
        SignalKind::hangup(),
        SignalKind::quit(),
    ]
    .into_iter()
    .filter_map(|kind| {
        signal(kind)
            .inspect_err(|error| tracing::warn!(%error, "cannot listen for a signal"))
            .ok()
    })
    .collect()
}

/// Calls [`Lifecycle::on_signal`] on each of `signals`, forever.
pub async fn shutdown_on_signal(lifecycle: &Lifecycle, mut signals: Vec<Signal>) {
    if signals.is_empty() {
        return std::future::pending().await;
    }
    loop {
        let any = futures_util::future::select_all(signals.iter_mut().map(|s| Box::pin(s.recv())));
        any.await;
        tracing::info!("signal received");
        lifecycle.on_signal();
    }
}

/// How long the final state write is retried before the node gives up (and exits non-zero).
const FINAL_STATE_RETRY: Duration = Duration::from_secs(30);

/// Writes a node's final `state` with `publish`, retried every second for up to 30 s.
pub async fn publish_final_state<F, Fut>(state: NodeState, publish: F) -> crate::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = crate::Result<()>>,
{
    let deadline = tokio::time::Instant::now() + FINAL_STATE_RETRY;
    loop {
        match publish().await {
            Ok(()) => return Ok(()),
            Err(error) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(%error, %state, "cannot write the final state; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error),
        }
    }
}
