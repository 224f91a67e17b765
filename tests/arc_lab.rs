//! The Arc tunnel end to end in the lab, run by `arcway run` (root): it comes up, its UDP rides
//! Wi-Fi whatever the main table prefers, and an IPv6-only endpoint name works.

mod arc_support;

use std::time::Duration;

use arc_support::*;
use arcway_lab::{LabOptions, Role};

#[test]
fn tunnel_comes_up_and_platform_traffic_from_gw_goes_through_it() {
    let lab = lab();
    let arcway = start(&lab, &lab.arcway_config(&arcway_lab::Health::FAST));
    let took = wait_arc_up(&arcway, Duration::from_secs(10));
    eprintln!("arc up {} ms after start", took.as_millis());
    let route = lab.route_get(Role::Gw, PLATFORM).unwrap();
    assert!(
        route.contains("dev arc0"),
        "platform not routed into the tunnel: {route}"
    );
    assert!(lab.ping(Role::Gw, PLATFORM, 3, Duration::from_secs(1)));
}

/// Tunnel UDP counted where it enters the access point and the cellular core.
fn udp_counters(lab: &arcway_lab::Lab) -> (Counters<'_>, Counters<'_>) {
    let ap = Counters::install(
        lab,
        Role::Ap,
        &[("arc_udp", "iifname \"wifi0\" udp dport 11010")],
    );
    let cell = Counters::install(
        lab,
        Role::Cell,
        &[("arc_udp", "iifname \"air0\" udp dport 11010")],
    );
    (ap, cell)
}

/// Pings the platform through the tunnel, then checks where the encrypted UDP went.
fn assert_udp_rode_wifi(lab: &arcway_lab::Lab, ap: &Counters<'_>, cell: &Counters<'_>) {
    let replies = lab.ping_replies(Role::Gw, None, PLATFORM, 5, Duration::from_secs(1));
    assert_eq!(replies, 5, "platform pings through the tunnel lost");
    let (wifi, cellular) = (ap.packets("arc_udp"), cell.packets("arc_udp"));
    eprintln!("tunnel UDP packets: {wifi} entered the AP, {cellular} entered the cell core");
    assert!(wifi >= 5, "tunnel UDP did not reach the AP: {wifi} packets");
    assert_eq!(cellular, 0, "tunnel UDP leaked onto cellular");
    // The AP masquerades to its uplink address; the cell core would show 203.0.113.18.
    let seen = server_peer_endpoint(lab).expect("server knows the peer's endpoint");
    assert!(
        seen.starts_with("203.0.113.2:"),
        "server saw the tunnel from {seen}"
    );
}

#[test]
fn tunnel_udp_leaves_by_wifi_while_a_cellular_default_exists() {
    let lab = lab();
    let main = lab.ip(Role::Gw, &["route", "show", "default"]).unwrap();
    assert!(main.contains("dev wwan0 metric 700"), "lab changed: {main}");
    let (ap, cell) = udp_counters(&lab);
    let arcway = start(&lab, &lab.arcway_config(&arcway_lab::Health::FAST));
    wait_arc_up(&arcway, Duration::from_secs(10));
    assert_udp_rode_wifi(&lab, &ap, &cell);
}

