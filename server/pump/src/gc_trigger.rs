//! The GC trigger `/debug/gc/trigger` pulls: it wakes the GC loop unless a run is going on.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Wakes the GC loop from `/debug/gc/trigger`.
#[derive(Default)]
pub struct GcTrigger {
    /// True while a GC run is going on (a trigger then answers `gc is working`).
    running: AtomicBool,
    wake: Notify,
}

impl GcTrigger {
    /// Starts a GC run unless one is going on (false: `gc is working`). A trigger that comes
    /// before the loop waits is kept for it.
    pub fn trigger(&self) -> bool {
        if self.running.load(Ordering::Acquire) {
            return false;
        }
        self.wake.notify_one();
        true
    }

    /// Resolves at the next [`GcTrigger::trigger`] (or at once for one that came earlier).
    pub(crate) async fn triggered(&self) {
        self.wake.notified().await;
    }

    /// Marks a GC run as going on, or over.
    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Release);
    }
}
