//! A minimal ctnetlink codec: dump requests, delete requests and the parts of a conntrack
//! entry that eviction needs. The netlink crates in use have no conntrack messages, and the
//! subset needed is small enough to write down here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NFNL_SUBSYS_CTNETLINK: u16 = 1;
pub const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLA_TYPE_MASK: u16 = 0x3fff;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_MARK: u16 = 8;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;

/// One tracked connection, as much as eviction needs of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flow {
    pub family: u8,
    pub orig_src: Option<IpAddr>,
    pub orig_dst: Option<IpAddr>,
    pub reply_src: Option<IpAddr>,
    pub reply_dst: Option<IpAddr>,
    pub protocol: u8,
    pub mark: u32,
    pub id: Option<u32>,
    /// The original tuple as the kernel sent it, echoed back to delete exactly this entry.
    pub orig_tuple: Vec<u8>,
    pub zone: Option<Vec<u8>>,
}

fn header(buf: &mut Vec<u8>, msg: u16, flags: u16, seq: u32, family: u8) {
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by `finish`
    buf.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | msg).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version 0, resource id 0 (big endian)
    buf.extend_from_slice(&[family, 0, 0, 0]);
}

fn finish(mut buf: Vec<u8>) -> Vec<u8> {
    let len = buf.len() as u32;
    buf[..4].copy_from_slice(&len.to_ne_bytes());
    buf
}

fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len() + (align(len) - len), 0);
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// A dump of every entry (all families).
pub fn dump_request(seq: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(20);
    header(
        &mut buf,
        IPCTNL_MSG_CT_GET,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        0,
    );
    finish(buf)
}

/// Deletes exactly `flow` (its original tuple, zone and id).
pub fn delete_request(flow: &Flow, seq: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128);
    header(
        &mut buf,
        IPCTNL_MSG_CT_DELETE,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        flow.family,
    );
    attr(&mut buf, CTA_TUPLE_ORIG | 0x8000, &flow.orig_tuple);
    if let Some(zone) = &flow.zone {
        attr(&mut buf, CTA_ZONE, zone);
    }
    if let Some(id) = flow.id {
        attr(&mut buf, CTA_ID, &id.to_be_bytes());
    }
    finish(buf)
}

/// Iterates `(type, payload)` over netlink attributes.
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
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

/// A netlink message: type, flags-free payload after the netlink header.
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

fn ip(kind: u16, payload: &[u8]) -> Option<IpAddr> {
    match (kind, payload.len()) {
        (1 | 2, 4) => Some(IpAddr::V4(Ipv4Addr::new(
            payload[0], payload[1], payload[2], payload[3],
        ))),
        (3 | 4, 16) => {
            let bytes: [u8; 16] = payload.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

/// (source, destination, protocol) of a tuple attribute.
fn tuple(payload: &[u8]) -> (Option<IpAddr>, Option<IpAddr>, u8) {
    let (mut src, mut dst, mut proto) = (None, None, 0);
    for (kind, inner) in attrs(payload) {
        match kind {
            CTA_TUPLE_IP => {
                for (k, v) in attrs(inner) {
                    match k {
                        1 | 3 => src = ip(k, v),
                        2 | 4 => dst = ip(k, v),
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for (k, v) in attrs(inner) {
                    if k == CTA_PROTO_NUM && !v.is_empty() {
                        proto = v[0];
                    }
                }
            }
            _ => {}
        }
    }
    (src, dst, proto)
}

/// Parses the payload of an IPCTNL_MSG_CT_NEW message (nfgenmsg + attributes).
pub fn parse_flow(payload: &[u8]) -> Option<Flow> {
    let family = *payload.first()?;
    let mut flow = Flow {
        family,
        ..Flow::default()
    };
    for (kind, value) in attrs(payload.get(4..)?) {
        match kind {
            CTA_TUPLE_ORIG => {
                (flow.orig_src, flow.orig_dst, flow.protocol) = tuple(value);
                flow.orig_tuple = value.to_vec();
            }
            CTA_TUPLE_REPLY => (flow.reply_src, flow.reply_dst, _) = tuple(value),
            CTA_MARK if value.len() == 4 => flow.mark = u32::from_be_bytes(value.try_into().ok()?),
            CTA_ID if value.len() == 4 => {
                flow.id = Some(u32::from_be_bytes(value.try_into().ok()?))
            }
            CTA_ZONE => flow.zone = Some(value.to_vec()),
            _ => {}
        }
    }
    Some(flow)
}

/// The message type of a ctnetlink message without its subsystem.
pub fn ct_message(kind: u16) -> Option<u16> {
    (kind >> 8 == NFNL_SUBSYS_CTNETLINK).then_some(kind & 0xff)
}
