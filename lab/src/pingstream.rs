//! A paced ICMP echo stream sent from inside a lab namespace, with a timestamp for every
//! request and reply and the path each reply took.
//!
//! The socket is a raw ICMP socket opened by a thread that joined the namespace, so it stays
//! there while this process's threads send and receive on it. Timestamps are `Instant`s
//! taken right before `sendto` and right after `recv` returns on a thread that does nothing
//! else, so they share a clock with whatever the caller injects. The path of a reply is read
//! from its DSCP, which the platform stamps by reply destination (see `pathtag`). IPv6
//! replies carry no stamp (`Via::Other`): an IPv6 step is timed by its first reply after
//! the injection, which a carrier cut of the old path leaves unambiguous.
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::http::in_netns;
use crate::pathtag::Via;

/// One echo request and, once it came, its reply.
#[derive(Debug, Clone, Copy)]
pub struct Echo {
    pub sent: Instant,
    pub reply: Option<Reply>,
}

#[derive(Debug, Clone, Copy)]
pub struct Reply {
    pub at: Instant,
    pub via: Via,
}

/// Echo requests to `dst` every `interval` until dropped.
pub struct PingStream {
    log: Arc<Mutex<Vec<Echo>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl PingStream {
    pub fn start(ns: &str, dst: impl Into<IpAddr>, interval: Duration) -> Result<PingStream> {
        let dst = dst.into();
        let v6 = dst.is_ipv6();
        let fd = in_netns(ns, move || raw_icmp_socket(v6))?
            .map_err(LabError::io(format!("icmp in {ns}")))?;
        let fd = Arc::new(fd);
        // The low 16 bits of our PID tell our replies apart from anyone else's.
        let id = std::process::id() as u16;
        let log = Arc::new(Mutex::new(Vec::with_capacity(1 << 16)));
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let (fd, log, stop) = (fd.clone(), log.clone(), stop.clone());
            thread::spawn(move || send_loop(&fd, dst, id, interval, &log, &stop))
        };
        let receiver = {
            let (log, stop) = (log.clone(), stop.clone());
            thread::spawn(move || recv_loop(&fd, dst, id, &log, &stop))
        };
        Ok(PingStream {
            log,
            stop,
            threads: vec![sender, receiver],
        })
    }

    /// Every echo whose request left at or after `from`, in sending order.
    pub fn since(&self, from: Instant) -> Vec<Echo> {
        let log = crate::lab::lock(&self.log);
        let start = log.partition_point(|e| e.sent < from);
        log[start..].to_vec()
    }

