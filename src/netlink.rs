//! Route netlink through rtnetlink and netlink-packet-route: a request connection whose
//! answers have a deadline, dumps that read NLMSG_DONE's error code and restart when the
//! kernel says they were interrupted, and multicast monitors that report lost messages.
//!
//! Errors are `io::Error` carrying the kernel's errno, so callers branch on EEXIST, ENOENT,
//! ESRCH or ENODEV as they would with a system call.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkBuffer, NetlinkMessage,
    NetlinkPayload,
};
use std::net::IpAddr;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::LinkMessage;
use netlink_sys::{Socket, protocols::NETLINK_ROUTE};
use rtnetlink::{AddressMessageBuilder, LinkUnspec, MulticastGroup};
use tokio::io::unix::AsyncFd;

pub use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};

/// How long the kernel may take to send the next part of an answer. It answers in
/// microseconds; a connection that stays silent this long is broken, and a caller must not
/// wait on it forever.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A dump whose snapshot kept changing under it this many times in a row is an error.
const DUMP_ATTEMPTS: usize = 5;

/// A route netlink request connection; clones share it. Requests do not wait for each other:
/// the connection task matches every answer to its request by sequence number. After a
/// request timed out or found the connection closed, later ones get a fresh connection.
#[derive(Debug, Clone)]
pub struct Handle {
    connection: Arc<Mutex<rtnetlink::Handle>>,
    strict: bool,
}

/// What one request brought back.
struct Answer {
    messages: Vec<RouteNetlinkMessage>,
    interrupted: bool,
}

/// Opens a connection and runs it as a task on the current tokio runtime.
fn connect(strict: bool) -> io::Result<rtnetlink::Handle> {
    let (mut connection, handle, _unsolicited) = if strict {
        rtnetlink::new_connection_with_strict_check()?
    } else {
        rtnetlink::new_connection()?
    };
    // Every answer ends with a message of its own, so an answer cut short by a closed
    // connection is never taken for a complete one; NLMSG_DONE carries a dump's errno.
    connection.set_forward_done(true);
    connection.set_forward_ack(true);
    tokio::spawn(connection);
    Ok(handle)
}

impl Handle {
    /// Must be called inside a tokio runtime: the connection runs as a task on it.
    pub fn new() -> io::Result<Handle> {
        Self::open(false)
    }

    /// With NETLINK_GET_STRICT_CHK, so that dumps are filtered by the kernel (routes by
    /// table) and malformed requests are refused rather than half-understood.
    pub fn new_strict() -> io::Result<Handle> {
        Self::open(true)
    }

    fn open(strict: bool) -> io::Result<Handle> {
        Ok(Handle {
            connection: Arc::new(Mutex::new(connect(strict)?)),
            strict,
        })
    }

    /// The connection to send on; the lock is never held across a wait.
    fn current(&self) -> rtnetlink::Handle {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    async fn exchange(&self, message: RouteNetlinkMessage, flags: u16) -> io::Result<Answer> {
        let result = exchange_on(self.current(), message, flags).await;
        if let Err(e) = &result
            && matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::BrokenPipe
            )
        {
            match connect(self.strict) {
                Ok(fresh) => {
                    *self
                        .connection
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = fresh;
                }
                Err(e) => tracing::warn!(error = %e, "failed to reopen route netlink"),
            }
        }
        result
    }

    /// Sends a change (`flags` adds to NLM_F_REQUEST | NLM_F_ACK, e.g. NLM_F_CREATE) and
    /// waits for the kernel's ack.
    pub async fn request(&self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.exchange(message, NLM_F_REQUEST | NLM_F_ACK | flags)
            .await
            .map(|_| ())
    }

