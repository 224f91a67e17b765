//! ICMP and ICMPv6 echo. Prefers the unprivileged ping socket (SOCK_DGRAM, the kernel owns the
//! identifier and filters replies); falls back to a raw socket where `ping_group_range` forbids it.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use super::{Binding, ProbeCounters, ProbeError};

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
/// The classic ping size: an 8-byte header and 56 bytes of data, 64 bytes of IP payload.
const PAYLOAD_LEN: usize = 56;

/// Which socket an echo probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IcmpSocketKind {
    /// Ping socket if allowed, raw socket otherwise.
    #[default]
    Auto,
    Dgram,
    Raw,
}

/// Internet checksum (RFC 1071) over `data`.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request. The IPv4 checksum is filled in here; for ICMPv6 the kernel computes it
/// (it needs the pseudo header), and ping sockets overwrite the identifier.
pub(crate) fn build_echo(v6: bool, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let kind = if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 };
    let mut packet = vec![kind, 0, 0, 0];
    packet.extend_from_slice(&id.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// Whether `data` is the reply to our request; returns its ICMP length. A raw IPv4 socket
/// delivers the IP header too (`ip_header`); `id` is `None` where the kernel owns it.
pub(crate) fn match_reply(
    data: &[u8],
    v6: bool,
    ip_header: bool,
    id: Option<u16>,
    seq: u16,
    payload: &[u8],
) -> Option<usize> {
    let icmp = if ip_header {
        let ihl = usize::from(*data.first()? & 0x0f) * 4;
        data.get(ihl..)?
    } else {
        data
    };
    let reply = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    if icmp.len() < 8 || icmp[0] != reply || icmp[1] != 0 {
        return None;
    }
    let id_ok = id.is_none_or(|id| icmp[4..6] == id.to_be_bytes());
    (id_ok && icmp[6..8] == seq.to_be_bytes() && &icmp[8..] == payload).then_some(icmp.len())
}

fn open(binding: &Binding, ip: IpAddr, kind: IcmpSocketKind) -> Result<(Socket, bool), ProbeError> {
    let protocol = match ip {
        IpAddr::V4(_) => Protocol::ICMPV4,
        IpAddr::V6(_) => Protocol::ICMPV6,
    };
    // Once the kernel refused a ping socket, every later round goes straight to the raw one
    // instead of asking again twice a second.
    let refused = &DGRAM_REFUSED[usize::from(ip.is_ipv6())];
    let try_dgram = match kind {
        IcmpSocketKind::Raw => false,
        IcmpSocketKind::Dgram => true,
        IcmpSocketKind::Auto => !refused.load(Ordering::Relaxed),
    };
    if try_dgram {
        match binding.socket(ip, Type::DGRAM, protocol) {
            Ok(s) => return Ok((s, false)),
            Err(ProbeError::Socket(e)) if kind == IcmpSocketKind::Auto && forbidden(&e) => {
                refused.store(true, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
    }
    Ok((binding.socket(ip, Type::RAW, protocol)?, true))
}

/// Per family (IPv4, IPv6): the kernel refused this process a ping socket.
static DGRAM_REFUSED: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];

fn forbidden(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EPROTONOSUPPORT | libc::EAFNOSUPPORT)
    )
}

/// Sends one echo request and waits for its reply (the caller bounds the wait).
pub(crate) async fn echo(
    binding: &Binding,
    ip: IpAddr,
    kind: IcmpSocketKind,
    counters: &ProbeCounters,
) -> Result<(), ProbeError> {
    let (socket, raw) = open(binding, ip, kind)?;
    let v6 = ip.is_ipv6();
    socket
        .connect(&SockAddr::from(SocketAddr::new(ip, 0)))
        .map_err(ProbeError::Connect)?;
    let nonce = super::run::nonce();
    let (id, seq) = ((nonce >> 16) as u16, nonce as u16);
    let mut payload = [0u8; PAYLOAD_LEN];
    payload[..8].copy_from_slice(&nonce.to_be_bytes());
    let packet = build_echo(v6, id, seq, &payload);
    // SAFETY: the Socket owns its descriptor and keeps it open and unchanged until the
    // AsyncFd (which owns the Socket) is dropped.
    let fd =
        unsafe { AsyncFd::register(socket) }.map_err(|e| ProbeError::Socket(e.into_parts().1))?;
    loop {
        let mut guard = fd.writable().await.map_err(ProbeError::Send)?;
        if let Ok(result) = guard.try_io(|s| s.get_ref().send(&packet)) {
            result.map_err(ProbeError::Send)?;
            break;
        }
    }
    counters.sent(packet.len());
    let want_id = raw.then_some(id);
    let mut buf = [0u8; 1500];
    loop {
        let mut guard = fd.readable().await.map_err(ProbeError::Receive)?;
        let n = match guard.try_io(|s| {
            let mut reader: &Socket = s.get_ref();
            reader.read(&mut buf)
        }) {
            Ok(result) => result.map_err(ProbeError::Receive)?,
            Err(_would_block) => continue,
        };
        // A raw socket sees every echo reply from this peer, including other probes' replies.
        if let Some(len) = match_reply(&buf[..n], v6, raw && !v6, want_id, seq, &payload) {
            counters.received(len);
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_known_packet() {
        // Echo request id 1 seq 1 with no data: 0800 0000 0001 0001 -> checksum f7fd.
        let p = build_echo(false, 1, 1, &[]);
        assert_eq!(p, [8, 0, 0xf7, 0xfd, 0, 1, 0, 1]);
        assert_eq!(checksum(&p), 0);
        let odd = build_echo(false, 0x1234, 7, &[1, 2, 3]);
        assert_eq!(checksum(&odd), 0);
    }

    #[test]
    fn v6_request_leaves_checksum_to_kernel() {
        let p = build_echo(true, 9, 10, b"ab");
        assert_eq!(p, [128, 0, 0, 0, 0, 9, 0, 10, b'a', b'b']);
    }

    #[test]
    fn replies_are_matched_exactly() {
        let payload = b"nonce123";
        let mut reply = build_echo(false, 5, 6, payload);
        reply[0] = ECHO_REPLY_V4;
        assert_eq!(
            match_reply(&reply, false, false, Some(5), 6, payload),
            Some(16)
        );
        assert_eq!(
            match_reply(&reply, false, false, None, 6, payload),
            Some(16)
        );
        assert_eq!(match_reply(&reply, false, false, Some(4), 6, payload), None);
        assert_eq!(match_reply(&reply, false, false, Some(5), 7, payload), None);
        assert_eq!(
            match_reply(&reply, false, false, Some(5), 6, b"other123"),
            None
        );
        // Our own request (seen on loopback) is not a reply.
        let request = build_echo(false, 5, 6, payload);
        assert_eq!(
            match_reply(&request, false, false, Some(5), 6, payload),
            None
        );
        // Raw IPv4 delivers a 20-byte header first.
        let mut with_ip = vec![0x45; 1];
        with_ip.extend_from_slice(&[0; 19]);
        with_ip.extend_from_slice(&reply);
        assert_eq!(
            match_reply(&with_ip, false, true, Some(5), 6, payload),
            Some(16)
        );
        let mut v6 = build_echo(true, 5, 6, payload);
        v6[0] = ECHO_REPLY_V6;
        assert_eq!(match_reply(&v6, true, false, Some(5), 6, payload), Some(16));
        assert_eq!(
            match_reply(&v6[..5], true, false, Some(5), 6, payload),
            None
        );
    }
}
