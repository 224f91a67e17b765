//! Netlink side of the device: create (kernel backend), address, MTU, up, AllowedIPs routes in
//! arcway's table, delete. Every call is idempotent so a re-apply after a restart is safe.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{LinkUnspec, LinkWireguard};

use super::error::{Error, errno};
use crate::netlink::{Handle, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, local_address};

/// Creates a kernel WireGuard link. An existing link of that name is adopted.
pub(crate) async fn create_kernel(handle: &Handle, ifname: &str) -> Result<(), Error> {
    let request = RouteNetlinkMessage::NewLink(LinkWireguard::new(ifname).build());
    match handle.request(request, NLM_F_CREATE | NLM_F_EXCL).await {
        Ok(()) => Ok(()),
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        // No module: the kernel answers EOPNOTSUPP after failing to load rtnl-link-wireguard.
        Err(e) if errno(&e) == Some(libc::EOPNOTSUPP) => Err(Error::KernelUnsupported {
            ifname: ifname.into(),
        }),
        Err(e) => Err(Error::netlink("create the WireGuard link", ifname)(e)),
    }
}

/// The interface index, or None when no such link exists.
pub(crate) async fn index(handle: &Handle, ifname: &str) -> Result<Option<u32>, Error> {
    handle
        .link_index(ifname)
        .await
        .map_err(Error::netlink("look up the link", ifname))
}

/// Address `ip/32`, MTU, link up.
pub(crate) async fn configure(
    handle: &Handle,
    ifname: &str,
    index: u32,
    address: Ipv4Addr,
    mtu: u32,
) -> Result<(), Error> {
    let ip = IpAddr::V4(address);
    handle
        .add_address(index, ip, 32, None)
        .await
        .map_err(Error::netlink("set the tunnel address", ifname))?;
    // A new session may bring a new tunnel IP: the old one must not linger as a source address.
    let stale: Vec<_> = handle
        .addresses(index)
        .await
        .map_err(Error::netlink("list addresses", ifname))?
        .into_iter()
        .filter(|a| matches!(local_address(a), Some(IpAddr::V4(v4)) if v4 != address))
        .collect();
    for a in stale {
        handle
            .delete_address(a)
            .await
            .map_err(Error::netlink("remove an old tunnel address", ifname))?;
    }
    handle
        .set_link_up(index, Some(mtu))
        .await
        .map_err(Error::netlink("set MTU and bring the link up", ifname))
}

fn route_message(index: u32, table: u32, net: IpNet) -> RouteMessage {
    let mut msg = RouteMessage::default();
    msg.header.address_family = match net {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    };
    msg.header.destination_prefix_length = net.prefix_len();
    // The header cannot name tables above 255: the id always travels in RTA_TABLE.
    msg.header.table = u8::try_from(table).unwrap_or(0);
    msg.header.protocol = RouteProtocol::Static;
    msg.header.scope = RouteScope::Link;
    msg.header.kind = RouteType::Unicast;
    if net.prefix_len() > 0 {
        let dst = RouteAddress::from(net.addr());
        msg.attributes.push(RouteAttribute::Destination(dst));
    }
    msg.attributes.push(RouteAttribute::Table(table));
    msg.attributes.push(RouteAttribute::Oif(index));
    msg
}

/// The destination of a dumped route, if it is a route via link `index` in `table`.
fn prefix_of(msg: &RouteMessage, index: u32, table: u32) -> Option<IpNet> {
    let (mut dst, mut oif, mut in_table) = (None, None, u32::from(msg.header.table));
    for attr in &msg.attributes {
        match attr {
            RouteAttribute::Destination(RouteAddress::Inet(a)) => dst = Some(IpAddr::V4(*a)),
            RouteAttribute::Destination(RouteAddress::Inet6(a)) => dst = Some(IpAddr::V6(*a)),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Table(t) => in_table = *t,
            _ => {}
        }
    }
    if oif != Some(index) || in_table != table {
        return None;
    }
    let len = msg.header.destination_prefix_length;
    match (dst, msg.header.address_family) {
        (Some(a), _) => IpNet::new(a, len).ok(),
        (None, AddressFamily::Inet) => IpNet::new(Ipv4Addr::UNSPECIFIED.into(), 0).ok(),
        (None, _) => IpNet::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0).ok(),
    }
}

