//! What the loader reports about the statements it runs, for the caller's metrics (the
//! drainer's `binlog_drainer_query_duration_time{type}`): a trait, so that the loader does not
//! tie its users to a metrics crate.

use std::time::Duration;

/// Told how long the downstream took.
pub trait QueryObserver: Send + Sync + 'static {
    /// A batch's row statements (and its progress row) took `took`: the original's `exec`.
    fn exec(&self, took: Duration);
    /// A batch's `COMMIT` took `took`: the original's `commit`.
    fn commit(&self, took: Duration);
}

/// Observes nothing (reparo and tests).
#[derive(Debug, Default)]
pub struct NoObserver;

impl QueryObserver for NoObserver {
    fn exec(&self, _took: Duration) {}

    fn commit(&self, _took: Duration) {}
}
