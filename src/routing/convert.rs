//! Conversions between arcway's rule/route model and rtnetlink messages.

use std::net::IpAddr;

use ipnet::IpNet;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::rule::{RuleAction, RuleAttribute, RuleFlags, RuleMessage};

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
    u8::try_from(table).unwrap_or(RouteHeader::RT_TABLE_UNSPEC)
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

/// A dumped rule in arcway's model; `None` for families arcway does not manage.
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
            RuleAttribute::SuppressPrefixLen(len) if *len != u32::MAX => {
                rule.suppress_prefixlen = Some(*len)
            }
            RuleAttribute::SuppressIfGroup(g) if *g != u32::MAX => {
                rule.other.push(format!("suppress_ifgroup {g}"))
            }
            RuleAttribute::SuppressPrefixLen(_)
            | RuleAttribute::SuppressIfGroup(_)
            | RuleAttribute::Protocol(_)
            | RuleAttribute::L3MDev(false)
            | RuleAttribute::Other(_) => {}
            other => rule.other.push(format!("{other:?}")),
        }
    }
    if mark.is_some() || mask.is_some() {
        rule.fwmark = Some((mark.unwrap_or(0), mask.unwrap_or(u32::MAX)));
    }
    Some(rule)
}

/// The message that adds or replaces `route`.
pub fn route_message(route: &Route) -> RouteMessage {
    let mut msg = key_message(&route.key);
    msg.header.protocol = RouteProtocol::Static;
    msg.header.scope = RouteScope::Universe;
    match &route.kind {
        RouteKind::Unicast { gateway, oif } => {
            msg.header.kind = RouteType::Unicast;
            match gateway {
                Some(gw) => msg
                    .attributes
                    .push(RouteAttribute::Gateway(RouteAddress::from(*gw))),
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

/// The message that deletes the route with this key, whatever it points at.
pub fn route_delete_message(key: &RouteKey) -> RouteMessage {
    let mut msg = key_message(key);
    msg.header.scope = RouteScope::NoWhere;
    msg
}

fn key_message(key: &RouteKey) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = address_family(Family::of_net(&key.dst));
    msg.header.destination_prefix_length = key.dst.prefix_len();
    msg.header.table = header_table(key.table);
    msg.attributes.push(RouteAttribute::Table(key.table));
    if key.dst.prefix_len() > 0 {
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(
                key.dst.addr(),
            )));
    }
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

/// A dumped route in arcway's model; `None` for families arcway does not manage.
pub fn parse_route(msg: &RouteMessage) -> Option<Route> {
    let family = family_of(msg.header.address_family)?;
    let mut table = u32::from(msg.header.table);
    let mut dst = family.default_net();
    let (mut metric, mut gateway, mut oif, mut multipath) = (0, None, 0, false);
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
            RouteAttribute::Oif(i) => oif = *i,
            RouteAttribute::MultiPath(_) => multipath = true,
            _ => {}
        }
    }
    let kind = match msg.header.kind {
        _ if multipath => RouteKind::Other("multipath".into()),
        _ if msg.header.tos != 0 || msg.header.source_prefix_length != 0 => {
            RouteKind::Other("tos or source".into())
        }
        RouteType::Unicast => RouteKind::Unicast { gateway, oif },
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Prohibit => RouteKind::Prohibit,
        other => RouteKind::Other(format!("{other:?}").to_lowercase()),
    };
    Some(Route {
        key: RouteKey { table, dst, metric },
        kind,
    })
}
