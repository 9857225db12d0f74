//! The watermark (`max_commit_ts`), computed exactly as the original pump's sorter does, in a
//! compact form that can be snapshotted.
//!
//! The original keeps every record in log order in a list and pops it from the head: a prewrite
//! at the head blocks until a commit or rollback with its start TS has arrived; any other record
//! is emitted if its commit TS is above the last emitted one. So a commit TS `x` can be reached
//! only when every prewrite that was pending when `C(x)` arrived has been matched.
//!
//! Here the list is folded: a queue of *slots*, one per prewrite still waiting to reach the
//! head, each holding the commit TSs that arrived after it (before the next slot) that can still
//! be emitted, i.e. those above every commit TS seen before them. Emission order and values are
//! the original's; memory is one slot per waiting prewrite plus the increasing commits behind them.

use std::collections::{HashMap, VecDeque};

use crate::index::Position;

struct Slot {
    start_ts: u64,
    commits_after: Vec<u64>,
}

/// The sorter state. Fed in log order by the writer; replayed by recovery.
#[derive(Default)]
pub struct Sorter {
    last_emitted: u64,
    max_seen: u64,
    slots: VecDeque<Slot>,
    pending: HashMap<u64, Position>,
}

impl Sorter {
    /// The watermark: the last emitted commit TS.
    pub fn watermark(&self) -> u64 {
        self.last_emitted
    }

