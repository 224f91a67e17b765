//! Route netlink (NETLINK_ROUTE) for what arcway uses: links, addresses, routes and rules,
//! and the multicast groups its monitors listen to. The framing is nfnetlink's; this adds the
//! route family's messages (`msg`) and non-blocking sockets on tokio.

pub mod msg;

use std::io;
use std::sync::Arc;

use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use tokio::io::unix::AsyncFd;
use tokio::sync::Mutex;

use crate::nfnetlink::{NLMSG_DONE, NLMSG_ERROR, error_code};

/// NLMSG_OVERRUN: the kernel's marker for lost messages.
const NLMSG_OVERRUN: u16 = 4;

pub const RTNLGRP_LINK: u32 = 1;
pub const RTNLGRP_IPV4_IFADDR: u32 = 5;
pub const RTNLGRP_IPV4_ROUTE: u32 = 7;
pub const RTNLGRP_IPV4_RULE: u32 = 8;
pub const RTNLGRP_IPV6_IFADDR: u32 = 9;
pub const RTNLGRP_IPV6_ROUTE: u32 = 11;
pub const RTNLGRP_IPV6_RULE: u32 = 19;

/// A non-blocking route netlink socket: connected to the kernel for requests, or joined to
/// `groups` for notifications.
fn open(groups: &[u32]) -> io::Result<AsyncFd<Socket>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    if groups.is_empty() {
        socket.connect(&SocketAddr::new(0, 0))?;
    }
    for group in groups {
        socket.add_membership(*group)?;
    }
    socket.set_non_blocking(true)?;
    // SAFETY: the socket owns its descriptor, which stays open and unchanged until the socket
    // is dropped along with the AsyncFd that now owns it.
    unsafe { AsyncFd::register(socket) }.map_err(io::Error::from)
}

/// Receives one datagram, waiting until the socket is readable.
async fn recv(fd: &AsyncFd<Socket>) -> io::Result<Vec<u8>> {
    loop {
        let mut guard = fd.readable().await?;
        match guard.try_io(|s| s.get_ref().recv_from_full()) {
            Ok(result) => return result.map(|(data, _)| data),
            Err(_would_block) => continue,
        }
    }
}

async fn send(fd: &AsyncFd<Socket>, data: &[u8]) -> io::Result<()> {
    loop {
        let mut guard = fd.writable().await?;
        match guard.try_io(|s| s.get_ref().send(data, 0)) {
            Ok(result) => return result.map(|_| ()),
            Err(_would_block) => continue,
        }
    }
}

/// A request socket. Clones share it; requests take turns, so every answer belongs to the
/// request that is waiting.
#[derive(Debug, Clone)]
pub struct Handle {
    inner: Arc<Mutex<Conn>>,
}

#[derive(Debug)]
struct Conn {
    fd: AsyncFd<Socket>,
    seq: u32,
}

impl Handle {
    /// Must be called inside a tokio runtime.
    pub fn new() -> io::Result<Handle> {
        Self::with(false)
    }

    /// With NETLINK_GET_STRICT_CHK, so that dumps are filtered by the kernel (routes by
    /// table) and malformed requests are refused rather than half-understood.
    pub fn new_strict() -> io::Result<Handle> {
        Self::with(true)
    }

    fn with(strict: bool) -> io::Result<Handle> {
        let fd = open(&[])?;
        if strict {
            fd.get_ref().set_netlink_get_strict_chk(true)?;
        }
        Ok(Handle {
            inner: Arc::new(Mutex::new(Conn { fd, seq: 0 })),
        })
    }

