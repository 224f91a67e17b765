//! Route netlink messages: the fixed headers and attributes of links, addresses, routes and
//! rules that arcway builds or reads (linux/include/uapi/linux/{rtnetlink,if_link,if_addr,
//! fib_rules}.h). Anything not listed here is skipped when parsing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::nfnetlink::{attr, attr_str, attrs, finish, nest, nlmsg_header, str_value};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_SETLINK: u16 = 19;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_DELRULE: u16 = 33;
pub const RTM_GETRULE: u16 = 34;

pub use crate::nfnetlink::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

pub const AF_INET: u8 = libc::AF_INET as u8;
pub const AF_INET6: u8 = libc::AF_INET6 as u8;

pub const IFF_UP: u32 = 0x1;
pub const IFF_LOWER_UP: u32 = 0x10000;

const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_CARRIER: u16 = 33;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;

pub const RT_TABLE_UNSPEC: u8 = 0;
pub const RT_TABLE_MAIN: u8 = 254;
pub const RTPROT_STATIC: u8 = 4;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_SITE: u8 = 200;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_HOST: u8 = 254;
pub const RT_SCOPE_NOWHERE: u8 = 255;
pub const RTN_UNICAST: u8 = 1;
pub const RTN_BLACKHOLE: u8 = 6;
pub const RTN_UNREACHABLE: u8 = 7;
pub const RTN_PROHIBIT: u8 = 8;

const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;

pub const FR_ACT_TO_TBL: u8 = 1;
pub const FIB_RULE_INVERT: u32 = 0x2;
const FRA_DST: u16 = 1;
const FRA_SRC: u16 = 2;
const FRA_PRIORITY: u16 = 6;
const FRA_FWMARK: u16 = 10;
const FRA_SUPPRESS_IFGROUP: u16 = 13;
const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
const FRA_TABLE: u16 = 15;
const FRA_FWMASK: u16 = 16;
const FRA_PAD: u16 = 18;
const FRA_L3MDEV: u16 = 19;
const FRA_PROTOCOL: u16 = 21;

/// Starts a route netlink message; the sequence number is set when it is sent.
fn start(kind: u16, flags: u16) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    nlmsg_header(&mut buf, kind, flags, 0);
    buf
}

fn ip_bytes(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

fn family_of(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => AF_INET,
        IpAddr::V6(_) => AF_INET6,
    }
}

/// An address attribute's payload read for `family`; `None` if the length does not fit.
pub fn parse_ip(family: u8, p: &[u8]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(p).ok()?))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(p).ok()?))),
        _ => None,
    }
}

fn u32_of(p: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(p.get(..4)?.try_into().ok()?))
}

fn u32_attr(buf: &mut Vec<u8>, kind: u16, value: u32) {
    attr(buf, kind, &value.to_ne_bytes());
}

// ---- links ----

/// ifinfomsg: family, pad, type, index, flags, change.
fn ifinfomsg(buf: &mut Vec<u8>, index: u32, flags: u32, change: u32) {
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(&index.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&change.to_ne_bytes());
}
const IFINFOMSG_LEN: usize = 16;

/// Asks for one link by name (the kernel answers ENODEV when there is none).
pub fn get_link_by_name(name: &str) -> Vec<u8> {
    let mut buf = start(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK);
    ifinfomsg(&mut buf, 0, 0, 0);
    attr_str(&mut buf, IFLA_IFNAME, name);
    finish(buf)
}

