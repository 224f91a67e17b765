//! The netlink framing shared by ctnetlink (conntrack eviction), nf_tables (counter reads),
//! WireGuard's generic netlink family and route netlink (src/rtnl): message headers,
//! attributes, and one blocking request/dump exchange. The subset arcway needs is small
//! enough to write down here.

use std::io;

use netlink_sys::{
    Socket, SocketAddr,
    protocols::{NETLINK_GENERIC, NETLINK_NETFILTER},
};

const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
/// Set on nested attributes by newer kernels; not part of the type.
pub const NLA_F_NESTED: u16 = 0x8000;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// A netlink socket of the netfilter family, connected to the kernel.
pub fn open() -> io::Result<Socket> {
    open_protocol(NETLINK_NETFILTER)
}

/// A generic netlink socket, connected to the kernel.
pub fn open_generic() -> io::Result<Socket> {
    open_protocol(NETLINK_GENERIC)
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

pub fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
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
    let len = u16::try_from(buf.len() - start).unwrap_or(u16::MAX);
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

/// Splits a datagram into netlink messages.
pub fn messages(mut data: &[u8]) -> Vec<Message<'_>> {
    let mut out = Vec::new();
    while data.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([data[0], data[1], data[2], data[3]]) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            break;
        }
        let kind = u16::from_ne_bytes([data[4], data[5]]);
        out.push(Message {
            kind,
            payload: &data[NLMSG_HDRLEN..len],
        });
        data = &data[align(len).min(data.len())..];
    }
    out
}

/// The errno of an NLMSG_ERROR payload (0 for an ack).
pub fn error_code(payload: &[u8]) -> i32 {
    payload
        .get(..4)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// The message type of an nfnetlink message of subsystem `subsys`, without the subsystem.
pub fn subsys_message(kind: u16, subsys: u16) -> Option<u16> {
    (kind >> 8 == subsys).then_some(kind & 0xff)
}

/// Sends a dump request and hands every reply message (type, payload) to `each` until the
/// kernel says done.
pub fn dump(socket: &Socket, request: &[u8], mut each: impl FnMut(u16, &[u8])) -> io::Result<()> {
    socket.send(request, 0)?;
    loop {
        let (data, _) = socket.recv_from_full()?;
        for msg in messages(&data) {
            match msg.kind {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    return match error_code(msg.payload) {
                        0 => Ok(()),
                        code => Err(io::Error::from_raw_os_error(-code)),
                    };
                }
                kind => each(kind, msg.payload),
            }
        }
    }
}

/// Sends a request that asks for an ack and waits for it.
pub fn request(socket: &Socket, request: &[u8]) -> io::Result<()> {
    socket.send(request, 0)?;
    loop {
        let (data, _) = socket.recv_from_full()?;
        for msg in messages(&data) {
            if msg.kind == NLMSG_ERROR {
                return match error_code(msg.payload) {
                    0 => Ok(()),
                    code => Err(io::Error::from_raw_os_error(-code)),
                };
            }
        }
    }
}
