//! Netlink messages to table updates. Anything unexpected about a message we care about
//! becomes `Update::Resync`: a re-dump is cheap, a wrong picture of the uplink is not.

use crate::nfnetlink::{NLMSG_ERROR, error_code};
use crate::rtnl::msg::{
    self, AF_INET, AF_INET6, IFF_LOWER_UP, IFF_UP, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE,
    RT_SCOPE_SITE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE,
    RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTN_UNICAST,
};

use super::snapshot::{AddrScope, DefaultRoute, Family, IfAddr, OperState};
use super::table::{LinkState, Update};

/// Updates carried by one message (type, payload after the netlink header) from the
/// multicast socket.
pub(crate) fn parse_netlink(kind: u16, payload: &[u8]) -> Vec<Update> {
    match kind {
        // An error on a multicast socket means the kernel dropped something for us.
        NLMSG_ERROR if error_code(payload) != 0 => vec![Update::Resync],
        _ => parse_message(kind, payload),
    }
}

/// Updates carried by one link, address or route message; a message of one of those types
/// that is too short to read asks for a re-read.
pub(crate) fn parse_message(kind: u16, payload: &[u8]) -> Vec<Update> {
    let parsed = match kind {
        RTM_NEWLINK => msg::parse_link(payload).map(|m| vec![link(&m)]),
        RTM_DELLINK => msg::parse_link(payload).map(|m| vec![Update::LinkGone(m.index)]),
        RTM_NEWADDR => msg::parse_address(payload).map(|m| vec![address(&m, Update::AddrAdd)]),
        RTM_DELADDR => msg::parse_address(payload).map(|m| vec![address(&m, Update::AddrDel)]),
        RTM_NEWROUTE => msg::parse_route(payload).map(|m| default_routes(&m, Update::RouteAdd)),
        RTM_DELROUTE => msg::parse_route(payload).map(|m| default_routes(&m, Update::RouteDel)),
        _ => return Vec::new(),
    };
    parsed.unwrap_or_else(|| vec![Update::Resync])
}

fn link(m: &msg::Link) -> Update {
    let Some(name) = m.name.clone() else {
        return Update::Resync;
    };
    Update::Link(
        m.index,
        LinkState {
            name,
            admin_up: m.flags & IFF_UP != 0,
            carrier: m.carrier.map_or(m.flags & IFF_LOWER_UP != 0, |c| c != 0),
            oper: m.operstate.map_or(OperState::Unknown, oper_state),
        },
    )
}

/// IF_OPER_* of linux/if.h.
fn oper_state(s: u8) -> OperState {
    match s {
        0 => OperState::Unknown,
        1 => OperState::NotPresent,
        2 => OperState::Down,
        3 => OperState::LowerLayerDown,
        4 => OperState::Testing,
        5 => OperState::Dormant,
        6 => OperState::Up,
        v => OperState::Other(v),
    }
}

fn address(m: &msg::Address, make: fn(u32, IfAddr) -> Update) -> Update {
    // On point-to-point links IFA_ADDRESS is the peer and IFA_LOCAL our own address.
    let Some(addr) = m.local.or(m.address) else {
        return Update::Resync;
    };
    let scope = match m.scope {
        RT_SCOPE_UNIVERSE => AddrScope::Global,
        RT_SCOPE_SITE => AddrScope::Site,
        RT_SCOPE_LINK => AddrScope::Link,
        RT_SCOPE_HOST => AddrScope::Host,
        RT_SCOPE_NOWHERE => AddrScope::Other(255),
        v => AddrScope::Other(v),
    };
    make(
        m.index,
        IfAddr {
            addr,
            prefix_len: m.prefix_len,
            scope,
        },
    )
}

