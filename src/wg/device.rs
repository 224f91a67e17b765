//! WireGuard configuration through wireguard-control: the desired state as a
//! [`DeviceUpdate`], applied over generic netlink to a kernel device or over the UAPI socket to
//! a userspace one, and the server peer read back. The calls block, so they run on the
//! blocking pool.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use wireguard_control as wgc;

use ipnet::IpNet;

use super::error::Error;
use super::tunnel::ActiveBackend;
use super::{WgSettings, userspace};
use crate::credentials::{Credentials, PrivateKey, PublicKey, wipe};

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
fn check_name(ifname: &str) -> Result<wgc::InterfaceName, Error> {
    let bad = |b: &u8| *b == 0 || *b == b'/' || b.is_ascii_whitespace();
    let invalid = || Error::InvalidName {
        ifname: ifname.into(),
    };
    if ifname.is_empty() || ifname.len() > 15 || ifname.bytes().any(|b| bad(&b)) {
        return Err(invalid());
    }
    ifname.parse().map_err(|_| invalid())
}

fn wg_backend(backend: ActiveBackend) -> wgc::Backend {
    match backend {
        ActiveBackend::Kernel => wgc::Backend::Kernel,
        ActiveBackend::Userspace => wgc::Backend::Userspace,
    }
}

/// The crate's form of `update`. It holds a copy of the private key, which the crate consumes
/// and drops when applying (its `Key` is not wiped on drop).
fn to_wg(update: &DeviceUpdate) -> wgc::DeviceUpdate {
    let peer = &update.peer;
    let mut builder = wgc::PeerConfigBuilder::new(&wgc::Key(*peer.public_key.as_bytes()));
    if peer.replace_allowed_ips {
        builder = builder.replace_allowed_ips();
    }
    if let Some(secs) = peer.keepalive {
        builder = builder.set_persistent_keepalive_interval(secs);
    }
    for net in &peer.allowed_ips {
        builder = builder.add_allowed_ip(net.addr(), net.prefix_len());
    }
    if let Some(endpoint) = peer.endpoint {
        builder = builder.set_endpoint(endpoint);
    }
    let mut out = wgc::DeviceUpdate::new();
    if let Some(key) = &update.private_key {
        out = out.set_private_key(wgc::Key(*key.expose_bytes()));
    }
    if let Some(mark) = update.fwmark {
        out = out.set_fwmark(mark);
    }
    if let Some(port) = update.listen_port {
        out = out.set_listen_port(port);
    }
    if update.replace_peers {
        out = out.replace_peers();
    }
    out.add_peer(builder)
}

pub(crate) async fn apply(
    backend: ActiveBackend,
    ifname: &str,
    update: DeviceUpdate,
) -> Result<(), Error> {
    let name = check_name(ifname)?;
    let owned = ifname.to_string();
    let call = tokio::task::spawn_blocking(move || {
        // The crate starts a daemonised wireguard-go of its own when the socket does not
        // answer; the supervisor owns that process, so only a live socket is configured.
        let live = match backend {
            ActiveBackend::Kernel => Ok(()),
            ActiveBackend::Userspace => userspace::connectable(&owned),
        };
        let result = live.and_then(|()| to_wg(&update).apply(&name, wg_backend(backend)));
        result.map_err(|source| Error::Configure {
            ifname: owned,
            source,
        })
    });
    within(CALL_DEADLINE, ifname, call).await
}

/// How long one call on the device may take. The crate's calls have no deadline of their own
/// and the userspace socket has none: a wireguard-go that is alive but stopped or stuck would
/// hold the tunnel owner forever. The kernel and a healthy wireguard-go answer in
/// milliseconds.
pub(crate) const CALL_DEADLINE: Duration = Duration::from_secs(5);

/// Waits for a blocking device call up to `deadline` ([`CALL_DEADLINE`]). A call past it goes
/// on waiting on its thread until its socket closes, which happens when the owner kills the
/// process that does not answer.
async fn within<T>(
    deadline: Duration,
    ifname: &str,
    call: tokio::task::JoinHandle<Result<T, Error>>,
) -> Result<T, Error> {
    match tokio::time::timeout(deadline, call).await {
        Ok(joined) => joined.map_err(Error::Join)?,
        Err(_) => Err(Error::Unresponsive {
            ifname: ifname.to_string(),
            after: deadline,
        }),
    }
}

