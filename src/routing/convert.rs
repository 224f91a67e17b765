//! Conversions between arcway's rule/route model and netlink-packet-route's messages.

use std::net::IpAddr;

use ipnet::IpNet;
use netlink_packet_route::AddressFamily;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType, RouteVia,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};

use super::model::{Family, Route, RouteKey, RouteKind, Rule};

pub(super) fn address_family(family: Family) -> AddressFamily {
    match family {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

fn family_of(af: AddressFamily) -> Option<Family> {
    match af {
        AddressFamily::Inet => Some(Family::V4),
        AddressFamily::Inet6 => Some(Family::V6),
        _ => None,
    }
}

/// The header's 8-bit table field only holds small ids; larger ones travel in an attribute.
fn header_table(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(0)
}

fn net(addr: IpAddr, len: u8) -> Option<IpNet> {
    IpNet::new(addr, len).ok()
}

/// The message that adds (or deletes) `rule`. The action is always "to table": a rule with
/// the kernel's default action is accepted but makes every lookup fail.
pub fn rule_message(rule: &Rule) -> RuleMessage {
    let mut msg = RuleMessage::default();
    msg.header.family = address_family(rule.family);
    msg.header.action = RuleAction::ToTable;
    msg.header.table = header_table(rule.table);
    let attrs = &mut msg.attributes;
    attrs.push(RuleAttribute::Priority(rule.priority));
    attrs.push(RuleAttribute::Table(rule.table));
    if let Some(src) = rule.src {
        msg.header.src_len = src.prefix_len();
        attrs.push(RuleAttribute::Source(src.addr()));
    }
    if let Some(dst) = rule.dst {
        msg.header.dst_len = dst.prefix_len();
        attrs.push(RuleAttribute::Destination(dst.addr()));
    }
    if let Some((mark, mask)) = rule.fwmark {
        attrs.push(RuleAttribute::FwMark(mark));
        attrs.push(RuleAttribute::FwMask(mask));
    }
    if let Some(len) = rule.suppress_prefixlen {
        attrs.push(RuleAttribute::SuppressPrefixLen(len));
    }
    msg
}

/// A dumped rule in arcway's model; `None` for families arcway does not manage. Selectors
/// and actions arcway never sets land in `other`, so such a rule never passes for one of
/// arcway's.
pub fn parse_rule(msg: &RuleMessage) -> Option<Rule> {
    let family = family_of(msg.header.family)?;
    let mut rule = Rule::lookup(family, 0, u32::from(msg.header.table));
    let (mut mark, mut mask) = (None, None);
    if msg.header.action != RuleAction::ToTable {
        rule.other.push(format!("action {:?}", msg.header.action));
    }
    if msg.header.tos != 0 {
        rule.other.push(format!("tos {:#x}", msg.header.tos));
    }
    if msg.header.flags.contains(RuleFlags::Invert) {
        rule.other.push("not".into());
    }
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Priority(p) => rule.priority = *p,
            RuleAttribute::Table(t) => rule.table = *t,
            RuleAttribute::Source(a) => rule.src = net(*a, msg.header.src_len),
            RuleAttribute::Destination(a) => rule.dst = net(*a, msg.header.dst_len),
            RuleAttribute::FwMark(m) => mark = Some(*m),
            RuleAttribute::FwMask(m) => mask = Some(*m),
            // The kernel reports "not set" as all ones.
            RuleAttribute::SuppressPrefixLen(len) if *len != u32::MAX => {
                rule.suppress_prefixlen = Some(*len)
            }
            RuleAttribute::SuppressIfGroup(g) if *g != u32::MAX => {
                rule.other.push(format!("suppress_ifgroup {g}"))
            }
            // Neither selects traffic: who added the rule, alignment.
            RuleAttribute::SuppressPrefixLen(_)
            | RuleAttribute::SuppressIfGroup(_)
            | RuleAttribute::Protocol(_)
            | RuleAttribute::L3MDev(false) => {}
            RuleAttribute::Iifname(name) => rule.other.push(format!("iif {name}")),
            RuleAttribute::Oifname(name) => rule.other.push(format!("oif {name}")),
            RuleAttribute::Goto(target) => rule.other.push(format!("goto {target}")),
            RuleAttribute::L3MDev(true) => rule.other.push("l3mdev".into()),
            other => rule.other.push(format!("{other:?}")),
        }
    }
    if mark.is_some() || mask.is_some() {
        rule.fwmark = Some((mark.unwrap_or(0), mask.unwrap_or(u32::MAX)));
    }
    Some(rule)
}