    /// Sends `request` and hands every answer message (type, payload) to `each` until the
    /// kernel's ack or NLMSG_DONE. An error ack, or an error in NLMSG_DONE, is the result.
    pub async fn exchange(
        &self,
        mut request: Vec<u8>,
        mut each: impl FnMut(u16, &[u8]),
    ) -> io::Result<()> {
        let mut conn = self.inner.lock().await;
        conn.seq = conn.seq.wrapping_add(1).max(1);
        let seq = conn.seq;
        request[8..12].copy_from_slice(&seq.to_ne_bytes());
        send(&conn.fd, &request).await?;
        loop {
            let data = recv(&conn.fd).await?;
            if let Some(result) = answer(&data, seq, &mut each) {
                return result;
            }
        }
    }

    /// A request whose answer is only the ack.
    pub async fn request(&self, request: Vec<u8>) -> io::Result<()> {
        self.exchange(request, |_, _| {}).await
    }

    /// The index of the link named `ifname`, or None when no such link exists.
    pub async fn link_index(&self, ifname: &str) -> io::Result<Option<u32>> {
        let mut found = None;
        let result = self
            .exchange(msg::get_link_by_name(ifname), |kind, payload| {
                if kind == msg::RTM_NEWLINK && found.is_none() {
                    found = msg::parse_link(payload).map(|l| l.index);
                }
            })
            .await;
        match result {
            Ok(()) => Ok(found),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Feeds one datagram of answers to `seq` into `each`; `Some` once the exchange is over.
/// Messages of other sequence numbers are left-overs of an abandoned request and skipped.
fn answer(data: &[u8], seq: u32, each: &mut impl FnMut(u16, &[u8])) -> Option<io::Result<()>> {
    for m in messages(data) {
        if m.seq != seq {
            continue;
        }
        match m.kind {
            NLMSG_ERROR | NLMSG_DONE => {
                return Some(match error_code(m.payload) {
                    0 => Ok(()),
                    code => Err(io::Error::from_raw_os_error(code.abs())),
                });
            }
            kind => each(kind, m.payload),
        }
    }
    None
}

/// A netlink message with the header fields route netlink needs.
pub struct Message<'a> {
    pub kind: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// Splits a datagram into messages (a truncated tail is dropped).
pub fn messages(mut data: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    while data.len() >= 16 {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < 16 || len > data.len() {
            break;
        }
        out.push(Message {
            kind: u16::from_ne_bytes([data[4], data[5]]),
            seq: u32::from_ne_bytes([data[8], data[9], data[10], data[11]]),
            payload: &data[16..len],
        });
        data = &data[((len + 3) & !3).min(data.len())..];
    }
    out
}

/// What a multicast socket delivered.
#[derive(Debug)]
pub enum Event {
    /// One datagram of notifications.
    Messages(Vec<u8>),
    /// The receive buffer overran (ENOBUFS or NLMSG_OVERRUN): notifications were lost.
    Overrun,
}

/// A socket subscribed to multicast groups.
#[derive(Debug)]
pub struct Monitor {
    fd: AsyncFd<Socket>,
}

impl Monitor {
    pub fn new(groups: &[u32]) -> io::Result<Monitor> {
        Ok(Monitor { fd: open(groups)? })
    }

    pub fn set_recv_buffer(&self, size: usize) -> io::Result<()> {
        self.fd.get_ref().set_rx_buf_sz(size)
    }

    /// The next datagram or overrun; an error means the socket is unusable.
    pub async fn next(&self) -> io::Result<Event> {
        match recv(&self.fd).await {
            Ok(data) => Ok(classify(data)),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Ok(Event::Overrun),
            Err(e) => Err(e),
        }
    }

    /// A datagram already queued, without waiting.
    pub fn try_next(&self) -> Option<Event> {
        match self.fd.get_ref().recv_from_full() {
            Ok((data, _)) => Some(classify(data)),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Some(Event::Overrun),
            // WouldBlock: nothing queued. Other errors show up again on the next `next`.
            Err(_) => None,
        }
    }
}

fn classify(data: Vec<u8>) -> Event {
    if messages(&data).iter().any(|m| m.kind == NLMSG_OVERRUN) {
        Event::Overrun
    } else {
        Event::Messages(data)
    }
}

#[cfg(test)]
mod tests;
