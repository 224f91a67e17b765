//! Conversions between arcway's rule/route model and route netlink messages.

use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{Family, Route, RouteKey, RouteKind, Rule};
use crate::rtnl::msg::{
    self, AF_INET, AF_INET6, FIB_RULE_INVERT, FR_ACT_TO_TBL, RT_SCOPE_LINK, RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE, RTN_BLACKHOLE, RTN_PROHIBIT, RTN_UNICAST, RTN_UNREACHABLE, RTPROT_STATIC,
    RouteHeader, RuleMsg,
};

pub(super) fn address_family(family: Family) -> u8 {
    match family {
        Family::V4 => AF_INET,
        Family::V6 => AF_INET6,
    }
}

fn family_of(af: u8) -> Option<Family> {
    match af {
        AF_INET => Some(Family::V4),
        AF_INET6 => Some(Family::V6),
        _ => None,
    }
}

fn net(addr: IpAddr, len: u8) -> Option<IpNet> {
    IpNet::new(addr, len).ok()
}

/// The message that adds (or deletes) `rule`. The action is always "to table": a rule with
/// the kernel's default action is accepted but makes every lookup fail.
pub fn rule_message(rule: &Rule) -> RuleMsg {
    let mut msg = RuleMsg {
        family: address_family(rule.family),
        action: FR_ACT_TO_TBL,
        table: rule.table,
        priority: Some(rule.priority),
        suppress_prefixlen: rule.suppress_prefixlen,
        ..RuleMsg::default()
    };
    if let Some(src) = rule.src {
        msg.src_len = src.prefix_len();
        msg.src = Some(src.addr());
    }
    if let Some(dst) = rule.dst {
        msg.dst_len = dst.prefix_len();
        msg.dst = Some(dst.addr());
    }
    if let Some((mark, mask)) = rule.fwmark {
        msg.fwmark = Some(mark);
        msg.fwmask = Some(mask);
    }
    msg
}

/// A dumped rule in arcway's model; `None` for families arcway does not manage.
pub fn parse_rule(msg: &RuleMsg) -> Option<Rule> {
    let family = family_of(msg.family)?;
    let mut rule = Rule::lookup(family, msg.priority.unwrap_or(0), msg.table);
    if msg.action != FR_ACT_TO_TBL {
        rule.other.push(format!("action {}", msg.action));
    }
    if msg.tos != 0 {
        rule.other.push(format!("tos {:#x}", msg.tos));
    }
    if msg.flags & FIB_RULE_INVERT != 0 {
        rule.other.push("not".into());
    }
    rule.src = msg.src.and_then(|a| net(a, msg.src_len));
    rule.dst = msg.dst.and_then(|a| net(a, msg.dst_len));
    // The kernel reports "not set" as all ones.
    rule.suppress_prefixlen = msg.suppress_prefixlen.filter(|len| *len != u32::MAX);
    if let Some(g) = msg.suppress_ifgroup.filter(|g| *g != u32::MAX) {
        rule.other.push(format!("suppress_ifgroup {g}"));
    }
    rule.other.extend(msg.others.iter().cloned());
    if msg.fwmark.is_some() || msg.fwmask.is_some() {
        rule.fwmark = Some((msg.fwmark.unwrap_or(0), msg.fwmask.unwrap_or(u32::MAX)));
    }
    Some(rule)
}

/// The message that adds or replaces `route`.
pub fn route_message(route: &Route) -> msg::Route {
    let mut msg = key_message(&route.key);
    msg.header.protocol = RTPROT_STATIC;
    msg.header.scope = RT_SCOPE_UNIVERSE;
    match &route.kind {
        RouteKind::Unicast { gateway, oif } => {
            msg.header.kind = RTN_UNICAST;
            match gateway {
                Some(gw) => msg.gateway = Some(*gw),
                None => msg.header.scope = RT_SCOPE_LINK,
            }
            msg.oif = Some(*oif);
        }
        RouteKind::Unreachable => msg.header.kind = RTN_UNREACHABLE,
        RouteKind::Prohibit => msg.header.kind = RTN_PROHIBIT,
        // Never planned for addition: such routes are only ever deleted.
        RouteKind::Other(_) => msg.header.kind = RTN_BLACKHOLE,
    }
    msg
}

/// The message that deletes the route with this key, whatever it points at.
pub fn route_delete_message(key: &RouteKey) -> msg::Route {
    let mut msg = key_message(key);
    msg.header.scope = RT_SCOPE_NOWHERE;
    msg
}

fn key_message(key: &RouteKey) -> msg::Route {
    msg::Route {
        header: RouteHeader {
            family: address_family(Family::of_net(&key.dst)),
            dst_len: key.dst.prefix_len(),
            ..RouteHeader::default()
        },
        table: key.table,
        dst: (key.dst.prefix_len() > 0).then(|| key.dst.addr()),
        priority: (key.metric != 0).then_some(key.metric),
        ..msg::Route::default()
    }
}

/// A dumped route in arcway's model; `None` for families arcway does not manage.
pub fn parse_route(msg: &msg::Route) -> Option<Route> {
    let family = family_of(msg.header.family)?;
    let dst = msg
        .dst
        .and_then(|a| net(a, msg.header.dst_len))
        .unwrap_or_else(|| family.default_net());
    let kind = match msg.header.kind {
        _ if msg.multipath.is_some() => RouteKind::Other("multipath".into()),
        _ if msg.header.tos != 0 || msg.header.src_len != 0 => {
            RouteKind::Other("tos or source".into())
        }
        RTN_UNICAST => RouteKind::Unicast {
            gateway: msg.gateway,
            oif: msg.oif.unwrap_or(0),
        },
        RTN_UNREACHABLE => RouteKind::Unreachable,
        RTN_PROHIBIT => RouteKind::Prohibit,
        other => RouteKind::Other(route_type_name(other)),
    };
    Some(Route {
        key: RouteKey {
            table: msg.table,
            dst,
            metric: msg.priority.unwrap_or(0),
        },
        kind,
    })
}

/// `ip route`'s names for the types arcway never adds.
fn route_type_name(kind: u8) -> String {
    match kind {
        0 => "unspec".into(),
        2 => "local".into(),
        3 => "broadcast".into(),
        4 => "anycast".into(),
        5 => "multicast".into(),
        6 => "blackhole".into(),
        9 => "throw".into(),
        10 => "nat".into(),
        11 => "xresolve".into(),
        other => format!("type {other}"),
    }
}
