//! What the lab guarantees without arcway: uplinks, routes, the Arc server, the services.
mod common;

use std::net::SocketAddr;

use arcway_lab::{LabOptions, Role, plan};
use common::{SHORT, arc_client, lab, lab_with};

fn sock(text: &str) -> SocketAddr {
    text.parse().expect("socket address")
}

#[test]
fn gateway_reaches_both_uplink_gateways() {
    let lab = lab();
    assert!(lab.ping(Role::Gw, plan::WIFI_GATEWAY, 1, SHORT));
    assert!(lab.ping(Role::Gw, plan::CELLULAR_GATEWAY, 1, SHORT));
    assert!(lab.ping(Role::Lan, plan::GW_LAN_ADDR, 1, SHORT));
}

#[test]
fn main_default_is_wifi_and_internet_is_reached_over_it() {
    let lab = lab();
    let route = lab
        .route_get(Role::Gw, plan::INTERNET_HOST)
        .expect("route get");
    assert!(route.contains("via 192.0.2.1 dev wlan0"), "{route}");
    let defaults = lab
        .ip(Role::Gw, &["route", "show", "default"])
        .expect("routes");
    assert!(
        defaults.contains("default via 198.51.100.129 dev wwan0 metric 700"),
        "{defaults}"
    );
    let before = lab
        .link_tx_rx(Role::Ap, plan::AP_WIFI_IF)
        .expect("counters");
    assert!(lab.ping(Role::Gw, plan::INTERNET_HOST, 3, SHORT));
    let after = lab
        .link_tx_rx(Role::Ap, plan::AP_WIFI_IF)
        .expect("counters");
    assert!(
        after.rx_packets >= before.rx_packets + 3,
        "{before:?} {after:?}"
    );
    assert!(
        after.tx_packets >= before.tx_packets + 3,
        "{before:?} {after:?}"
    );
}

#[test]
fn platform_is_reached_over_cellular_only() {
    let lab = lab();
    // Over Wi-Fi the platform is not reachable without Arc.
    assert!(!lab.ping(Role::Gw, plan::PLATFORM, 1, SHORT));
    lab.ip(
        Role::Gw,
        &[
            "route",
            "add",
            "100.127.100.127/32",
            "via",
            "198.51.100.129",
            "dev",
            "wwan0",
        ],
    )
    .expect("route");
    let route = lab.route_get(Role::Gw, plan::PLATFORM).expect("route get");
    assert!(route.contains("dev wwan0"), "{route}");
    let before = lab
        .link_tx_rx(Role::Cell, plan::CELL_AIR_IF)
        .expect("counters");
    assert!(lab.ping(Role::Gw, plan::PLATFORM, 2, SHORT));
    let after = lab
        .link_tx_rx(Role::Cell, plan::CELL_AIR_IF)
        .expect("counters");
    assert!(after.rx_packets >= before.rx_packets + 2);
    // And the internet over cellular (the core masquerades).
    lab.ip(
        Role::Gw,
        &[
            "route",
            "add",
            "203.0.113.100/32",
            "via",
            "198.51.100.129",
            "dev",
            "wwan0",
        ],
    )
    .expect("route");
    assert!(lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
}

#[test]
fn arc_tunnel_from_the_gateway_reaches_the_platform() {
    let lab = lab();
    let client = arc_client(&lab, plan::ARC_ENDPOINT);
    assert!(lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 3, SHORT));
    let shown = lab
        .arc_server()
        .wg(&["show", "wg0", "latest-handshakes"])
        .expect("wg show");
    let stamp: u64 = shown
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(stamp > 0, "no handshake on the server: {shown}");
    let endpoints = lab
        .arc_server()
        .wg(&["show", "wg0", "endpoints"])
        .expect("wg show");
    // The access point masquerades the tunnel's UDP.
    assert!(endpoints.contains("203.0.113.2:"), "{endpoints}");
    drop(client);
}

#[test]
fn credentials_match_the_server() {
    let lab = lab();
    let json: serde_json::Value = serde_json::from_str(&lab.arc_credentials_json()).expect("json");
    assert_eq!(json["arcServerEndpoint"], "203.0.113.10:11010");
    assert_eq!(json["arcClientPeerIpAddress"], "100.127.201.2");
    assert_eq!(json["arcAllowedIPs"], serde_json::json!(["100.127.0.0/16"]));
    let server_pub = lab
        .arc_server()
        .wg(&["show", "wg0", "public-key"])
        .expect("wg show");
    assert_eq!(json["arcServerPeerPublicKey"], server_pub.trim());
    let peers = lab
        .arc_server()
        .wg(&["show", "wg0", "peers"])
        .expect("wg show");
    assert_eq!(json["arcClientPeerPublicKey"], peers.trim());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("arc.json");
    std::fs::write(&path, "old").expect("write");
    lab.write_arc_credentials(&path).expect("write credentials");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        lab.arc_credentials_json()
    );
    let mode = std::fs::metadata(lab.credentials_path())
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn http_services_answer() {
    let lab = lab();
    let inet = lab
        .http_get(Role::Gw, sock("203.0.113.100:80"), SHORT)
        .expect("GET inet");
    assert!(inet.starts_with("HTTP/1.1 200 OK"), "{inet}");
    assert!(inet.contains("arcway-lab inet"), "{inet}");
    assert!(
        lab.http_get(Role::Gw, sock("203.0.113.100:443"), SHORT)
            .is_ok()
    );
    lab.ip(
        Role::Gw,
        &[
            "route",
            "add",
            "100.127.100.127/32",
            "via",
            "198.51.100.129",
            "dev",
            "wwan0",
        ],
    )
    .expect("route");
    let plat = lab
        .http_get(Role::Gw, sock("100.127.100.127:80"), SHORT)
        .expect("GET plat");
    assert!(plat.contains("arcway-lab plat"), "{plat}");
}

#[test]
fn http_services_can_run_in_process() {
    let lab = lab_with(LabOptions {
        http_in_process: true,
        ..LabOptions::default()
    });
    let inet = lab
        .http_get(Role::Gw, sock("203.0.113.100:80"), SHORT)
        .expect("GET inet");
    assert!(inet.contains("arcway-lab inet"), "{inet}");
    let plat = lab
        .http_get(Role::Plat, sock("100.127.100.127:80"), SHORT)
        .expect("GET plat");
    assert!(plat.contains("arcway-lab plat"), "{plat}");
}

#[test]
fn ipv6_endpoint_by_name() {
    let lab = lab_with(LabOptions {
        ipv6: true,
        ..LabOptions::default()
    });
    assert!(lab.ping(Role::Gw, plan::ARC_SERVER_V6, 1, SHORT));
    lab.write_hosts(Role::Gw, &[("arc.lab.test", plan::ARC_SERVER_V6)])
        .expect("hosts");
    let resolved = lab
        .exec_ok(Role::Gw, &["getent", "ahostsv6", "arc.lab.test"])
        .expect("getent");
    assert!(resolved.contains("2001:db8:3::10"), "{resolved}");
    let _client = arc_client(&lab, "[2001:db8:3::10]:11010");
    assert!(lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 3, SHORT));
    let endpoints = lab
        .arc_server()
        .wg(&["show", "wg0", "endpoints"])
        .expect("wg show");
    assert!(endpoints.contains("[2001:db8:1::10]:"), "{endpoints}");
}

#[test]
fn ipv6_is_off_by_default() {
    let lab = lab();
    let addrs = lab
        .ip(Role::Gw, &["-6", "addr", "show"])
        .expect("addresses");
    assert!(addrs.trim().is_empty(), "{addrs}");
}
