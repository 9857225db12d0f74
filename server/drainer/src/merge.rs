//! The merge of the pump streams by commit TS, with the original's safety rule: a binlog is
//! emitted only when every source (every pump that is not offline) has shown an item at or
//! above its commit TS. Each stream is sorted and fake binlogs bound what a pump can still send,
//! so the output is the global commit-TS order; anything at or below the last emitted TS (the
//! checkpoint, at start) is dropped as a duplicate.
//!
//! At most one pending item (the head) is held per source. [`Merger::next`] waits on the
//! channel of a source without a head, so the merge wakes on arrivals, never on a timer; a
//! paused pump, or one whose process is down, holds the merge, as in the original.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

use crate::pulled::PulledBinlog;

/// A change of the source set, from the pump discovery.
#[derive(Debug)]
pub enum SourceCommand {
    /// Start merging the stream of `pump` (replacing one of the same name).
    Add {
        /// Pump node ID.
        pump: String,
        /// Its binlogs, in commit-TS order.
        binlogs: mpsc::Receiver<PulledBinlog>,
    },
    /// Stop merging `pump` (it went offline: every drainer has consumed it).
    Remove {
        /// Pump node ID.
        pump: String,
    },
}

struct Source {
    binlogs: mpsc::Receiver<PulledBinlog>,
    head: Option<PulledBinlog>,
    closed: bool,
}

/// The merge state: the sources with their heads, and the last emitted commit TS.
pub struct Merger {
    sources: BTreeMap<String, Source>,
    latest: u64,
}

impl Merger {
    /// A merger with no sources that drops everything at or below `latest`.
    pub fn new(latest: u64) -> Merger {
        Merger {
            sources: BTreeMap::new(),
            latest,
        }
    }

    /// The last emitted commit TS.
    pub fn latest(&self) -> u64 {
        self.latest
    }

    /// Applies a change of the source set.
    pub fn apply(&mut self, command: SourceCommand) {
        match command {
            SourceCommand::Add { pump, binlogs } => {
                tracing::info!(%pump, "merge source added");
                let source = Source {
                    binlogs,
                    head: None,
                    closed: false,
                };
                self.sources.insert(pump, source);
            }
            SourceCommand::Remove { pump } => {
                if self.sources.remove(&pump).is_some() {
                    tracing::info!(%pump, "merge source removed");
                }
            }
        }
    }

    /// The next binlog in commit-TS order. Waits (forever, with no sources) until every source
    /// has a head. Cancel-safe: an item received before a cancellation stays as its source's
    /// head.
    pub async fn next(&mut self) -> PulledBinlog {
        loop {
            let mut waiting_on = None;
            for (pump, source) in &mut self.sources {
                if source.head.is_some() {
                    continue;
                }
                match source.binlogs.try_recv() {
                    Ok(binlog) => source.head = Some(binlog),
                    Err(mpsc::error::TryRecvError::Empty) if !source.closed => {
                        waiting_on.get_or_insert_with(|| pump.clone());
                    }
                    Err(_) => source.closed = true,
                }
            }
            let all_have_heads = self.sources.values().all(|s| s.head.is_some());
            if self.sources.is_empty() || !all_have_heads {
                let Some(pump) = waiting_on else {
                    // Every source without a head is closed: only a command can change that.
                    return std::future::pending().await;
                };
                let source = self.sources.get_mut(&pump).expect("a source just seen");
                match source.binlogs.recv().await {
                    Some(binlog) => source.head = Some(binlog),
                    None => source.closed = true,
                }
                continue;
            }
            let (_, source) = self
                .sources
                .iter_mut()
                .min_by_key(|(_, s)| s.head.as_ref().map(|h| h.commit_ts))
                .expect("sources are not empty");
            let binlog = source.head.take().expect("every source has a head");
            if binlog.commit_ts < self.latest {
                tracing::error!(
                    commit_ts = binlog.commit_ts,
                    latest = self.latest,
                    "binlog below the merged position dropped (disorder)"
                );
                continue;
            }
            if binlog.commit_ts == self.latest {
                continue; // a duplicate, or at the checkpoint
            }
            self.latest = binlog.commit_ts;
            return binlog;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::budget::ByteBudget;

    async fn binlog(ts: u64) -> PulledBinlog {
        PulledBinlog {
            commit_ts: ts,
            payload: bytes::Bytes::new(),
            permit: ByteBudget::new(1).acquire(0).await,
        }
    }

    fn add(merger: &mut Merger, pump: &str) -> mpsc::Sender<PulledBinlog> {
        let (tx, rx) = mpsc::channel(16);
        merger.apply(SourceCommand::Add {
            pump: pump.into(),
            binlogs: rx,
        });
        tx
    }

    async fn next_within(merger: &mut Merger) -> Option<u64> {
        tokio::time::timeout(Duration::from_millis(50), merger.next())
            .await
            .ok()
            .map(|b| b.commit_ts)
    }

    #[tokio::test]
    async fn emits_only_what_every_source_has_passed() {
        let mut merger = Merger::new(5);
        let a = add(&mut merger, "a");
        let b = add(&mut merger, "b");
        for ts in [3, 5, 10, 20] {
            a.send(binlog(ts).await).await.unwrap();
        }
        // b has shown nothing: nothing may be emitted.
        assert_eq!(next_within(&mut merger).await, None);
        b.send(binlog(12).await).await.unwrap();
        // 3 and 5 are at or below the checkpoint; 10 is safe (b is at 12); 12 needs a's 20.
        assert_eq!(next_within(&mut merger).await, Some(10));
        assert_eq!(next_within(&mut merger).await, Some(12));
        assert_eq!(next_within(&mut merger).await, None);
        b.send(binlog(20).await).await.unwrap(); // same TS from two pumps: emitted once
        b.send(binlog(30).await).await.unwrap();
        assert_eq!(next_within(&mut merger).await, Some(20));
        assert_eq!(next_within(&mut merger).await, None);
        // A source going away releases the merge.
        merger.apply(SourceCommand::Remove { pump: "a".into() });
        assert_eq!(next_within(&mut merger).await, Some(30));
        assert_eq!(merger.latest(), 30);
    }

    #[tokio::test]
    async fn a_cancelled_wait_loses_nothing() {
        let mut merger = Merger::new(0);
        let a = add(&mut merger, "a");
        let b = add(&mut merger, "b");
        a.send(binlog(1).await).await.unwrap();
        assert_eq!(next_within(&mut merger).await, None);
        b.send(binlog(2).await).await.unwrap();
        a.send(binlog(3).await).await.unwrap();
        assert_eq!(next_within(&mut merger).await, Some(1));
        assert_eq!(next_within(&mut merger).await, Some(2));
        drop(b);
        assert_eq!(
            next_within(&mut merger).await,
            None,
            "a closed source still holds"
        );
    }
}
