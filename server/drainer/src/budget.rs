//! A byte budget between two stages ([`ByteBudget`]): a stage takes a [`BytePermit`] for a
//! binlog's encoded size before passing it on, and the permit goes back when the binlog leaves
//! the part of the pipeline the budget bounds. Counting items alone would let a few huge
//! transactions take the drainer down (the original's OOMs, tidb-binlog #1087, #1112, #1317).
//!
//! A binlog larger than the whole budget takes all of it: it waits until everything else has
//! gone and then passes alone, so it is slow but never stuck.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes each pump stream may hold between its pull and the merge (see [`crate::pull`]).
/// Later the `[syncer]` key `pull-buffer-bytes`.
pub const PULL_BUDGET_BYTES: u32 = 64 << 20;
/// Bytes handed to the translation and the sink and not yet acknowledged as durable (see
/// [`crate::syncer`]). Later the `[syncer]` key `sink-buffer-bytes`.
pub const SINK_BUDGET_BYTES: u32 = 256 << 20;

/// A budget of bytes shared by the binlogs in flight between two stages.
#[derive(Clone, Debug)]
pub struct ByteBudget {
    bytes: Arc<Semaphore>,
    total: u32,
}

/// Bytes taken from a [`ByteBudget`]; given back when dropped.
#[derive(Debug)]
pub struct BytePermit {
    _bytes: OwnedSemaphorePermit,
}

impl ByteBudget {
    /// A budget of `total` bytes (at least one).
    pub fn new(total: u32) -> ByteBudget {
        let total = total.max(1);
        ByteBudget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// Waits for `bytes` (capped at the whole budget, see the module doc). Cancel-safe: a
    /// dropped wait takes nothing.
    pub async fn acquire(&self, bytes: usize) -> BytePermit {
        let wanted = u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .clamp(1, self.total);
        let permit = self
            .bytes
            .clone()
            .acquire_many_owned(wanted)
            .await
            .expect("the budget's semaphore is never closed");
        BytePermit { _bytes: permit }
    }

    /// Bytes free right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn bounds_bytes_and_lets_an_oversized_binlog_pass_alone() {
        let budget = ByteBudget::new(100);
        let small = budget.acquire(60).await;
        // 50 more do not fit next to 60.
        let blocked = tokio::time::timeout(Duration::from_millis(20), budget.acquire(50)).await;
        assert!(blocked.is_err());
        assert_eq!(budget.available(), 40, "a cancelled wait takes nothing");
        // A binlog larger than the budget waits for everything in flight, then passes alone.
        let huge = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.acquire(1 << 30).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!huge.is_finished());
        drop(small);
        let huge = huge.await.unwrap();
        assert_eq!(budget.available(), 0);
        drop(huge);
        assert_eq!(budget.available(), 100);
    }
}
