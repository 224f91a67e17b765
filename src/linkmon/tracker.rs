//! Which interfaces are watched and what was last reported about them: turns the table into
//! deduplicated events and says how urgently they must go out.

use std::collections::{BTreeMap, BTreeSet};

use super::snapshot::{LinkEvent, LinkSnapshot};
use super::table::LinkTable;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pending {
    Nothing,
    /// Only addresses or routes differ: may wait for the debounce window.
    Soft,
    /// Existence, index, admin state, carrier or operstate differ: report now.
    Urgent,
}

#[derive(Debug, Default)]
pub(crate) struct Tracker {
    watched: BTreeSet<String>,
    /// Last report per watched name: `None` inside = reported gone; absent = never reported.
    last: BTreeMap<String, Option<LinkSnapshot>>,
}

impl Tracker {
    pub fn new(watched: BTreeSet<String>) -> Self {
        Tracker {
            watched,
            last: BTreeMap::new(),
        }
    }

    /// Replaces the watched set; names no longer watched are forgotten so that watching them
    /// again reports them afresh.
    pub fn watch(&mut self, watched: BTreeSet<String>) {
        self.last.retain(|name, _| watched.contains(name));
        self.watched = watched;
    }

    pub fn pending(&self, table: &LinkTable) -> Pending {
        self.watched
            .iter()
            .map(|name| match (self.last.get(name), table.snapshot(name)) {
                (None, _) => Pending::Urgent,
                (Some(None), None) => Pending::Nothing,
                (Some(Some(old)), Some(new)) if *old == new => Pending::Nothing,
                (Some(Some(old)), Some(new)) if old.same_link_state(&new) => Pending::Soft,
                _ => Pending::Urgent,
            })
            .max()
            .unwrap_or(Pending::Nothing)
    }

    /// Events for every watched name whose state differs from its last report.
    pub fn flush(&mut self, table: &LinkTable) -> Vec<LinkEvent> {
        let mut events = Vec::new();
        for name in &self.watched {
            let now = table.snapshot(name);
            if self.last.get(name) == Some(&now) {
                continue;
            }
            events.push(match &now {
                Some(s) => LinkEvent::Changed(s.clone()),
                None => LinkEvent::Gone { name: name.clone() },
            });
            self.last.insert(name.clone(), now);
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{AddrScope, IfAddr, OperState};
    use super::super::table::{LinkState, Update};
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn link(name: &str, carrier: bool) -> Update {
        Update::Link(
            3,
            LinkState {
                name: name.into(),
                admin_up: true,
                carrier,
                oper: OperState::Up,
            },
        )
    }

    #[test]
    fn first_flush_reports_everything_then_dedupes() {
        let mut table = LinkTable::default();
        table.apply(link("wlan0", true));
        let mut tr = Tracker::new(set(&["wlan0", "wwan0"]));
        assert_eq!(tr.pending(&table), Pending::Urgent);
        let events = tr.flush(&table);
        assert_eq!(events.len(), 2);
        assert!(matches!(&events[0], LinkEvent::Changed(s) if s.name == "wlan0"));
        assert_eq!(
            events[1],
            LinkEvent::Gone {
                name: "wwan0".into()
            }
        );
        assert_eq!(tr.pending(&table), Pending::Nothing);
        assert!(tr.flush(&table).is_empty());
        // The same state again is not news.
        table.apply(link("wlan0", true));
        assert_eq!(tr.pending(&table), Pending::Nothing);
    }

    #[test]
    fn carrier_is_urgent_addresses_are_soft() {
        let mut table = LinkTable::default();
        table.apply(link("wlan0", true));
        let mut tr = Tracker::new(set(&["wlan0"]));
        tr.flush(&table);
        let a = IfAddr {
            addr: "192.0.2.10".parse().unwrap(),
            prefix_len: 24,
            scope: AddrScope::Global,
        };
        table.apply(Update::AddrAdd(3, a));
        assert_eq!(tr.pending(&table), Pending::Soft);
        table.apply(link("wlan0", false));
        assert_eq!(tr.pending(&table), Pending::Urgent);
        let events = tr.flush(&table);
        assert!(
            matches!(&events[..], [LinkEvent::Changed(s)] if !s.carrier && s.addresses.len() == 1)
        );
    }

    #[test]
    fn rename_and_unwatched_names() {
        let mut table = LinkTable::default();
        table.apply(link("wlan0", true));
        let mut tr = Tracker::new(set(&["wlan0"]));
        tr.flush(&table);
        table.apply(link("other", true));
        assert_eq!(tr.pending(&table), Pending::Urgent);
        assert_eq!(
            tr.flush(&table),
            vec![LinkEvent::Gone {
                name: "wlan0".into()
            }]
        );
        tr.watch(set(&["other"]));
        assert!(matches!(&tr.flush(&table)[..], [LinkEvent::Changed(s)] if s.name == "other"));
        tr.watch(set(&[]));
        assert_eq!(tr.pending(&table), Pending::Nothing);
    }
}
