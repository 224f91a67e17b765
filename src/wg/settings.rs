//! What the tunnel owner needs from the configuration (the `arc:` section plus routing bits).

use std::time::Duration;

use ipnet::IpNet;

use crate::credentials::Endpoint;

/// The `arc.backend` and `arc.on_stop` keywords, as the configuration spells them.
pub use crate::config::{Backend, OnStop};

/// Settings of the Arc WireGuard device. `Default` gives the documented config defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WgSettings {
    pub ifname: String,
    pub mtu: u32,
    /// Persistent keepalive; `None` or zero disables it.
    pub keepalive: Option<Duration>,
    /// UDP port of the device; `None` lets the implementation pick one.
    pub listen_port: Option<u16>,
    /// Routed into the tunnel in addition to the credentials' `arcAllowedIPs`.
    pub extra_allowed_ips: Vec<IpNet>,
    pub backend: Backend,
    /// Userspace implementation in foreground mode; the interface name is appended.
    pub userspace_command: Vec<String>,
    /// Overrides the credentials' server endpoint.
    pub endpoint: Option<Endpoint>,
    /// No handshake for this long: re-resolve the endpoint and try the other address family.
    pub handshake_timeout: Duration,
    /// Mark on the tunnel's own encrypted UDP, so a rule can keep it on the Wi-Fi path; 0 = none.
    pub fwmark: u32,
    pub on_stop: OnStop,
}

impl Default for WgSettings {
    fn default() -> Self {
        WgSettings {
            ifname: "arc0".into(),
            mtu: 1420,
            keepalive: Some(Duration::from_secs(25)),
            listen_port: None,
            extra_allowed_ips: Vec::new(),
            backend: Backend::Auto,
            userspace_command: vec!["wireguard-go".into(), "-f".into()],
            endpoint: None,
            handshake_timeout: Duration::from_secs(20),
            fwmark: 0,
            on_stop: OnStop::Remove,
        }
    }
}

impl WgSettings {
    /// Keepalive in whole seconds as WireGuard wants it (0 = off), saturating at u16::MAX.
    pub fn keepalive_secs(&self) -> u16 {
        self.keepalive
            .map_or(0, |d| u16::try_from(d.as_secs()).unwrap_or(u16::MAX))
    }
}
