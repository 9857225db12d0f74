//! The progress tracker: which of the binlogs handed to the sink are durable downstream, and so
//! how far the checkpoint may move.
//!
//! Every binlog handed to the sink goes with an [`Ack`]; the sink calls [`Ack::done`] once the
//! downstream has confirmed it, at any time later and in any order (parallel SQL workers, a
//! producer's ack window). [`Progress`] keeps the handed binlogs in commit-TS order and moves
//! the checkpoint to the newest one below which every binlog is acknowledged: never past one
//! that is not, so a crash after a save loses nothing. A skipped binlog (fake, ignored) counts
//! as acknowledged at once.

use std::collections::VecDeque;

use tokio::sync::mpsc;

use crate::budget::BytePermit;

/// The sink's confirmation that one binlog is durable downstream. Dropping it without
/// [`Ack::done`] (a failed write) keeps the checkpoint below that binlog for good.
#[derive(Debug)]
#[must_use = "the checkpoint never passes a binlog whose ack is dropped"]
pub struct Ack {
    commit_ts: u64,
    acks: mpsc::UnboundedSender<u64>,
    /// The binlog's share of the sink budget: memory downstream of the merge is only freed
    /// once the sink no longer needs it.
    _permit: BytePermit,
}

impl Ack {
    /// The commit TS this acknowledges.
    pub fn commit_ts(&self) -> u64 {
        self.commit_ts
    }

    /// Reports the binlog durable downstream and gives its bytes back to the budget.
    pub fn done(self) {
        // The tracker is gone only once the syncer has stopped: nothing left to move.
        let _ = self.acks.send(self.commit_ts);
    }
}

/// The binlogs handed to the sink and not yet acknowledged, and the checkpoint they allow.
#[derive(Debug)]
pub struct Progress {
    /// Handed binlogs in commit-TS order, each with whether it is acknowledged; the front one
    /// is never acknowledged (acknowledged fronts are popped into `checkpoint`).
    handed: VecDeque<(u64, bool)>,
    /// Newest commit TS below which everything is acknowledged.
    checkpoint: u64,
    sender: mpsc::UnboundedSender<u64>,
    acks: mpsc::UnboundedReceiver<u64>,
}

impl Progress {
    /// A tracker whose checkpoint starts at `checkpoint`.
    pub fn new(checkpoint: u64) -> Progress {
        let (sender, acks) = mpsc::unbounded_channel();
        Progress {
            handed: VecDeque::new(),
            checkpoint,
            sender,
            acks,
        }
    }

    /// Registers a binlog about to be handed to the sink (commit TSs increase) and returns the
    /// ack the sink must complete; `permit` is released with it.
    pub fn hand(&mut self, commit_ts: u64, permit: BytePermit) -> Ack {
        self.push(commit_ts, false);
        Ack {
            commit_ts,
            acks: self.sender.clone(),
            _permit: permit,
        }
    }

    /// Registers a binlog the sink never sees: it is as good as acknowledged.
    pub fn skip(&mut self, commit_ts: u64) {
        self.push(commit_ts, true);
        self.advance();
    }

    /// Waits for the next acknowledgement and applies it. Cancel-safe.
    pub async fn next_ack(&mut self) {
        if let Some(commit_ts) = self.acks.recv().await {
            self.acked(commit_ts);
        }
    }

    /// Applies every acknowledgement already received (after a sink flush).
    pub fn drain_acks(&mut self) {
        while let Ok(commit_ts) = self.acks.try_recv() {
            self.acked(commit_ts);
        }
    }

    /// Newest commit TS below which everything handed is acknowledged.
    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// How many handed binlogs wait for an acknowledgement (or for an older one's).
    pub fn pending(&self) -> usize {
        self.handed.len()
    }

    fn push(&mut self, commit_ts: u64, acked: bool) {
        debug_assert!(
            commit_ts > self.handed.back().map_or(self.checkpoint, |&(ts, _)| ts),
            "binlogs reach the sink in commit-TS order"
        );
        self.handed.push_back((commit_ts, acked));
    }

    fn acked(&mut self, commit_ts: u64) {
        match self.handed.binary_search_by_key(&commit_ts, |&(ts, _)| ts) {
            Ok(at) => self.handed[at].1 = true,
            Err(_) => {
                tracing::warn!(commit_ts, "ack for a binlog not awaiting one: ignored");
                return;
            }
        }
        self.advance();
    }

