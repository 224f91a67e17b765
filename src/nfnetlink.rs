//! Blocking netlink exchanges for ctnetlink (conntrack eviction) and nf_tables (counter reads).
//! Conntrack and nf_tables messages themselves are built and parsed by
//! netlink-packet-netfilter; the byte-level builders here make the kernel's raw replies that
//! the readers' tests feed them.
//!
//! Replies are read strictly: the framing is netlink-packet-core's checked buffer; an error
//! or `NLMSG_DONE` too short to hold its code, a truncated message or an overrun is an error,
//! `NLMSG_DONE` carries the dump's result, and a dump the kernel marks inconsistent
//! (`NLM_F_DUMP_INTR`, the object set changed while it was copied) is asked for again.

use std::io;

use netlink_packet_core::{DoneBuffer, ErrorBuffer, NetlinkBuffer};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};

const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
const NLMSG_NOOP: u16 = 1;
const NLMSG_OVERRUN: u16 = 4;
const NLM_F_DUMP_INTR: u16 = 0x10;
/// Attempts at a dump the kernel keeps marking inconsistent before giving up.
const DUMP_ATTEMPTS: usize = 4;
/// Set on nested attributes by newer kernels; not part of the type.
pub const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// A netlink socket of the netfilter family, connected to the kernel.
pub fn open() -> io::Result<Socket> {
    open_protocol(NETLINK_NETFILTER)
}

/// The kernel answers requests and dumps of these families synchronously; the receive timeout
/// only bounds a kernel that misbehaves, so a blocking exchange never hangs its caller.
fn open_protocol(protocol: isize) -> io::Result<Socket> {
    let mut socket = Socket::new(protocol)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let timeout = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    // SAFETY: the option value is a valid timeval of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&socket),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(socket)
}

/// Starts a message with the bare netlink header (length patched by `finish`, port id 0).
pub fn nlmsg_header(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32) {
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
}

/// Starts an nfnetlink message: netlink header and nfgenmsg.
pub fn header(buf: &mut Vec<u8>, subsys: u16, msg: u16, flags: u16, seq: u32, family: u8) {
    nlmsg_header(buf, (subsys << 8) | msg, flags, seq);
    // nfgenmsg: family, version 0, resource id 0 (big endian)
    buf.extend_from_slice(&[family, 0, 0, 0]);
}

/// Writes the message length into the header.
pub fn finish(mut buf: Vec<u8>) -> Vec<u8> {
    let len = buf.len() as u32;
    buf[..4].copy_from_slice(&len.to_ne_bytes());
    buf
}

/// The length field of an attribute of `len` bytes. One that does not fit the 16-bit field
/// gets 0, a length no reader accepts (the kernel answers EINVAL), never a shorter length that
/// would be read as other attributes.
fn attr_len(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(0)
}

pub fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&attr_len(len).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len() + (align(len) - len), 0);
}

/// A NUL-terminated string attribute (NLA_STRING as nf_tables expects it).
pub fn attr_str(buf: &mut Vec<u8>, kind: u16, value: &str) {
    let mut payload = Vec::with_capacity(value.len() + 1);
    payload.extend_from_slice(value.as_bytes());
    payload.push(0);
    attr(buf, kind, &payload);
}

/// A nested attribute (NLA_F_NESTED set) whose payload `fill` appends; its length is patched
/// in afterwards, so the nest is written in place without a buffer of its own.
pub fn nest(buf: &mut Vec<u8>, kind: u16, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    fill(buf);
    // Every attribute inside is padded to 4 bytes, so the nest needs no padding of its own.
    let len = attr_len(buf.len() - start);
    buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// Iterates `(type, payload)` over netlink attributes (flag bits stripped from the type).
pub fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let kind = u16::from_ne_bytes([data[2], data[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > data.len() {
            return None;
        }
        let payload = &data[4..len];
        data = &data[align(len).min(data.len())..];
        Some((kind, payload))
    })
}

/// The payload of a string attribute without its terminating NUL.
pub fn str_value(payload: &[u8]) -> Option<&str> {
    let end = payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len());
    std::str::from_utf8(&payload[..end]).ok()
}

/// A big-endian u64 attribute payload.
pub fn be64(payload: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(payload.try_into().ok()?))
}

/// A netlink message: its type and the payload after the netlink header.
pub struct Message<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

/// Splits a datagram into netlink messages; stops at the first one whose framing is broken
/// (tests and the route netlink reader; exchanges use [`Replies`]).
pub fn messages(mut data: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    while let Ok(buf) = NetlinkBuffer::new_checked(data) {
        let len = buf.length() as usize;
        out.push(Message {
            kind: buf.message_type(),
            payload: &data[NLMSG_HDRLEN..len],
        });
        data = data.get(align(len)..).unwrap_or_default();
    }
    out
}