pub fn dump_links() -> Vec<u8> {
    let mut buf = start(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
    ifinfomsg(&mut buf, 0, 0, 0);
    finish(buf)
}

/// Creates a link of `kind` (e.g. "wireguard"); EEXIST when the name is taken.
pub fn new_link(name: &str, kind: &str) -> Vec<u8> {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    let mut buf = start(RTM_NEWLINK, flags);
    ifinfomsg(&mut buf, 0, 0, 0);
    attr_str(&mut buf, IFLA_IFNAME, name);
    nest(&mut buf, IFLA_LINKINFO, |b| {
        attr(b, IFLA_INFO_KIND, kind.as_bytes())
    });
    finish(buf)
}

/// Brings link `index` up, with a new MTU if given.
pub fn set_link_up(index: u32, mtu: Option<u32>) -> Vec<u8> {
    let mut buf = start(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
    ifinfomsg(&mut buf, index, IFF_UP, IFF_UP);
    if let Some(mtu) = mtu {
        u32_attr(&mut buf, IFLA_MTU, mtu);
    }
    finish(buf)
}

pub fn del_link(index: u32) -> Vec<u8> {
    let mut buf = start(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
    ifinfomsg(&mut buf, index, 0, 0);
    finish(buf)
}

/// What arcway reads of an RTM_NEWLINK/RTM_DELLINK message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub flags: u32,
    pub name: Option<String>,
    pub carrier: Option<u8>,
    pub operstate: Option<u8>,
}

pub fn parse_link(payload: &[u8]) -> Option<Link> {
    let head = payload.get(..IFINFOMSG_LEN)?;
    let mut link = Link {
        index: u32_of(&head[4..8])?,
        flags: u32_of(&head[8..12])?,
        ..Link::default()
    };
    for (kind, p) in attrs(&payload[IFINFOMSG_LEN..]) {
        match kind {
            IFLA_IFNAME => link.name = str_value(p).map(str::to_owned),
            IFLA_CARRIER => link.carrier = p.first().copied(),
            IFLA_OPERSTATE => link.operstate = p.first().copied(),
            _ => {}
        }
    }
    Some(link)
}

// ---- addresses ----

/// ifaddrmsg: family, prefixlen, flags, scope, index.
fn ifaddrmsg(buf: &mut Vec<u8>, family: u8, prefix_len: u8, scope: u8, index: u32) {
    buf.extend_from_slice(&[family, prefix_len, 0, scope]);
    buf.extend_from_slice(&index.to_ne_bytes());
}
const IFADDRMSG_LEN: usize = 8;

pub fn dump_addresses() -> Vec<u8> {
    let mut buf = start(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP);
    ifaddrmsg(&mut buf, 0, 0, 0, 0);
    finish(buf)
}

/// Adds or replaces `local/prefix_len` on link `index`; `peer` (point-to-point) goes into
/// IFA_ADDRESS instead of the local address. IPv4 prefixes shorter than /31 get their
/// broadcast address, as `ip addr add` would.
pub fn add_address(index: u32, local: IpAddr, prefix_len: u8, peer: Option<IpAddr>) -> Vec<u8> {
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    let mut buf = start(RTM_NEWADDR, flags);
    ifaddrmsg(&mut buf, family_of(local), prefix_len, 0, index);
    attr(&mut buf, IFA_ADDRESS, &ip_bytes(peer.unwrap_or(local)));
    attr(&mut buf, IFA_LOCAL, &ip_bytes(local));
    if let IpAddr::V4(a) = local
        && prefix_len < 31
    {
        let brd = Ipv4Addr::from(u32::MAX >> prefix_len | u32::from(a));
        attr(&mut buf, IFA_BROADCAST, &brd.octets());
    }
    finish(buf)
}

/// Deletes the address exactly as the kernel reported it.
pub fn del_address(a: &Address) -> Vec<u8> {
    let mut buf = start(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK);
    ifaddrmsg(&mut buf, a.family, a.prefix_len, a.scope, a.index);
    if let Some(addr) = a.address {
        attr(&mut buf, IFA_ADDRESS, &ip_bytes(addr));
    }
    if let Some(local) = a.local {
        attr(&mut buf, IFA_LOCAL, &ip_bytes(local));
    }
    finish(buf)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub family: u8,
    pub prefix_len: u8,
    pub scope: u8,
    pub index: u32,
    pub local: Option<IpAddr>,
    /// The peer on point-to-point links, otherwise the same as `local`.
    pub address: Option<IpAddr>,
}

pub fn parse_address(payload: &[u8]) -> Option<Address> {
    let head = payload.get(..IFADDRMSG_LEN)?;
    let mut a = Address {
        family: head[0],
        prefix_len: head[1],
        scope: head[3],
        index: u32_of(&head[4..8])?,
        local: None,
        address: None,
    };
    for (kind, p) in attrs(&payload[IFADDRMSG_LEN..]) {
        match kind {
            IFA_LOCAL => a.local = parse_ip(a.family, p),
            IFA_ADDRESS => a.address = parse_ip(a.family, p),
            _ => {}
        }
    }
    Some(a)
}

// ---- routes ----

/// The rtmsg header fields; a route's table id is `Route::table` (RTA_TABLE wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouteHeader {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    pub protocol: u8,
    pub scope: u8,
    pub kind: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Route {
    pub header: RouteHeader,
    pub table: u32,
    pub dst: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
    pub oif: Option<u32>,
    pub priority: Option<u32>,
    /// RTA_MULTIPATH next hops: (ifindex, gateway).
    pub multipath: Option<Vec<(u32, Option<IpAddr>)>>,
}

/// The header's 8-bit table field only holds small ids; larger ones travel in RTA_TABLE.
fn header_table(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(RT_TABLE_UNSPEC)
}

fn rtmsg(buf: &mut Vec<u8>, h: &RouteHeader, table: u32) {
    buf.extend_from_slice(&[
        h.family,
        h.dst_len,
        h.src_len,
        h.tos,
        header_table(table),
        h.protocol,
        h.scope,
        h.kind,
    ]);
    buf.extend_from_slice(&0u32.to_ne_bytes());
}
const RTMSG_LEN: usize = 12;

/// A dump of `family`'s routes; on a strict-check socket only those of `table`.
pub fn dump_routes(family: u8, table: Option<u32>) -> Vec<u8> {
    let mut buf = start(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP);
    let h = RouteHeader {
        family,
        ..RouteHeader::default()
    };
    rtmsg(&mut buf, &h, table.unwrap_or(0));
    if let Some(t) = table {
        u32_attr(&mut buf, RTA_TABLE, t);
    }
    finish(buf)
}

/// RTM_NEWROUTE (`replace`: create or replace) or RTM_DELROUTE for `route`, which always
/// names its table in RTA_TABLE. A destination of prefix length 0 is left out.
pub fn route_request(route: &Route, delete: bool) -> Vec<u8> {
    let mut buf = if delete {
        start(RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK)
    } else {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        start(RTM_NEWROUTE, flags)
    };
    rtmsg(&mut buf, &route.header, route.table);
    u32_attr(&mut buf, RTA_TABLE, route.table);
    if let Some(dst) = route.dst {
        attr(&mut buf, RTA_DST, &ip_bytes(dst));
    }
    if let Some(m) = route.priority {
        u32_attr(&mut buf, RTA_PRIORITY, m);
    }
    if let Some(gw) = route.gateway {
        attr(&mut buf, RTA_GATEWAY, &ip_bytes(gw));
    }
    if let Some(oif) = route.oif {
        u32_attr(&mut buf, RTA_OIF, oif);
    }
    finish(buf)
}

pub fn parse_route(payload: &[u8]) -> Option<Route> {
    let head = payload.get(..RTMSG_LEN)?;
    let header = RouteHeader {
        family: head[0],
        dst_len: head[1],
        src_len: head[2],
        tos: head[3],
        protocol: head[5],
        scope: head[6],
        kind: head[7],
    };
    let mut route = Route {
        header,
        table: u32::from(head[4]),
        ..Route::default()
    };
    let family = header.family;
    for (kind, p) in attrs(&payload[RTMSG_LEN..]) {
        match kind {
            RTA_TABLE => route.table = u32_of(p)?,
            RTA_DST => route.dst = parse_ip(family, p),
            RTA_GATEWAY => route.gateway = parse_ip(family, p),
            RTA_OIF => route.oif = u32_of(p),
            RTA_PRIORITY => route.priority = u32_of(p),
            RTA_MULTIPATH => route.multipath = Some(next_hops(family, p)),
            _ => {}
        }
    }
    Some(route)
}

/// rtnexthop records: length (u16), flags, hops, ifindex (i32), then attributes.
fn next_hops(family: u8, mut data: &[u8]) -> Vec<(u32, Option<IpAddr>)> {
    let mut hops = Vec::new();
    while data.len() >= 8 {
        let len = usize::from(u16::from_ne_bytes([data[0], data[1]]));
        if len < 8 || len > data.len() {
            break;
        }
        let index = u32::from_ne_bytes([data[4], data[5], data[6], data[7]]);
        let gateway = attrs(&data[8..len])
            .find(|(k, _)| *k == RTA_GATEWAY)
            .and_then(|(_, p)| parse_ip(family, p));
        hops.push((index, gateway));
        data = &data[((len + 3) & !3).min(data.len())..];
    }
    hops
}

// ---- rules ----

/// A rule as arcway reads and writes it. `others` names selectors arcway does not model, so
/// that such a rule never passes for one of arcway's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleMsg {
    pub family: u8,
    pub dst_len: u8,
    pub src_len: u8,
    pub tos: u8,
    pub action: u8,
    pub flags: u32,
    pub table: u32,
    pub priority: Option<u32>,
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub suppress_prefixlen: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    pub others: Vec<String>,
}

const FIB_RULE_HDR_LEN: usize = 12;

fn fib_rule_hdr(buf: &mut Vec<u8>, r: &RuleMsg) {
    buf.extend_from_slice(&[
        r.family,
        r.dst_len,
        r.src_len,
        r.tos,
        header_table(r.table),
        0,
        0,
        r.action,
    ]);
    buf.extend_from_slice(&r.flags.to_ne_bytes());
}

pub fn dump_rules(family: u8) -> Vec<u8> {
    let mut buf = start(RTM_GETRULE, NLM_F_REQUEST | NLM_F_DUMP);
    fib_rule_hdr(
        &mut buf,
        &RuleMsg {
            family,
            ..RuleMsg::default()
        },
    );
    finish(buf)
}

/// RTM_NEWRULE (exclusive create) or RTM_DELRULE for `rule`.
pub fn rule_request(rule: &RuleMsg, delete: bool) -> Vec<u8> {
    let mut buf = if delete {
        start(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK)
    } else {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        start(RTM_NEWRULE, flags)
    };
    fib_rule_hdr(&mut buf, rule);
    if let Some(p) = rule.priority {
        u32_attr(&mut buf, FRA_PRIORITY, p);
    }
    u32_attr(&mut buf, FRA_TABLE, rule.table);
    if let Some(src) = rule.src {
        attr(&mut buf, FRA_SRC, &ip_bytes(src));
    }
    if let Some(dst) = rule.dst {
        attr(&mut buf, FRA_DST, &ip_bytes(dst));
    }
    if let Some(m) = rule.fwmark {
        u32_attr(&mut buf, FRA_FWMARK, m);
    }
    if let Some(m) = rule.fwmask {
        u32_attr(&mut buf, FRA_FWMASK, m);
    }
    if let Some(len) = rule.suppress_prefixlen {
        u32_attr(&mut buf, FRA_SUPPRESS_PREFIXLEN, len);
    }
    if let Some(g) = rule.suppress_ifgroup {
        u32_attr(&mut buf, FRA_SUPPRESS_IFGROUP, g);
    }
    finish(buf)
}

/// RTM_DELRULE carrying a dumped rule's payload unchanged, so that the kernel matches every
/// attribute it reported, modelled or not.
pub fn delete_raw_rule(payload: &[u8]) -> Vec<u8> {
    let mut buf = start(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK);
    buf.extend_from_slice(payload);
    finish(buf)
}

pub fn parse_rule(payload: &[u8]) -> Option<RuleMsg> {
    let head = payload.get(..FIB_RULE_HDR_LEN)?;
    let mut r = RuleMsg {
        family: head[0],
        dst_len: head[1],
        src_len: head[2],
        tos: head[3],
        table: u32::from(head[4]),
        action: head[7],
        flags: u32_of(&head[8..12])?,
        ..RuleMsg::default()
    };
    for (kind, p) in attrs(&payload[FIB_RULE_HDR_LEN..]) {
        match kind {
            FRA_PRIORITY => r.priority = u32_of(p),
            FRA_TABLE => r.table = u32_of(p)?,
            FRA_SRC => r.src = parse_ip(r.family, p),
            FRA_DST => r.dst = parse_ip(r.family, p),
            FRA_FWMARK => r.fwmark = u32_of(p),
            FRA_FWMASK => r.fwmask = u32_of(p),
            FRA_SUPPRESS_PREFIXLEN => r.suppress_prefixlen = u32_of(p),
            FRA_SUPPRESS_IFGROUP => r.suppress_ifgroup = u32_of(p),
            // Neither selects traffic: who added the rule, alignment.
            FRA_PROTOCOL | FRA_PAD => {}
            FRA_L3MDEV if p.first() == Some(&0) => {}
            // Selectors and actions arcway never sets (iif, goto, realms, uid range, ports, ...).
            other => r.others.push(other_rule_attr(other, p)),
        }
    }
    Some(r)
}

fn other_rule_attr(kind: u16, p: &[u8]) -> String {
    match kind {
        3 => format!("iif {}", str_value(p).unwrap_or("?")),
        17 => format!("oif {}", str_value(p).unwrap_or("?")),
        4 => format!("goto {}", u32_of(p).unwrap_or(0)),
        19 => "l3mdev".into(),
        _ => format!("attribute {kind}"),
    }
}
