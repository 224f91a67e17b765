//! The pure computation of what arcway's tables and rules should hold.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

pub use crate::model::ClassRoute;
use crate::model::{PathId, PerFamily};

use super::RoutingError;
use super::layout::Layout;
use super::model::{Family, Route, RouteKind, RoutingObjects, Rule};

/// The default route a path table mirrors, reduced to what that table needs: its next hop.
/// Not `linkmon::DefaultRoute`, which is one route as the kernel reported it in the main table
/// (family, metric): a path table is also given defaults nothing observed (the tunnel's device
/// route, a STATIC bearer's gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathDefault {
    /// `None` for a point-to-point device route (`default dev wwan0`).
    pub gateway: Option<IpAddr>,
}

/// What is known about one path's interface right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInput {
    pub ifname: String,
    pub ifindex: u32,
    pub default_v4: Option<PathDefault>,
    pub default_v6: Option<PathDefault>,
    pub addresses: Vec<IpAddr>,
    /// Mark (inside the layout's mask) that pins a socket or packet to this path.
    pub mark: u32,
}

/// How a class's traffic is picked out by rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Destination CIDRs only: one `to` rule per CIDR.
    Destinations(Vec<IpNet>),
    /// Anything richer: nftables sets this mark (inside the mask); one `fwmark` rule.
    Mark(u32),
    /// Everything else: a plain rule at the end of the range.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInput {
    pub name: String,
    pub table: u32,
    pub selector: Selector,
    /// Each family's route: the class table holds one default route per family, and the
    /// two may go different ways (IPv4 via cellular while IPv6 stays on Wi-Fi).
    pub route: PerFamily<ClassRoute>,
}

/// Everything the desired state is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingInputs {
    pub layout: Layout,
    pub paths: BTreeMap<PathId, PathInput>,
    /// Arc AllowedIPs plus configured extra CIDRs, routed `dev arc0` in the arc table.
    pub arc_routes: Vec<IpNet>,
    /// In config order; the `Default` selector must be last if present.
    pub classes: Vec<ClassInput>,
}

/// The rules and routes arcway wants, plus names of the links they use (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRouting {
    pub layout: Layout,
    pub objects: RoutingObjects,
    pub links: BTreeMap<u32, String>,
}

impl DesiredRouting {
    /// Nothing: used by teardown to plan the removal of everything arcway owns.
    pub fn empty(layout: Layout) -> DesiredRouting {
        DesiredRouting {
            layout,
            objects: RoutingObjects::default(),
            links: BTreeMap::new(),
        }
    }
}

/// Computes the desired rules and routes.
pub fn desired(inputs: &RoutingInputs) -> Result<DesiredRouting, RoutingError> {
    let layout = &inputs.layout;
    layout.validate(inputs.classes.len())?;
    let families = active_families(inputs);
    let mut objects = RoutingObjects::default();

    for (path, input) in &inputs.paths {
        let table = layout
            .path_table(*path)
            .ok_or_else(|| RoutingError::Layout(format!("no table for path {path}")))?;
        for family in &families {
            objects.add_route(Route::new(
                table,
                family.default_net(),
                path_default(*path, input, *family),
            ));
            let mut rule = Rule::lookup(*family, layout.mark_priority(*path), table);
            rule.fwmark = Some((input.mark, layout.fwmark_mask));
            objects.rules.insert(rule);
        }
        let source_addresses = input
            .addresses
            .iter()
            .filter(|a| source_worthy(a, &families));
        for addr in source_addresses {
            let mut rule = Rule::lookup(Family::of(*addr), layout.source_priority(), table);
            rule.src = Some(IpNet::from(*addr));
            objects.rules.insert(rule);
        }
        if *path == PathId::Arc {
            for net in &inputs.arc_routes {
                let kind = RouteKind::Unicast {
                    gateway: None,
                    oif: input.ifindex,
                };
                objects.add_route(Route::new(table, net.trunc(), kind));
            }
        }
    }
    for family in &families {
        let mut rule = Rule::lookup(*family, layout.suppress_priority(), 254);
        rule.suppress_prefixlen = Some(0);
        objects.rules.insert(rule);
    }
    for (index, class) in inputs.classes.iter().enumerate() {
        add_class(inputs, &families, index, class, &mut objects)?;
    }
    let links = inputs
        .paths
        .values()
        .map(|p| (p.ifindex, p.ifname.clone()))
        .collect();
    Ok(DesiredRouting {
        layout: layout.clone(),
        objects,
        links,
    })
}

