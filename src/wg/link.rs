//! Netlink side of the device: create (kernel backend), address, MTU, up, delete. Every call
//! is idempotent so a re-apply after a restart is safe. The AllowedIPs routes in arcway's
//! table are the routing reconciler's.

use std::net::{IpAddr, Ipv4Addr};

use super::error::{Error, errno};
use crate::rtnl::Handle;
use crate::rtnl::msg::{self, AF_INET, RTM_NEWADDR};

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

/// Deletes the link; a link that is already gone is fine.
pub(crate) async fn delete(handle: &Handle, ifname: &str, index: u32) -> Result<(), Error> {
    match handle.request(msg::del_link(index)).await {
        Err(e) if errno(&e) != Some(libc::ENODEV) => {
            Err(Error::netlink("delete the link", ifname)(e))
        }
        _ => Ok(()),
    }
}
