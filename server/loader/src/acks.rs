//! Acknowledgement of loaded transactions, shared by the loader and its workers: how many rows
//! of each transaction are still uncommitted, the `done` callbacks, the rows in flight (for
//! barriers) and the first worker failure.
//!
//! `done` callbacks run in commit-TS order, each once every row of its transaction and of all
//! earlier ones is committed; the applied TS is the last such transaction.

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::error::{LoaderError, Result};

/// Locks `mutex`, also after a panic elsewhere held it: the counters stay consistent enough to
/// report on, better than poisoning every later call.
fn unpoisoned<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Called once a transaction is committed downstream.
pub type Done = Box<dyn FnOnce() + Send>;

struct PendingTxn {
    /// Rows given to workers and not committed yet.
    uncommitted: usize,
    /// Whether all its rows were given to workers.
    sealed: bool,
    done: Option<Done>,
}

#[derive(Default)]
struct State {
    txns: BTreeMap<u64, PendingTxn>,
    rows_in_flight: usize,
    applied_ts: Option<u64>,
    failure: Option<LoaderError>,
}

/// The shared acknowledgement state.
#[derive(Default)]
pub(crate) struct Acks {
    state: Mutex<State>,
    /// Held while popping completed transactions and calling their `done`s: two workers
    /// committing at once must not call them out of order. `done`s run without `state`
    /// locked, so they may ask for the applied TS.
    in_order: Mutex<()>,
    changed: Notify,
}

impl Acks {
    /// Starts with what the progress table says is applied.
    pub fn new(applied_ts: Option<u64>) -> Acks {
        Acks {
            state: Mutex::new(State {
                applied_ts,
                ..State::default()
            }),
            in_order: Mutex::new(()),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters that are still consistent enough to
        // report on: keep going rather than poisoning every later call.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A transaction whose rows are about to be given to workers.
    pub fn begin(&self, commit_ts: u64, done: Done) {
        self.state().txns.insert(
            commit_ts,
            PendingTxn {
                uncommitted: 0,
                sealed: false,
                done: Some(done),
            },
        );
    }

    /// One more row of the transaction was given to a worker.
    pub fn sent(&self, commit_ts: u64) {
        let mut state = self.state();
        state.rows_in_flight += 1;
        if let Some(txn) = state.txns.get_mut(&commit_ts) {
            txn.uncommitted += 1;
        }
    }

    /// All rows of the transaction were given to workers.
    pub fn seal(&self, commit_ts: u64) {
        self.update(|state| {
            if let Some(txn) = state.txns.get_mut(&commit_ts) {
                txn.sealed = true;
            }
        });
    }

    /// A transaction with nothing left to apply (already applied, or a DDL that ran).
    pub fn applied(&self, commit_ts: u64, done: Done) {
        self.begin(commit_ts, done);
        self.seal(commit_ts);
    }

    /// A worker committed rows: per transaction, how many.
    pub fn committed(&self, rows: &[(u64, usize)]) {
        self.update(|state| {
            for &(commit_ts, count) in rows {
                state.rows_in_flight = state.rows_in_flight.saturating_sub(count);
                if let Some(txn) = state.txns.get_mut(&commit_ts) {
                    txn.uncommitted = txn.uncommitted.saturating_sub(count);
                }
            }
        });
    }

    /// Applies `change`, pops the completed transactions at the front and calls their
    /// `done`s, in order.
    fn update(&self, change: impl FnOnce(&mut State)) {
        let _in_order = unpoisoned(&self.in_order);
        let mut dones = Vec::new();
        {
            let mut state = self.state();
            change(&mut state);
            while let Some(entry) = state.txns.first_entry() {
                if !entry.get().sealed || entry.get().uncommitted > 0 {
                    break;
                }
                let commit_ts = *entry.key();
                dones.extend(entry.remove().done);
                state.applied_ts = state.applied_ts.max(Some(commit_ts));
            }
        }
        self.changed.notify_waiters();
        for done in dones {
            done();
        }
    }

    /// A worker failed: every later call answers this (the first failure is kept).
    pub fn fail(&self, error: LoaderError) {
        self.state().failure.get_or_insert(error);
        self.changed.notify_waiters();
    }

    /// The failure, if a worker failed.
    pub fn check(&self) -> Result<()> {
        match &self.state().failure {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// The highest commit TS at or below which every loaded transaction is committed.
    pub fn applied_ts(&self) -> Option<u64> {
        self.state().applied_ts
    }

    /// Whether every row given to workers is committed.
    pub fn no_rows_in_flight(&self) -> bool {
        self.state().rows_in_flight == 0
    }

    /// Waits until every row given to workers is committed (a barrier).
    pub async fn rows_committed(&self) -> Result<()> {
        self.wait_until(|state| state.rows_in_flight == 0).await
    }

    /// Waits until every loaded transaction's `done` was called.
    pub async fn all_done(&self) -> Result<()> {
        self.wait_until(|state| state.txns.is_empty()).await
    }

    async fn wait_until(&self, reached: impl Fn(&State) -> bool) -> Result<()> {
        loop {
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            {
                let state = self.state();
                if let Some(error) = &state.failure {
                    return Err(error.clone());
                }
                if reached(&state) {
                    return Ok(());
                }
            }
            changed.await;
        }
    }
}