    /// Dumps with `message` as the filter. A dump the kernel marks as interrupted (the
    /// objects changed while it was read) is read again.
    pub async fn dump(&self, message: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        for _ in 0..DUMP_ATTEMPTS {
            let answer = self
                .exchange(message.clone(), NLM_F_REQUEST | NLM_F_DUMP)
                .await?;
            if !answer.interrupted {
                return Ok(answer.messages);
            }
        }
        Err(io::Error::from_raw_os_error(libc::EINTR))
    }

    /// The index of the link named `ifname`, or None when no such link exists.
    pub async fn link_index(&self, ifname: &str) -> io::Result<Option<u32>> {
        let request = RouteNetlinkMessage::GetLink(LinkUnspec::new_with_name(ifname).build());
        match self.exchange(request, NLM_F_REQUEST | NLM_F_ACK).await {
            Ok(answer) => Ok(answer.messages.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(LinkMessage { header, .. }) => Some(header.index),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Handle {
    /// The addresses of link `index`, all families, as the kernel reports them.
    pub async fn addresses(&self, index: u32) -> io::Result<Vec<AddressMessage>> {
        let mut filter = AddressMessage::default();
        filter.header.index = index;
        let answers = self.dump(RouteNetlinkMessage::GetAddress(filter)).await?;
        Ok(answers
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => Some(a),
                _ => None,
            })
            .collect())
    }

    /// Adds or replaces `local/prefix_len` on link `index`. `peer` (point-to-point) goes
    /// into IFA_ADDRESS instead of the local address.
    pub async fn add_address(
        &self,
        index: u32,
        local: IpAddr,
        prefix_len: u8,
        peer: Option<IpAddr>,
    ) -> io::Result<()> {
        let mut message = match local {
            IpAddr::V4(v4) => AddressMessageBuilder::<std::net::Ipv4Addr>::new()
                .index(index)
                .address(v4, prefix_len)
                .build(),
            IpAddr::V6(v6) => AddressMessageBuilder::<std::net::Ipv6Addr>::new()
                .index(index)
                .address(v6, prefix_len)
                .build(),
        };
        if let Some(peer) = peer {
            for attr in &mut message.attributes {
                if let AddressAttribute::Address(a) = attr {
                    *a = peer;
                }
            }
        }
        let request = RouteNetlinkMessage::NewAddress(message);
        self.request(request, NLM_F_CREATE | NLM_F_REPLACE).await
    }

    /// Deletes an address exactly as the kernel reported it.
    pub async fn delete_address(&self, address: AddressMessage) -> io::Result<()> {
        self.request(RouteNetlinkMessage::DelAddress(address), 0)
            .await
    }

    /// Brings link `index` up, with a new MTU if given.
    pub async fn set_link_up(&self, index: u32, mtu: Option<u32>) -> io::Result<()> {
        let mut link = LinkUnspec::new_with_index(index).up();
        if let Some(mtu) = mtu {
            link = link.mtu(mtu);
        }
        self.request(RouteNetlinkMessage::SetLink(link.build()), 0)
            .await
    }
}

/// An address's own address: IFA_LOCAL, which differs from IFA_ADDRESS (the peer) on
/// point-to-point links.
pub fn local_address(address: &AddressMessage) -> Option<IpAddr> {
    let mut found = None;
    for attr in &address.attributes {
        match attr {
            AddressAttribute::Local(a) => return Some(*a),
            AddressAttribute::Address(a) => found = Some(*a),
            _ => {}
        }
    }
    found
}

async fn exchange_on(
    mut connection: rtnetlink::Handle,
    message: RouteNetlinkMessage,
    flags: u16,
) -> io::Result<Answer> {
    let mut request = NetlinkMessage::from(message);
    request.header.flags = flags;
    let mut answers = connection.request(request).map_err(|_| closed())?;
    let mut answer = Answer {
        messages: Vec::new(),
        interrupted: false,
    };
    loop {
        let message = tokio::time::timeout(ANSWER_TIMEOUT, answers.next())
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "route netlink: no answer from the kernel",
                )
            })?
            .ok_or_else(closed)?;
        answer.interrupted |= message.header.flags & NLM_F_DUMP_INTR != 0;
        match message.payload {
            NetlinkPayload::InnerMessage(inner) => answer.messages.push(inner),
            NetlinkPayload::Error(e) => {
                return match e.code {
                    Some(code) => Err(io::Error::from_raw_os_error(code.get().abs())),
                    None => Ok(answer),
                };
            }
            NetlinkPayload::Done(done) => {
                return match done.code {
                    0 => Ok(answer),
                    code => Err(io::Error::from_raw_os_error(code.abs())),
                };
            }
            NetlinkPayload::Overrun(_) => {
                return Err(io::Error::from_raw_os_error(libc::ENOBUFS));
            }
            _ => {}
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "route netlink: the connection closed",
    )
}

