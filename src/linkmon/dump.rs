//! A full read of links, addresses and routes into a fresh table.

use std::io;

use crate::rtnl::Handle;
use crate::rtnl::msg::{self, AF_INET, AF_INET6};

use super::parse::parse_message;
use super::table::{LinkTable, Update};

/// Reads everything the monitor tracks. Resync hints inside a dump are ignored: the dump is
/// the re-read.
pub(crate) async fn dump(handle: &Handle) -> Result<LinkTable, io::Error> {
    let mut table = LinkTable::default();
    let mut apply = |kind: u16, payload: &[u8]| {
        for update in parse_message(kind, payload) {
            if update != Update::Resync {
                table.apply(update);
            }
        }
    };
    handle.exchange(msg::dump_links(), &mut apply).await?;
    handle.exchange(msg::dump_addresses(), &mut apply).await?;
    for family in [AF_INET, AF_INET6] {
        handle
            .exchange(msg::dump_routes(family, None), &mut apply)
            .await?;
    }
    Ok(table)
}
