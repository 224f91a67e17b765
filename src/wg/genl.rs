//! Kernel WireGuard over its generic netlink family (linux/include/uapi/linux/wireguard.h):
//! the family id is looked up once, WG_CMD_SET_DEVICE configures, a WG_CMD_GET_DEVICE dump
//! reads the server peer's handshake and counters.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime};

use netlink_sys::Socket;

use super::device::{DeviceUpdate, PeerReading, PeerUpdate};
use crate::credentials::{PublicKey, wipe};
use crate::nfnetlink::{
    self, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, attr, attr_str, attrs, finish, nest, nlmsg_header,
};

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

const WG_GENL_NAME: &str = "wireguard";
const WG_GENL_VERSION: u8 = 1;
const WG_CMD_GET_DEVICE: u8 = 0;
const WG_CMD_SET_DEVICE: u8 = 1;

const WGDEVICE_F_REPLACE_PEERS: u32 = 1 << 0;
const WGDEVICE_A_IFNAME: u16 = 2;
const WGDEVICE_A_PRIVATE_KEY: u16 = 3;
const WGDEVICE_A_FLAGS: u16 = 5;
const WGDEVICE_A_LISTEN_PORT: u16 = 6;
const WGDEVICE_A_FWMARK: u16 = 7;
const WGDEVICE_A_PEERS: u16 = 8;

const WGPEER_F_REPLACE_ALLOWEDIPS: u32 = 1 << 1;
const WGPEER_A_PUBLIC_KEY: u16 = 1;
const WGPEER_A_FLAGS: u16 = 3;
const WGPEER_A_ENDPOINT: u16 = 4;
const WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL: u16 = 5;
const WGPEER_A_LAST_HANDSHAKE_TIME: u16 = 6;
const WGPEER_A_RX_BYTES: u16 = 7;
const WGPEER_A_TX_BYTES: u16 = 8;
const WGPEER_A_ALLOWEDIPS: u16 = 9;

const WGALLOWEDIP_A_FAMILY: u16 = 1;
const WGALLOWEDIP_A_IPADDR: u16 = 2;
const WGALLOWEDIP_A_CIDR_MASK: u16 = 3;

/// Size of genlmsghdr (cmd, version, reserved), which follows the netlink header.
const GENL_HDRLEN: usize = 4;

/// The family id of "wireguard", 0 until looked up. Ids are assigned when the module
/// registers the family, so one lookup serves until the module is reloaded (see `forget`).
static FAMILY: AtomicU16 = AtomicU16::new(0);

/// Netlink and generic netlink headers; the length is patched by `finish`.
fn genl_header(buf: &mut Vec<u8>, family: u16, cmd: u8, version: u8, flags: u16, seq: u32) {
    nlmsg_header(buf, family, flags, seq);
    buf.extend_from_slice(&[cmd, version, 0, 0]);
}

/// CTRL_CMD_GETFAMILY for "wireguard"; the kernel loads the module if it can.
pub(crate) fn family_request(seq: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(36);
    genl_header(
        &mut buf,
        GENL_ID_CTRL,
        CTRL_CMD_GETFAMILY,
        1,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
    );
    attr_str(&mut buf, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
    finish(buf)
}

/// The family id in a CTRL_CMD_NEWFAMILY reply (payload after the netlink header).
pub(crate) fn parse_family(payload: &[u8]) -> Option<u16> {
    attrs(payload.get(GENL_HDRLEN..)?)
        .find(|(kind, _)| *kind == CTRL_ATTR_FAMILY_ID)
        .and_then(|(_, value)| Some(u16::from_ne_bytes(value.try_into().ok()?)))
}

fn family(socket: &Socket) -> io::Result<u16> {
    let cached = FAMILY.load(Ordering::Relaxed);
    if cached != 0 {
        return Ok(cached);
    }
    let mut id = None;
    nfnetlink::dump(socket, &family_request(1), |kind, payload| {
        if kind == GENL_ID_CTRL {
            id = id.or(parse_family(payload));
        }
    })?;
    let id = id.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "no family id in the generic netlink controller's answer",
        )
    })?;
    FAMILY.store(id, Ordering::Relaxed);
    Ok(id)
}

