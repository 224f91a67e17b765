//! What the kernel should hold, from the configuration, the uplinks as the link monitor sees
//! them and the engine's decisions (pure, so it is tested without a kernel).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use crate::config::{Config, Match};
use crate::conntrack::ClassFlows;
use crate::engine;
use crate::linkmon::LinkSnapshot;
use crate::model::{ClassRoute, Family, PathId, PerFamily};
use crate::nft::{NatPath, NftInputs};
use crate::routing::{ClassInput, PathDefault, PathInput, RoutingInputs, Selector};

/// The world as the daemon knows it when it computes desired state.
pub struct World<'a> {
    pub cfg: &'a Config,
    /// Watched interfaces by name.
    pub links: &'a BTreeMap<String, LinkSnapshot>,
    /// The Arc client address and the networks routed into the tunnel, once credentials load.
    pub arc: Option<(Ipv4Addr, Vec<IpNet>)>,
    /// The tunnel's device can take routes (it is up, or a started tunnel says so). While a
    /// new tunnel starts the kernel refuses routes into it; NAT and eviction still use `arc`.
    pub arc_routable: bool,
    /// The interface of each path: configured, or the bearer's as ModemManager names it.
    pub interfaces: &'a BTreeMap<PathId, String>,
    /// The cellular gateway arcway configured itself for a STATIC bearer (manage mode);
    /// otherwise the cellular default is what the main table has.
    pub cellular_route: Option<PathDefault>,
}

/// A destination-only class is selected by `to` rules; anything else needs nftables marks.
fn selector(cfg: &Config, index: usize, m: Option<&Match>) -> Selector {
    match m {
        None => Selector::Default,
        Some(m) if m.destinations_only() => Selector::Destinations(m.destinations.clone()),
        Some(_) => Selector::Mark(cfg.routing_layout().class_mark(index)),
    }
}

