//! `health:`.

use std::time::Duration;

use super::{BASE, expect, expect_only, ok, with};
use crate::config::Probe;
use crate::model::PathId;

#[test]
fn defaults_only_for_configured_paths() {
    let c = ok(BASE);
    assert_eq!(
        c.health.keys().copied().collect::<Vec<_>>(),
        [PathId::Wifi, PathId::Cellular]
    );
    let cell = &c.health[&PathId::Cellular];
    assert_eq!(cell.interval, Duration::from_secs(30));
    assert_eq!(cell.timeout, Duration::from_secs(2));
    assert_eq!(cell.down_after, Duration::from_secs(60));
    assert_eq!(cell.handshake_max_age, None);
    let wifi = &c.health[&PathId::Wifi];
    assert_eq!(wifi.probes.len(), 4);
    assert_eq!(wifi.interval, Duration::from_millis(500));
    assert_eq!(wifi.down_after, Duration::from_secs(1));
}

#[test]
fn arc_defaults_include_handshake_age() {
    let h = &ok(&with("arc: {}\n")).health[&PathId::Arc];
    assert_eq!(h.handshake_max_age, Some(Duration::from_secs(180)));
    assert_eq!(h.probes, [Probe::Icmp("100.127.100.127".parse().unwrap())]);
}

#[test]
fn partial_section_keeps_other_defaults() {
    let h = &ok(&with("health:\n  cellular: {interval: 1m}\n")).health[&PathId::Cellular];
    assert_eq!(h.interval, Duration::from_secs(60));
    assert_eq!(h.up_after, Duration::from_secs(5));
}

#[test]
fn health_for_unconfigured_path() {
    expect_only(
        &with("health:\n  arc: {interval: 2s}\n"),
        9,
        8,
        "health.arc",
        "the arc path is not configured",
    );
}

#[test]
fn zero_interval() {
    expect(
        &with("health:\n  wifi:\n    interval: 0s\n"),
        10,
        15,
        "health.wifi.interval",
        "interval must be more than zero",
    );
}

#[test]
fn zero_timeout() {
    expect_only(
        &with("health:\n  wifi:\n    timeout: 0s\n"),
        10,
        14,
        "health.wifi.timeout",
        "timeout must be more than zero",
    );
}

#[test]
fn timeout_longer_than_interval() {
    let text = with("health:\n  wifi:\n    interval: 1s\n    timeout: 1500ms\n");
    expect_only(
        &text,
        11,
        14,
        "health.wifi.timeout",
        "timeout 1.5s is longer than the interval 1s",
    );
}

#[test]
fn timeout_longer_than_a_shortened_default_interval_points_at_interval() {
    let text = with("health:\n  cellular:\n    interval: 1s\n");
    expect_only(
        &text,
        10,
        15,
        "health.cellular.timeout",
        "longer than the interval",
    );
}

#[test]
fn quorum_zero() {
    expect_only(
        &with("health:\n  wifi:\n    quorum: 0\n"),
        10,
        13,
        "health.wifi.quorum",
        "quorum 0 must be between 1 and the number of probes (4)",
    );
}

#[test]
fn quorum_larger_than_probes() {
    let text = with("health:\n  cellular:\n    probes: [{icmp: 100.127.100.127}]\n    quorum: 2\n");
    expect_only(
        &text,
        11,
        13,
        "health.cellular.quorum",
        "quorum 2 must be between 1 and the number of probes (1)",
    );
}

#[test]
fn no_probes() {
    expect(
        &with("health:\n  wifi:\n    probes: []\n"),
        10,
        13,
        "health.wifi.probes",
        "at least one probe",
    );
}

#[test]
fn zero_down_after() {
    expect_only(
        &with("health:\n  wifi: {down_after: 0s}\n"),
        9,
        22,
        "health.wifi.down_after",
        "down_after must be more than zero",
    );
}

#[test]
fn zero_up_after() {
    expect_only(
        &with("health:\n  wifi: {up_after: 0ms}\n"),
        9,
        20,
        "health.wifi.up_after",
        "up_after must be more than zero",
    );
}

#[test]
fn handshake_age_only_for_arc() {
    expect_only(
        &with("health:\n  wifi: {handshake_max_age: 1m}\n"),
        9,
        29,
        "health.wifi.handshake_max_age",
        "only applies to health.arc",
    );
}

#[test]
fn handshake_age_zero() {
    expect_only(
        &with("arc: {}\nhealth:\n  arc: {handshake_max_age: 0s}\n"),
        10,
        28,
        "health.arc.handshake_max_age",
        "more than zero",
    );
}

#[test]
fn https_probe_is_refused() {
    let text = with("health:\n  wifi:\n    probes: [{http: \"https://192.0.2.1/\"}]\n");
    expect_only(
        &text,
        10,
        21,
        "health.wifi.probes[0].http",
        "only http:// URLs are supported",
    );
}

#[test]
fn http_probe_without_host() {
    let text = with("health:\n  wifi:\n    probes: [{http: \"http:///x\"}]\n");
    expect_only(&text, 10, 21, "health.wifi.probes[0].http", "no host");
}

