//! The routing objects arcway owns, in a form that can be compared, ordered and printed.
//!
//! Both the desired state and what a kernel dump returned are expressed with these types, so
//! the planner is a set difference. Fields the kernel may report but arcway never sets are
//! kept in `other` so that a hand-made variant of one of our rules never compares equal to it.

use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

pub use crate::model::Family;

/// A policy routing rule (`ip rule`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub family: Family,
    pub priority: u32,
    pub src: Option<IpNet>,
    pub dst: Option<IpNet>,
    /// `fwmark value/mask`.
    pub fwmark: Option<(u32, u32)>,
    /// Table looked up (the action is always "to table" for arcway's rules).
    pub table: u32,
    pub suppress_prefixlen: Option<u32>,
    /// Attributes arcway never sets (iif, tos, `not`, other actions...), rendered for logs.
    pub other: Vec<String>,
}

impl Rule {
    pub fn lookup(family: Family, priority: u32, table: u32) -> Rule {
        Rule {
            family,
            priority,
            src: None,
            dst: None,
            fwmark: None,
            table,
            suppress_prefixlen: None,
            other: Vec::new(),
        }
    }
}

/// What a route does with matching traffic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteKind {
    /// `via gateway dev oif`, or `dev oif` alone (scope link).
    Unicast { gateway: Option<IpAddr>, oif: u32 },
    /// Refused with "no route to host" (EHOSTUNREACH locally, ICMP unreachable when forwarded).
    Unreachable,
    /// Refused administratively (EACCES locally, ICMP prohibited when forwarded).
    Prohibit,
    /// Anything arcway does not create (blackhole, multipath, ...), described for logs.
    Other(String),
}

/// The identity of a route inside its table: the kernel allows one route per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteKey {
    pub table: u32,
    pub dst: IpNet,
    pub metric: u32,
}

/// A route in one of arcway's tables.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub key: RouteKey,
    pub kind: RouteKind,
}

impl Route {
    pub fn new(table: u32, dst: IpNet, kind: RouteKind) -> Route {
        let metric = Family::of_net(&dst).default_metric();
        Route {
            key: RouteKey { table, dst, metric },
            kind,
        }
    }

    pub fn family(&self) -> Family {
        Family::of_net(&self.key.dst)
    }
}

/// Rules and routes, as desired or as dumped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutingObjects {
    pub rules: BTreeSet<Rule>,
    pub routes: BTreeMap<RouteKey, RouteKind>,
}

impl RoutingObjects {
    pub fn add_route(&mut self, route: Route) {
        self.routes.insert(route.key, route.kind);
    }

    pub fn route_list(&self) -> impl Iterator<Item = Route> + '_ {
        self.routes.iter().map(|(key, kind)| Route {
            key: *key,
            kind: kind.clone(),
        })
    }

    pub fn tables(&self) -> BTreeSet<u32> {
        let mut tables: BTreeSet<u32> = self.routes.keys().map(|k| k.table).collect();
        tables.extend(self.rules.iter().map(|r| r.table));
        tables
    }
}

/// What a strict dump of arcway's priority range and tables returned.
pub type KernelRouting = RoutingObjects;

/// One step of a plan, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A route whose key is not in the kernel yet.
    AddRoute(Route),
    /// A route whose key exists with another target: one atomic `route replace`.
    ReplaceRoute(Route),
    AddRule(Rule),
    DelRule(Rule),
    DelRoute(Route),
}