/// Routes in `table` that point at link `index` (those are arcway's: it owns the table's
/// routes for its own device).
pub(crate) async fn routes(
    handle: &Handle,
    ifname: &str,
    index: u32,
    table: u32,
) -> Result<BTreeSet<IpNet>, Error> {
    let mut found = BTreeSet::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut filter = RouteMessage::default();
        filter.header.address_family = family;
        filter.attributes.push(RouteAttribute::Table(table));
        let answers = handle
            .dump(RouteNetlinkMessage::GetRoute(filter))
            .await
            .map_err(Error::netlink("dump routes", ifname))?;
        for answer in answers {
            if let RouteNetlinkMessage::NewRoute(route) = answer {
                found.extend(prefix_of(&route, index, table));
            }
        }
    }
    Ok(found)
}

/// What to delete so that `current` becomes `desired` (everything desired is replaced anyway,
/// which is idempotent and repairs a route that drifted to another device). The table's
/// default route is the Arc path's, owned by the routing reconciler: never ours to delete.
pub fn stale_routes(current: &BTreeSet<IpNet>, desired: &BTreeSet<IpNet>) -> Vec<IpNet> {
    current
        .difference(desired)
        .filter(|net| net.prefix_len() != 0)
        .copied()
        .collect()
}

/// Makes `table` hold exactly `desired` via link `index`.
pub(crate) async fn sync_routes(
    handle: &Handle,
    ifname: &str,
    index: u32,
    table: u32,
    desired: &BTreeSet<IpNet>,
) -> Result<(), Error> {
    let current = routes(handle, ifname, index, table).await?;
    for net in stale_routes(&current, desired) {
        delete_route(handle, ifname, index, table, net).await?;
    }
    for net in desired {
        let request = RouteNetlinkMessage::NewRoute(route_message(index, table, *net));
        handle
            .request(request, NLM_F_CREATE | NLM_F_REPLACE)
            .await
            .map_err(Error::netlink("replace an AllowedIPs route", ifname))?;
    }
    Ok(())
}

pub(crate) async fn delete_route(
    handle: &Handle,
    ifname: &str,
    index: u32,
    table: u32,
    net: IpNet,
) -> Result<(), Error> {
    let request = RouteNetlinkMessage::DelRoute(route_message(index, table, net));
    match handle.request(request, 0).await {
        Err(e) if errno(&e) != Some(libc::ESRCH) => {
            Err(Error::netlink("delete an AllowedIPs route", ifname)(e))
        }
        _ => Ok(()),
    }
}

/// Deletes the link; a link that is already gone is fine.
pub(crate) async fn delete(handle: &Handle, ifname: &str, index: u32) -> Result<(), Error> {
    let request = RouteNetlinkMessage::DelLink(LinkUnspec::new_with_index(index).build());
    match handle.request(request, 0).await {
        Err(e) if errno(&e) != Some(libc::ENODEV) => {
            Err(Error::netlink("delete the link", ifname)(e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<IpNet> {
        items.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn stale_routes_are_the_current_minus_desired() {
        let current = set(&["100.127.0.0/16", "10.128.0.0/9", "2001:db8::/32"]);
        let desired = set(&["100.127.0.0/16", "10.0.0.0/8"]);
        assert_eq!(
            stale_routes(&current, &desired),
            vec![
                "10.128.0.0/9".parse::<IpNet>().unwrap(),
                "2001:db8::/32".parse().unwrap()
            ]
        );
        assert!(stale_routes(&desired, &desired).is_empty());
        let with_default = set(&["0.0.0.0/0", "::/0", "100.127.0.0/16", "10.0.0.0/8"]);
        assert!(stale_routes(&with_default, &desired).is_empty());
    }

    #[test]
    fn route_message_targets_the_table() {
        use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
        let msg = route_message(7, 7101, "100.127.0.0/16".parse().unwrap());
        assert_eq!(
            prefix_of(&msg, 7, 7101),
            Some("100.127.0.0/16".parse().unwrap())
        );
        assert_eq!(prefix_of(&msg, 8, 7101), None);
        // What the kernel gets back parses to the same route: table 7101 in RTA_TABLE.
        let mut nl = NetlinkMessage::from(RouteNetlinkMessage::NewRoute(msg.clone()));
        nl.finalize();
        let mut bytes = vec![0; nl.buffer_len()];
        nl.serialize(&mut bytes);
        let parsed = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).unwrap();
        let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(parsed)) = parsed.payload
        else {
            panic!("{parsed:?}")
        };
        assert_eq!(parsed, msg);
        assert_eq!(
            bytes[16 + 4],
            0,
            "the header's table field cannot hold 7101"
        );
        assert_eq!(parsed.header.scope, RouteScope::Link);
        let v6 = route_message(7, 7101, "::/0".parse().unwrap());
        assert_eq!(prefix_of(&v6, 7, 7101), Some("::/0".parse().unwrap()));
    }
}