#[test]
fn tunnel_udp_leaves_by_wifi_even_when_cellular_is_preferred_everywhere_else() {
    let lab = lab();
    // Cellular wins in main (metric 10 against 100), and the default class prefers it too:
    // only the tunnel's mark rule keeps the encrypted UDP on Wi-Fi.
    for cmd in [
        "route del default via 198.51.100.129 dev wwan0 metric 700",
        "route del default via 192.0.2.1 dev wlan0",
        "route add default via 198.51.100.129 dev wwan0 metric 10",
        "route add default via 192.0.2.1 dev wlan0 metric 100",
    ] {
        let args: Vec<&str> = cmd.split(' ').collect();
        lab.ip(Role::Gw, &args).unwrap();
    }
    let config = config_with_classes(
        &lab,
        "  - name: platform\n    match: {destinations: [100.127.0.0/16]}\n    paths: [arc, cellular]\n\
         \x20 - name: default\n    paths: [cellular, wifi]\n",
    );
    let (ap, cell) = udp_counters(&lab);
    let arcway = start(&lab, &config);
    wait_arc_up(&arcway, Duration::from_secs(10));
    let unmarked = lab.route_get(Role::Gw, ARC_SERVER).unwrap();
    assert!(
        unmarked.contains("dev wwan0"),
        "unmarked traffic to the server should use cellular here: {unmarked}"
    );
    let marked = lab
        .ip(Role::Gw, &["route", "get", ARC_SERVER, "mark", "0x20000"])
        .unwrap();
    assert!(marked.contains("dev wlan0"), "marked: {marked}");
    assert_udp_rode_wifi(&lab, &ap, &cell);
}

#[test]
fn endpoint_name_with_only_an_ipv6_address_is_used_over_ipv6() {
    let lab = lab_with(LabOptions {
        ipv6: true,
        ..LabOptions::default()
    });
    // The name exists only in the gateway's own hosts file, as AAAA-only.
    lab.write_hosts(Role::Gw, &[("arc.lab.example", "2001:db8:3::10")])
        .unwrap();
    lab.arc_credentials()
        .with_endpoint("arc.lab.example:11010")
        .write(&lab.credentials_path())
        .unwrap();
    let ap = Counters::install(
        &lab,
        Role::Ap,
        &[
            ("v6", "iifname \"wifi0\" meta nfproto ipv6 udp dport 11010"),
            ("v4", "iifname \"wifi0\" meta nfproto ipv4 udp dport 11010"),
        ],
    );
    let arcway = start(&lab, &lab.arcway_config(&arcway_lab::Health::FAST));
    let took = wait_arc_up(&arcway, Duration::from_secs(10));
    eprintln!("arc up over IPv6 {} ms after start", took.as_millis());
    assert!(lab.ping(Role::Gw, PLATFORM, 3, Duration::from_secs(1)));
    let seen = server_peer_endpoint(&lab).expect("server knows the peer");
    eprintln!("server sees the peer at {seen}");
    assert!(
        seen.starts_with("[2001:db8:1::10]:"),
        "server saw the tunnel from {seen}"
    );
    let (v6, v4) = (ap.packets("v6"), ap.packets("v4"));
    eprintln!("tunnel UDP at the AP: {v6} IPv6, {v4} IPv4 packets");
    assert!(v6 > 0 && v4 == 0, "v6 {v6}, v4 {v4}");
}

/// The credentials' additionalAllowedIPs are routed into the tunnel next to arcAllowedIPs,
/// and stay: one writer owns the Arc table, so nothing deletes what another adds.
#[test]
fn additional_allowed_ips_are_routed_into_the_tunnel_and_stay() {
    let lab = lab();
    let path = lab.credentials_path();
    let mut creds: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    creds["additionalAllowedIPs"] = serde_json::json!(["198.51.100.0/24"]);
    std::fs::write(&path, creds.to_string()).unwrap();
    let arcway = start(&lab, &lab.arcway_config(&arcway_lab::Health::FAST));
    wait_arc_up(&arcway, Duration::from_secs(10));
    let wanted = ["100.127.0.0/16 dev arc0", "198.51.100.0/24 dev arc0"];
    let routes = || {
        lab.ip(Role::Gw, &["route", "show", "table", "7101"])
            .unwrap()
    };
    let all_there = || {
        let text = routes();
        wanted.iter().all(|w| text.contains(w))
    };
    assert!(
        poll(Duration::from_secs(5), all_there).is_some(),
        "{}",
        routes()
    );
    // Samples, probes and the drift watch keep running meanwhile; a second writer with
    // another idea of the table would delete one of them within this window.
    for _ in 0..30 {
        assert!(all_there(), "a route left the Arc table:\n{}", routes());
        std::thread::sleep(Duration::from_millis(100));
    }
}
