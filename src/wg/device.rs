//! WireGuard configuration: the desired state as a [`DeviceUpdate`], applied over generic
//! netlink to a kernel device (genl.rs) or over the UAPI socket to a userspace one (uapi.rs).
//! The calls block, so they run on the blocking pool.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::SystemTime;

use ipnet::IpNet;

use super::error::Error;
use super::tunnel::ActiveBackend;
use super::{WgSettings, genl, uapi};
use crate::credentials::{Credentials, PrivateKey, PublicKey};

/// AllowedIPs of the single peer: the credentials' own plus the configured extras, sorted.
pub fn allowed_ips(credentials: &Credentials, settings: &WgSettings) -> BTreeSet<IpNet> {
    credentials
        .allowed_ips
        .iter()
        .chain(&credentials.additional_allowed_ips)
        .chain(&settings.extra_allowed_ips)
        .map(|n| n.trunc())
        .collect()
}

/// What to change on the device; unset fields are left as they are. Its Debug shows no
/// secret (the private key's is redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceUpdate {
    pub private_key: Option<PrivateKey>,
    pub fwmark: Option<u32>,
    pub listen_port: Option<u16>,
    /// Remove every peer but the one below (resets the session).
    pub replace_peers: bool,
    pub peer: PeerUpdate,
}

/// The server peer. It is created when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PeerUpdate {
    pub public_key: PublicKey,
    /// Make `allowed_ips` the whole list instead of adding to it.
    pub replace_allowed_ips: bool,
    /// Persistent keepalive in seconds, 0 for off.
    pub keepalive: Option<u16>,
    pub allowed_ips: Vec<IpNet>,
    pub endpoint: Option<SocketAddr>,
}

fn peer(
    credentials: &Credentials,
    settings: &WgSettings,
    endpoint: Option<SocketAddr>,
) -> PeerUpdate {
    PeerUpdate {
        public_key: credentials.server_public_key,
        replace_allowed_ips: true,
        keepalive: Some(settings.keepalive_secs()),
        allowed_ips: allowed_ips(credentials, settings).into_iter().collect(),
        endpoint,
    }
}

/// Everything: key, fwmark, port, exactly one peer. Used on a fresh device and after the
/// credentials change (replacing peers resets the session, so not used for mere repairs).
pub(crate) fn full_update(
    credentials: &Credentials,
    settings: &WgSettings,
    endpoint: Option<SocketAddr>,
) -> DeviceUpdate {
    DeviceUpdate {
        private_key: Some(credentials.private_key.clone()),
        fwmark: Some(settings.fwmark),
        listen_port: settings.listen_port,
        replace_peers: true,
        peer: peer(credentials, settings, endpoint),
    }
}

/// Repairs drift without touching the session: same key, mark and peer, no peer replacement.
pub(crate) fn repair_update(
    credentials: &Credentials,
    settings: &WgSettings,
    endpoint: Option<SocketAddr>,
) -> DeviceUpdate {
    DeviceUpdate {
        private_key: Some(credentials.private_key.clone()),
        fwmark: Some(settings.fwmark),
        listen_port: None,
        replace_peers: false,
        peer: peer(credentials, settings, endpoint),
    }
}

/// Only the peer's endpoint (after re-resolution).
pub(crate) fn endpoint_update(credentials: &Credentials, endpoint: SocketAddr) -> DeviceUpdate {
    DeviceUpdate::endpoint_only(credentials.server_public_key, endpoint)
}

impl DeviceUpdate {
    /// The peer's endpoint and nothing else.
    pub(crate) fn endpoint_only(public_key: PublicKey, endpoint: SocketAddr) -> DeviceUpdate {
        DeviceUpdate {
            private_key: None,
            fwmark: None,
            listen_port: None,
            replace_peers: false,
            peer: PeerUpdate {
                public_key,
                replace_allowed_ips: false,
                keepalive: None,
                allowed_ips: Vec::new(),
                endpoint: Some(endpoint),
            },
        }
    }
}

/// A name the kernel takes: at most IFNAMSIZ less the NUL, no '/', NUL or whitespace (as
/// iproute2 checks). The UAPI socket path is built from it too, so both backends check it.
fn check_name(ifname: &str) -> Result<(), Error> {
    let bad = |b: &u8| *b == 0 || *b == b'/' || b.is_ascii_whitespace();
    if ifname.is_empty() || ifname.len() > 15 || ifname.bytes().any(|b| bad(&b)) {
        return Err(Error::InvalidName {
            ifname: ifname.into(),
        });
    }
    Ok(())
}

pub(crate) async fn apply(
    backend: ActiveBackend,
    ifname: &str,
    update: DeviceUpdate,
) -> Result<(), Error> {
    check_name(ifname)?;
    let ifname = ifname.to_string();
    tokio::task::spawn_blocking(move || {
        let result = match backend {
            ActiveBackend::Kernel => genl::set_device(&ifname, &update),
            // Only a live socket is configured: the supervisor owns the process behind it.
            ActiveBackend::Userspace => uapi::set_device(&ifname, &update),
        };
        result.map_err(|source| Error::Configure { ifname, source })
    })
    .await
    .map_err(Error::Join)?
}

/// Handshake time and counters of the peer with `server` as its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerReading {
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub endpoint: Option<SocketAddr>,
}

pub(crate) async fn read_peer(
    backend: ActiveBackend,
    ifname: &str,
    server: PublicKey,
) -> Result<Option<PeerReading>, Error> {
    check_name(ifname)?;
    let ifname = ifname.to_string();
    tokio::task::spawn_blocking(move || {
        let result = match backend {
            ActiveBackend::Kernel => genl::read_peer(&ifname, &server),
            ActiveBackend::Userspace => uapi::read_peer(&ifname, server.as_bytes()),
        };
        result.map_err(|source| Error::Read { ifname, source })
    })
    .await
    .map_err(Error::Join)?
}
