//! WireGuard configuration through wireguard-control (generic netlink for the kernel, the UAPI
//! socket for userspace). The calls block, so they run on the blocking pool.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::SystemTime;

use ipnet::IpNet;
use wireguard_control::{
    Backend as WgBackend, Device, DeviceUpdate, InterfaceName, PeerConfigBuilder,
};

use super::WgSettings;
use super::error::Error;
use super::supervisor::socket_path;
use crate::credentials::Credentials;

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

fn peer(
    credentials: &Credentials,
    settings: &WgSettings,
    endpoint: Option<SocketAddr>,
) -> PeerConfigBuilder {
    let mut peer = PeerConfigBuilder::new(&credentials.server_public_key.to_wg())
        .replace_allowed_ips()
        .set_persistent_keepalive_interval(settings.keepalive_secs());
    for net in allowed_ips(credentials, settings) {
        peer = peer.add_allowed_ip(net.addr(), net.prefix_len());
    }
    if let Some(endpoint) = endpoint {
        peer = peer.set_endpoint(endpoint);
    }
    peer
}

/// Everything: key, fwmark, port, exactly one peer. Used on a fresh device and after the
/// credentials change (replacing peers resets the session, so not used for mere repairs).
pub(crate) fn full_update(
    credentials: &Credentials,
    settings: &WgSettings,
    endpoint: Option<SocketAddr>,
) -> DeviceUpdate {
    let mut update = DeviceUpdate::new()
        .set_private_key(credentials.private_key.to_wg())
        .set_fwmark(settings.fwmark)
        .replace_peers()
        .add_peer(peer(credentials, settings, endpoint));
    if let Some(port) = settings.listen_port {
        update = update.set_listen_port(port);
    }
    update
}

/// Repairs drift without touching the session: same key, mark and peer, no peer replacement.
pub(crate) fn repair_update(
    credentials: &Credentials,
    settings: &WgSettings,
    endpoint: Option<SocketAddr>,
) -> DeviceUpdate {
    DeviceUpdate::new()
        .set_private_key(credentials.private_key.to_wg())
        .set_fwmark(settings.fwmark)
        .add_peer(peer(credentials, settings, endpoint))
}

/// Only the peer's endpoint (after re-resolution).
pub(crate) fn endpoint_update(credentials: &Credentials, endpoint: SocketAddr) -> DeviceUpdate {
    DeviceUpdate::new().add_peer(
        PeerConfigBuilder::new(&credentials.server_public_key.to_wg()).set_endpoint(endpoint),
    )
}

fn name(ifname: &str) -> Result<InterfaceName, Error> {
    ifname.parse().map_err(|_| Error::InvalidName {
        ifname: ifname.into(),
    })
}

pub(crate) async fn apply(
    backend: WgBackend,
    ifname: &str,
    update: DeviceUpdate,
) -> Result<(), Error> {
    let iface = name(ifname)?;
    let ifname = ifname.to_string();
    tokio::task::spawn_blocking(move || {
        // wireguard-control starts a daemonised wireguard-go of its own when the socket does
        // not answer; the supervisor owns that process, so only apply to a live socket.
        if backend == WgBackend::Userspace {
            std::os::unix::net::UnixStream::connect(socket_path(&ifname)).map_err(|source| {
                Error::Configure {
                    ifname: ifname.clone(),
                    source,
                }
            })?;
        }
        update
            .apply(&iface, backend)
            .map_err(|source| Error::Configure { ifname, source })
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
    backend: WgBackend,
    ifname: &str,
    server: wireguard_control::Key,
) -> Result<Option<PeerReading>, Error> {
    let iface = name(ifname)?;
    let ifname = ifname.to_string();
    tokio::task::spawn_blocking(move || {
        if backend == WgBackend::Userspace {
            // Read directly for the handshake's nanoseconds (see uapi.rs).
            return super::uapi::read_peer(&ifname, server.as_bytes())
                .map_err(|source| Error::Read { ifname, source });
        }
        let device =
            Device::get(&iface, backend).map_err(|source| Error::Read { ifname, source })?;
        Ok(device
            .peers
            .into_iter()
            .find(|p| p.config.public_key == server)
            .map(|p| PeerReading {
                // The userspace UAPI reports 0 for "never", which wireguard-control maps to None;
                // the kernel reports the epoch itself, so treat it the same way.
                last_handshake: p
                    .stats
                    .last_handshake_time
                    .filter(|t| *t > SystemTime::UNIX_EPOCH),
                rx_bytes: p.stats.rx_bytes,
                tx_bytes: p.stats.tx_bytes,
                endpoint: p.config.endpoint,
            }))
    })
    .await
    .map_err(Error::Join)?
}
