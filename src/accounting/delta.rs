//! Counter readings to byte deltas, robust against the counters starting over.
//!
//! Replacing `table inet arcway` (a reload, a class held or released) recreates every
//! counter at zero. A reading smaller than the previous one is therefore a restart and
//! counts in full; a counter that disappeared is forgotten, so if it comes back its whole
//! value is new. What passed between the last read and the replace is lost unless the
//! owner reads right before replacing (`AccountingHandle::read_now`).

use std::collections::BTreeMap;

use crate::nft::CounterKey;

#[derive(Debug, Clone, Default)]
pub struct CounterDeltas {
    last: BTreeMap<CounterKey, u64>,
}

impl CounterDeltas {
    /// Bytes counted since the previous reading, per counter (zero deltas left out).
    pub fn update(&mut self, reading: &BTreeMap<CounterKey, u64>) -> BTreeMap<CounterKey, u64> {
        let mut out = BTreeMap::new();
        for (key, &now) in reading {
            let delta = match self.last.get(key) {
                Some(&before) if now >= before => now - before,
                _ => now,
            };
            if delta > 0 {
                out.insert(key.clone(), delta);
            }
        }
        self.last = reading.clone();
        out
    }

    /// Starts from values read before (by a previous run).
    pub fn seed(&mut self, last: BTreeMap<CounterKey, u64>) {
        self.last = last;
    }

    /// The values of the latest reading.
    pub fn last(&self) -> &BTreeMap<CounterKey, u64> {
        &self.last
    }

    /// Forgets every previous value (the next reading counts in full).
    pub fn reset(&mut self) {
        self.last.clear();
    }
}