/// An unknown family id is ENOENT: the module was reloaded and the family has a new id, so
/// the next call looks it up again. (A missing device is ENODEV, not this.)
fn forget<T>(result: io::Result<T>) -> io::Result<T> {
    if let Err(e) = &result
        && e.raw_os_error() == Some(libc::ENOENT)
    {
        FAMILY.store(0, Ordering::Relaxed);
    }
    result
}

/// struct sockaddr_in or sockaddr_in6, the only endpoint forms the kernel takes.
fn sockaddr(endpoint: SocketAddr) -> Vec<u8> {
    let mut out = Vec::with_capacity(28);
    match endpoint {
        SocketAddr::V4(a) => {
            out.extend_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&[0; 8]);
        }
        SocketAddr::V6(a) => {
            out.extend_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            out.extend_from_slice(&a.port().to_be_bytes());
            out.extend_from_slice(&a.flowinfo().to_be_bytes());
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.scope_id().to_ne_bytes());
        }
    }
    out
}

fn parse_sockaddr(p: &[u8]) -> Option<SocketAddr> {
    let family = i32::from(u16::from_ne_bytes(p.get(..2)?.try_into().ok()?));
    let port = u16::from_be_bytes(p.get(2..4)?.try_into().ok()?);
    match family {
        libc::AF_INET => {
            let ip: [u8; 4] = p.get(4..8)?.try_into().ok()?;
            Some(SocketAddrV4::new(Ipv4Addr::from(ip), port).into())
        }
        libc::AF_INET6 => {
            let flow = u32::from_be_bytes(p.get(4..8)?.try_into().ok()?);
            let ip: [u8; 16] = p.get(8..24)?.try_into().ok()?;
            let scope = u32::from_ne_bytes(p.get(24..28)?.try_into().ok()?);
            Some(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope).into())
        }
        _ => None,
    }
}

fn peer_attrs(buf: &mut Vec<u8>, peer: &PeerUpdate) {
    attr(buf, WGPEER_A_PUBLIC_KEY, peer.public_key.as_bytes());
    if peer.replace_allowed_ips {
        attr(
            buf,
            WGPEER_A_FLAGS,
            &WGPEER_F_REPLACE_ALLOWEDIPS.to_ne_bytes(),
        );
    }
    if let Some(secs) = peer.keepalive {
        attr(
            buf,
            WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
            &secs.to_ne_bytes(),
        );
    }
    if let Some(endpoint) = peer.endpoint {
        attr(buf, WGPEER_A_ENDPOINT, &sockaddr(endpoint));
    }
    if peer.allowed_ips.is_empty() {
        return;
    }
    nest(buf, WGPEER_A_ALLOWEDIPS, |buf| {
        for net in &peer.allowed_ips {
            // The kernel reads the array's elements in order and ignores their types.
            nest(buf, 0, |buf| {
                let (family, addr) = match net.addr() {
                    IpAddr::V4(a) => (libc::AF_INET, a.octets().to_vec()),
                    IpAddr::V6(a) => (libc::AF_INET6, a.octets().to_vec()),
                };
                attr(buf, WGALLOWEDIP_A_FAMILY, &(family as u16).to_ne_bytes());
                attr(buf, WGALLOWEDIP_A_IPADDR, &addr);
                attr(buf, WGALLOWEDIP_A_CIDR_MASK, &[net.prefix_len()]);
            });
        }
    });
}

/// WG_CMD_SET_DEVICE for `update` on `ifname`. The buffer holds the private key, so it is
/// sized up front (a reallocation would leave a copy behind) and the caller wipes it.
pub(crate) fn set_device_message(
    family: u16,
    seq: u32,
    ifname: &str,
    update: &DeviceUpdate,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(256 + 40 * update.peer.allowed_ips.len());
    genl_header(
        &mut buf,
        family,
        WG_CMD_SET_DEVICE,
        WG_GENL_VERSION,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
    );
    attr_str(&mut buf, WGDEVICE_A_IFNAME, ifname);
    if let Some(key) = &update.private_key {
        attr(&mut buf, WGDEVICE_A_PRIVATE_KEY, key.expose_bytes());
    }
    if let Some(mark) = update.fwmark {
        attr(&mut buf, WGDEVICE_A_FWMARK, &mark.to_ne_bytes());
    }
    if let Some(port) = update.listen_port {
        attr(&mut buf, WGDEVICE_A_LISTEN_PORT, &port.to_ne_bytes());
    }
    if update.replace_peers {
        attr(
            &mut buf,
            WGDEVICE_A_FLAGS,
            &WGDEVICE_F_REPLACE_PEERS.to_ne_bytes(),
        );
    }
    nest(&mut buf, WGDEVICE_A_PEERS, |buf| {
        nest(buf, 0, |buf| peer_attrs(buf, &update.peer));
    });
    // Nested attribute lengths are 16 bits; no nest is longer than the whole message.
    if buf.len() > usize::from(u16::MAX) {
        wipe(&mut buf);
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "too many allowed IPs for one WireGuard netlink message",
        ));
    }
    Ok(finish(buf))
}