    fn advance(&mut self) {
        while let Some(&(commit_ts, true)) = self.handed.front() {
            self.checkpoint = commit_ts;
            self.handed.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use async_trait::async_trait;
    use bytes::Bytes;

    use super::*;
    use crate::budget::ByteBudget;
    use crate::sink::Sink;
    use crate::translate::Txn;
    use binlog_node::proto::Binlog;
    use binlog_node::Result;

    /// A sink that holds every ack and lets the test release them later, in any order.
    #[derive(Default)]
    struct LateSink {
        held: Vec<Ack>,
    }

    #[async_trait]
    impl Sink for LateSink {
        async fn write(&mut self, _txn: Txn, ack: Ack) -> Result<()> {
            self.held.push(ack);
            Ok(())
        }

        async fn flush(&mut self) -> Result<()> {
            self.held.drain(..).for_each(Ack::done);
            Ok(())
        }

        fn resume_ts(&self) -> Option<u64> {
            None
        }
    }

    impl LateSink {
        /// Acknowledges the held binlog at `commit_ts`.
        fn release(&mut self, commit_ts: u64) {
            let at = self.held.iter().position(|a| a.commit_ts() == commit_ts);
            self.held.remove(at.expect("held")).done();
        }
    }

    fn txn(commit_ts: u64) -> Txn {
        Txn {
            commit_ts,
            payload: Bytes::new(),
            binlog: Binlog::default(),
            load: None,
            tables: Vec::new(),
        }
    }

    /// The checkpoint a model allows: the newest TS with everything at or below it acked.
    fn expected(start: u64, handed: &[u64], acked: &BTreeSet<u64>) -> u64 {
        handed
            .iter()
            .take_while(|ts| acked.contains(ts))
            .last()
            .copied()
            .unwrap_or(start)
    }

    #[tokio::test]
    async fn the_checkpoint_moves_only_below_the_oldest_unacknowledged_binlog() {
        let budget = ByteBudget::new(1 << 20);
        let mut progress = Progress::new(10);
        let mut sink = LateSink::default();
        let mut handed = Vec::new();
        let mut acked = BTreeSet::new();
        // Batches handed, their acks released late: out of batch order, and a batch acked
        // while the next is being written. Every 5th binlog is skipped (fake).
        let mut release_order = Vec::new();
        for batch in 0..4u64 {
            for i in 1..=10 {
                let ts = 10 + batch * 10 + i;
                handed.push(ts);
                if ts % 5 == 0 {
                    progress.skip(ts);
                    acked.insert(ts);
                } else {
                    let ack = progress.hand(ts, budget.acquire(100).await);
                    sink.write(txn(ts), ack).await.unwrap();
                }
            }
        }
        // Release batch 3, then 1, then 0 backwards, then 2 interleaved odd-even.
        for batch in [3u64, 1, 0, 2] {
            let mut tss: Vec<u64> = (1..=10).map(|i| 10 + batch * 10 + i).collect();
            match batch {
                0 => tss.reverse(),
                2 => tss.sort_by_key(|ts| (ts % 2, *ts)),
                _ => {}
            }
            release_order.extend(tss.into_iter().filter(|ts| ts % 5 != 0));
        }
        assert_eq!(progress.checkpoint(), 10, "nothing acked yet");
        let mut highest_seen = 10;
        for ts in release_order {
            sink.release(ts);
            acked.insert(ts);
            progress.next_ack().await;
            let checkpoint = progress.checkpoint();
            assert_eq!(
                checkpoint,
                expected(10, &handed, &acked),
                "after acking {ts}"
            );
            let oldest_unacked = handed.iter().find(|ts| !acked.contains(ts));
            assert!(oldest_unacked.is_none_or(|&oldest| checkpoint < oldest));
            assert!(checkpoint >= highest_seen, "the checkpoint never goes back");
            highest_seen = checkpoint;
        }
        assert_eq!(progress.checkpoint(), 50, "every binlog acked: the top");
        assert_eq!(progress.pending(), 0);
        assert_eq!(budget.available(), 1 << 20, "acks gave the bytes back");
    }

    #[tokio::test]
    async fn a_dropped_ack_holds_the_checkpoint_and_a_flush_acks_the_rest() {
        let budget = ByteBudget::new(1 << 20);
        let mut progress = Progress::new(0);
        let mut sink = LateSink::default();
        for ts in 1..=5 {
            let ack = progress.hand(ts, budget.acquire(1).await);
            sink.write(txn(ts), ack).await.unwrap();
        }
        // The write of 3 failed: its ack is dropped, never done.
        let at = sink.held.iter().position(|a| a.commit_ts() == 3).unwrap();
        drop(sink.held.remove(at));
        sink.flush().await.unwrap();
        progress.drain_acks();
        assert_eq!(progress.checkpoint(), 2);
        assert_eq!(progress.pending(), 3);
    }
}