/// Default unicast routes of the main table, one update per outgoing interface.
fn default_routes(m: &msg::Route, make: fn(u32, DefaultRoute) -> Update) -> Vec<Update> {
    let h = &m.header;
    let family = match h.family {
        AF_INET => Family::V4,
        AF_INET6 => Family::V6,
        _ => return Vec::new(),
    };
    if m.table != u32::from(RT_TABLE_MAIN) || h.dst_len != 0 || h.kind != RTN_UNICAST {
        return Vec::new();
    }
    let route = |gateway| DefaultRoute {
        family,
        metric: m.priority.unwrap_or(0),
        gateway,
    };
    if let Some(oif) = m.oif {
        return vec![make(oif, route(m.gateway))];
    }
    m.multipath
        .iter()
        .flatten()
        .map(|(index, gw)| make(*index, route(*gw)))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::nfnetlink::{attr, attr_str, nest};

    use super::*;

    /// An RTM_NEWLINK payload as the kernel sends it: ifinfomsg, then attributes.
    fn link_msg(name: Option<&str>, flags: u32, carrier: Option<u8>) -> Vec<u8> {
        let mut p = vec![0, 0, 1, 0];
        p.extend_from_slice(&7u32.to_ne_bytes());
        p.extend_from_slice(&flags.to_ne_bytes());
        p.extend_from_slice(&0u32.to_ne_bytes());
        if let Some(n) = name {
            attr_str(&mut p, 3, n);
        }
        attr(&mut p, 4, &1500u32.to_ne_bytes());
        if let Some(c) = carrier {
            attr(&mut p, 33, &[c]);
        }
        // IFLA_OPERSTATE: down (one byte, padded to four).
        attr(&mut p, 16, &[2]);
        p
    }

    #[test]
    fn links() {
        let up = IFF_UP | IFF_LOWER_UP;
        let [Update::Link(7, s)] =
            &parse_message(RTM_NEWLINK, &link_msg(Some("w0"), up, Some(0)))[..]
        else {
            panic!()
        };
        assert_eq!(
            (s.name.as_str(), s.admin_up, s.carrier, s.oper),
            ("w0", true, false, OperState::Down)
        );
        let [Update::Link(7, s)] = &parse_message(RTM_NEWLINK, &link_msg(Some("w0"), up, None))[..]
        else {
            panic!()
        };
        assert!(s.carrier);
        let [Update::Link(7, s)] = &parse_message(RTM_NEWLINK, &link_msg(Some("w0"), 0, None))[..]
        else {
            panic!()
        };
        assert!(!s.admin_up && !s.carrier);
        assert_eq!(
            parse_message(RTM_NEWLINK, &link_msg(None, up, None)),
            vec![Update::Resync]
        );
        assert_eq!(
            parse_message(RTM_DELLINK, &link_msg(Some("w0"), 0, None)),
            vec![Update::LinkGone(7)]
        );
        // Too short for ifinfomsg.
        assert_eq!(parse_message(RTM_NEWLINK, &[0; 8]), vec![Update::Resync]);
        // Other message types are not ours.
        assert!(parse_message(msg::RTM_NEWRULE, &[0; 12]).is_empty());
    }

    /// A captured RTM_NEWLINK of a veth (ip monitor link): the name, operstate and the
    /// flags must come out right past the nested and padded attributes before them.
    #[test]
    fn captured_link_message() {
        let mut p = vec![0, 0, 1, 0];
        p.extend_from_slice(&12u32.to_ne_bytes());
        p.extend_from_slice(&0x11043u32.to_ne_bytes()); // UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
        p.extend_from_slice(&0u32.to_ne_bytes());
        attr_str(&mut p, 3, "veth-w0"); // 8 bytes + NUL: padded
        attr(&mut p, 13, &1000u32.to_ne_bytes()); // IFLA_TXQLEN
        attr(&mut p, 16, &[6]); // IFLA_OPERSTATE up
        attr(&mut p, 17, &[0]); // IFLA_LINKMODE
        nest(&mut p, 18, |b| attr(b, 1, b"veth")); // IFLA_LINKINFO
        attr(&mut p, 1, &[2, 0, 0, 0, 0, 1]); // IFLA_ADDRESS: 6 bytes, padded
        attr(&mut p, 33, &[1]);
        let [Update::Link(12, s)] = &parse_message(RTM_NEWLINK, &p)[..] else {
            panic!()
        };
        assert_eq!(
            (s.name.as_str(), s.admin_up, s.carrier, s.oper),
            ("veth-w0", true, true, OperState::Up)
        );
    }

    fn addr_msg(family: u8, prefix: u8, scope: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = vec![family, prefix, 0, scope];
        p.extend_from_slice(&4u32.to_ne_bytes());
        for (k, v) in attrs {
            attr(&mut p, *k, v);
        }
        p
    }

    #[test]
    fn addresses_prefer_local() {
        let m = addr_msg(
            AF_INET,
            32,
            RT_SCOPE_LINK,
            &[(1, &[192, 0, 2, 1]), (2, &[192, 0, 2, 2])],
        );
        let a = IfAddr {
            addr: "192.0.2.2".parse().unwrap(),
            prefix_len: 32,
            scope: AddrScope::Link,
        };
        assert_eq!(parse_message(RTM_DELADDR, &m), vec![Update::AddrDel(4, a)]);
        let v6: std::net::Ipv6Addr = "2001:db8::5".parse().unwrap();
        let m = addr_msg(AF_INET6, 64, RT_SCOPE_UNIVERSE, &[(1, &v6.octets())]);
        let a = IfAddr {
            addr: v6.into(),
            prefix_len: 64,
            scope: AddrScope::Global,
        };
        assert_eq!(parse_message(RTM_NEWADDR, &m), vec![Update::AddrAdd(4, a)]);
        let m = addr_msg(AF_INET, 32, 0, &[]);
        assert_eq!(parse_message(RTM_NEWADDR, &m), vec![Update::Resync]);
    }

    fn route(table: u8, prefix: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut p = vec![AF_INET, prefix, 0, 0, table, 3, 0, RTN_UNICAST];
        p.extend_from_slice(&0u32.to_ne_bytes());
        attr(&mut p, 6, &700u32.to_ne_bytes());
        for (k, v) in attrs {
            attr(&mut p, *k, v);
        }
        p
    }

    #[test]
    fn main_table_defaults_only() {
        let oif3 = 3u32.to_ne_bytes();
        let m = route(254, 0, &[(4, &oif3), (5, &[198, 51, 100, 129])]);
        let expected = DefaultRoute {
            family: Family::V4,
            metric: 700,
            gateway: Some("198.51.100.129".parse().unwrap()),
        };
        assert_eq!(
            parse_message(RTM_NEWROUTE, &m),
            vec![Update::RouteAdd(3, expected)]
        );
        assert_eq!(
            parse_message(RTM_DELROUTE, &m),
            vec![Update::RouteDel(3, expected)]
        );
        // Table id beyond 255 lives in the attribute.
        let other = route(254, 0, &[(4, &oif3), (15, &7102u32.to_ne_bytes())]);
        assert!(parse_message(RTM_NEWROUTE, &other).is_empty());
        let subnet = route(254, 24, &[(4, &oif3), (1, &[192, 0, 2, 0])]);
        assert!(parse_message(RTM_NEWROUTE, &subnet).is_empty());
        // A device route (no gateway) and a multipath default.
        let dev = route(254, 0, &[(4, &5u32.to_ne_bytes())]);
        let [Update::RouteAdd(5, r)] = &parse_message(RTM_NEWROUTE, &dev)[..] else {
            panic!()
        };
        assert_eq!(r.gateway, None);
        let mut hops = Vec::new();
        for (index, gw) in [(3u32, [192, 0, 2, 1]), (4, [198, 51, 100, 1])] {
            // rtnexthop: len, flags, hops, ifindex; then RTA_GATEWAY.
            hops.extend_from_slice(&16u16.to_ne_bytes());
            hops.extend_from_slice(&[0, 0]);
            hops.extend_from_slice(&index.to_ne_bytes());
            attr(&mut hops, 5, &gw);
        }
        let multi = route(254, 0, &[(9, &hops)]);
        let got = parse_message(RTM_NEWROUTE, &multi);
        let gw = |s: &str| Some(s.parse().unwrap());
        assert!(matches!(
            &got[..],
            [Update::RouteAdd(3, a), Update::RouteAdd(4, b)]
                if a.gateway == gw("192.0.2.1") && b.gateway == gw("198.51.100.1")
        ));
    }

    #[test]
    fn errors_mean_resync() {
        assert_eq!(
            parse_netlink(NLMSG_ERROR, &(-105i32).to_ne_bytes()),
            vec![Update::Resync]
        );
        assert!(parse_netlink(NLMSG_ERROR, &0i32.to_ne_bytes()).is_empty());
    }
}