/// A WG_CMD_GET_DEVICE dump of `ifname` (the command only exists as a dump).
pub(crate) fn get_device_message(family: u16, seq: u32, ifname: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(40);
    genl_header(
        &mut buf,
        family,
        WG_CMD_GET_DEVICE,
        WG_GENL_VERSION,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
    );
    attr_str(&mut buf, WGDEVICE_A_IFNAME, ifname);
    finish(buf)
}

/// Folds one WG_CMD_GET_DEVICE reply message (payload after the netlink header) into the
/// reading of `server`'s peer. A device with many allowed IPs is split over several messages
/// and a peer continued in a later one carries only its key and allowed IPs, so only the
/// attributes present overwrite what an earlier message gave.
pub(crate) fn parse_device(payload: &[u8], server: &PublicKey, found: &mut Option<PeerReading>) {
    let Some(device) = payload.get(GENL_HDRLEN..) else {
        return;
    };
    for (kind, peers) in attrs(device) {
        if kind != WGDEVICE_A_PEERS {
            continue;
        }
        for (_, peer) in attrs(peers) {
            let ours = attrs(peer).any(|(kind, value)| {
                kind == WGPEER_A_PUBLIC_KEY && value == server.as_bytes().as_slice()
            });
            if !ours {
                continue;
            }
            let reading = found.get_or_insert(PeerReading {
                last_handshake: None,
                rx_bytes: 0,
                tx_bytes: 0,
                endpoint: None,
            });
            for (kind, value) in attrs(peer) {
                match kind {
                    WGPEER_A_LAST_HANDSHAKE_TIME => reading.last_handshake = handshake(value),
                    WGPEER_A_RX_BYTES => reading.rx_bytes = u64_value(value).unwrap_or(0),
                    WGPEER_A_TX_BYTES => reading.tx_bytes = u64_value(value).unwrap_or(0),
                    WGPEER_A_ENDPOINT => reading.endpoint = parse_sockaddr(value),
                    _ => {}
                }
            }
        }
    }
}

fn u64_value(p: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(p.try_into().ok()?))
}

/// struct __kernel_timespec (two 64-bit fields on every architecture). The kernel reports
/// "never" as zero.
fn handshake(p: &[u8]) -> Option<SystemTime> {
    let sec = i64::from_ne_bytes(p.get(..8)?.try_into().ok()?);
    let nsec = i64::from_ne_bytes(p.get(8..16)?.try_into().ok()?);
    if sec < 0 || nsec < 0 || (sec, nsec) == (0, 0) {
        return None;
    }
    let nsec = u32::try_from(nsec.min(999_999_999)).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(sec.unsigned_abs(), nsec))
}

/// Applies `update` to the kernel device `ifname`; the kernel's ack or error is the result.
pub(crate) fn set_device(ifname: &str, update: &DeviceUpdate) -> io::Result<()> {
    let socket = nfnetlink::open_generic()?;
    let family = forget(family(&socket))?;
    let mut message = set_device_message(family, 2, ifname, update)?;
    let result = nfnetlink::request(&socket, &message);
    wipe(&mut message);
    forget(result)
}

