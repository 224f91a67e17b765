//! The bounded event log: every change of a path's health or a class's route, with why.

use std::collections::VecDeque;

use serde::Serialize;

use super::evidence::Evidence;
use super::health::Health;
use super::select::ClassRoutes;
use super::time::Time;
use crate::model::{Family, PathId};

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "subject", rename_all = "lowercase")]
pub enum Change {
    Path {
        path: PathId,
        /// The family whose health changed; `None` for both alike.
        #[serde(skip_serializing_if = "Option::is_none")]
        family: Option<Family>,
        from: Health,
        to: Health,
    },
    Class {
        class: String,
        from: ClassRoutes,
        to: ClassRoutes,
    },
    /// The path still carries traffic but classes with another way out avoid it (a weak
    /// Wi-Fi signal, or the tunnel riding on it), or that ended.
    Degraded { path: PathId, degraded: bool },
}

/// One log entry. `seq` grows by one per entry, so a reader can ask for what is new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub time: Time,
    #[serde(flatten)]
    pub change: Change,
    /// Human-readable evidence, e.g. "3 failed probe rounds over 3.0s".
    pub evidence: String,
    /// The same evidence, structured.
    pub detail: Evidence,
}

impl LogEntry {
    /// "wifi: up -> down (carrier lost on wlan0)", "wifi IPv6: up -> down (...)",
    /// "class default: via wifi -> IPv4 via cellular, IPv6 via wifi (...)".
    pub fn summary(&self) -> String {
        match &self.change {
            Change::Path {
                path,
                family: None,
                from,
                to,
            } => format!("{path}: {from} -> {to} ({})", self.evidence),
            Change::Path {
                path,
                family: Some(family),
                from,
                to,
            } => format!("{path} {family}: {from} -> {to} ({})", self.evidence),
            Change::Class { class, from, to } => {
                format!("class {class}: {from} -> {to} ({})", self.evidence)
            }
            Change::Degraded { path, degraded } => {
                let what = if *degraded {
                    "degraded"
                } else {
                    "no longer degraded"
                };
                format!("{path}: {what} ({})", self.evidence)
            }
        }
    }
}

/// A ring of the latest entries; the oldest is dropped when full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventLog {
    entries: VecDeque<LogEntry>,
    capacity: usize,
    next_seq: u64,
}

impl EventLog {
    pub fn new(capacity: usize) -> Self {
        EventLog {
            entries: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            next_seq: 0,
        }
    }

    pub fn push(&mut self, time: Time, change: Change, detail: Evidence) {
        if self.capacity == 0 {
            self.next_seq += 1;
            return;
        }
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        let entry = LogEntry {
            seq: self.next_seq,
            time,
            change,
            evidence: detail.to_string(),
            detail,
        };
        self.next_seq += 1;
        self.entries.push_back(entry);
    }

    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        while self.entries.len() > capacity {
            self.entries.pop_front();
        }
    }

    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &LogEntry> {
        self.entries.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::select::ClassRoute;

    fn change(to: ClassRoute) -> Change {
        let (class, from) = (
            "bulk".to_owned(),
            ClassRoutes::both(ClassRoute::Unreachable),
        );
        let to = ClassRoutes::both(to);
        Change::Class { class, from, to }
    }

    #[test]
    fn ring_drops_oldest_and_keeps_counting() {
        let mut log = EventLog::new(2);
        for i in 0..5 {
            log.push(
                Time::from_secs(i),
                change(ClassRoute::Unreachable),
                Evidence::Unproven,
            );
        }
        let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4]);
        log.set_capacity(1);
        assert_eq!(log.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn entry_serializes_flat() {
        let mut log = EventLog::new(4);
        log.push(
            Time::from_secs(1),
            change(ClassRoute::Via(PathId::Wifi)),
            Evidence::Unproven,
        );
        let json = serde_json::to_value(log.iter().next()).ok();
        let json = json.as_ref();
        assert_eq!(
            json.and_then(|j| j.get("subject")).and_then(|s| s.as_str()),
            Some("class")
        );
        assert_eq!(
            json.and_then(|j| j["to"]["v4"].get("via"))
                .and_then(|s| s.as_str()),
            Some("wifi")
        );
    }
}
