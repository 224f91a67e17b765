//! Counting class switches from the event log the snapshot carries.
//!
//! The log is bounded, so its length is no counter: this remembers the newest event seen
//! and counts only later ones, observing every snapshot the daemon publishes.

use crate::status::{Snapshot, WallTime};

#[derive(Debug, Clone, Default)]
pub struct SwitchCounter {
    total: u64,
    /// Time of the newest counted event, and how many events carried exactly that time.
    newest: Option<(WallTime, usize)>,
}

fn is_switch(e: &crate::status::Event) -> bool {
    e.subject.starts_with("class ")
}

impl SwitchCounter {
    /// Counts the switches in `s` not seen before; returns the total.
    pub fn observe(&mut self, s: &Snapshot) -> u64 {
        let switches: Vec<WallTime> = s
            .events
            .iter()
            .filter(|e| is_switch(e))
            .map(|e| e.at)
            .collect();
        let Some(&latest) = switches.iter().max() else {
            return self.total;
        };
        let new = match self.newest {
            None => switches.len(),
            Some((at, seen)) => {
                let later = switches.iter().filter(|t| **t > at).count();
                let same = switches.iter().filter(|t| **t == at).count();
                later + same.saturating_sub(seen)
            }
        };
        self.total += new as u64;
        if self.newest.is_none_or(|(at, _)| latest >= at) {
            let at_latest = switches.iter().filter(|t| **t == latest).count();
            self.newest = Some((latest, at_latest));
        }
        self.total
    }

    pub fn total(&self) -> u64 {
        self.total
    }
}