    /// The first reply via `via` that arrived after `after`, waiting up to `timeout`.
    pub fn wait_reply(&self, via: Via, after: Instant, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        // Replies take far less than a second in the lab: older requests cannot match.
        let from = after.checked_sub(REPLY_WAIT).unwrap_or(after);
        let mut checked = {
            let log = crate::lab::lock(&self.log);
            log.partition_point(|e| e.sent < from)
        };
        loop {
            // Scans only what may still change: requests from the first unanswered one on
            // that are younger than REPLY_WAIT, so a long wait stays cheap.
            let first = {
                let log = crate::lab::lock(&self.log);
                let now = Instant::now();
                let mut first: Option<Instant> = None;
                let mut settled = true;
                for (i, e) in log.iter().enumerate().skip(checked) {
                    match e.reply {
                        Some(r) if r.via == via && r.at >= after => {
                            first = Some(first.map_or(r.at, |f| f.min(r.at)));
                        }
                        None if now.duration_since(e.sent) < REPLY_WAIT => settled = false,
                        _ => {}
                    }
                    if settled {
                        checked = i + 1;
                    }
                }
                first
            };
            if first.is_some() || Instant::now() >= deadline {
                return first;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// How long a reply may take before its request counts as lost (lab round trips are
/// well under 5 ms).
pub const REPLY_WAIT: Duration = Duration::from_millis(500);

impl Drop for PingStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn raw_icmp_socket(v6: bool) -> std::io::Result<OwnedFd> {
    // The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket itself.
    let (family, proto) = match v6 {
        false => (libc::AF_INET, libc::IPPROTO_ICMP),
        true => (libc::AF_INET6, libc::IPPROTO_ICMPV6),
    };
    // SAFETY: plain socket(2); the descriptor is owned by the OwnedFd from here on.
    let fd = unsafe { libc::socket(family, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // A receive timeout lets the receiver notice `stop`.
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    // SAFETY: setsockopt with a correctly sized timeval.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// The Internet checksum (RFC 1071).
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

pub(crate) fn echo_request(id: u16, seq: u16) -> [u8; 16] {
    let mut pkt = [0u8; 16];
    pkt[0] = 8;
    pkt[4..6].copy_from_slice(&id.to_be_bytes());
    pkt[6..8].copy_from_slice(&seq.to_be_bytes());
    pkt[8..16].copy_from_slice(b"arcway\0\0");
    let sum = checksum(&pkt);
    pkt[2..4].copy_from_slice(&sum.to_be_bytes());
    pkt
}

/// An ICMPv6 echo request; the checksum is the kernel's.
pub(crate) fn echo_request_v6(id: u16, seq: u16) -> [u8; 16] {
    let mut pkt = echo_request(id, seq);
    pkt[0] = 128;
    pkt[2..4].copy_from_slice(&[0, 0]);
    pkt
}

/// A socket address for `dst`, as sendto(2) takes it.
enum SockAddr {
    V4(libc::sockaddr_in),
    V6(libc::sockaddr_in6),
}

impl SockAddr {
    fn of(dst: IpAddr) -> SockAddr {
        match dst {
            IpAddr::V4(a) => SockAddr::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from(a).to_be(),
                },
                sin_zero: [0; 8],
            }),
            IpAddr::V6(a) => SockAddr::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            }),
        }
    }

    fn raw(&self) -> (*const libc::sockaddr, libc::socklen_t) {
        match self {
            SockAddr::V4(a) => (
                (a as *const libc::sockaddr_in).cast(),
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            SockAddr::V6(a) => (
                (a as *const libc::sockaddr_in6).cast(),
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }
}

fn send_loop(
    fd: &OwnedFd,
    dst: IpAddr,
    id: u16,
    interval: Duration,
    log: &Mutex<Vec<Echo>>,
    stop: &AtomicBool,
) {
    let addr = SockAddr::of(dst);
    let (sa, sa_len) = addr.raw();
    let mut next = Instant::now();
    let mut seq: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let pkt = match dst {
            IpAddr::V4(_) => echo_request(id, seq as u16),
            IpAddr::V6(_) => echo_request_v6(id, seq as u16),
        };
        // The request counts as sent even when sendto fails: for the stream it is lost.
        let sent = Instant::now();
        crate::lab::lock(log).push(Echo { sent, reply: None });
        // SAFETY: pkt and addr outlive the call; lengths match the buffers.
        unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                pkt.as_ptr().cast(),
                pkt.len(),
                0,
                sa,
                sa_len,
            );
        }
        seq = seq.wrapping_add(1);
        // Absolute pacing: a late wake-up shortens the next gap instead of drifting.
        next += interval;
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        } else if now - next > interval * 100 {
            next = now;
        }
    }
}

/// An echo reply from `dst` to our `id`: its sequence number and DSCP.
pub(crate) fn parse_reply(buf: &[u8], dst: Ipv4Addr, id: u16) -> Option<(u16, u8)> {
    let ihl = usize::from(buf.first()? & 0x0f) * 4;
    let icmp = buf.get(ihl..ihl + 8)?;
    let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
    let ok = src == dst && icmp[0] == 0 && u16::from_be_bytes([icmp[4], icmp[5]]) == id;
    ok.then(|| (u16::from_be_bytes([icmp[6], icmp[7]]), buf[1] >> 2))
}

/// An ICMPv6 echo reply to our `id` (a raw ICMPv6 socket hands over the ICMPv6 message
/// alone): its sequence number. Only our own requests carry our id and sequence.
pub(crate) fn parse_reply_v6(buf: &[u8], id: u16) -> Option<u16> {
    let icmp = buf.get(..8)?;
    let ok = icmp[0] == 129 && u16::from_be_bytes([icmp[4], icmp[5]]) == id;
    ok.then(|| u16::from_be_bytes([icmp[6], icmp[7]]))
}

fn recv_loop(fd: &OwnedFd, dst: IpAddr, id: u16, log: &Mutex<Vec<Echo>>, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: recv into a buffer we own, bounded by its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let at = Instant::now();
        if n <= 0 {
            continue;
        }
        let buf = &buf[..n as usize];
        let parsed = match dst {
            IpAddr::V4(dst) => parse_reply(buf, dst, id),
            // Unstamped: DSCP 0 reads as `Via::Other`.
            IpAddr::V6(_) => parse_reply_v6(buf, id).map(|seq| (seq, 0)),
        };
        let Some((seq, dscp)) = parsed else {
            continue;
        };
        let mut log = crate::lab::lock(log);
        // The newest request whose low 16 bits are `seq`: the stream wraps after 65 s at
        // 1 ms, far longer than any reply takes.
        let Some(last) = log.len().checked_sub(1) else {
            continue;
        };
        let back = usize::from((last as u16).wrapping_sub(seq));
        if let Some(echo) = last.checked_sub(back).and_then(|i| log.get_mut(i))
            && echo.reply.is_none()
        {
            echo.reply = Some(Reply {
                at,
                via: Via::from_dscp(dscp),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_checksums_to_zero_and_replies_parse() {
        let req = echo_request(0x1234, 7);
        assert_eq!(checksum(&req), 0);
        let mut pkt = vec![0x45, 0x20, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0];
        pkt.extend_from_slice(&[100, 127, 100, 127, 198, 51, 100, 10]);
        let mut reply = req;
        reply[0] = 0;
        pkt.extend_from_slice(&reply);
        let dst = Ipv4Addr::new(100, 127, 100, 127);
        assert_eq!(parse_reply(&pkt, dst, 0x1234), Some((7, 8)));
        assert_eq!(parse_reply(&pkt, dst, 0x1235), None);
        assert_eq!(parse_reply(&pkt[..24], dst, 0x1234), None);
    }
}
