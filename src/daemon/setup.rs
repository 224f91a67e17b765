//! Settings for the I/O owners, derived from the configuration (pure).

use std::collections::BTreeSet;

use crate::config::{Config, HealthConfig, Probe};
use crate::credentials::Credentials;
use crate::model::PathId;
use crate::probe::{Binding, DnsTarget, ProberConfig, Target};
use crate::wg::WgSettings;

/// The interface each configured path uses, when the configuration names one.
pub fn interface(cfg: &Config, path: PathId) -> Option<String> {
    cfg.interface(path)
}

/// Every interface the link monitor watches.
pub fn watched_interfaces(cfg: &Config) -> BTreeSet<String> {
    PathId::ALL
        .into_iter()
        .filter_map(|p| interface(cfg, p))
        .collect()
}

/// The tunnel owner's settings: the `arc:` section plus arcway's routing numbers.
pub fn wg_settings(cfg: &Config) -> Option<WgSettings> {
    let arc = cfg.arc.as_ref()?;
    let layout = cfg.routing_layout();
    Some(WgSettings {
        ifname: arc.interface.clone(),
        mtu: u32::from(arc.mtu),
        keepalive: (!arc.keepalive.is_zero()).then_some(arc.keepalive),
        listen_port: arc.listen_port,
        extra_allowed_ips: arc.extra_allowed_ips.clone(),
        backend: arc.backend,
        userspace_command: arc.userspace_command.clone(),
        endpoint: arc.endpoint.clone(),
        handshake_timeout: arc.handshake_timeout,
        // The tunnel's own UDP carries the Wi-Fi path mark, whose rule keeps it on Wi-Fi.
        fwmark: layout.path_mark(PathId::Wifi),
        on_stop: arc.on_stop,
    })
}

/// What the Arc table routes into the tunnel: the peer's AllowedIPs exactly as the device
/// gets them (the credentials' own, their additional ones and the configured extras). The
/// routing reconciler is the only writer of that table.
pub fn arc_routes(cfg: &Config, creds: &Credentials) -> Vec<ipnet::IpNet> {
    let extra = cfg.arc.as_ref().map_or(&[][..], |a| &a.extra_allowed_ips);
    creds
        .allowed_ips
        .iter()
        .chain(&creds.additional_allowed_ips)
        .chain(extra)
        .map(|n| n.trunc())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The prober of one path, bound to its interface and mark so probes cannot leave by
/// another path. None when the path has no probes or no interface.
pub fn prober_config(cfg: &Config, path: PathId) -> Option<ProberConfig> {
    let health = cfg.health.get(&path)?;
    let ifname = interface(cfg, path)?;
    if health.probes.is_empty() {
        return None;
    }
    let mark = cfg.routing_layout().path_mark(path);
    Some(ProberConfig {
        path,
        binding: Binding::interface(ifname).with_mark(mark),
        // The config check only accepts URLs the prober parses, so nothing is dropped here.
        targets: health.probes.iter().filter_map(target).collect(),
        interval: health.interval,
        timeout: health.timeout,
        quorum: quorum(health),
    })
}

/// The probe targets the configuration gives a path, in its order.
pub fn probe_targets(cfg: &Config, path: PathId) -> Vec<Target> {
    cfg.health
        .get(&path)
        .map(|h| h.probes.iter().filter_map(target).collect())
        .unwrap_or_default()
}

fn quorum(health: &HealthConfig) -> usize {
    usize::try_from(health.quorum).unwrap_or(usize::MAX)
}

fn target(probe: &Probe) -> Option<Target> {
    Some(match probe {
        Probe::Icmp(addr) => Target::Icmp(*addr),
        Probe::Tcp(addr) => Target::Tcp(*addr),
        Probe::Http(url) => url.parse().map(Target::Http).ok()?,
        Probe::Dns { server, name } => Target::Dns(DnsTarget {
            server: *server,
            port: 53,
            name: name.clone(),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    const CFG: &str = include_str!("../../examples/arcway.yaml");

    #[test]
    fn tunnel_udp_is_marked_for_the_wifi_table() {
        let cfg = config::parse_str(CFG, "example").unwrap();
        let wg = wg_settings(&cfg).unwrap();
        assert_eq!(wg.fwmark, cfg.routing_layout().path_mark(PathId::Wifi));
        assert_eq!(wg.ifname, "arc0");
    }

    #[test]
    fn probers_bind_to_their_path() {
        let cfg = config::parse_str(CFG, "example").unwrap();
        let p = prober_config(&cfg, PathId::Cellular).unwrap();
        assert_eq!(p.binding.interface, "wwan0");
        assert_eq!(p.binding.mark, Some(0x30000));
        let w = prober_config(&cfg, PathId::Wifi).unwrap();
        assert_eq!(w.targets.len(), 4);
    }

    #[test]
    fn the_arc_table_routes_every_allowed_ip_the_peer_has() {
        let cfg = config::parse_str(CFG, "example").unwrap();
        let key = crate::credentials::PrivateKey::generate().unwrap();
        let server = crate::credentials::PrivateKey::generate().unwrap();
        let mut creds = Credentials::from_json_str(
            &serde_json::json!({
                "arcClientPeerPrivateKey": key.expose_base64(),
                "arcClientPeerPublicKey": key.public_key().to_base64(),
                "arcClientPeerIpAddress": "100.127.201.2",
                "arcServerPeerPublicKey": server.public_key().to_base64(),
                "arcServerEndpoint": "203.0.113.10:11010",
                "arcAllowedIPs": ["100.127.0.0/16"],
                "additionalAllowedIPs": ["192.0.2.0/24", "100.127.0.0/16"],
            })
            .to_string(),
        )
        .unwrap();
        let routes: Vec<String> = arc_routes(&cfg, &creds)
            .iter()
            .map(ToString::to_string)
            .collect();
        // 10.128.0.0/9 is the example's extra_allowed_ips.
        assert_eq!(routes, ["10.128.0.0/9", "100.127.0.0/16", "192.0.2.0/24"]);
        // The same set the WireGuard peer is given, so no address is routed into the
        // tunnel that the peer would drop, and none the peer accepts is left out.
        let wg = wg_settings(&cfg).unwrap();
        creds
            .additional_allowed_ips
            .push("198.51.100.0/24".parse().unwrap());
        let device: Vec<ipnet::IpNet> = crate::wg::allowed_ips(&creds, &wg).into_iter().collect();
        assert_eq!(arc_routes(&cfg, &creds), device);
    }

    #[test]
    fn watched_interfaces_are_the_configured_ones() {
        let cfg = config::parse_str(CFG, "example").unwrap();
        let names: Vec<_> = watched_interfaces(&cfg).into_iter().collect();
        assert_eq!(names, ["arc0", "wlan0", "wwan0"]);
    }
}
