//! A minimal ctnetlink codec: dump requests, delete requests and the parts of a conntrack
//! entry that eviction needs (framing in `crate::nfnetlink`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::nfnetlink::{
    self, NLA_F_NESTED, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, attr, attrs, finish,
};

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
pub const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;

const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_MARK: u16 = 8;
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_MARK_MASK: u16 = 21;
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
    nfnetlink::header(buf, NFNL_SUBSYS_CTNETLINK, msg, flags, seq, family);
}

/// What a dump asks the kernel to leave out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpFilter {
    /// Address family (`AF_INET`, `AF_INET6`); 0 for all.
    pub family: u8,
    /// Only entries with `mark & mask == value`.
    pub mark: Option<(u32, u32)>,
}

/// A dump of the entries that pass `filter`, filtered in the kernel so a large table is not
/// copied to user space for a few entries.
pub fn dump_request(seq: u32, filter: DumpFilter) -> Vec<u8> {
    let mut buf = Vec::with_capacity(36);
    header(
        &mut buf,
        IPCTNL_MSG_CT_GET,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        filter.family,
    );
    if let Some((value, mask)) = filter.mark {
        attr(&mut buf, CTA_MARK, &value.to_be_bytes());
        attr(&mut buf, CTA_MARK_MASK, &mask.to_be_bytes());
    }
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
    attr(&mut buf, CTA_TUPLE_ORIG | NLA_F_NESTED, &flow.orig_tuple);
    if let Some(zone) = &flow.zone {
        attr(&mut buf, CTA_ZONE, zone);
    }
    if let Some(id) = flow.id {
        attr(&mut buf, CTA_ID, &id.to_be_bytes());
    }
    finish(buf)
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
    nfnetlink::subsys_message(kind, NFNL_SUBSYS_CTNETLINK)
}
