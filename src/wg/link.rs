//! Netlink side of the device: create (kernel backend), address, MTU, up, AllowedIPs routes in
//! arcway's table, delete. Every call is idempotent so a re-apply after a restart is safe.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt as _;
use ipnet::IpNet;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteScope};
use rtnetlink::{Handle, LinkUnspec, LinkWireguard, RouteMessageBuilder};

use super::error::{Error, errno};

/// Creates a kernel WireGuard link. An existing link of that name is adopted.
pub(crate) async fn create_kernel(handle: &Handle, ifname: &str) -> Result<(), Error> {
    match handle
        .link()
        .add(LinkWireguard::new(ifname).build())
        .execute()
        .await
    {
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
    let mut links = handle.link().get().match_name(ifname.to_string()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link.map(|l| l.header.index)),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(Error::netlink("look up the link", ifname)(e)),
    }
}

/// Address `ip/32`, MTU, link up.
pub(crate) async fn configure(
    handle: &Handle,
    ifname: &str,
    index: u32,
    address: Ipv4Addr,
    mtu: u32,
) -> Result<(), Error> {
    handle
        .address()
        .add(index, IpAddr::V4(address), 32)
        .replace()
        .execute()
        .await
        .map_err(Error::netlink("set the tunnel address", ifname))?;
    // A new session may bring a new tunnel IP: the old one must not linger as a source address.
    let mut addrs = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    let mut stale = Vec::new();
    while let Some(msg) = addrs
        .try_next()
        .await
        .map_err(Error::netlink("list addresses", ifname))?
    {
        let mine = msg.attributes.iter().any(|a| matches!(a, AddressAttribute::Local(ip) | AddressAttribute::Address(ip) if *ip == IpAddr::V4(address)));
        if msg.header.family == AddressFamily::Inet && !mine {
            stale.push(msg);
        }
    }
    for msg in stale {
        handle
            .address()
            .del(msg)
            .execute()
            .await
            .map_err(Error::netlink("remove an old tunnel address", ifname))?;
    }
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).mtu(mtu).up().build())
        .execute()
        .await
        .map_err(Error::netlink("set MTU and bring the link up", ifname))
}

fn route_message(index: u32, table: u32, net: IpNet) -> RouteMessage {
    // A prefix from IpNet always fits its family, so the builder cannot refuse it.
    let builder = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(net.addr(), net.prefix_len())
        .unwrap_or_default();
    builder
        .output_interface(index)
        .table_id(table)
        .scope(RouteScope::Link)
        .build()
}

fn table_of(msg: &RouteMessage) -> u32 {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(msg.header.table))
}

fn prefix_of(msg: &RouteMessage) -> Option<IpNet> {
    let len = msg.header.destination_prefix_length;
    let addr = msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(v4)) => Some(IpAddr::V4(*v4)),
        RouteAttribute::Destination(RouteAddress::Inet6(v6)) => Some(IpAddr::V6(*v6)),
        _ => None,
    });
    match (addr, msg.header.address_family) {
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
        let mut query = RouteMessageBuilder::<IpAddr>::new().table_id(table).build();
        query.header.address_family = family;
        let mut dump = handle.route().get(query).execute();
        while let Some(msg) = dump
            .try_next()
            .await
            .map_err(Error::netlink("dump routes", ifname))?
        {
            let oif = msg
                .attributes
                .iter()
                .any(|a| matches!(a, RouteAttribute::Oif(i) if *i == index));
            if oif && table_of(&msg) == table {
                found.extend(prefix_of(&msg));
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
        handle
            .route()
            .add(route_message(index, table, *net))
            .replace()
            .execute()
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
    match handle
        .route()
        .del(route_message(index, table, net))
        .execute()
        .await
    {
        Err(e) if errno(&e) != Some(libc::ESRCH) => {
            Err(Error::netlink("delete an AllowedIPs route", ifname)(e))
        }
        _ => Ok(()),
    }
}

/// Deletes the link; a link that is already gone is fine.
pub(crate) async fn delete(handle: &Handle, ifname: &str, index: u32) -> Result<(), Error> {
    match handle.link().del(index).execute().await {
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
        let msg = route_message(7, 7101, "100.127.0.0/16".parse().unwrap());
        assert_eq!(table_of(&msg), 7101);
        assert_eq!(prefix_of(&msg), Some("100.127.0.0/16".parse().unwrap()));
        assert_eq!(msg.header.scope, RouteScope::Link);
    }
}
