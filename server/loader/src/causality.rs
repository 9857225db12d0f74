//! Causality between workers: which worker each recently dispatched key went to. A row whose
//! keys went to another worker must wait until that worker committed them (two rows on the
//! same unique key, in two workers, could otherwise be applied in the wrong order); the loader
//! then waits until every worker has committed all it was given (a barrier) and forgets all
//! keys.

use std::collections::HashMap;

/// Keys kept at most before the loader forces a barrier to forget them (bounded memory).
const MAX_KEYS: usize = 1 << 16;

/// Recently dispatched keys and their workers.
#[derive(Default)]
pub(crate) struct Causality {
    owners: HashMap<u64, usize>,
}

impl Causality {
    /// Whether a row with these keys, for `worker`, must wait for a barrier: one of its keys
    /// went to another worker, or too many keys are kept.
    pub fn must_wait(&self, keys: &[u64], worker: usize) -> bool {
        self.owners.len() >= MAX_KEYS
            || keys
                .iter()
                .any(|key| self.owners.get(key).is_some_and(|&owner| owner != worker))
    }

    /// Records that the keys went to `worker`.
    pub fn add(&mut self, keys: &[u64], worker: usize) {
        self.owners.extend(keys.iter().map(|&key| (key, worker)));
    }

    /// Forgets every key: all workers committed what they were given.
    pub fn clear(&mut self) {
        self.owners.clear();
    }
}
