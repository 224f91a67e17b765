//! A full read of links, addresses and routes into a fresh table.

use std::io;

use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::netlink::Handle;

use super::parse::parse_message;
use super::table::{LinkTable, Update};

/// Reads everything the monitor tracks. Resync hints inside a dump are ignored: the dump is
/// the re-read.
pub(crate) async fn dump(handle: &Handle) -> Result<LinkTable, io::Error> {
    let mut table = LinkTable::default();
    let mut requests = vec![
        RouteNetlinkMessage::GetLink(Default::default()),
        RouteNetlinkMessage::GetAddress(Default::default()),
    ];
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut filter = RouteMessage::default();
        filter.header.address_family = family;
        requests.push(RouteNetlinkMessage::GetRoute(filter));
    }
    for request in requests {
        for message in handle.dump(request).await? {
            for update in parse_message(&message) {
                if update != Update::Resync {
                    table.apply(update);
                }
            }
        }
    }
    Ok(table)
}
