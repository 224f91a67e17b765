//! Reads arcway's named counters straight from nf_tables over netlink: one dump of the
//! table's counter objects, filtered by the kernel. Counters are read every few seconds for
//! the whole life of the daemon, so this avoids forking `nft` and parsing its JSON each time.

use std::collections::BTreeMap;
use std::io;

use super::account::CounterKey;
use crate::nfnetlink::{
    self, NLM_F_DUMP, NLM_F_REQUEST, attr, attr_str, attrs, be64, finish, str_value,
};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWOBJ: u16 = 18;
const NFT_MSG_GETOBJ: u16 = 19;
const NFPROTO_INET: u8 = 1;
const NFTA_OBJ_TABLE: u16 = 1;
const NFTA_OBJ_NAME: u16 = 2;
const NFTA_OBJ_TYPE: u16 = 3;
const NFTA_OBJ_DATA: u16 = 4;
const NFT_OBJECT_COUNTER: u32 = 1;
const NFTA_COUNTER_BYTES: u16 = 1;

/// The table whose counters are read.
pub const TABLE: &str = "arcway";

/// A dump of the counter objects of `table inet <table>` (the kernel leaves out every other
/// table and object type).
pub fn dump_request(seq: u32, table: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(48);
    nfnetlink::header(
        &mut buf,
        NFNL_SUBSYS_NFTABLES,
        NFT_MSG_GETOBJ,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        NFPROTO_INET,
    );
    attr_str(&mut buf, NFTA_OBJ_TABLE, table);
    attr(&mut buf, NFTA_OBJ_TYPE, &NFT_OBJECT_COUNTER.to_be_bytes());
    finish(buf)
}

/// One counter object of a dump reply: (table, name, bytes).
pub fn parse_object(kind: u16, payload: &[u8]) -> Option<(&str, &str, u64)> {
    if nfnetlink::subsys_message(kind, NFNL_SUBSYS_NFTABLES) != Some(NFT_MSG_NEWOBJ) {
        return None;
    }
    let (mut table, mut name, mut kind, mut bytes) = (None, None, None, None);
    for (attr, value) in attrs(payload.get(4..)?) {
        match attr {
            NFTA_OBJ_TABLE => table = str_value(value),
            NFTA_OBJ_NAME => name = str_value(value),
            NFTA_OBJ_TYPE => kind = Some(u32::from_be_bytes(value.try_into().ok()?)),
            NFTA_OBJ_DATA => {
                bytes = attrs(value)
                    .find(|(k, _)| *k == NFTA_COUNTER_BYTES)
                    .and_then(|(_, v)| be64(v));
            }
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
    let mut out = BTreeMap::new();
    let result = nfnetlink::dump(&socket, &dump_request(1, TABLE), |kind, payload| {
        if let Some((table, name, bytes)) = parse_object(kind, payload)
            && table == TABLE
            && let Some(key) = CounterKey::parse(name)
        {
            out.insert(key, bytes);
        }
    });
    match result {
        Ok(()) => Ok(out),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}
