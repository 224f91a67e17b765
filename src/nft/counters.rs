//! Reads arcway's named counters straight from nf_tables over netlink: one dump of the
//! table's counter objects, filtered by the kernel. Counters are read every few seconds for
//! the whole life of the daemon, so this avoids forking `nft` and parsing its JSON each time.
//! netlink-packet-netfilter frames the messages; it keeps object attributes as raw
//! attributes, which are read here.

use std::collections::BTreeMap;
use std::io;

use netlink_packet_core::{
    DefaultNla, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload, Nla,
    NlaBuffer, NlasIterator,
};
use netlink_packet_netfilter::nftables::NfTablesMessage;
use netlink_packet_netfilter::{
    NetfilterHeader, NetfilterMessage, NetfilterMessageInner, NetfilterProtoFamily,
};

use super::account::CounterKey;
use crate::nfnetlink;

const NFTA_OBJ_TABLE: u16 = 1;
const NFTA_OBJ_NAME: u16 = 2;
const NFTA_OBJ_TYPE: u16 = 3;
const NFTA_OBJ_DATA: u16 = 4;
const NFT_OBJECT_COUNTER: u32 = 1;
const NFTA_COUNTER_BYTES: u16 = 1;
/// Flag bits of an attribute type (nested, network byte order).
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The table whose counters are read.
pub const TABLE: &str = "arcway";

/// A NUL-terminated string attribute, as nf_tables expects it.
fn string_attr(kind: u16, value: &str) -> DefaultNla {
    let mut bytes = Vec::with_capacity(value.len() + 1);
    bytes.extend_from_slice(value.as_bytes());
    bytes.push(0);
    DefaultNla::new(kind, bytes)
}

/// A dump of the counter objects of `table inet <table>` (the kernel leaves out every other
/// table and object type).
pub fn dump_request(seq: u32, table: &str) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(
        header,
        NetlinkPayload::from(NetfilterMessage::new(
            NetfilterHeader::new(NetfilterProtoFamily::Inet, 0, 0),
            NfTablesMessage::GetObject(vec![
                string_attr(NFTA_OBJ_TABLE, table),
                DefaultNla::new(NFTA_OBJ_TYPE, NFT_OBJECT_COUNTER.to_be_bytes().to_vec()),
            ]),
        )),
    );
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

fn value(nla: &DefaultNla) -> Vec<u8> {
    let mut bytes = vec![0; nla.value_len()];
    nla.emit_value(&mut bytes);
    bytes
}

fn string(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8(bytes[..end].to_vec()).ok()
}

/// The byte count in a counter object's data attribute.
fn counter_bytes(data: &[u8]) -> Option<u64> {
    NlasIterator::new(data)
        .filter_map(Result::ok)
        .find(|nla: &NlaBuffer<&[u8]>| nla.kind() == NFTA_COUNTER_BYTES)
        .and_then(|nla| Some(u64::from_be_bytes(nla.value().try_into().ok()?)))
}

/// One counter object of a dump reply (a whole message, header included):
/// (table, name, bytes).
pub fn parse_object(message: &[u8]) -> Option<(String, String, u64)> {
    let parsed = NetlinkMessage::<NetfilterMessage>::deserialize(message).ok()?;
    let NetlinkPayload::InnerMessage(nf) = parsed.payload else {
        return None;
    };
    let NetfilterMessageInner::NfTables(NfTablesMessage::NewObject(attrs)) = nf.inner else {
        return None;
    };
    let (mut table, mut name, mut kind, mut bytes) = (None, None, None, None);
    for nla in &attrs {
        let v = value(nla);
        match nla.kind() & NLA_TYPE_MASK {
            NFTA_OBJ_TABLE => table = string(&v),
            NFTA_OBJ_NAME => name = string(&v),
            NFTA_OBJ_TYPE => kind = Some(u32::from_be_bytes(v.as_slice().try_into().ok()?)),
            NFTA_OBJ_DATA => bytes = counter_bytes(&v),
            _ => {}
        }
    }
    (kind == Some(NFT_OBJECT_COUNTER)).then_some(())?;
    Some((table?, name?, bytes?))
}

/// Byte values of arcway's counters; names arcway does not make are ignored, and a missing
/// table has no counters.
pub fn read_blocking() -> io::Result<BTreeMap<CounterKey, u64>> {
    let socket = nfnetlink::open()?;
    let messages = match nfnetlink::dump_messages(&socket, &dump_request(1, TABLE)) {
        Ok(messages) => messages,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(BTreeMap::new()),
        Err(e) => return Err(e),
    };
    let mut out = BTreeMap::new();
    for message in &messages {
        if let Some((table, name, bytes)) = parse_object(message)
            && table == TABLE
            && let Some(key) = CounterKey::parse(&name)
        {
            out.insert(key, bytes);
        }
    }
    Ok(out)
}