/// Handshake time and counters of the peer with `server` as its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PeerReading {
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub endpoint: Option<SocketAddr>,
}

/// The reading of `server` in what the crate read. The device's private key comes with every
/// read (both backends report it to root): it is wiped here, the first moment arcway owns it.
/// `precise` is the userspace handshake to the nanosecond, from the check read just before.
fn reading(
    mut device: wgc::Device,
    server: &PublicKey,
    precise: Option<Duration>,
    now: SystemTime,
) -> Option<PeerReading> {
    if let Some(key) = device.private_key.as_mut() {
        wipe(&mut key.0);
    }
    device
        .peers
        .iter()
        .find(|p| p.config.public_key.0 == *server.as_bytes())
        .map(|p| PeerReading {
            // The crate gives "never" as None; a time at or before the epoch means the same.
            last_handshake: p
                .stats
                .last_handshake_time
                .filter(|t| *t > SystemTime::UNIX_EPOCH)
                .map(|t| match precise {
                    None => t,
                    Some(precise) => refine(t, precise, now),
                }),
            rx_bytes: p.stats.rx_bytes,
            tx_bytes: p.stats.tx_bytes,
            endpoint: p.config.endpoint,
        })
}

/// The crate reads a userspace handshake to the whole second. The engine counts a path's good
/// time from the handshake that proved it, so the second's start would understate it and its
/// end delay failback by up to a second: the nanoseconds of the check read are put back. When
/// a handshake came between the two reads (their seconds differ), the crate's is placed at the
/// end of its second, never after the moment it was read: at its start it could look older than
/// an outage it followed, and the engine would wait for the next rekey.
fn refine(t: SystemTime, precise: Duration, now: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    if secs == Some(precise.as_secs()) {
        return SystemTime::UNIX_EPOCH + precise;
    }
    let later = t
        .checked_add(Duration::from_nanos(999_999_999))
        .unwrap_or(t);
    later.min(now.max(t))
}