impl World<'_> {
    fn link(&self, path: PathId) -> Option<&LinkSnapshot> {
        self.links.get(self.interfaces.get(&path)?)
    }

    fn path_input(&self, path: PathId) -> Option<PathInput> {
        let link = self.link(path)?;
        let layout = self.cfg.routing_layout();
        let (default_v4, default_v6, addresses) = match path {
            // The tunnel is point to point: its default is the device itself.
            PathId::Arc => {
                let (ip, _) = self.arc.as_ref().filter(|_| self.arc_routable)?;
                (
                    Some(PathDefault { gateway: None }),
                    None,
                    vec![IpAddr::V4(*ip)],
                )
            }
            PathId::Wifi | PathId::Cellular => (
                (path == PathId::Cellular)
                    .then_some(self.cellular_route)
                    .flatten()
                    .or_else(|| {
                        link.default_route(Family::V4)
                            .map(|r| PathDefault { gateway: r.gateway })
                    }),
                link.default_route(Family::V6)
                    .map(|r| PathDefault { gateway: r.gateway }),
                link.global(Family::V4)
                    .chain(link.global(Family::V6))
                    .map(|a| a.addr)
                    .collect(),
            ),
        };
        Some(PathInput {
            ifname: link.name.clone(),
            ifindex: link.index,
            default_v4,
            default_v6,
            addresses,
            mark: layout.path_mark(path),
        })
    }

    /// The routing inputs for `routes` (the engine's class decisions, by class name).
    pub fn routing(&self, routes: &BTreeMap<String, engine::ClassRoutes>) -> RoutingInputs {
        let layout = self.cfg.routing_layout();
        let paths = PathId::ALL
            .into_iter()
            .filter_map(|p| Some((p, self.path_input(p)?)))
            .collect::<BTreeMap<_, _>>();
        let classes = self
            .cfg
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| ClassInput {
                name: c.name.clone(),
                table: layout.class_table(i),
                selector: selector(self.cfg, i, c.matcher.as_ref()),
                route: routes
                    .get(&c.name)
                    .copied()
                    .unwrap_or_default()
                    .map(|_, r| match *r {
                        // A decision naming a path the kernel cannot reach yet (its
                        // interface is gone) is unreachable until the link monitor sees it.
                        ClassRoute::Via(p) if !paths.contains_key(&p) => ClassRoute::Unreachable,
                        route => route,
                    }),
            })
            .collect();
        RoutingInputs {
            layout,
            paths,
            arc_routes: self
                .arc
                .as_ref()
                .map(|(_, n)| n.clone())
                .unwrap_or_default(),
            classes,
        }
    }

    /// The nftables table: masquerade per path and the marks of non-destination classes.
    pub fn nft(&self) -> NftInputs {
        let layout = self.cfg.routing_layout();
        let nat = PathId::ALL
            .into_iter()
            .filter_map(|p| {
                let ifname = self.interfaces.get(&p)?.clone();
                let snat_to = match p {
                    // The platform knows the device only by its Arc address.
                    PathId::Arc => Some(self.arc.as_ref()?.0),
                    _ => None,
                };
                Some(NatPath {
                    path: p,
                    ifname,
                    snat_to,
                })
            })
            .collect();
        NftInputs {
            fwmark_mask: layout.fwmark_mask,
            nat,
            // Every class with a matcher gets a mark, so its bytes are counted per path; only
            // the non-destination ones need it for routing.
            classes: crate::nft::mark_classes(self.cfg),
        }
    }

    /// The addresses flows of `family` leaving by a path were NATed to (what conntrack
    /// eviction looks for): Arc's client address; an uplink's first global IPv4 address
    /// (masquerade's choice), or every global IPv6 one (source selection may pick any).
    pub fn nat_addresses(&self, path: PathId, family: Family) -> Vec<IpAddr> {
        use Family as F;
        match (path, family) {
            (PathId::Arc, F::V4) => self.arc.iter().map(|(ip, _)| IpAddr::V4(*ip)).collect(),
            (PathId::Arc, F::V6) => Vec::new(),
            (_, F::V4) => self
                .link(path)
                .and_then(|l| l.global(Family::V4).next())
                .map(|a| vec![a.addr])
                .unwrap_or_default(),
            (_, F::V6) => self
                .link(path)
                .map(|l| l.global(Family::V6).map(|a| a.addr).collect())
                .unwrap_or_default(),
        }
    }

    /// The families each path with a known interface has a default route in: what the
    /// path tables mirror (Arc's is IPv4, the tunnel device itself).
    pub fn default_routes(&self) -> BTreeMap<PathId, PerFamily<bool>> {
        PathId::ALL
            .into_iter()
            .filter(|p| self.interfaces.contains_key(p))
            .filter_map(|p| {
                let routes = match p {
                    PathId::Arc => PerFamily {
                        v4: true,
                        v6: false,
                    },
                    _ => {
                        let input = self.path_input(p)?;
                        PerFamily {
                            v4: input.default_v4.is_some(),
                            v6: input.default_v6.is_some(),
                        }
                    }
                };
                Some((p, routes))
            })
            .collect()
    }

    /// Which conntrack entries belong to a class.
    pub fn class_flows(&self, class: &str) -> Option<ClassFlows> {
        let layout = self.cfg.routing_layout();
        let (i, c) = self
            .cfg
            .classes
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == class)?;
        Some(match selector(self.cfg, i, c.matcher.as_ref()) {
            Selector::Destinations(nets) => ClassFlows::Destinations(nets),
            Selector::Mark(value) => ClassFlows::Mark {
                value,
                mask: layout.fwmark_mask,
            },
            Selector::Default => ClassFlows::Rest {
                mask: layout.fwmark_mask,
                exclude: self
                    .cfg
                    .classes
                    .iter()
                    .filter_map(|c| c.matcher.as_ref())
                    .filter(|m| m.destinations_only())
                    .flat_map(|m| m.destinations.iter().copied())
                    .collect(),
            },
        })
    }
}

#[cfg(test)]
mod tests;