/// The message that adds or replaces `route`. A gateway of the other family (an IPv4 route
/// via an IPv6 next hop) travels in RTA_VIA.
pub fn route_message(route: &Route) -> RouteMessage {
    let mut msg = key_message(&route.key);
    msg.header.protocol = RouteProtocol::Static;
    msg.header.scope = RouteScope::Universe;
    match &route.kind {
        RouteKind::Unicast { gateway, oif } => {
            msg.header.kind = RouteType::Unicast;
            match gateway {
                Some(gw) => msg.attributes.push(gateway_attribute(route.family(), *gw)),
                None => msg.header.scope = RouteScope::Link,
            }
            msg.attributes.push(RouteAttribute::Oif(*oif));
        }
        RouteKind::Unreachable => msg.header.kind = RouteType::Unreachable,
        RouteKind::Prohibit => msg.header.kind = RouteType::Prohibit,
        // Never planned for addition: such routes are only ever deleted.
        RouteKind::Other(_) => msg.header.kind = RouteType::BlackHole,
    }
    msg
}

fn gateway_attribute(family: Family, gateway: IpAddr) -> RouteAttribute {
    match (family, gateway) {
        (Family::V4, IpAddr::V6(v6)) => RouteAttribute::Via(RouteVia::Inet6(v6)),
        (Family::V6, IpAddr::V4(v4)) => RouteAttribute::Via(RouteVia::Inet(v4)),
        (_, gw) => RouteAttribute::Gateway(RouteAddress::from(gw)),
    }
}

/// The message that deletes the route with this key, whatever it points at.
pub fn route_delete_message(key: &RouteKey) -> RouteMessage {
    let mut msg = key_message(key);
    msg.header.scope = RouteScope::NoWhere;
    msg.header.protocol = RouteProtocol::Unspec;
    msg.header.kind = RouteType::Unspec;
    msg
}

/// A dump request for `family`'s routes in `table` (filtered by the kernel on a strict
/// connection).
pub fn route_dump_message(family: Family, table: u32) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = address_family(family);
    msg.header.table = header_table(table);
    msg.attributes.push(RouteAttribute::Table(table));
    msg
}

fn key_message(key: &RouteKey) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = address_family(Family::of_net(&key.dst));
    msg.header.destination_prefix_length = key.dst.prefix_len();
    msg.header.table = header_table(key.table);
    if key.dst.prefix_len() > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                key.dst.addr(),
            )));
    }
    // Always in the attribute too: the header alone cannot name tables above 255.
    msg.attributes.push(RouteAttribute::Table(key.table));
    if key.metric != 0 {
        msg.attributes.push(RouteAttribute::Priority(key.metric));
    }
    msg
}

fn route_addr(addr: &RouteAddress) -> Option<IpAddr> {
    match addr {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

fn via_addr(via: &RouteVia) -> Option<IpAddr> {
    match via {
        RouteVia::Inet(a) => Some(IpAddr::V4(*a)),
        RouteVia::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// A dumped route in arcway's model; `None` for families arcway does not manage. What
/// arcway never sets (a preferred source, a nexthop object, metrics, a source prefix, TOS,
/// multipath) makes the route `Other`, so it never equals a desired route and is replaced.
pub fn parse_route(msg: &RouteMessage) -> Option<Route> {
    let family = family_of(msg.header.address_family)?;
    let mut table = u32::from(msg.header.table);
    let mut dst = family.default_net();
    let (mut metric, mut gateway, mut oif) = (0, None, 0);
    let mut foreign = Vec::new();
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Destination(a) => {
                if let Some(n) =
                    route_addr(a).and_then(|a| net(a, msg.header.destination_prefix_length))
                {
                    dst = n;
                }
            }
            RouteAttribute::Priority(m) => metric = *m,
            RouteAttribute::Gateway(a) => gateway = route_addr(a),
            RouteAttribute::Via(v) => gateway = via_addr(v),
            RouteAttribute::Oif(i) => oif = *i,
            RouteAttribute::PrefSource(a) => match route_addr(a) {
                Some(a) => foreign.push(format!("src {a}")),
                None => foreign.push("src".into()),
            },
            RouteAttribute::NhId(id) => foreign.push(format!("nhid {id}")),
            RouteAttribute::Metrics(m) if !m.is_empty() => foreign.push(format!("metrics {m:?}")),
            RouteAttribute::MultiPath(_) => foreign.push("multipath".into()),
            RouteAttribute::Encap(_) => foreign.push("encap".into()),
            RouteAttribute::Mark(m) => foreign.push(format!("mark {m:#x}")),
            _ => {}
        }
    }
    if msg.header.tos != 0 || msg.header.source_prefix_length != 0 {
        foreign.push("tos or source".into());
    }
    let kind = match msg.header.kind {
        RouteType::Unicast if foreign.is_empty() => RouteKind::Unicast { gateway, oif },
        RouteType::Unreachable if foreign.is_empty() => RouteKind::Unreachable,
        RouteType::Prohibit if foreign.is_empty() => RouteKind::Prohibit,
        kind => {
            let mut what = vec![format!("{kind:?}").to_lowercase()];
            if let Some(gw) = gateway {
                what.push(format!("via {gw}"));
            }
            if oif != 0 {
                what.push(format!("oif {oif}"));
            }
            what.extend(foreign);
            RouteKind::Other(what.join(" "))
        }
    };
    Some(Route {
        key: RouteKey { table, dst, metric },
        kind,
    })
}
