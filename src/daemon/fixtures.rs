//! Link snapshots for the daemon's unit tests.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::linkmon::{self, AddrScope, IfAddr, LinkSnapshot, OperState};

fn addr(a: &str) -> IfAddr {
    let addr: IpAddr = a.parse().unwrap();
    IfAddr {
        addr,
        prefix_len: if addr.is_ipv4() { 24 } else { 64 },
        scope: AddrScope::Global,
    }
}

fn route(gw: &str) -> linkmon::DefaultRoute {
    let gateway: IpAddr = gw.parse().unwrap();
    linkmon::DefaultRoute {
        family: if gateway.is_ipv4() {
            crate::model::Family::V4
        } else {
            crate::model::Family::V6
        },
        metric: 0,
        gateway: Some(gateway),
    }
}

pub fn link(name: &str, index: u32, addrs: &[&str], gws: &[&str]) -> LinkSnapshot {
    LinkSnapshot {
        name: name.into(),
        index,
        admin_up: true,
        carrier: true,
        oper: OperState::Up,
        addresses: addrs.iter().map(|a| addr(a)).collect::<BTreeSet<_>>(),
        default_routes: gws.iter().map(|g| route(g)).collect(),
    }
}
