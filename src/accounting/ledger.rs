//! What has been counted in the current period, as persisted across restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calendar::Date;
use crate::model::PathId;
use crate::nft::{CounterKey, Direction};

/// Version of the state file format.
pub const LEDGER_VERSION: u32 = 1;

/// Bytes in each direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bytes {
    pub rx: u64,
    pub tx: u64,
}

impl Bytes {
    pub fn total(self) -> u64 {
        self.rx.saturating_add(self.tx)
    }

    fn add(&mut self, dir: Direction, n: u64) {
        let slot = match dir {
            Direction::Rx => &mut self.rx,
            Direction::Tx => &mut self.tx,
        };
        *slot = slot.saturating_add(n);
    }
}

/// Bytes of the current period per path (line totals) and per class and path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub version: u32,
    pub period_start: Date,
    /// The first day of the next period.
    pub period_end: Date,
    #[serde(default)]
    pub lines: BTreeMap<PathId, Bytes>,
    #[serde(default)]
    pub classes: BTreeMap<String, BTreeMap<PathId, Bytes>>,
    /// The counter values last read, by counter name: after a restart, counters that kept
    /// running (the table stayed) only count what they gained since.
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
}

impl Ledger {
    pub fn empty(period_start: Date, period_end: Date) -> Ledger {
        Ledger {
            version: LEDGER_VERSION,
            period_start,
            period_end,
            lines: BTreeMap::new(),
            classes: BTreeMap::new(),
            counters: BTreeMap::new(),
        }
    }

    pub fn add(&mut self, key: &CounterKey, n: u64) {
        match key {
            CounterKey::Line { path, dir } => self.lines.entry(*path).or_default().add(*dir, n),
            CounterKey::Class { class, path, dir } => self
                .classes
                .entry(class.clone())
                .or_default()
                .entry(*path)
                .or_default()
                .add(*dir, n),
        }
    }

    pub fn line(&self, path: PathId) -> Bytes {
        self.lines.get(&path).copied().unwrap_or_default()
    }

    pub fn class(&self, class: &str, path: PathId) -> Bytes {
        self.classes
            .get(class)
            .and_then(|p| p.get(&path))
            .copied()
            .unwrap_or_default()
    }
}
