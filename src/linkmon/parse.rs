//! Route netlink messages to table updates. Anything unexpected about a message we care
//! about becomes `Update::Resync`: a re-dump is cheap, a wrong picture of the uplink is not.

use std::net::IpAddr;

use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, State};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType, RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::snapshot::{AddrScope, DefaultRoute, Family, IfAddr, OperState};
use super::table::{LinkState, Update};
use crate::netlink::Notice;

/// Updates carried by one notification from the multicast socket.
pub(crate) fn parse_notice(notice: &Notice) -> Vec<Update> {
    match notice {
        Notice::Message(message) => parse_message(message),
        // Unreadable, or an error report: the kernel dropped something for us.
        Notice::Lost(_) => vec![Update::Resync],
    }
}

/// Updates carried by one link, address or route message.
pub(crate) fn parse_message(msg: &RouteNetlinkMessage) -> Vec<Update> {
    match msg {
        RouteNetlinkMessage::NewLink(m) => vec![link(m)],
        RouteNetlinkMessage::DelLink(m) => vec![Update::LinkGone(m.header.index)],
        RouteNetlinkMessage::NewAddress(m) => vec![address(m, Update::AddrAdd)],
        RouteNetlinkMessage::DelAddress(m) => vec![address(m, Update::AddrDel)],
        RouteNetlinkMessage::NewRoute(m) => default_routes(m, Update::RouteAdd),
        RouteNetlinkMessage::DelRoute(m) => default_routes(m, Update::RouteDel),
        _ => Vec::new(),
    }
}

fn link(m: &LinkMessage) -> Update {
    let mut name = None;
    let mut carrier = None;
    let mut oper = OperState::Unknown;
    for attr in &m.attributes {
        match attr {
            LinkAttribute::IfName(n) => name = Some(n.clone()),
            LinkAttribute::Carrier(c) => carrier = Some(*c != 0),
            LinkAttribute::OperState(s) => oper = oper_state(*s),
            _ => {}
        }
    }
    let Some(name) = name else {
        return Update::Resync;
    };
    let flags = m.header.flags;
    Update::Link(
        m.header.index,
        LinkState {
            name,
            admin_up: flags.contains(LinkFlags::Up),
            // Either one cleared is loss. cfg80211's wireless-extensions message and the
            // supplicant's operstate change arrive at once with IFF_LOWER_UP cleared, while
            // the kernel's own carrier message may wait for link watch (or never come).
            carrier: carrier.unwrap_or(true) && flags.contains(LinkFlags::LowerUp),
            oper,
        },
    )
}

fn oper_state(s: State) -> OperState {
    match s {
        State::Unknown => OperState::Unknown,
        State::NotPresent => OperState::NotPresent,
        State::Down => OperState::Down,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::Testing => OperState::Testing,
        State::Dormant => OperState::Dormant,
        State::Up => OperState::Up,
        State::Other(v) => OperState::Other(v),
        _ => OperState::Other(u8::MAX),
    }
}

fn address(m: &AddressMessage, make: fn(u32, IfAddr) -> Update) -> Update {
    // On point-to-point links IFA_ADDRESS is the peer and IFA_LOCAL our own address.
    let mut local = None;
    let mut address = None;
    for attr in &m.attributes {
        match attr {
            AddressAttribute::Local(a) => local = Some(*a),
            AddressAttribute::Address(a) => address = Some(*a),
            _ => {}
        }
    }
    let Some(addr) = local.or(address) else {
        return Update::Resync;
    };
    let scope = match m.header.scope {
        AddressScope::Universe => AddrScope::Global,
        AddressScope::Site => AddrScope::Site,
        AddressScope::Link => AddrScope::Link,
        AddressScope::Host => AddrScope::Host,
        AddressScope::Nowhere => AddrScope::Other(255),
        AddressScope::Other(v) => AddrScope::Other(v),
        _ => AddrScope::Other(0),
    };
    make(
        m.header.index,
        IfAddr {
            addr,
            prefix_len: m.header.prefix_len,
            scope,
        },
    )
}

/// Default unicast routes of the main table, one update per outgoing interface.
fn default_routes(m: &RouteMessage, make: fn(u32, DefaultRoute) -> Update) -> Vec<Update> {
    let h = &m.header;
    let family = match h.address_family {
        AddressFamily::Inet => Family::V4,
        AddressFamily::Inet6 => Family::V6,
        _ => return Vec::new(),
    };
    let mut table = u32::from(h.table);
    let mut oif = None;
    let mut gateway = None;
    let mut metric = 0;
    let mut hops = &[][..];
    for attr in &m.attributes {
        match attr {
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Priority(p) => metric = *p,
            RouteAttribute::MultiPath(nh) => hops = nh,
            other => gateway = gateway.or_else(|| next_hop(other)),
        }
    }
    if table != u32::from(RouteHeader::RT_TABLE_MAIN)
        || h.destination_prefix_length != 0
        || h.kind != RouteType::Unicast
    {
        return Vec::new();
    }
    let route = |gateway| DefaultRoute {
        family,
        metric,
        gateway,
    };
    if let Some(oif) = oif {
        return vec![make(oif, route(gateway))];
    }
    hops.iter()
        .map(|hop| {
            let gw = hop.attributes.iter().find_map(next_hop);
            make(hop.interface_index, route(gw))
        })
        .collect()
}

