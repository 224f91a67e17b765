//! Netlink side of the device: create (kernel backend), address, MTU, up, delete. Every call
//! is idempotent so a re-apply after a restart is safe. The AllowedIPs routes in arcway's
//! table are the routing reconciler's.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::{LinkUnspec, LinkWireguard};

use super::error::{Error, errno};
use crate::netlink::{Handle, NLM_F_CREATE, NLM_F_EXCL, local_address};

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
