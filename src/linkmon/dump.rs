//! A full read of links, addresses and routes into a fresh table.

use futures_util::TryStreamExt;
use rtnetlink::Handle;
use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::parse::parse_message;
use super::table::{LinkTable, Update};

/// Reads everything the monitor tracks. Resync hints inside a dump are ignored: the dump is
/// the re-read.
pub(crate) async fn dump(handle: &Handle) -> Result<LinkTable, rtnetlink::Error> {
    let mut table = LinkTable::default();
    let mut apply = |msg: RouteNetlinkMessage| {
        for update in parse_message(&msg) {
            if update != Update::Resync {
                table.apply(update);
            }
        }
    };
    let mut links = handle.link().get().execute();
    while let Some(m) = links.try_next().await? {
        apply(RouteNetlinkMessage::NewLink(m));
    }
    let mut addrs = handle.address().get().execute();
    while let Some(m) = addrs.try_next().await? {
        apply(RouteNetlinkMessage::NewAddress(m));
    }
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut request = RouteMessage::default();
        request.header.address_family = family;
        let mut routes = handle.route().get(request).execute();
        while let Some(m) = routes.try_next().await? {
            apply(RouteNetlinkMessage::NewRoute(m));
        }
    }
    Ok(table)
}