/// RTA_GATEWAY, or RTA_VIA for a next hop of the other family.
fn next_hop(attr: &RouteAttribute) -> Option<IpAddr> {
    match attr {
        RouteAttribute::Gateway(RouteAddress::Inet(v4)) => Some((*v4).into()),
        RouteAttribute::Gateway(RouteAddress::Inet6(v6)) => Some((*v6).into()),
        RouteAttribute::Via(RouteVia::Inet(v4)) => Some((*v4).into()),
        RouteAttribute::Via(RouteVia::Inet6(v6)) => Some((*v6).into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use netlink_packet_route::route::RouteNextHop;

    use super::*;

    fn link_msg(name: Option<&str>, flags: LinkFlags, carrier: Option<u8>) -> RouteNetlinkMessage {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = flags;
        m.attributes
            .extend(name.map(|n| LinkAttribute::IfName(n.into())));
        m.attributes.push(LinkAttribute::Mtu(1500));
        m.attributes.extend(carrier.map(LinkAttribute::Carrier));
        m.attributes.push(LinkAttribute::OperState(State::Down));
        RouteNetlinkMessage::NewLink(m)
    }

    #[test]
    fn links() {
        let up = LinkFlags::Up | LinkFlags::LowerUp;
        let [Update::Link(7, s)] = &parse_message(&link_msg(Some("w0"), up, Some(0)))[..] else {
            panic!()
        };
        assert_eq!(
            (s.name.as_str(), s.admin_up, s.carrier, s.oper),
            ("w0", true, false, OperState::Down)
        );
        let [Update::Link(7, s)] = &parse_message(&link_msg(Some("w0"), up, None))[..] else {
            panic!()
        };
        assert!(s.carrier);
        // IFF_LOWER_UP cleared while IFLA_CARRIER still says 1: lost.
        let [Update::Link(7, s)] =
            &parse_message(&link_msg(Some("w0"), LinkFlags::Up, Some(1)))[..]
        else {
            panic!()
        };
        assert!(s.admin_up && !s.carrier);
        let [Update::Link(7, s)] = &parse_message(&link_msg(Some("w0"), up, Some(1)))[..] else {
            panic!()
        };
        assert!(s.carrier);
        let [Update::Link(7, s)] =
            &parse_message(&link_msg(Some("w0"), LinkFlags::empty(), None))[..]
        else {
            panic!()
        };
        assert!(!s.admin_up && !s.carrier);
        assert_eq!(
            parse_message(&link_msg(None, up, None)),
            vec![Update::Resync]
        );
        let RouteNetlinkMessage::NewLink(m) = link_msg(Some("w0"), up, None) else {
            unreachable!()
        };
        assert_eq!(
            parse_message(&RouteNetlinkMessage::DelLink(m)),
            vec![Update::LinkGone(7)]
        );
        // Other message types are not ours.
        let rule = RouteNetlinkMessage::NewRule(Default::default());
        assert!(parse_message(&rule).is_empty());
    }

    /// A captured RTM_NEWLINK of a veth (ip monitor link), read by netlink-packet-route: the
    /// name, operstate and flags must come out right past the nested and padded attributes.
    #[test]
    fn captured_link_message() {
        let mut p = vec![0u8, 0, 1, 0];
        p.extend_from_slice(&12u32.to_ne_bytes());
        p.extend_from_slice(&0x11043u32.to_ne_bytes()); // UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
        p.extend_from_slice(&0u32.to_ne_bytes());
        let mut attr = |kind: u16, value: &[u8]| {
            p.extend_from_slice(&(4 + value.len() as u16).to_ne_bytes());
            p.extend_from_slice(&kind.to_ne_bytes());
            p.extend_from_slice(value);
            p.resize(p.len().next_multiple_of(4), 0);
        };
        attr(3, b"veth-w0\0"); // IFLA_IFNAME
        attr(13, &1000u32.to_ne_bytes()); // IFLA_TXQLEN
        attr(16, &[6]); // IFLA_OPERSTATE up
        attr(17, &[0]); // IFLA_LINKMODE
        attr(18, &[12, 0, 1, 0, b'v', b'e', b't', b'h', 0, 0, 0, 0]); // IFLA_LINKINFO kind veth
        attr(1, &[2, 0, 0, 0, 0, 1]); // IFLA_ADDRESS: 6 bytes, padded
        attr(33, &[1]); // IFLA_CARRIER
        let mut datagram = Vec::new();
        datagram.extend_from_slice(&(16 + p.len() as u32).to_ne_bytes());
        datagram.extend_from_slice(&16u16.to_ne_bytes()); // RTM_NEWLINK
        datagram.extend_from_slice(&[0; 10]);
        datagram.extend_from_slice(&p);
        let crate::netlink::Event::Notices(notices) = crate::netlink::notices(&datagram) else {
            panic!("not an overrun")
        };
        let [notice] = &notices[..] else {
            panic!("{notices:?}")
        };
        let [Update::Link(12, s)] = &parse_notice(notice)[..] else {
            panic!("{notice:?}")
        };
        assert_eq!(
            (s.name.as_str(), s.admin_up, s.carrier, s.oper),
            ("veth-w0", true, true, OperState::Up)
        );
    }

    #[test]
    fn addresses_prefer_local() {
        let mut m = AddressMessage::default();
        m.header.index = 4;
        m.header.prefix_len = 32;
        m.header.scope = AddressScope::Link;
        m.attributes
            .push(AddressAttribute::Address("192.0.2.1".parse().unwrap()));
        m.attributes
            .push(AddressAttribute::Local("192.0.2.2".parse().unwrap()));
        let got = parse_message(&RouteNetlinkMessage::DelAddress(m.clone()));
        let a = IfAddr {
            addr: "192.0.2.2".parse().unwrap(),
            prefix_len: 32,
            scope: AddrScope::Link,
        };
        assert_eq!(got, vec![Update::AddrDel(4, a)]);
        let v6: std::net::Ipv6Addr = "2001:db8::5".parse().unwrap();
        let mut m6 = AddressMessage::default();
        m6.header.family = AddressFamily::Inet6;
        m6.header.index = 4;
        m6.header.prefix_len = 64;
        m6.header.scope = AddressScope::Universe;
        m6.attributes.push(AddressAttribute::Address(v6.into()));
        let a = IfAddr {
            addr: v6.into(),
            prefix_len: 64,
            scope: AddrScope::Global,
        };
        assert_eq!(
            parse_message(&RouteNetlinkMessage::NewAddress(m6)),
            vec![Update::AddrAdd(4, a)]
        );
        m.attributes.clear();
        assert_eq!(
            parse_message(&RouteNetlinkMessage::NewAddress(m)),
            vec![Update::Resync]
        );
    }

    fn route(table: u8, prefix: u8) -> RouteMessage {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = table;
        m.header.kind = RouteType::Unicast;
        m.header.destination_prefix_length = prefix;
        m.attributes.push(RouteAttribute::Priority(700));
        m
    }

    #[test]
    fn main_table_defaults_only() {
        let mut m = route(254, 0);
        m.attributes.push(RouteAttribute::Oif(3));
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(
                "198.51.100.129".parse().unwrap(),
            )));
        let expected = DefaultRoute {
            family: Family::V4,
            metric: 700,
            gateway: Some("198.51.100.129".parse().unwrap()),
        };
        assert_eq!(
            parse_message(&RouteNetlinkMessage::NewRoute(m.clone())),
            vec![Update::RouteAdd(3, expected)]
        );
        assert_eq!(
            parse_message(&RouteNetlinkMessage::DelRoute(m.clone())),
            vec![Update::RouteDel(3, expected)]
        );
        // Table id beyond 255 lives in the attribute.
        let mut other = m.clone();
        other.attributes.push(RouteAttribute::Table(7102));
        assert!(parse_message(&RouteNetlinkMessage::NewRoute(other)).is_empty());
        let mut subnet = route(254, 24);
        subnet.attributes.push(RouteAttribute::Oif(3));
        assert!(parse_message(&RouteNetlinkMessage::NewRoute(subnet)).is_empty());
        // A device route (no gateway), an IPv4 default via an IPv6 next hop, a multipath one.
        let mut dev = route(254, 0);
        dev.attributes.push(RouteAttribute::Oif(5));
        let [Update::RouteAdd(5, r)] =
            &parse_message(&RouteNetlinkMessage::NewRoute(dev.clone()))[..]
        else {
            panic!()
        };
        assert_eq!(r.gateway, None);
        let mut via = dev;
        via.attributes.push(RouteAttribute::Via(RouteVia::Inet6(
            "fe80::1".parse().unwrap(),
        )));
        let [Update::RouteAdd(5, r)] = &parse_message(&RouteNetlinkMessage::NewRoute(via))[..]
        else {
            panic!()
        };
        assert_eq!(r.gateway, Some("fe80::1".parse().unwrap()));
        let mut multi = route(254, 0);
        let hop = |i, gw: &str| {
            let mut h = RouteNextHop::default();
            h.interface_index = i;
            h.attributes = vec![RouteAttribute::Gateway(RouteAddress::Inet(
                gw.parse().unwrap(),
            ))];
            h
        };
        multi.attributes.push(RouteAttribute::MultiPath(vec![
            hop(3, "192.0.2.1"),
            hop(4, "198.51.100.1"),
        ]));
        let got = parse_message(&RouteNetlinkMessage::NewRoute(multi));
        let gw = |s: &str| Some(s.parse().unwrap());
        assert!(matches!(
            &got[..],
            [Update::RouteAdd(3, a), Update::RouteAdd(4, b)]
                if a.gateway == gw("192.0.2.1") && b.gateway == gw("198.51.100.1")
        ));
    }

    #[test]
    fn lost_notices_mean_resync() {
        assert_eq!(
            parse_notice(&Notice::Lost("error report".into())),
            vec![Update::Resync]
        );
    }
}
