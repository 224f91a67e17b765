//! Each failure injection really breaks its path, and undoing it restores the path.
mod common;

use arcway_lab::{Role, plan};
use common::{SHORT, arc_client, lab};

#[test]
fn wifi_carrier_loss_breaks_and_restores_the_wifi_path() {
    let lab = lab();
    assert!(lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
    lab.wifi_carrier(false).expect("carrier down");
    assert!(!lab.has_carrier(Role::Gw, plan::WIFI_IF).expect("link"));
    assert!(!lab.ping(Role::Gw, plan::WIFI_GATEWAY, 1, SHORT));
    assert!(!lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
    // The route stays (linkdown), as on a real device.
    let routes = lab
        .ip(Role::Gw, &["route", "show", "default"])
        .expect("routes");
    assert!(
        routes.contains("via 192.0.2.1 dev wlan0") && routes.contains("linkdown"),
        "{routes}"
    );
    lab.wifi_carrier(true).expect("carrier up");
    assert!(lab.has_carrier(Role::Gw, plan::WIFI_IF).expect("link"));
    assert!(lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
}

#[test]
fn wifi_blackhole_is_silent_and_reversible() {
    let lab = lab();
    lab.wifi_blackhole(true).expect("blackhole on");
    lab.wifi_blackhole(true).expect("blackhole on twice");
    assert!(lab.has_carrier(Role::Gw, plan::WIFI_IF).expect("link"));
    assert!(!lab.ping(Role::Gw, plan::WIFI_GATEWAY, 1, SHORT));
    assert!(!lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
    // Cellular is untouched.
    assert!(lab.ping(Role::Gw, plan::CELLULAR_GATEWAY, 1, SHORT));
    lab.wifi_blackhole(false).expect("blackhole off");
    lab.wifi_blackhole(false).expect("blackhole off twice");
    assert!(lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
}

#[test]
fn cellular_link_down_breaks_and_restores_the_cellular_path() {
    let lab = lab();
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
    assert!(lab.ping(Role::Gw, plan::PLATFORM, 1, SHORT));
    lab.cellular_link(false).expect("cellular down");
    assert!(!lab.has_carrier(Role::Gw, plan::CELLULAR_IF).expect("link"));
    assert!(!lab.ping(Role::Gw, plan::PLATFORM, 1, SHORT));
    // Wi-Fi is untouched.
    assert!(lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
    lab.cellular_link(true).expect("cellular up");
    assert!(lab.ping(Role::Gw, plan::PLATFORM, 1, SHORT));
}

#[test]
fn failures_break_and_restore_the_arc_tunnel() {
    let lab = lab();
    let _client = arc_client(&lab, plan::ARC_ENDPOINT);
    assert!(lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 3, SHORT));

    lab.arc_server_blackhole(true).expect("arc blackhole on");
    assert!(!lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 2, SHORT));
    // The server itself still answers ping: only its WireGuard traffic is gone.
    assert!(lab.ping(Role::Gw, plan::ARC_SERVER, 1, SHORT));
    lab.arc_server_blackhole(false).expect("arc blackhole off");
    assert!(lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 5, SHORT));

    lab.wifi_blackhole(true).expect("wifi blackhole on");
    assert!(!lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 2, SHORT));
    lab.wifi_blackhole(false).expect("wifi blackhole off");
    assert!(lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 5, SHORT));

    lab.wifi_carrier(false).expect("carrier down");
    assert!(!lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 2, SHORT));
    lab.wifi_carrier(true).expect("carrier up");
    assert!(lab.ping_dev(Role::Gw, "wgtest", plan::PLATFORM, 5, SHORT));
}
