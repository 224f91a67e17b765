//! The daemon's controller with a simulated clock: start-up, the order of a turn's work, the
//! Arc session policy and the reload diff.

mod engine_support;

use std::collections::BTreeSet;
use std::time::Duration;

use arcway::config;
use arcway::daemon::controller::{
    Controller, FIRST_LINKS, HANDSHAKE_GRACE, Moved, REBOOTSTRAP_AFTER, RENEW_MIN_INTERVAL, SETTLE,
};
use arcway::daemon::reload::ReloadPlan;
use arcway::engine::{ClassRoute, ClassRoutes, Event, Health, Time};
use engine_support::{ARC, CELL, WIFI, settings};

fn t(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn names() -> BTreeSet<String> {
    ["arc0", "wlan0", "wwan0"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

fn carrier(c: &mut Controller, name: &str, path: arcway::model::PathId, up: bool, now: Time) {
    c.link(name, vec![Event::Carrier { path, up }], now);
}

fn probe(c: &mut Controller, path: arcway::model::PathId, ok: bool, now: Time) {
    c.event(
        Event::ProbeRound {
            path,
            family: None,
            ok,
            latency: ok.then(|| Duration::from_millis(20)),
            targets: vec![],
            started_ago: Duration::ZERO,
        },
        now,
    );
}

fn handshake(c: &mut Controller, age: Option<Duration>, at: Time) {
    c.handshake(vec![Event::Handshake { path: ARC, age }], at, at);
}

/// Every path up at `now`, the tunnel started just before.
fn all_up(rebootstrap: bool) -> Controller {
    let mut c = Controller::new(settings(), names(), rebootstrap);
    c.tunnel_starting();
    c.tunnel_started(t(0));
    carrier(&mut c, "wlan0", WIFI, true, t(0));
    carrier(&mut c, "wwan0", CELL, true, t(0));
    carrier(&mut c, "arc0", ARC, true, t(0));
    handshake(&mut c, Some(Duration::from_millis(100)), t(0));
    for p in [WIFI, ARC, CELL] {
        probe(&mut c, p, true, t(0));
    }
    c.take_intents();
    c
}

/// Delivers every due tick up to `to`, like the loop; returns the intents gathered.
fn run_to(c: &mut Controller, to: Time) -> arcway::daemon::controller::Intents {
    let mut all = arcway::daemon::controller::Intents::default();
    while let Some(due) = c.poll_timeout().filter(|&d| d <= to) {
        c.tick(due);
        let i = c.take_intents();
        all.routing |= i.routing;
        all.nft |= i.nft;
        all.renew |= i.renew;
        all.rebootstrap |= i.rebootstrap;
        all.settled_by_timeout |= i.settled_by_timeout;
        all.evict.extend(i.evict);
    }
    all
}

#[test]
fn routing_waits_for_the_first_report_of_every_interface_not_for_the_scheduler() {
    let mut c = Controller::new(settings(), names(), false);
    assert!(!c.links_known());
    carrier(&mut c, "wlan0", WIFI, true, t(1));
    carrier(&mut c, "wwan0", CELL, true, t(2));
    assert!(!c.links_known(), "arc0 has not reported");
    c.link("arc0", vec![Event::LinkGone { path: ARC }], t(3));
    assert!(c.links_known());
}

#[test]
fn a_watched_interface_that_never_reports_holds_routing_back_only_briefly() {
    let mut c = Controller::new(settings(), names(), false);
    carrier(&mut c, "wlan0", WIFI, true, t(1));
    c.take_intents();
    let before = Time::ZERO + (FIRST_LINKS - Duration::from_millis(1));
    run_to(&mut c, before);
    assert!(!c.links_known());
    let i = run_to(&mut c, Time::ZERO + FIRST_LINKS);
    assert!(c.links_known());
    assert!(i.routing);
}

#[test]
fn class_routes_are_adopted_until_every_path_reports_or_the_settle_time_ends() {
    let mut c = Controller::new(settings(), names(), false);
    carrier(&mut c, "wlan0", WIFI, true, t(0));
    probe(&mut c, WIFI, true, t(10));
    assert!(c.adopting());
    let i = run_to(&mut c, Time::ZERO + SETTLE);
    assert!(!c.adopting());
    assert!(i.settled_by_timeout && i.routing);

    let c = all_up(false);
    assert!(!c.adopting(), "every path known: no need to wait");
}

#[test]
fn a_carrier_loss_asks_for_routing_then_eviction_then_nftables_in_one_turn() {
    let mut c = all_up(false);
    assert_eq!(
        c.engine().route("platform"),
        Some(ClassRoutes::both(ClassRoute::Via(ARC)))
    );
    carrier(&mut c, "wlan0", WIFI, false, t(10_000));
    let i = c.take_intents();
    assert!(i.routing && i.nft && i.publish);
    assert!(i.evict.contains(&Moved {
        class: "platform".into(),
        from: ClassRoutes::both(ClassRoute::Via(ARC)),
        to: ClassRoutes::both(ClassRoute::Via(CELL)),
    }));
    assert!(i.evict.contains(&Moved {
        class: "default".into(),
        from: ClassRoutes::both(ClassRoute::Via(WIFI)),
        to: ClassRoutes::both(ClassRoute::Via(CELL)),
    }));
    assert_eq!(c.class_since().get("platform"), Some(&t(10_000)));
    assert!(c.take_intents().is_empty(), "taken once");
}

#[test]
fn the_tunnel_device_coming_up_is_not_an_outage() {
    let mut c = all_up(false);
    c.tunnel_starting();
    c.link("arc0", vec![Event::LinkGone { path: ARC }], t(5_000));
    carrier(&mut c, "arc0", ARC, false, t(5_001));
    assert!(matches!(c.engine().health(ARC), Some(Health::Up { .. })));
    carrier(&mut c, "arc0", ARC, true, t(5_002));
    // Once the device is up, a loss counts again.
    carrier(&mut c, "arc0", ARC, false, t(6_000));
    assert!(matches!(c.engine().health(ARC), Some(Health::Down { .. })));
}

/// Carrier loss and return on Wi-Fi, then a probe through the old session: the engine asks
/// for a renewal.
fn outage(c: &mut Controller, at: u64) {
    carrier(c, "wlan0", WIFI, false, t(at));
    carrier(c, "wlan0", WIFI, true, t(at + 1000));
    probe(c, ARC, true, t(at + 1500));
}

#[test]
fn renewals_are_spaced_and_an_early_one_is_done_later_not_dropped() {
    // Quick recoveries, so that two outages can ask for renewals within RENEW_MIN_INTERVAL.
    let mut s = settings();
    for p in s.paths.values_mut() {
        p.up_after = Duration::from_millis(100);
    }
    let mut c = Controller::new(s, names(), false);
    c.tunnel_starting();
    c.tunnel_started(t(0));
    for (name, path) in [("wlan0", WIFI), ("wwan0", CELL), ("arc0", ARC)] {
        carrier(&mut c, name, path, true, t(0));
    }
    handshake(&mut c, Some(Duration::from_millis(100)), t(0));
    for p in [WIFI, ARC, CELL] {
        probe(&mut c, p, true, t(0));
    }
    c.take_intents();
    outage(&mut c, 1000);
    assert!(c.take_intents().renew);
    // A fresh handshake brings Arc back.
    handshake(&mut c, Some(Duration::ZERO), t(2600));
    probe(&mut c, WIFI, true, t(2600));
    probe(&mut c, ARC, true, t(2600));
    run_to(&mut c, t(2800));
    probe(&mut c, WIFI, true, t(2800));
    probe(&mut c, ARC, true, t(2800));
    assert!(matches!(c.engine().health(ARC), Some(Health::Up { .. })));
    // The next outage asks again within RENEW_MIN_INTERVAL of the first renewal.
    carrier(&mut c, "wlan0", WIFI, false, t(3000));
    carrier(&mut c, "wlan0", WIFI, true, t(3100));
    probe(&mut c, ARC, true, t(3200));
    assert!(
        !c.take_intents().renew,
        "too soon after the previous renewal"
    );
    let due = t(2500) + RENEW_MIN_INTERVAL;
    assert_eq!(c.poll_timeout().map(|p| p <= due), Some(true));
    assert!(!run_to(&mut c, t(4400)).renew);
    assert!(run_to(&mut c, due).renew, "done once the interval passed");
}

#[test]
fn no_renewal_without_a_running_tunnel() {
    let mut c = all_up(false);
    c.tunnel_stopped();
    outage(&mut c, 1000);
    assert!(!c.take_intents().renew);
    assert!(!run_to(&mut c, t(30_000)).renew);
}

#[test]
fn no_handshake_yet_is_ignored_during_the_grace_after_a_start() {
    let mut c = all_up(false);
    c.tunnel_starting();
    carrier(&mut c, "arc0", ARC, true, t(10_000));
    c.tunnel_started(t(10_000));
    let within = t(10_000) + (HANDSHAKE_GRACE - Duration::from_millis(1));
    handshake(&mut c, None, within);
    assert!(matches!(c.engine().health(ARC), Some(Health::Up { .. })));
    // After the grace, the same reading counts.
    let after = t(10_000) + HANDSHAKE_GRACE;
    handshake(&mut c, None, after);
    run_to(&mut c, after + Duration::from_secs(60));
    assert!(!matches!(
        c.engine().health(ARC),
        Some(Health::Up { .. }) | None
    ));
}

#[test]
fn rebootstrap_is_asked_for_after_the_deadline_of_no_handshake_while_wifi_works() {
    let mut c = all_up(true);
    handshake(&mut c, None, t(6_000));
    let start = run_to(&mut c, t(7_000));
    assert!(!start.rebootstrap);
    // Keep Wi-Fi usable with passing rounds and feed the loop's housekeeping ticks.
    let mut now = 7_000;
    let deadline = 6_000 + REBOOTSTRAP_AFTER.as_millis() as u64;
    let mut asked_at = None;
    while now < deadline + 3_000 {
        probe(&mut c, WIFI, true, t(now));
        handshake(&mut c, None, t(now));
        c.tick(t(now));
        if c.take_intents().rebootstrap && asked_at.is_none() {
            asked_at = Some(now);
        }
        now += 1_000;
    }
    let asked_at = asked_at.expect("rebootstrap asked for");
    assert!(asked_at >= 7_000 + REBOOTSTRAP_AFTER.as_millis() as u64 - 1_000);
    assert!(asked_at <= 8_000 + REBOOTSTRAP_AFTER.as_millis() as u64);
}

#[test]
fn rebootstrap_is_not_asked_for_when_off_or_when_wifi_is_down() {
    let mut off = all_up(false);
    let mut wifi_down = all_up(true);
    carrier(&mut wifi_down, "wlan0", WIFI, false, t(1_000));
    for c in [&mut off, &mut wifi_down] {
        let mut asked = false;
        for s in 1..400u64 {
            handshake(c, None, t(s * 1000));
            c.tick(t(s * 1000));
            asked |= c.take_intents().rebootstrap;
        }
        assert!(!asked);
    }
}

fn cfg(extra: &str) -> config::Config {
    let text = format!(
        "version: 1\n\
         uplinks:\n  wifi: {{interface: wlan0}}\n  cellular: {{interface: wwan0}}\n\
         classes:\n  - name: default\n    paths: [wifi, cellular]\n\
         status: {{socket: /run/arcway-test.sock}}\n{extra}"
    );
    config::parse_str(&text, "test").unwrap()
}

#[test]
fn reload_plan_by_key_group() {
    let base = cfg("");
    assert_eq!(ReloadPlan::new(&base, &base), ReloadPlan::default());

    let p = ReloadPlan::new(&base, &cfg("logging: {level: debug}\n"));
    assert!(p.logging && !p.metrics && p.needs_restart.is_empty());

    let p = ReloadPlan::new(&base, &cfg("metrics: {listen: \"127.0.0.1:9101\"}\n"));
    assert!(p.metrics && !p.logging);

    let p = ReloadPlan::new(
        &base,
        &cfg("budget: {cellular: {bytes: 1000000, period: monthly}}\n"),
    );
    assert!(p.budgets && p.needs_restart.is_empty());

    let p = ReloadPlan::new(&base, &cfg("budget: {state_file: /tmp/x.json}\n"));
    assert_eq!(p.needs_restart, vec!["budget.state_file"]);

    let p = ReloadPlan::new(&base, &cfg("health: {wifi: {interval: 2s}}\n"));
    assert!(p.paths && !p.tunnel);

    let other_socket = config::parse_str(
        "version: 1\nuplinks:\n  wifi: {interface: wlan0}\n  cellular: {interface: wwan0}\n\
         classes:\n  - name: default\n    paths: [wifi, cellular]\n\
         status: {socket: /run/arcway-other.sock}\n",
        "test",
    )
    .unwrap();
    let p = ReloadPlan::new(&base, &other_socket);
    assert_eq!(p.needs_restart, vec!["status.socket"]);

    let modem = config::parse_str(
        "version: 1\nuplinks:\n  wifi: {interface: wlan0}\n  cellular: {interface: wwan0, modem: {}}\n\
         classes:\n  - name: default\n    paths: [wifi, cellular]\n\
         status: {socket: /run/arcway-test.sock}\n",
        "test",
    )
    .unwrap();
    let p = ReloadPlan::new(&base, &modem);
    assert!(p.modem && p.paths);
}