#[test]
fn tcp_probe_without_port() {
    let text = with("health:\n  wifi:\n    probes: [{tcp: \"192.0.2.1:0\"}]\n");
    expect_only(&text, 10, 20, "health.wifi.probes[0].tcp", "needs a port");
}

#[test]
fn dns_probe_with_bad_name() {
    let text = with(
        "health:\n  wifi:\n    probes:\n      - dns: {server: 192.0.2.53, name: \"bad name\"}\n",
    );
    expect_only(
        &text,
        11,
        41,
        "health.wifi.probes[0].dns.name",
        "invalid DNS name `bad name`",
    );
}

#[test]
fn all_probe_kinds() {
    let text = with(
        "health:\n  wifi:\n    probes:\n      - icmp: 2001:db8::1\n      - tcp: \"[2001:db8::1]:443\"\n      - http: http://192.0.2.1:8080/health\n      - dns: {server: 192.0.2.53, name: example.com.}\n    quorum: 4\n",
    );
    let h = &ok(&text).health[&PathId::Wifi];
    assert_eq!(h.probes.len(), 4);
    assert_eq!(h.quorum, 4);
    assert_eq!(h.probes[2].to_string(), "http http://192.0.2.1:8080/health");
}

#[test]
fn all_errors_are_collected() {
    let text = with(
        "health:\n  wifi: {interval: 0s, quorum: 9, down_after: 0s}\n  cellular: {timeout: 0s}\n",
    );
    let errs = super::errors(&text);
    assert_eq!(errs.len(), 4, "{errs:#?}");
}

#[test]
fn wifi_defaults_reassoc_hold_and_no_signal() {
    let c = ok(BASE);
    let wifi = &c.health[&PathId::Wifi];
    assert_eq!(wifi.reassoc_up_after, Some(Duration::from_millis(500)));
    assert_eq!(wifi.signal, None);
    assert_eq!(c.health[&PathId::Cellular].reassoc_up_after, None);
    let uplink = c.uplinks.wifi.as_ref().map(|w| w.nl80211);
    assert_eq!(uplink, Some(crate::config::Nl80211Mode::Auto));
}

#[test]
fn signal_with_units_and_defaults() {
    let text = with("health:\n  wifi:\n    reassoc_up_after: 300ms\n    signal: {below: -75dBm}\n");
    let wifi = &ok(&text).health[&PathId::Wifi];
    assert_eq!(wifi.reassoc_up_after, Some(Duration::from_millis(300)));
    let expected = crate::config::SignalConfig {
        below_dbm: -75,
        hysteresis_db: 5,
        hold: Duration::from_secs(2),
    };
    assert_eq!(wifi.signal, Some(expected));
    let text = with("health:\n  wifi:\n    signal: {below: -80, hysteresis: 3dB, for: 4s}\n");
    let signal = ok(&text).health[&PathId::Wifi].signal;
    assert_eq!(
        signal,
        Some(crate::config::SignalConfig {
            below_dbm: -80,
            hysteresis_db: 3,
            hold: Duration::from_secs(4),
        })
    );
}

#[test]
fn signal_below_out_of_range() {
    expect_only(
        &with("health:\n  wifi:\n    signal: {below: 10dBm}\n"),
        10,
        21,
        "health.wifi.signal.below",
        "signal threshold 10 dBm is out of range -120..=-1 dBm",
    );
}

#[test]
fn signal_below_is_required_and_typed() {
    let errs = super::errors(&with("health:\n  wifi:\n    signal: {hysteresis: 5dB}\n"));
    assert!(errs.iter().any(|e| e.contains("below")), "{errs:?}");
    let errs = super::errors(&with("health:\n  wifi:\n    signal: {below: -75dB}\n"));
    assert!(
        errs.iter()
            .any(|e| e.contains("invalid signal level `-75dB`")),
        "{errs:?}"
    );
}

#[test]
fn signal_hysteresis_too_large() {
    expect_only(
        &with("health:\n  wifi:\n    signal: {below: -75dBm, hysteresis: 40dB}\n"),
        10,
        41,
        "health.wifi.signal.hysteresis",
        "hysteresis 40 dB is out of range 0..=30 dB",
    );
}

#[test]
fn wifi_keys_only_on_wifi() {
    expect_only(
        &with("health:\n  cellular:\n    reassoc_up_after: 1s\n"),
        10,
        23,
        "health.cellular.reassoc_up_after",
        "reassoc_up_after only applies to health.wifi",
    );
    expect_only(
        &with("health:\n  cellular:\n    signal: {below: -75dBm}\n"),
        10,
        13,
        "health.cellular.signal",
        "signal only applies to health.wifi",
    );
}

#[test]
fn reassoc_hold_longer_than_up_after() {
    expect_only(
        &with("health:\n  wifi:\n    up_after: 2s\n    reassoc_up_after: 3s\n"),
        11,
        23,
        "health.wifi.reassoc_up_after",
        "reassoc_up_after 3s is longer than up_after 2s",
    );
}
