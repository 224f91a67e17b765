//! `arc:` and `uplinks:`.

use std::path::PathBuf;
use std::time::Duration;

use super::{BASE, expect, expect_only, ok, with};
use crate::config::{Backend, ModemSelector, OnStop};

#[test]
fn arc_defaults() {
    let c = ok(&with("arc: {}\n"));
    let a = c.arc.expect("arc");
    assert_eq!(a.credentials, PathBuf::from("/var/lib/arcway/arc.json"));
    assert_eq!(a.interface, "arc0");
    assert_eq!(a.mtu, 1420);
    assert_eq!(a.keepalive, Duration::from_secs(25));
    assert_eq!(a.listen_port, None);
    assert!(a.extra_allowed_ips.is_empty());
    assert_eq!(a.backend, Backend::Auto);
    assert_eq!(a.userspace_command, ["wireguard-go", "-f"]);
    assert_eq!(a.endpoint, None);
    assert_eq!(a.handshake_timeout, Duration::from_secs(20));
    assert_eq!(a.on_stop, OnStop::Remove);
}

#[test]
fn cellular_defaults() {
    let c = ok(BASE);
    let cell = c.uplinks.cellular.expect("cellular");
    assert_eq!(cell.interface.as_deref(), Some("wwan0"));
    assert_eq!(cell.modem, ModemSelector::First);
    assert!(!cell.manage);
    assert_eq!(cell.apn, "soracom.io");
    assert_eq!(cell.user.as_deref(), Some("sora"));
    assert_eq!(cell.password.as_ref().map(|p| p.0.as_str()), Some("sora"));
    let debug = format!("{cell:?}");
    assert!(
        debug.contains("password: Some(Secret(***))"),
        "password leaks into Debug: {debug}"
    );
}

#[test]
fn arc_mtu_too_small() {
    expect_only(
        &with("arc:\n  mtu: 1000\n"),
        9,
        8,
        "arc.mtu",
        "mtu 1000 is out of range 1280..=9000",
    );
}

#[test]
fn arc_mtu_too_large() {
    expect_only(
        &with("arc:\n  mtu: 9001\n"),
        9,
        8,
        "arc.mtu",
        "out of range 1280..=9000",
    );
}

#[test]
fn arc_needs_wifi() {
    let text = "version: 1\nuplinks:\n  cellular: {interface: wwan0}\narc: {}\nclasses:\n  - name: a\n    paths: [cellular]\n";
    expect_only(text, 4, 6, "arc", "arc needs uplinks.wifi");
}

#[test]
fn no_path_at_all() {
    let text = "version: 1\nclasses:\n  - name: a\n    paths: [wifi]\n";
    expect(text, 1, 1, "uplinks", "no path is configured");
}

#[test]
fn interface_name_too_long() {
    let text = BASE.replace("wlan0", "wlan0123456789012");
    expect_only(
        &text,
        3,
        21,
        "uplinks.wifi.interface",
        "longer than 15 bytes",
    );
}

#[test]
fn interface_name_with_slash() {
    expect_only(
        &BASE.replace("wwan0", "ww/an0"),
        4,
        25,
        "uplinks.cellular.interface",
        "contains `/`",
    );
}

#[test]
fn interface_name_with_colon() {
    expect_only(
        &with("arc: {interface: \"arc:0\"}\n"),
        8,
        18,
        "arc.interface",
        "contains `:`",
    );
}

#[test]
fn interface_name_with_space() {
    expect_only(
        &with("arc: {interface: \"arc 0\"}\n"),
        8,
        18,
        "arc.interface",
        "contains whitespace",
    );
}

#[test]
fn interface_name_empty() {
    expect_only(
        &with("arc: {interface: \"\"}\n"),
        8,
        18,
        "arc.interface",
        "interface name is empty",
    );
}

#[test]
fn interface_used_twice() {
    expect_only(
        &with("arc: {interface: wwan0}\n"),
        4,
        25,
        "uplinks.cellular.interface",
        "interface `wwan0` is already used by arc.interface",
    );
}

#[test]
fn keepalive_fraction_of_a_second() {
    expect_only(
        &with("arc:\n  keepalive: 1500ms\n"),
        9,
        14,
        "arc.keepalive",
        "whole seconds",
    );
}

#[test]
fn keepalive_too_long() {
    expect_only(
        &with("arc:\n  keepalive: 1d\n"),
        9,
        14,
        "arc.keepalive",
        "up to 65535s",
    );
}

