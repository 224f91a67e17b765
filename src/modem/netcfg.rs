//! Netlink side of manage mode: put a STATIC bearer's address on its interface, or take it
//! away. Idempotent: applying the same configuration twice changes nothing.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::Ipv4Net;

use super::ModemError;
use netlink_packet_route::address::AddressMessage;

use crate::netlink::{Handle, local_address};

/// What arcway put on the bearer interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub ifname: String,
    pub address: Ipv4Net,
    pub gateway: Option<Ipv4Addr>,
    pub mtu: Option<u32>,
}

impl Applied {
    /// A gateway outside the prefix (a /32 from the modem, say) becomes the address's peer,
    /// which gives it an on-link route the default route can point at.
    fn peer(&self) -> Option<Ipv4Addr> {
        self.gateway.filter(|g| !self.address.contains(g))
    }
}

fn errno(e: &std::io::Error) -> Option<i32> {
    e.raw_os_error()
}

fn nl(what: &'static str, ifname: &str) -> impl FnOnce(std::io::Error) -> ModemError {
    let ifname = ifname.to_owned();
    move |source| ModemError::Netlink {
        what,
        ifname,
        source,
    }
}

pub fn open() -> Result<Handle, ModemError> {
    Handle::new().map_err(ModemError::NetlinkSocket)
}

async fn index(handle: &Handle, ifname: &str) -> Result<Option<u32>, ModemError> {
    handle
        .link_index(ifname)
        .await
        .map_err(nl("look up the link", ifname))
}

async fn ipv4_addresses(
    handle: &Handle,
    index: u32,
    ifname: &str,
) -> Result<Vec<AddressMessage>, ModemError> {
    let all = handle
        .addresses(index)
        .await
        .map_err(nl("list addresses", ifname))?;
    Ok(all
        .into_iter()
        .filter(|a| matches!(local_address(a), Some(IpAddr::V4(_))))
        .collect())
}

fn local_of(msg: &AddressMessage) -> Option<Ipv4Addr> {
    match local_address(msg) {
        Some(IpAddr::V4(v4)) => Some(v4),
        _ => None,
    }
}

/// Address (replacing any other IPv4 address: a new session may bring a new one), MTU, up.
pub async fn apply(handle: &Handle, cfg: &Applied) -> Result<(), ModemError> {
    let ifname = cfg.ifname.as_str();
    let index = index(handle, ifname)
        .await?
        .ok_or_else(|| ModemError::NoInterface {
            ifname: ifname.to_owned(),
        })?;
    let (addr, prefix) = match cfg.peer() {
        Some(_) => (cfg.address.addr(), 32),
        None => (cfg.address.addr(), cfg.address.prefix_len()),
    };
    let peer = cfg.peer().map(IpAddr::V4);
    handle
        .add_address(index, IpAddr::V4(addr), prefix, peer)
        .await
        .map_err(nl("set the bearer address", ifname))?;
    for a in ipv4_addresses(handle, index, ifname).await? {
        let same = local_of(&a) == Some(addr) && a.header.prefix_len == prefix;
        if !same {
            handle
                .delete_address(a)
                .await
                .map_err(nl("remove an old bearer address", ifname))?;
        }
    }
    handle
        .set_link_up(index, cfg.mtu)
        .await
        .map_err(nl("set MTU and bring the link up", ifname))
}

/// Removes the address `apply` set. A link or address already gone is fine.
pub async fn remove(handle: &Handle, cfg: &Applied) -> Result<(), ModemError> {
    let ifname = cfg.ifname.as_str();
    let Some(index) = index(handle, ifname).await? else {
        return Ok(());
    };
    for a in ipv4_addresses(handle, index, ifname).await? {
        if local_of(&a) == Some(cfg.address.addr()) {
            match handle.delete_address(a).await {
                Ok(()) => {}
                Err(e) if errno(&e) == Some(libc::EADDRNOTAVAIL) => {}
                Err(e) => return Err(nl("remove the bearer address", ifname)(e)),
            }
        }
    }
    Ok(())
}