/// The reading of the peer whose key is `server`, if the device has it.
pub(crate) fn read_peer(ifname: &str, server: &PublicKey) -> io::Result<Option<PeerReading>> {
    let socket = nfnetlink::open_generic()?;
    let family = forget(family(&socket))?;
    let mut found = None;
    let request = get_device_message(family, 2, ifname);
    forget(nfnetlink::dump(&socket, &request, |kind, payload| {
        if kind == family {
            parse_device(payload, server, &mut found);
        }
    }))?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::PrivateKey;
    use crate::nfnetlink::NLA_F_NESTED;
    use ipnet::IpNet;

    /// Read-only device attribute, only in replies.
    const WGDEVICE_A_PUBLIC_KEY: u16 = 4;

    const FAMILY_ID: u16 = 0x1d;

    fn update() -> DeviceUpdate {
        DeviceUpdate {
            private_key: Some(PrivateKey::from_bytes([1; 32])),
            fwmark: Some(0x20000),
            listen_port: Some(51820),
            replace_peers: true,
            peer: PeerUpdate {
                public_key: PublicKey([2; 32]),
                replace_allowed_ips: true,
                keepalive: Some(25),
                allowed_ips: vec![
                    "100.127.0.0/16".parse().unwrap(),
                    "2001:db8::/32".parse().unwrap(),
                ],
                endpoint: Some("192.0.2.1:11010".parse().unwrap()),
            },
        }
    }

    /// Appends an attribute header as the kernel expects it (length, type with flags).
    fn hdr(out: &mut Vec<u8>, len: u16, kind: u16) {
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
    }

    #[test]
    fn set_device_has_the_kernel_layout() {
        let msg = set_device_message(FAMILY_ID, 7, "arc0", &update()).unwrap();
        let mut want = Vec::new();
        // nlmsghdr: length, type = family id, REQUEST|ACK, seq 7, port 0; genlmsghdr.
        want.extend_from_slice(&(msg.len() as u32).to_ne_bytes());
        want.extend_from_slice(&FAMILY_ID.to_ne_bytes());
        want.extend_from_slice(&5u16.to_ne_bytes());
        want.extend_from_slice(&7u32.to_ne_bytes());
        want.extend_from_slice(&0u32.to_ne_bytes());
        want.extend_from_slice(&[WG_CMD_SET_DEVICE, 1, 0, 0]);
        hdr(&mut want, 9, 2); // IFNAME "arc0\0", padded
        want.extend_from_slice(b"arc0\0\0\0\0");
        hdr(&mut want, 36, 3); // PRIVATE_KEY
        want.extend_from_slice(&[1; 32]);
        hdr(&mut want, 8, 7); // FWMARK
        want.extend_from_slice(&0x20000u32.to_ne_bytes());
        hdr(&mut want, 6, 6); // LISTEN_PORT
        want.extend_from_slice(&51820u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        hdr(&mut want, 8, 5); // FLAGS = REPLACE_PEERS
        want.extend_from_slice(&1u32.to_ne_bytes());
        // PEERS (nested) > peer 0 (nested)
        let allowed = 4 + (4 + 8 + 8 + 8) + (4 + 8 + 20 + 8);
        let peer = 4 + 36 + 8 + 8 + 20 + allowed;
        hdr(&mut want, 4 + peer, 8 | NLA_F_NESTED);
        hdr(&mut want, peer, NLA_F_NESTED);
        hdr(&mut want, 36, 1); // PUBLIC_KEY
        want.extend_from_slice(&[2; 32]);
        hdr(&mut want, 8, 3); // FLAGS = REPLACE_ALLOWEDIPS
        want.extend_from_slice(&2u32.to_ne_bytes());
        hdr(&mut want, 6, 5); // PERSISTENT_KEEPALIVE_INTERVAL
        want.extend_from_slice(&25u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        hdr(&mut want, 20, 4); // ENDPOINT: sockaddr_in
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&[0x2b, 0x02, 192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        hdr(&mut want, allowed, 9 | NLA_F_NESTED); // ALLOWEDIPS
        hdr(&mut want, 28, NLA_F_NESTED);
        hdr(&mut want, 6, 1);
        want.extend_from_slice(&2u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        hdr(&mut want, 8, 2);
        want.extend_from_slice(&[100, 127, 0, 0]);
        hdr(&mut want, 5, 3);
        want.extend_from_slice(&[16, 0, 0, 0]);
        hdr(&mut want, 40, NLA_F_NESTED);
        hdr(&mut want, 6, 1);
        want.extend_from_slice(&10u16.to_ne_bytes());
        want.extend_from_slice(&[0, 0]);
        hdr(&mut want, 20, 2);
        want.extend_from_slice(&"2001:db8::".parse::<Ipv6Addr>().unwrap().octets());
        hdr(&mut want, 5, 3);
        want.extend_from_slice(&[32, 0, 0, 0]);
        assert_eq!(msg, want);
    }

    #[test]
    fn endpoint_only_update_is_key_and_sockaddr_in6() {
        let ep: SocketAddr = "[2001:db8:3::10]:11010".parse().unwrap();
        let only = DeviceUpdate::endpoint_only(PublicKey([2; 32]), ep);
        let msg = set_device_message(FAMILY_ID, 1, "arc0", &only).unwrap();
        let body = &nfnetlink::messages(&msg)[0].payload[GENL_HDRLEN..];
        let top: Vec<u16> = attrs(body).map(|(k, _)| k).collect();
        assert_eq!(top, [WGDEVICE_A_IFNAME, WGDEVICE_A_PEERS]);
        let peers = attrs(body).nth(1).unwrap().1;
        let peer = attrs(peers).next().unwrap().1;
        let fields: Vec<(u16, &[u8])> = attrs(peer).collect();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0], (WGPEER_A_PUBLIC_KEY, &[2u8; 32][..]));
        assert_eq!(fields[1].0, WGPEER_A_ENDPOINT);
        assert_eq!(fields[1].1.len(), 28);
        assert_eq!(&fields[1].1[..4], &[10, 0, 0x2b, 0x02][..]);
        assert_eq!(parse_sockaddr(fields[1].1), Some(ep));
    }

    #[test]
    fn oversized_update_is_refused() {
        let mut big = update();
        // 28 bytes each: past the 64 KiB a nested attribute's length can describe.
        big.peer.allowed_ips = (0..2400u32)
            .map(|i| IpNet::new(IpAddr::V4(Ipv4Addr::from(i << 8)), 24).unwrap())
            .collect();
        let result = set_device_message(FAMILY_ID, 1, "arc0", &big);
        assert!(matches!(result, Err(e) if e.kind() == io::ErrorKind::InvalidInput));
        big.peer.allowed_ips.truncate(2300);
        assert!(set_device_message(FAMILY_ID, 1, "arc0", &big).is_ok());
    }

    #[test]
    fn family_request_and_reply() {
        let req = family_request(3);
        let msgs = nfnetlink::messages(&req);
        assert_eq!(msgs[0].kind, GENL_ID_CTRL);
        assert_eq!(&msgs[0].payload[..4], &[CTRL_CMD_GETFAMILY, 1, 0, 0]);
        let name: Vec<(u16, &[u8])> = attrs(&msgs[0].payload[4..]).collect();
        assert_eq!(name, [(CTRL_ATTR_FAMILY_NAME, &b"wireguard\0"[..])]);

        // CTRL_CMD_NEWFAMILY: name, id, version, ...
        let mut reply = vec![1, 2, 0, 0];
        attr_str(&mut reply, CTRL_ATTR_FAMILY_NAME, "wireguard");
        attr(&mut reply, CTRL_ATTR_FAMILY_ID, &FAMILY_ID.to_ne_bytes());
        attr(&mut reply, 3, &1u32.to_ne_bytes());
        assert_eq!(parse_family(&reply), Some(FAMILY_ID));
        assert_eq!(parse_family(&reply[..4]), None);
    }

    #[test]
    fn get_device_is_a_dump_by_name() {
        let req = get_device_message(FAMILY_ID, 9, "arc0");
        assert_eq!(
            u16::from_ne_bytes([req[6], req[7]]),
            NLM_F_REQUEST | NLM_F_DUMP
        );
        let msgs = nfnetlink::messages(&req);
        assert_eq!(msgs[0].kind, FAMILY_ID);
        assert_eq!(&msgs[0].payload[..4], &[WG_CMD_GET_DEVICE, 1, 0, 0]);
        let a: Vec<(u16, &[u8])> = attrs(&msgs[0].payload[4..]).collect();
        assert_eq!(a, [(WGDEVICE_A_IFNAME, &b"arc0\0"[..])]);
    }

    /// A peer as the kernel's get_peer() writes it; `stats` false for a continuation.
    fn reply_peer(buf: &mut Vec<u8>, key: [u8; 32], stats: bool, ep: SocketAddr) {
        nest(buf, 0, |buf| {
            attr(buf, WGPEER_A_PUBLIC_KEY, &key);
            if stats {
                attr(buf, 2, &[0; 32]); // PRESHARED_KEY
                let mut ts = 1_795_885_689i64.to_ne_bytes().to_vec();
                ts.extend_from_slice(&565_278_315i64.to_ne_bytes());
                attr(buf, WGPEER_A_LAST_HANDSHAKE_TIME, &ts);
                attr(
                    buf,
                    WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL,
                    &25u16.to_ne_bytes(),
                );
                attr(buf, WGPEER_A_TX_BYTES, &28468u64.to_ne_bytes());
                attr(buf, WGPEER_A_RX_BYTES, &28380u64.to_ne_bytes());
                attr(buf, 10, &1u32.to_ne_bytes()); // PROTOCOL_VERSION
                attr(buf, WGPEER_A_ENDPOINT, &sockaddr(ep));
            }
            nest(buf, WGPEER_A_ALLOWEDIPS, |buf| {
                nest(buf, 0, |buf| {
                    attr(buf, WGALLOWEDIP_A_FAMILY, &2u16.to_ne_bytes());
                    attr(buf, WGALLOWEDIP_A_IPADDR, &[100, 127, 0, 0]);
                    attr(buf, WGALLOWEDIP_A_CIDR_MASK, &[16]);
                });
            });
        });
    }

    fn reply(peers: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut buf = Vec::new();
        genl_header(&mut buf, FAMILY_ID, WG_CMD_GET_DEVICE, 1, 2, 9);
        attr(&mut buf, 1, &5u32.to_ne_bytes()); // IFINDEX
        attr_str(&mut buf, WGDEVICE_A_IFNAME, "arc0");
        attr(&mut buf, WGDEVICE_A_PUBLIC_KEY, &[3; 32]);
        attr(&mut buf, WGDEVICE_A_LISTEN_PORT, &38143u16.to_ne_bytes());
        attr(&mut buf, WGDEVICE_A_FWMARK, &0x20000u32.to_ne_bytes());
        nest(&mut buf, WGDEVICE_A_PEERS, peers);
        finish(buf)
    }

    fn read(datagrams: &[&[u8]], server: [u8; 32]) -> Option<PeerReading> {
        let mut found = None;
        for d in datagrams {
            for m in nfnetlink::messages(d) {
                parse_device(m.payload, &PublicKey(server), &mut found);
            }
        }
        found
    }

    #[test]
    fn reads_the_server_peer_with_nanoseconds() {
        let v6: SocketAddr = "[2001:db8:3::10]:11010".parse().unwrap();
        let v4: SocketAddr = "192.0.2.1:1".parse().unwrap();
        let one = reply(|b| {
            reply_peer(b, [9; 32], true, v4);
            reply_peer(b, [2; 32], true, v6);
        });
        let r = read(&[&one], [2; 32]).unwrap();
        let since = r
            .last_handshake
            .unwrap()
            .duration_since(SystemTime::UNIX_EPOCH);
        assert_eq!(since.unwrap(), Duration::new(1_795_885_689, 565_278_315));
        assert_eq!((r.rx_bytes, r.tx_bytes), (28380, 28468));
        assert_eq!(r.endpoint, Some(v6));
        assert_eq!(read(&[&one], [9; 32]).unwrap().endpoint, Some(v4));
        assert_eq!(read(&[&one], [7; 32]), None);
    }

    #[test]
    fn a_continued_peer_keeps_its_stats_and_zero_means_never() {
        let v4: SocketAddr = "192.0.2.1:11010".parse().unwrap();
        let first = reply(|b| reply_peer(b, [2; 32], true, v4));
        let cont = reply(|b| reply_peer(b, [2; 32], false, v4));
        let r = read(&[&first, &cont], [2; 32]).unwrap();
        assert_eq!(r.rx_bytes, 28380);
        assert_eq!(r.endpoint, Some(v4));
        assert!(r.last_handshake.is_some());

        assert_eq!(handshake(&[0; 16]), None);
        assert_eq!(handshake(&[0; 8]), None);
    }

    proptest::proptest! {
        /// A corrupted or unexpected reply is skipped, never a panic.
        #[test]
        fn arbitrary_replies_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let mut found = None;
            parse_device(&data, &PublicKey([2; 32]), &mut found);
            let _ = parse_family(&data);
        }
    }
}
