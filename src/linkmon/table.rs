//! The monitor's picture of the kernel: links by index, their addresses and main-table
//! default routes. Pure; fed by parsed netlink messages or a full dump.

use std::collections::{BTreeMap, BTreeSet};

use super::snapshot::{DefaultRoute, IfAddr, LinkSnapshot, OperState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkState {
    pub name: String,
    pub admin_up: bool,
    pub carrier: bool,
    pub oper: OperState,
}

/// One fact learned from netlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Update {
    Link(u32, LinkState),
    LinkGone(u32),
    AddrAdd(u32, IfAddr),
    AddrDel(u32, IfAddr),
    RouteAdd(u32, DefaultRoute),
    RouteDel(u32, DefaultRoute),
    /// Messages were lost or could not be understood: only a full dump is trustworthy.
    Resync,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LinkTable {
    links: BTreeMap<u32, LinkState>,
    addrs: BTreeMap<u32, BTreeSet<IfAddr>>,
    routes: BTreeMap<u32, BTreeSet<DefaultRoute>>,
}

/// What applying an update implies beyond the table itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Applied {
    /// A full dump is needed now (lost or unparsable messages).
    pub resync_now: bool,
    /// The kernel may have changed addresses or routes without telling (an interface went
    /// administratively down or appeared): re-read soon.
    pub resync_soon: bool,
}

impl LinkTable {
    pub fn apply(&mut self, update: Update) -> Applied {
        let mut applied = Applied::default();
        match update {
            Update::Link(index, state) => {
                // Names are unique: another index with this name is a deletion we missed.
                let stale: Vec<u32> = self
                    .links
                    .iter()
                    .filter(|(i, l)| **i != index && l.name == state.name)
                    .map(|(i, _)| *i)
                    .collect();
                for i in stale {
                    self.forget(i);
                    applied.resync_soon = true;
                }
                match self.links.insert(index, state) {
                    // IPv4 routes through an interface set down vanish without a
                    // RTM_DELROUTE, so a change of admin state calls for a re-read.
                    Some(old) if old.admin_up != self.links[&index].admin_up => {
                        applied.resync_soon = true
                    }
                    Some(_) => {}
                    None => applied.resync_soon = true,
                }
            }
            Update::LinkGone(index) => self.forget(index),
            Update::AddrAdd(index, addr) => {
                self.addrs.entry(index).or_default().insert(addr);
            }
            Update::AddrDel(index, addr) => {
                if let Some(set) = self.addrs.get_mut(&index) {
                    set.remove(&addr);
                }
            }
            Update::RouteAdd(index, route) => {
                self.routes.entry(index).or_default().insert(route);
            }
            Update::RouteDel(index, route) => {
                if let Some(set) = self.routes.get_mut(&index) {
                    set.remove(&route);
                }
            }
            Update::Resync => applied.resync_now = true,
        }
        applied
    }

    fn forget(&mut self, index: u32) {
        self.links.remove(&index);
        self.addrs.remove(&index);
        self.routes.remove(&index);
    }

    pub fn snapshot(&self, name: &str) -> Option<LinkSnapshot> {
        let (index, link) = self.links.iter().find(|(_, l)| l.name == name)?;
        Some(LinkSnapshot {
            name: link.name.clone(),
            index: *index,
            admin_up: link.admin_up,
            carrier: link.carrier,
            oper: link.oper,
            addresses: self.addrs.get(index).cloned().unwrap_or_default(),
            default_routes: self.routes.get(index).cloned().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::{AddrScope, Family};
    use super::*;

    pub(crate) fn link(name: &str, up: bool, carrier: bool) -> LinkState {
        LinkState {
            name: name.into(),
            admin_up: up,
            carrier,
            oper: if carrier {
                OperState::Up
            } else {
                OperState::Down
            },
        }
    }

    fn addr(s: &str) -> IfAddr {
        IfAddr {
            addr: s.parse().unwrap(),
            prefix_len: 24,
            scope: AddrScope::Global,
        }
    }

    #[test]
    fn builds_snapshots_by_name() {
        let mut t = LinkTable::default();
        assert!(
            t.apply(Update::Link(3, link("wlan0", true, true)))
                .resync_soon
        );
        t.apply(Update::AddrAdd(3, addr("192.0.2.10")));
        let gw = DefaultRoute {
            family: Family::V4,
            metric: 600,
            gateway: Some("192.0.2.1".parse().unwrap()),
        };
        t.apply(Update::RouteAdd(3, gw));
        let s = t.snapshot("wlan0").unwrap();
        assert_eq!((s.index, s.is_up()), (3, true));
        assert_eq!(s.default_route(Family::V4), Some(&gw));
        assert_eq!(s.global(Family::V4).count(), 1);
        t.apply(Update::AddrDel(3, addr("192.0.2.10")));
        t.apply(Update::RouteDel(3, gw));
        let s = t.snapshot("wlan0").unwrap();
        assert!(s.addresses.is_empty() && s.default_routes.is_empty());
        assert!(t.snapshot("wwan0").is_none());
    }

    #[test]
    fn carrier_change_needs_no_resync_but_admin_change_does() {
        let mut t = LinkTable::default();
        t.apply(Update::Link(3, link("wlan0", true, true)));
        assert_eq!(
            t.apply(Update::Link(3, link("wlan0", true, false))),
            Applied::default()
        );
        assert!(
            t.apply(Update::Link(3, link("wlan0", false, false)))
                .resync_soon
        );
        assert!(t.apply(Update::Resync).resync_now);
    }

    #[test]
    fn rename_delete_and_recreate() {
        let mut t = LinkTable::default();
        t.apply(Update::Link(3, link("wlan0", true, true)));
        t.apply(Update::AddrAdd(3, addr("192.0.2.10")));
        t.apply(Update::Link(3, link("wlan9", true, true)));
        assert!(t.snapshot("wlan0").is_none());
        assert_eq!(t.snapshot("wlan9").unwrap().addresses.len(), 1);
        t.apply(Update::LinkGone(3));
        assert!(t.snapshot("wlan9").is_none());
        // A missed deletion: the name shows up on a new index; the old one is dropped.
        t.apply(Update::Link(4, link("wwan0", true, true)));
        t.apply(Update::AddrAdd(4, addr("198.51.100.130")));
        assert!(
            t.apply(Update::Link(5, link("wwan0", true, true)))
                .resync_soon
        );
        let s = t.snapshot("wwan0").unwrap();
        assert_eq!((s.index, s.addresses.len()), (5, 0));
    }
}