/// IPv4 always; IPv6 wherever an uplink has an IPv6 default route.
fn active_families(inputs: &RoutingInputs) -> BTreeSet<Family> {
    let mut families = BTreeSet::from([Family::V4]);
    if inputs.paths.values().any(|p| p.default_v6.is_some()) {
        families.insert(Family::V6);
    }
    families
}

/// Link-local addresses are per link and never need a source rule.
fn source_worthy(addr: &IpAddr, families: &BTreeSet<Family>) -> bool {
    match addr {
        IpAddr::V4(a) => !a.is_link_local() && !a.is_unspecified(),
        IpAddr::V6(a) => {
            families.contains(&Family::V6)
                && (a.segments()[0] & 0xffc0) != 0xfe80
                && !a.is_unspecified()
        }
    }
}

/// The default route of a path table: the mirrored one, or `unreachable` so that traffic
/// pinned to a path that has no way out fails fast instead of leaking onto another path.
fn path_default(path: PathId, input: &PathInput, family: Family) -> RouteKind {
    let default = match (path, family) {
        (PathId::Arc, Family::V4) => Some(PathDefault { gateway: None }),
        (_, Family::V4) => input.default_v4,
        (_, Family::V6) => input.default_v6,
    };
    match default {
        Some(d) => RouteKind::Unicast {
            gateway: d.gateway,
            oif: input.ifindex,
        },
        None => RouteKind::Unreachable,
    }
}

fn add_class(
    inputs: &RoutingInputs,
    families: &BTreeSet<Family>,
    index: usize,
    class: &ClassInput,
    objects: &mut RoutingObjects,
) -> Result<(), RoutingError> {
    let layout = &inputs.layout;
    let is_last = index + 1 == inputs.classes.len();
    let mut class_families = BTreeSet::new();
    match &class.selector {
        Selector::Destinations(nets) => {
            for net in nets
                .iter()
                .filter(|n| families.contains(&Family::of_net(n)))
            {
                let family = Family::of_net(net);
                let mut rule = Rule::lookup(family, layout.class_priority(index), class.table);
                rule.dst = Some(net.trunc());
                objects.rules.insert(rule);
                class_families.insert(family);
            }
        }
        Selector::Mark(mark) => {
            for family in families {
                let mut rule = Rule::lookup(*family, layout.class_priority(index), class.table);
                rule.fwmark = Some((*mark, layout.fwmark_mask));
                objects.rules.insert(rule);
                class_families.insert(*family);
            }
        }
        Selector::Default if !is_last => {
            return Err(RoutingError::Layout(format!(
                "class {} matches everything but is not last",
                class.name
            )));
        }
        Selector::Default => {
            for family in families {
                let priority = layout.default_class_priority();
                objects
                    .rules
                    .insert(Rule::lookup(*family, priority, class.table));
                class_families.insert(*family);
            }
        }
    }
    for family in class_families {
        let kind = match *class.route.get(family) {
            ClassRoute::Via(path) => match inputs.paths.get(&path) {
                Some(input) => path_default(path, input, family),
                None => RouteKind::Unreachable,
            },
            ClassRoute::Held(_) => RouteKind::Prohibit,
            ClassRoute::Unreachable => RouteKind::Unreachable,
        };
        objects.add_route(Route::new(class.table, family.default_net(), kind));
    }
    Ok(())
}
