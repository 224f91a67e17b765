//! The Arc tunnel's extra rules: handshakes, its Wi-Fi underlay, make-before-break failback.

#[path = "engine_support.rs"]
mod support;

use arcway::engine::{Action, ClassRoute, Event, Evidence, Health};
use support::*;

#[test]
fn the_tunnel_needs_a_fresh_handshake_to_come_up() {
    let mut sim = Sim::new(settings());
    sim.carrier(ARC, true);
    sim.probe(ARC, true);
    assert_eq!(sim.state(ARC), "unknown");
    sim.at(100).handshake(ARC, 50);
    assert_eq!(sim.health(ARC), Health::Up { since: t(100) });
}

#[test]
fn a_handshake_older_than_the_limit_does_not_bring_it_up() {
    let mut sim = Sim::new(settings());
    sim.carrier(ARC, true);
    sim.probe(ARC, true);
    sim.handshake(ARC, 180_000);
    assert_eq!(sim.state(ARC), "unknown");
}

#[test]
fn a_handshake_growing_stale_makes_it_fail_then_go_down() {
    let mut sim = Sim::all_up(settings());
    // bring_up reported a handshake 100 ms old at t = 0: stale at 179.9 s.
    assert_eq!(sim.engine.poll_timeout(), Some(t(179_900)));
    sim.at(179_900);
    assert_eq!(
        sim.health(ARC),
        Health::Failing {
            since: t(179_900),
            up_since: t(0)
        }
    );
    sim.at(182_900);
    assert_eq!(sim.health(ARC), Health::Down { since: t(182_900) });
}

#[test]
fn a_new_handshake_clears_staleness() {
    let mut sim = Sim::all_up(settings());
    sim.at(179_900);
    sim.at(180_500).handshake(ARC, 10);
    assert_eq!(sim.health(ARC), Health::Up { since: t(0) });
}

#[test]
fn received_traffic_does_not_excuse_a_stale_handshake() {
    let mut sim = Sim::all_up(settings());
    sim.at(179_900);
    for s in 180..=183 {
        sim.at(s * 1000).send(Event::RxProgress { path: ARC });
    }
    assert_eq!(sim.state(ARC), "down");
}

#[test]
fn no_handshake_at_all_takes_an_unknown_tunnel_down_after_down_after() {
    let mut sim = Sim::new(settings());
    sim.carrier(ARC, true);
    sim.send(Event::Handshake {
        path: ARC,
        age: None,
    });
    sim.at(2999);
    assert_eq!(sim.state(ARC), "unknown");
    sim.at(3000);
    assert_eq!(sim.health(ARC), Health::Down { since: t(3000) });
}

#[test]
fn wifi_carrier_loss_takes_the_tunnel_down_at_once() {
    let mut sim = Sim::all_up(settings());
    let acts = sim.at(1000).carrier(WIFI, false);
    assert_eq!(sim.health(ARC), Health::Down { since: t(1000) });
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::PathChanged { path: ARC, .. }))
    );
    let entry = sim
        .engine
        .log()
        .find(|e| e.evidence.starts_with("underlay"));
    let detail = entry.map(|e| &e.detail);
    assert!(matches!(
        detail,
        Some(Evidence::UnderlayLost { underlay: WIFI, .. })
    ));
    assert_eq!(
        entry.map(|e| e.evidence.as_str()),
        Some("underlay wifi: carrier lost on wlan0")
    );
}

#[test]
fn tunnel_rounds_while_the_underlay_is_down_are_ignored() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(1500).probe(ARC, true);
    sim.at(1600).handshake(ARC, 10);
    sim.at(2000).carrier(WIFI, true);
    sim.at(20_000);
    assert_eq!(sim.state(ARC), "down");
}

#[test]
fn an_old_session_keeps_the_tunnel_down_and_asks_for_a_new_handshake_once() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    let first = sim.at(2500).probe(ARC, true);
    assert_eq!(sim.state(ARC), "down");
    assert!(first.contains(&Action::RenewHandshake { path: ARC }));
    let second = sim.at(3500).probe(ARC, true);
    assert!(!second.contains(&Action::RenewHandshake { path: ARC }));
    sim.at(60_000);
    assert_eq!(sim.state(ARC), "down");
}

#[test]
fn a_handshake_after_the_outage_makes_before_it_breaks_back() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(ARC, true);
    sim.at(3000).handshake(ARC, 200); // handshake at 2.8 s, after the outage began
    assert_eq!(
        sim.health(ARC),
        Health::Recovering {
            since: t(2800),
            down_since: t(1000)
        }
    );
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    sim.at(7800);
    assert_eq!(sim.health(ARC), Health::Up { since: t(7800) });
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
}

#[test]
fn a_handshake_before_the_outage_does_not_count() {
    let mut sim = Sim::all_up(settings());
    sim.at(10_000).carrier(WIFI, false);
    sim.at(11_000).carrier(WIFI, true);
    sim.at(11_500).probe(ARC, true);
    sim.at(12_000).handshake(ARC, 5_000); // at 7 s: before the outage
    sim.at(30_000);
    assert_eq!(sim.state(ARC), "down");
}

#[test]
fn renew_is_asked_again_in_the_next_outage() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(ARC, true);
    sim.at(3000).handshake(ARC, 0);
    sim.at(8000);
    assert_eq!(sim.state(ARC), "up");
    sim.at(9000).carrier(WIFI, false);
    sim.at(10_000).carrier(WIFI, true);
    let acts = sim.at(10_500).probe(ARC, true);
    assert!(acts.contains(&Action::RenewHandshake { path: ARC }));
}

#[test]
fn the_tunnel_comes_back_while_wifi_is_still_recovering() {
    // Wi-Fi direct and Arc recover independently; each has its own up_after.
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2100).handshake(ARC, 0);
    sim.at(2200).probe(ARC, true);
    sim.at(7200);
    assert_eq!(sim.state(ARC), "up");
    assert_eq!(sim.state(WIFI), "down");
}