#[test]
fn keepalive_zero_turns_it_off() {
    assert_eq!(
        ok(&with("arc: {keepalive: 0s}\n")).arc.unwrap().keepalive,
        Duration::ZERO
    );
}

#[test]
fn listen_port_zero() {
    expect_only(
        &with("arc:\n  listen_port: 0\n"),
        9,
        16,
        "arc.listen_port",
        "out of range 1..=65535",
    );
}

#[test]
fn listen_port_too_large() {
    expect_only(
        &with("arc:\n  listen_port: 70000\n"),
        9,
        16,
        "arc.listen_port",
        "listen_port 70000",
    );
}

#[test]
fn userspace_command_empty() {
    expect_only(
        &with("arc:\n  userspace_command: []\n"),
        9,
        22,
        "arc.userspace_command",
        "at least the program name",
    );
}

#[test]
fn endpoint_without_port() {
    expect_only(
        &with("arc:\n  endpoint: arc.example.com\n"),
        9,
        13,
        "arc.endpoint",
        "invalid endpoint `arc.example.com`",
    );
}

#[test]
fn endpoint_ipv6_without_brackets() {
    expect_only(
        &with("arc:\n  endpoint: \"2001:db8::1:11010\"\n"),
        9,
        13,
        "arc.endpoint",
        "in brackets",
    );
}

#[test]
fn endpoints_that_work() {
    let e = |s: &str| {
        ok(&with(&format!("arc: {{endpoint: \"{s}\"}}\n")))
            .arc
            .unwrap()
            .endpoint
            .unwrap()
            .to_string()
    };
    assert_eq!(e("arc.example.com:11010"), "arc.example.com:11010");
    assert_eq!(e("[2001:db8::1]:11010"), "[2001:db8::1]:11010");
    assert_eq!(e("203.0.113.10:11010"), "203.0.113.10:11010");
}

#[test]
fn handshake_timeout_zero() {
    expect_only(
        &with("arc:\n  handshake_timeout: 0s\n"),
        9,
        22,
        "arc.handshake_timeout",
        "more than zero",
    );
}

#[test]
fn credentials_must_be_absolute() {
    expect_only(
        &with("arc:\n  credentials: arc.json\n"),
        9,
        16,
        "arc.credentials",
        "must be an absolute path",
    );
}

#[test]
fn modem_selected_twice() {
    let text = BASE.replace(
        "{interface: wwan0}",
        "{modem: {iccid: \"8981100000000000000\", imsi: \"440100000000000\"}}",
    );
    expect_only(
        &text,
        4,
        58,
        "uplinks.cellular.modem.imsi",
        "one key only (`iccid` is already given)",
    );
}

#[test]
fn modem_selector_empty() {
    let text = BASE.replace("{interface: wwan0}", "{modem: {imsi: \"\"}}");
    expect_only(
        &text,
        4,
        28,
        "uplinks.cellular.modem.imsi",
        "imsi must not be empty",
    );
}

#[test]
fn modem_selector_is_kept() {
    let text = BASE.replace(
        "{interface: wwan0}",
        "{modem: {equipment_id: \"990000000000001\"}}",
    );
    let sel = ok(&text).uplinks.cellular.unwrap().modem;
    assert_eq!(sel, ModemSelector::EquipmentId("990000000000001".into()));
}

#[test]
fn apn_empty() {
    let text = BASE.replace("{interface: wwan0}", "{manage: true, apn: \"\"}");
    expect_only(
        &text,
        4,
        33,
        "uplinks.cellular.apn",
        "apn must not be empty",
    );
}

#[test]
fn pin_file_must_be_absolute() {
    let text = BASE.replace("{interface: wwan0}", "{pin_file: pin}");
    expect_only(&text, 4, 24, "uplinks.cellular.pin_file", "absolute path");
}

#[test]
fn wifi_nl80211_off() {
    let text = super::BASE.replace("{interface: wlan0}", "{interface: wlan0, nl80211: off}");
    let wifi = ok(&text).uplinks.wifi;
    assert_eq!(
        wifi.map(|w| w.nl80211),
        Some(crate::config::Nl80211Mode::Off)
    );
    let text = super::BASE.replace("{interface: wlan0}", "{interface: wlan0, nl80211: on}");
    let errs = super::errors(&text);
    assert!(errs.iter().any(|e| e.contains("uplinks.wifi")), "{errs:?}");
}