/// One notification from a multicast socket.
#[derive(Debug, Clone)]
pub enum Notice {
    Message(RouteNetlinkMessage),
    /// A message that could not be read, or an error report: something was missed.
    Lost(String),
}

/// What a multicast socket delivered.
#[derive(Debug)]
pub enum Event {
    /// One datagram of notifications.
    Notices(Vec<Notice>),
    /// The receive buffer overran (ENOBUFS or NLMSG_OVERRUN): notifications were lost.
    Overrun,
}

/// A socket subscribed to route netlink multicast groups. Its own socket rather than
/// rtnetlink's multicast connection: that one drops a message it cannot parse with a log
/// line, where a monitor must learn that it has to re-read.
#[derive(Debug)]
pub struct Monitor {
    fd: AsyncFd<Socket>,
}

impl Monitor {
    pub fn new(groups: &[MulticastGroup]) -> io::Result<Monitor> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        for group in groups {
            socket.add_membership(*group as u32)?;
        }
        socket.set_non_blocking(true)?;
        // SAFETY: the socket owns its descriptor, which stays open and unchanged until the
        // socket is dropped along with the AsyncFd that now owns it.
        let fd = unsafe { AsyncFd::register(socket) }.map_err(io::Error::from)?;
        Ok(Monitor { fd })
    }

    pub fn set_recv_buffer(&self, size: usize) -> io::Result<()> {
        self.fd.get_ref().set_rx_buf_sz(size)
    }

    /// The next datagram or overrun; an error means the socket is unusable.
    pub async fn next(&self) -> io::Result<Event> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|s| s.get_ref().recv_from_full()) {
                Ok(Ok((data, _))) => return Ok(notices(&data)),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Ok(Event::Overrun);
                }
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// A datagram already queued, without waiting.
    pub fn try_next(&self) -> Option<Event> {
        match self.fd.get_ref().recv_from_full() {
            Ok((data, _)) => Some(notices(&data)),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => Some(Event::Overrun),
            // WouldBlock: nothing queued. Other errors show up again on the next `next`.
            Err(_) => None,
        }
    }
}

/// The messages of one datagram, each parsed by netlink-packet-route.
pub fn notices(mut data: &[u8]) -> Event {
    let mut out = Vec::new();
    while !data.is_empty() {
        let len = match NetlinkBuffer::new_checked(data) {
            Ok(buffer) => buffer.length() as usize,
            Err(e) => {
                out.push(Notice::Lost(format!("truncated datagram: {e}")));
                break;
            }
        };
        match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[..len]) {
            Ok(message) => match message.payload {
                NetlinkPayload::InnerMessage(inner) => out.push(Notice::Message(inner)),
                NetlinkPayload::Overrun(_) => return Event::Overrun,
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    out.push(Notice::Lost(format!("error report: {e}")));
                }
                _ => {}
            },
            Err(e) => out.push(Notice::Lost(format!(
                "unreadable message of type {}: {e}",
                NetlinkBuffer::new(data).message_type()
            ))),
        }
        data = &data[len.next_multiple_of(4).min(data.len())..];
    }
    Event::Notices(out)
}

#[cfg(test)]
mod tests;