    /// Start TSs of prewrites without a commit or rollback yet.
    pub fn pending_prewrites(&self) -> impl Iterator<Item = (u64, Position)> + '_ {
        self.pending.iter().map(|(&ts, &pos)| (ts, pos))
    }

    /// Feeds a prewrite stored at `position`.
    pub fn push_prewrite(&mut self, start_ts: u64, position: Position) {
        self.pending.insert(start_ts, position);
        self.slots.push_back(Slot {
            start_ts,
            commits_after: Vec::new(),
        });
    }

    /// Feeds a commit, rollback or fake record; appends every commit TS it lets the sorter emit
    /// to `emitted`. Returns the position of the prewrite it matched, if one was pending.
    pub fn push_other(
        &mut self,
        start_ts: u64,
        commit_ts: u64,
        emitted: &mut Vec<u64>,
    ) -> Option<Position> {
        if commit_ts > self.max_seen {
            self.max_seen = commit_ts;
            match self.slots.back_mut() {
                Some(slot) => slot.commits_after.push(commit_ts),
                None => self.emit(commit_ts, emitted),
            }
        }
        let matched = self.pending.remove(&start_ts);
        if matched.is_some() {
            while let Some(head) = self.slots.front() {
                if self.pending.contains_key(&head.start_ts) {
                    break;
                }
                let head = self.slots.pop_front().expect("head exists");
                for commit in head.commits_after {
                    self.emit(commit, emitted);
                }
            }
        }
        matched
    }

    fn emit(&mut self, commit_ts: u64, emitted: &mut Vec<u64>) {
        debug_assert!(commit_ts > self.last_emitted);
        self.last_emitted = commit_ts;
        emitted.push(commit_ts);
    }

    // Format: { last_emitted u64 | max_seen u64 | slot_count u32
    //           | slots: { start_ts u64 | commit_count u32 | commits u64* }*
    //           | pending_count u32 | pending: { start_ts u64 | segment_id u64 | offset u32 }* }
    /// Encodes the whole state (stored in the meta file at each segment roll).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.slots.len() * 12 + self.pending.len() * 20);
        out.extend_from_slice(&self.last_emitted.to_le_bytes());
        out.extend_from_slice(&self.max_seen.to_le_bytes());
        out.extend_from_slice(&(self.slots.len() as u32).to_le_bytes());
        for slot in &self.slots {
            out.extend_from_slice(&slot.start_ts.to_le_bytes());
            out.extend_from_slice(&(slot.commits_after.len() as u32).to_le_bytes());
            for commit in &slot.commits_after {
                out.extend_from_slice(&commit.to_le_bytes());
            }
        }
        out.extend_from_slice(&(self.pending.len() as u32).to_le_bytes());
        let mut pending: Vec<_> = self.pending_prewrites().collect();
        pending.sort_unstable();
        for (start_ts, position) in pending {
            out.extend_from_slice(&start_ts.to_le_bytes());
            out.extend_from_slice(&position.segment_id.to_le_bytes());
            out.extend_from_slice(&position.offset.to_le_bytes());
        }
        out
    }

    /// Decodes [`Sorter::encode`]'s output; `None` if it is malformed.
    pub fn decode(bytes: &[u8]) -> Option<Sorter> {
        let mut reader = Reader(bytes);
        let mut sorter = Sorter {
            last_emitted: reader.u64()?,
            max_seen: reader.u64()?,
            ..Sorter::default()
        };
        for _ in 0..reader.u32()? {
            let start_ts = reader.u64()?;
            let count = reader.u32()? as usize;
            let commits_after = (0..count)
                .map(|_| reader.u64())
                .collect::<Option<Vec<_>>>()?;
            sorter.slots.push_back(Slot {
                start_ts,
                commits_after,
            });
        }
        for _ in 0..reader.u32()? {
            let start_ts = reader.u64()?;
            let position = Position {
                segment_id: reader.u64()?,
                offset: reader.u32()?,
            };
            sorter.pending.insert(start_ts, position);
        }
        reader.0.is_empty().then_some(sorter)
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
    }

    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Copy, Debug)]
    enum Item {
        P(u64),
        C(u64, u64),
    }

    fn at(offset: u32) -> Position {
        Position {
            segment_id: 1,
            offset,
        }
    }

    fn run(sorter: &mut Sorter, items: &[Item]) -> Vec<u64> {
        let mut emitted = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match *item {
                Item::P(start) => sorter.push_prewrite(start, at(i as u32)),
                Item::C(start, commit) => {
                    sorter.push_other(start, commit, &mut emitted);
                }
            }
        }
        emitted
    }

    /// The original algorithm, literally: a list popped from the head.
    fn reference(items: &[Item]) -> Vec<u64> {
        let mut emitted = Vec::new();
        let mut waiting = std::collections::HashSet::new();
        let mut list: VecDeque<Item> = VecDeque::new();
        let mut last = 0;
        for &item in items {
            match item {
                Item::P(start) => {
                    waiting.insert(start);
                }
                Item::C(start, _) => {
                    waiting.remove(&start);
                }
            }
            list.push_back(item);
            while let Some(&head) = list.front() {
                match head {
                    Item::P(start) if waiting.contains(&start) => break,
                    Item::P(_) => {}
                    Item::C(_, commit) if commit > last => {
                        last = commit;
                        emitted.push(commit);
                    }
                    Item::C(..) => {}
                }
                list.pop_front();
            }
        }
        emitted
    }

    #[test]
    fn original_cases() {
        use Item::*;
        assert_eq!(run(&mut Sorter::default(), &[P(1), C(1, 2)]), [2]);
        assert_eq!(
            run(&mut Sorter::default(), &[P(1), P(2), C(2, 3), C(1, 10)]),
            [3, 10]
        );
        let mut sorter = Sorter::default();
        assert_eq!(run(&mut sorter, &[P(1), P(2), C(1, 10), C(2, 9)]), [10]);
        assert_eq!(run(&mut sorter, &[P(20), C(20, 200)]), [200]);
        assert_eq!(sorter.watermark(), 200);
        assert_eq!(sorter.pending_prewrites().count(), 0);
    }

    #[test]
    fn blocked_prewrite_holds_the_watermark_and_rollback_releases_it() {
        use Item::*;
        let mut sorter = Sorter::default();
        assert_eq!(
            run(&mut sorter, &[P(5), P(6), C(6, 7), C(8, 8)]),
            Vec::<u64>::new()
        );
        assert_eq!(sorter.pending_prewrites().collect::<Vec<_>>(), [(5, at(0))]);
        // A rollback (commit TS 0) matches the prewrite and emits what it held back.
        assert_eq!(run(&mut sorter, &[C(5, 0)]), [7, 8]);
        assert_eq!(sorter.watermark(), 8);
    }

    fn items_strategy() -> impl Strategy<Value = Vec<Item>> {
        // Transactions get increasing start TSs; each either commits with a later TS, rolls back,
        // or (rarely) never finishes; fake binlogs are interleaved. The shuffle models
        // concurrent writers: a commit always comes after its prewrite.
        prop::collection::vec((0u8..10, 1u64..50, any::<u64>()), 1..60).prop_map(|txns| {
            let mut items = Vec::new();
            let mut clock = 100;
            let mut open: Vec<u64> = Vec::new();
            for (action, delay, pick) in txns {
                clock += delay;
                match action {
                    0 => items.push(Item::C(clock, clock)), // fake
                    1..=5 => {
                        items.push(Item::P(clock));
                        open.push(clock);
                    }
                    _ if !open.is_empty() => {
                        let start = open.swap_remove((pick % open.len() as u64) as usize);
                        let commit = if action == 9 { 0 } else { clock };
                        items.push(Item::C(start, commit));
                    }
                    _ => {}
                }
            }
            items
        })
    }

    proptest! {
        #[test]
        fn matches_the_original_and_survives_snapshots(items in items_strategy(), cut in any::<prop::sample::Index>()) {
            let expected = reference(&items);
            let cut = cut.index(items.len() + 1);
            let mut sorter = Sorter::default();
            let mut emitted = run(&mut sorter, &items[..cut]);
            let mut restored = Sorter::decode(&sorter.encode()).expect("decodes");
            emitted.extend(run(&mut restored, &items[cut..]));
            prop_assert_eq!(&emitted, &expected);
            prop_assert!(emitted.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(restored.watermark(), expected.last().copied().unwrap_or(0));
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(Sorter::decode(&[1, 2, 3]).is_none());
        let mut bytes = Sorter::default().encode();
        bytes.push(0);
        assert!(Sorter::decode(&bytes).is_none());
    }
}
