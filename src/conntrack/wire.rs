//! ctnetlink messages through netlink-packet-netfilter: dump requests, delete requests and the
//! parts of a conntrack entry that eviction needs.

use std::net::IpAddr;

use netlink_packet_core::{
    DefaultNla, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage,
    NetlinkPayload, Nla,
};
use netlink_packet_netfilter::conntrack::{
    ConntrackAttribute, ConntrackMessage, IPTuple, ProtoTuple, Tuple,
};
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};

/// Attributes the crate keeps as raw bytes.
const CTA_ID: u16 = 12;
const CTA_ZONE: u16 = 18;
const CTA_MARK_MASK: u16 = 21;
/// Flag bits of an attribute type (nested, network byte order).
const NLA_TYPE_MASK: u16 = 0x3fff;

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
    pub orig_tuple: Vec<Tuple>,
    pub zone: Option<DefaultNla>,
}

/// What a dump asks the kernel to leave out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpFilter {
    /// Address family (`AF_INET`, `AF_INET6`); 0 for all.
    pub family: u8,
    /// Only entries with `mark & mask == value`.
    pub mark: Option<(u32, u32)>,
}

fn serialize(flags: u16, seq: u32, family: u8, message: ConntrackMessage) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(
        header,
        NetlinkPayload::from(NetfilterMessage::new(
            NetfilterHeader::new(NetfilterProtoFamily::from(family), 0, 0),
            message,
        )),
    );
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

/// A dump of the entries that pass `filter`, filtered in the kernel so a large table is not
/// copied to user space for a few entries.
pub fn dump_request(seq: u32, filter: DumpFilter) -> Vec<u8> {
    let mut attrs = Vec::new();
    if let Some((value, mask)) = filter.mark {
        attrs.push(ConntrackAttribute::CtaMark(value));
        attrs.push(ConntrackAttribute::Other(DefaultNla::new(
            CTA_MARK_MASK,
            mask.to_be_bytes().to_vec(),
        )));
    }
    serialize(
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        filter.family,
        ConntrackMessage::Get(attrs),
    )
}

/// Deletes exactly `flow` (its original tuple, zone and id).
pub fn delete_request(flow: &Flow, seq: u32) -> Vec<u8> {
    let mut attrs = vec![ConntrackAttribute::CtaTupleOrig(flow.orig_tuple.clone())];
    if let Some(zone) = &flow.zone {
        attrs.push(ConntrackAttribute::Other(zone.clone()));
    }
    if let Some(id) = flow.id {
        attrs.push(ConntrackAttribute::Other(DefaultNla::new(
            CTA_ID,
            id.to_be_bytes().to_vec(),
        )));
    }
    serialize(
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        flow.family,
        ConntrackMessage::Delete(attrs),
    )
}

/// (source, destination, protocol) of a tuple.
fn tuple(tuple: &[Tuple]) -> (Option<IpAddr>, Option<IpAddr>, u8) {
    let (mut src, mut dst, mut proto) = (None, None, 0);
    for part in tuple {
        match part {
            Tuple::Ip(ips) => {
                for ip in ips {
                    match ip {
                        IPTuple::SourceAddress(a) => src = Some(*a),
                        IPTuple::DestinationAddress(a) => dst = Some(*a),
                        _ => {}
                    }
                }
            }
            Tuple::Proto(protos) => {
                for p in protos {
                    if let ProtoTuple::Protocol(p) = p {
                        proto = u8::from(*p);
                    }
                }
            }
            _ => {}
        }
    }
    (src, dst, proto)
}

/// The value of a 4-byte big-endian attribute the crate keeps raw.
fn be32(nla: &DefaultNla) -> Option<u32> {
    if nla.value_len() != 4 {
        return None;
    }
    let mut value = [0; 4];
    nla.emit_value(&mut value);
    Some(u32::from_be_bytes(value))
}

/// The entry in one ctnetlink message (header included): `None` for other messages,
/// `Some(Err)` for an entry the crate could not decode.
pub fn parse_flow(message: &[u8]) -> Option<Result<Flow, String>> {
    let parsed = match NetlinkMessage::<NetfilterMessage>::deserialize(message) {
        Ok(m) => m,
        Err(e) => return Some(Err(e.to_string())),
    };
    let NetlinkPayload::InnerMessage(nf) = parsed.payload else {
        return None;
    };
    let NetfilterMessageInner::Conntrack(ConntrackMessage::New(attrs)) = nf.inner else {
        return None;
    };
    let mut flow = Flow {
        family: u8::from(nf.header.family),
        ..Flow::default()
    };
    for attr in attrs {
        match attr {
            ConntrackAttribute::CtaTupleOrig(t) => {
                (flow.orig_src, flow.orig_dst, flow.protocol) = tuple(&t);
                flow.orig_tuple = t;
            }
            ConntrackAttribute::CtaTupleReply(t) => (flow.reply_src, flow.reply_dst, _) = tuple(&t),
            ConntrackAttribute::CtaMark(mark) => flow.mark = mark,
            ConntrackAttribute::Other(nla) => match nla.kind() & NLA_TYPE_MASK {
                CTA_ID => flow.id = be32(&nla),
                CTA_ZONE => flow.zone = Some(nla),
                _ => {}
            },
            _ => {}
        }
    }
    Some(Ok(flow))
}
