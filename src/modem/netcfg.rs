//! Netlink side of manage mode: put a STATIC bearer's address on its interface, or take it
//! away. Idempotent: applying the same configuration twice changes nothing.

use std::net::{IpAddr, Ipv4Addr};

use futures_util::TryStreamExt as _;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::{Handle, LinkUnspec};

use super::ModemError;

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

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(m.raw_code().abs()),
        _ => None,
    }
}

fn nl(what: &'static str, ifname: &str) -> impl FnOnce(rtnetlink::Error) -> ModemError {
    let ifname = ifname.to_owned();
    move |source| ModemError::Netlink {
        what,
        ifname,
        source,
    }
}

pub fn open() -> Result<Handle, ModemError> {
    let (conn, handle, _) = rtnetlink::new_connection().map_err(ModemError::NetlinkSocket)?;
    tokio::spawn(conn);
    Ok(handle)
}

async fn index(handle: &Handle, ifname: &str) -> Result<Option<u32>, ModemError> {
    let mut links = handle.link().get().match_name(ifname.to_owned()).execute();
    match links.try_next().await {
        Ok(link) => Ok(link.map(|l| l.header.index)),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl("look up the link", ifname)(e)),
    }
}

async fn ipv4_addresses(
    handle: &Handle,
    index: u32,
    ifname: &str,
) -> Result<Vec<AddressMessage>, ModemError> {
    let mut dump = handle
        .address()
        .get()
        .set_link_index_filter(index)
        .execute();
    let mut out = Vec::new();
    while let Some(msg) = dump
        .try_next()
        .await
        .map_err(nl("list addresses", ifname))?
    {
        if msg.header.family == AddressFamily::Inet {
            out.push(msg);
        }
    }
    Ok(out)
}

fn local_of(msg: &AddressMessage) -> Option<Ipv4Addr> {
    msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(IpAddr::V4(v4)) => Some(*v4),
        _ => None,
    })
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
    let mut add = handle
        .address()
        .add(index, IpAddr::V4(addr), prefix)
        .replace();
    if let Some(peer) = cfg.peer() {
        for attr in add.message_mut().attributes.iter_mut() {
            if let AddressAttribute::Address(a) = attr {
                *a = IpAddr::V4(peer);
            }
        }
    }
    add.execute()
        .await
        .map_err(nl("set the bearer address", ifname))?;
    for msg in ipv4_addresses(handle, index, ifname).await? {
        let same = local_of(&msg) == Some(addr) && msg.header.prefix_len == prefix;
        if !same {
            handle
                .address()
                .del(msg)
                .execute()
                .await
                .map_err(nl("remove an old bearer address", ifname))?;
        }
    }
    let mut link = LinkUnspec::new_with_index(index).up();
    if let Some(mtu) = cfg.mtu {
        link = link.mtu(mtu);
    }
    handle
        .link()
        .set(link.build())
        .execute()
        .await
        .map_err(nl("set MTU and bring the link up", ifname))
}

/// Removes the address `apply` set. A link or address already gone is fine.
pub async fn remove(handle: &Handle, cfg: &Applied) -> Result<(), ModemError> {
    let ifname = cfg.ifname.as_str();
    let Some(index) = index(handle, ifname).await? else {
        return Ok(());
    };
    for msg in ipv4_addresses(handle, index, ifname).await? {
        if local_of(&msg) == Some(cfg.address.addr()) {
            match handle.address().del(msg).execute().await {
                Ok(()) => {}
                Err(e) if errno(&e) == Some(libc::EADDRNOTAVAIL) => {}
                Err(e) => return Err(nl("remove the bearer address", ifname)(e)),
            }
        }
    }
    Ok(())
}