/// The errno of an NLMSG_ERROR payload (0 for an ack); a payload too short to hold one is
/// `-EBADMSG`, never an ack.
pub fn error_code(payload: &[u8]) -> i32 {
    match payload.get(..4) {
        Some(b) => i32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
        None => -libc::EBADMSG,
    }
}

/// The message type of an nfnetlink message of subsystem `subsys`, without the subsystem.
pub fn subsys_message(kind: u16, subsys: u16) -> Option<u16> {
    (kind >> 8 == subsys).then_some(kind & 0xff)
}

fn malformed(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed netlink reply: {what}"),
    )
}

/// An errno from the kernel (which sends it negated) as an io::Error.
fn kernel_error(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code.checked_neg().unwrap_or(i32::MAX))
}

/// The answer to one request, read from the kernel's datagrams.
#[derive(Debug, Default)]
pub struct Replies {
    seq: u32,
    /// Whole data messages (header included), in the order received.
    messages: Vec<Vec<u8>>,
    /// The kernel marked the dump inconsistent.
    interrupted: bool,
}

impl Replies {
    /// Replies to the request with sequence number `seq`.
    pub fn new(seq: u32) -> Self {
        Replies {
            seq,
            ..Replies::default()
        }
    }

    /// Takes one datagram; `Ok(true)` once the answer is complete (NLMSG_DONE or the ack),
    /// an error when the kernel reports one or the datagram is not well-formed netlink.
    /// Messages of other sequence numbers (late answers to an earlier request) are skipped.
    pub fn feed(&mut self, mut datagram: &[u8]) -> io::Result<bool> {
        while !datagram.is_empty() {
            let buf = NetlinkBuffer::new_checked(datagram).map_err(malformed)?;
            let len = buf.length() as usize;
            let message = &datagram[..len];
            let payload = &message[NLMSG_HDRLEN..];
            datagram = datagram.get(align(len)..).unwrap_or_default();
            if buf.sequence_number() != self.seq {
                continue;
            }
            if buf.flags() & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match buf.message_type() {
                NLMSG_NOOP => {}
                NLMSG_ERROR => {
                    let error = ErrorBuffer::new_checked(payload).map_err(malformed)?;
                    return match error.code() {
                        None => Ok(true),
                        Some(code) => Err(kernel_error(code.get())),
                    };
                }
                NLMSG_DONE => {
                    let done = DoneBuffer::new_checked(payload).map_err(malformed)?;
                    return match done.code() {
                        0 => Ok(true),
                        code => Err(kernel_error(code)),
                    };
                }
                NLMSG_OVERRUN => return Err(malformed("the kernel dropped messages (overrun)")),
                _ => self.messages.push(message.to_vec()),
            }
        }
        Ok(false)
    }

    /// Whether the kernel marked the dump inconsistent (to be asked for again).
    pub fn interrupted(&self) -> bool {
        self.interrupted
    }

    /// The data messages, each with its netlink header.
    pub fn into_messages(self) -> Vec<Vec<u8>> {
        self.messages
    }
}

fn request_seq(request: &[u8]) -> io::Result<u32> {
    NetlinkBuffer::new_checked(request)
        .map(|b| b.sequence_number())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))
}

/// Sends `request` and reads until the answer is complete.
fn exchange(socket: &Socket, request: &[u8]) -> io::Result<Replies> {
    let mut replies = Replies::new(request_seq(request)?);
    socket.send(request, 0)?;
    loop {
        let (data, _) = socket.recv_from_full()?;
        if replies.feed(&data)? {
            return Ok(replies);
        }
    }
}

/// Sends a dump request and returns every reply message (header included) of a consistent
/// dump, asking again while the kernel marks it interrupted.
pub fn dump_messages(socket: &Socket, request: &[u8]) -> io::Result<Vec<Vec<u8>>> {
    for _ in 0..DUMP_ATTEMPTS {
        let replies = exchange(socket, request)?;
        if !replies.interrupted() {
            return Ok(replies.into_messages());
        }
    }
    Err(io::Error::new(
        io::ErrorKind::Interrupted,
        format!("the netlink dump changed under every one of {DUMP_ATTEMPTS} attempts"),
    ))
}

/// Sends a dump request and hands every reply message (type, payload) of a consistent dump to
/// `each`.
pub fn dump(socket: &Socket, request: &[u8], mut each: impl FnMut(u16, &[u8])) -> io::Result<()> {
    for message in dump_messages(socket, request)? {
        let kind = u16::from_ne_bytes([message[4], message[5]]);
        each(kind, &message[NLMSG_HDRLEN..]);
    }
    Ok(())
}

/// Sends a request that asks for an ack and waits for it.
pub fn request(socket: &Socket, request: &[u8]) -> io::Result<()> {
    exchange(socket, request).map(drop)
}

#[cfg(test)]
#[path = "nfnetlink_tests.rs"]
mod tests;
