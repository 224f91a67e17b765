//! Netlink side of the device: create (kernel backend), address, MTU, up, AllowedIPs routes in
//! arcway's table, delete. Every call is idempotent so a re-apply after a restart is safe.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::error::{Error, errno};
use crate::rtnl::Handle;
use crate::rtnl::msg::{
    self, AF_INET, AF_INET6, RT_SCOPE_LINK, RTM_NEWADDR, RTM_NEWROUTE, RTN_UNICAST, RTPROT_STATIC,
    RouteHeader,
};

/// Creates a kernel WireGuard link. An existing link of that name is adopted.
pub(crate) async fn create_kernel(handle: &Handle, ifname: &str) -> Result<(), Error> {
    match handle.request(msg::new_link(ifname, "wireguard")).await {
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

/// The addresses of link `index`, all families.
async fn addresses(handle: &Handle, index: u32) -> std::io::Result<Vec<msg::Address>> {
    let mut out = Vec::new();
    handle
        .exchange(msg::dump_addresses(), |kind, payload| {
            if kind == RTM_NEWADDR {
                out.extend(msg::parse_address(payload).filter(|a| a.index == index));
            }
        })
        .await?;
    Ok(out)
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
        .request(msg::add_address(index, ip, 32, None))
        .await
        .map_err(Error::netlink("set the tunnel address", ifname))?;
    // A new session may bring a new tunnel IP: the old one must not linger as a source address.
    let stale: Vec<_> = addresses(handle, index)
        .await
        .map_err(Error::netlink("list addresses", ifname))?
        .into_iter()
        .filter(|a| a.family == AF_INET && a.local != Some(ip) && a.address != Some(ip))
        .collect();
    for a in stale {
        handle
            .request(msg::del_address(&a))
            .await
            .map_err(Error::netlink("remove an old tunnel address", ifname))?;
    }
    handle
        .request(msg::set_link_up(index, Some(mtu)))
        .await
        .map_err(Error::netlink("set MTU and bring the link up", ifname))
}

fn route_message(index: u32, table: u32, net: IpNet) -> msg::Route {
    let family = match net {
        IpNet::V4(_) => AF_INET,
        IpNet::V6(_) => AF_INET6,
    };
    msg::Route {
        header: RouteHeader {
            family,
            dst_len: net.prefix_len(),
            protocol: RTPROT_STATIC,
            scope: RT_SCOPE_LINK,
            kind: RTN_UNICAST,
            ..RouteHeader::default()
        },
        table,
        dst: (net.prefix_len() > 0).then(|| net.addr()),
        oif: Some(index),
        ..msg::Route::default()
    }
}

fn prefix_of(msg: &msg::Route) -> Option<IpNet> {
    let len = msg.header.dst_len;
    match (msg.dst, msg.header.family) {
        (Some(a), _) => IpNet::new(a, len).ok(),
        (None, AF_INET) => IpNet::new(Ipv4Addr::UNSPECIFIED.into(), 0).ok(),
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
    for family in [AF_INET, AF_INET6] {
        handle
            .exchange(msg::dump_routes(family, Some(table)), |kind, payload| {
                if kind != RTM_NEWROUTE {
                    return;
                }
                if let Some(route) = msg::parse_route(payload)
                    && route.oif == Some(index)
                    && route.table == table
                {
                    found.extend(prefix_of(&route));
                }
            })
            .await
            .map_err(Error::netlink("dump routes", ifname))?;
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
            .request(msg::route_request(
                &route_message(index, table, *net),
                false,
            ))
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
    let request = msg::route_request(&route_message(index, table, net), true);
    match handle.request(request).await {
        Err(e) if errno(&e) != Some(libc::ESRCH) => {
            Err(Error::netlink("delete an AllowedIPs route", ifname)(e))
        }
        _ => Ok(()),
    }
}

/// Deletes the link; a link that is already gone is fine.
pub(crate) async fn delete(handle: &Handle, ifname: &str, index: u32) -> Result<(), Error> {
    match handle.request(msg::del_link(index)).await {
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
        assert_eq!(prefix_of(&msg), Some("100.127.0.0/16".parse().unwrap()));
        // What the kernel gets back parses to the same route: table 7101 in RTA_TABLE.
        let bytes = msg::route_request(&msg, false);
        let parsed = msg::parse_route(&bytes[16..]).unwrap();
        assert_eq!(parsed, msg);
        assert_eq!((parsed.table, bytes[16 + 4]), (7101, 0));
        assert_eq!(parsed.header.scope, RT_SCOPE_LINK);
    }
}