pub(crate) async fn read_peer(
    backend: ActiveBackend,
    ifname: &str,
    server: PublicKey,
) -> Result<Option<PeerReading>, Error> {
    let name = check_name(ifname)?;
    let owned = ifname.to_string();
    let call = tokio::task::spawn_blocking(move || {
        let guarded = match backend {
            ActiveBackend::Kernel => Ok(None),
            ActiveBackend::Userspace => userspace::check_answer(&owned)
                .map(|found| Some(found.of(server.as_bytes()).unwrap_or_default())),
        };
        guarded
            .and_then(|precise| {
                let device = wgc::Device::get(&name, wg_backend(backend))?;
                Ok(reading(device, &server, precise, SystemTime::now()))
            })
            .map_err(|source| Error::Read {
                ifname: owned,
                source,
            })
    });
    within(CALL_DEADLINE, ifname, call).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_past_the_deadline_is_an_unanswered_device() {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let call = tokio::task::spawn_blocking(move || {
            // Stands for a read on a socket nobody answers; ends when the test lets go.
            let _ = hold.recv();
            Ok(())
        });
        let deadline = Duration::from_millis(50);
        let e = within(deadline, "arc0", call).await.unwrap_err();
        assert!(matches!(&e, Error::Unresponsive { after, .. } if *after == deadline));
        assert!(e.is_no_answer());
        assert_eq!(
            e.to_string(),
            "failed to get an answer from WireGuard device arc0 within 50ms"
        );
        drop(release);
    }

    #[tokio::test]
    async fn a_call_within_the_deadline_gives_its_own_result() {
        let ok = tokio::task::spawn_blocking(|| Ok(7));
        assert_eq!(within(CALL_DEADLINE, "arc0", ok).await.unwrap(), 7);
        let refused = tokio::task::spawn_blocking(|| {
            Err::<(), _>(Error::Read {
                ifname: "arc0".into(),
                source: std::io::ErrorKind::ConnectionRefused.into(),
            })
        });
        let e = within(CALL_DEADLINE, "arc0", refused).await.unwrap_err();
        assert!(
            !e.is_no_answer(),
            "a refused connection is no live process: {e}"
        );
    }

    #[test]
    fn socket_timeouts_count_as_no_answer_and_other_failures_do_not() {
        let read = |kind: std::io::ErrorKind| Error::Read {
            ifname: "arc0".into(),
            source: kind.into(),
        };
        let configure = |kind: std::io::ErrorKind| Error::Configure {
            ifname: "arc0".into(),
            source: kind.into(),
        };
        assert!(read(std::io::ErrorKind::WouldBlock).is_no_answer());
        assert!(read(std::io::ErrorKind::TimedOut).is_no_answer());
        assert!(configure(std::io::ErrorKind::WouldBlock).is_no_answer());
        assert!(!read(std::io::ErrorKind::NotFound).is_no_answer());
        assert!(!read(std::io::ErrorKind::InvalidData).is_no_answer());
        assert!(!configure(std::io::ErrorKind::PermissionDenied).is_no_answer());
        assert!(
            !Error::LinkMissing {
                ifname: "arc0".into()
            }
            .is_no_answer()
        );
    }

    fn update() -> DeviceUpdate {
        DeviceUpdate {
            private_key: Some(PrivateKey::from_bytes([0xa1; 32])),
            fwmark: Some(131072),
            listen_port: Some(51820),
            replace_peers: true,
            peer: PeerUpdate {
                public_key: PublicKey([0x0f; 32]),
                replace_allowed_ips: true,
                keepalive: Some(25),
                allowed_ips: vec![
                    "100.127.0.0/16".parse().unwrap(),
                    "2001:db8::/32".parse().unwrap(),
                ],
                endpoint: Some("[2001:db8:3::10]:11010".parse().unwrap()),
            },
        }
    }

    #[test]
    fn update_maps_every_field() {
        let peer = wgc::PeerConfigBuilder::new(&wgc::Key([0x0f; 32]))
            .replace_allowed_ips()
            .set_persistent_keepalive_interval(25)
            .add_allowed_ip("100.127.0.0".parse().unwrap(), 16)
            .add_allowed_ip("2001:db8::".parse().unwrap(), 32)
            .set_endpoint("[2001:db8:3::10]:11010".parse().unwrap());
        let want = wgc::DeviceUpdate::new()
            .set_private_key(wgc::Key([0xa1; 32]))
            .set_fwmark(131072)
            .set_listen_port(51820)
            .replace_peers()
            .add_peer(peer);
        assert_eq!(to_wg(&update()), want);
    }

    #[test]
    fn endpoint_only_update_sets_nothing_else() {
        let ep = "192.0.2.1:11010".parse().unwrap();
        let only = DeviceUpdate::endpoint_only(PublicKey([0x0f; 32]), ep);
        let want = wgc::DeviceUpdate::new()
            .add_peer(wgc::PeerConfigBuilder::new(&wgc::Key([0x0f; 32])).set_endpoint(ep));
        assert_eq!(to_wg(&only), want);
    }

    #[test]
    fn update_debug_hides_the_private_key() {
        let text = format!("{:?}", update());
        assert!(!text.to_lowercase().contains(&"a1".repeat(4)));
        assert!(!text.contains("161, 161"));
        assert!(text.contains("redacted"));
    }

    #[test]
    fn whole_second_handshakes_get_the_check_reads_nanoseconds() {
        let at = |s: u64, n: u32| SystemTime::UNIX_EPOCH + Duration::new(s, n);
        let t = at(1_795_885_689, 0);
        let later = at(1_795_885_700, 0);
        assert_eq!(
            refine(t, Duration::new(1_795_885_689, 250_000_000), later),
            at(1_795_885_689, 250_000_000)
        );
        // A handshake between the reads (or none in the first): the end of the second...
        let other = Duration::new(1_795_885_688, 5);
        assert_eq!(refine(t, other, later), at(1_795_885_689, 999_999_999));
        assert_eq!(
            refine(t, Duration::ZERO, later),
            at(1_795_885_689, 999_999_999)
        );
        // ...but not after the read, and a clock behind the peer's report never moves the
        // handshake earlier.
        assert_eq!(
            refine(t, other, at(1_795_885_689, 250_000_000)),
            at(1_795_885_689, 250_000_000)
        );
        assert_eq!(refine(t, other, at(1_795_885_600, 0)), t);
    }

    #[test]
    fn names_the_kernel_would_refuse_are_refused() {
        assert!(check_name("arc0").is_ok());
        for bad in ["", "a/b", "a b", "sixteen-chars-xx", "nul\0"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
