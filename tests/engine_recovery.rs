//! Per-path health after an outage: recovering, failing back, and edge timings.

#[path = "engine_support.rs"]
mod support;

use arcway::engine::{Event, Health};
use support::*;

#[test]
fn carrier_and_a_passing_round_after_an_outage_start_recovering() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    assert_eq!(
        sim.state(WIFI),
        "down",
        "rounds from before the outage do not count"
    );
    sim.at(2500).probe(WIFI, true);
    assert_eq!(
        sim.health(WIFI),
        Health::Recovering {
            since: t(2500),
            down_since: t(1000)
        }
    );
    assert!(!sim.health(WIFI).is_usable());
}

#[test]
fn recovering_comes_up_after_up_after() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(WIFI, true);
    assert_eq!(sim.engine.poll_timeout(), Some(t(7500)));
    sim.at(7499);
    assert_eq!(sim.state(WIFI), "recovering");
    sim.at(7500);
    assert_eq!(sim.health(WIFI), Health::Up { since: t(7500) });
}

#[test]
fn recovering_falls_back_to_the_original_outage_on_a_failed_round() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(WIFI, true);
    sim.at(3500).probe(WIFI, false);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(1000) });
}

#[test]
fn recovering_falls_back_on_carrier_loss() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(WIFI, true);
    sim.at(3000).carrier(WIFI, false);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(1000) });
}

#[test]
fn a_failing_round_at_the_up_deadline_wins() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(WIFI, true);
    let ev = Event::ProbeRound {
        path: WIFI,
        family: None,
        ok: false,
        latency: None,
        targets: vec![],
        started_ago: std::time::Duration::ZERO,
    };
    sim.engine.handle(ev, t(7500));
    assert_eq!(sim.state(WIFI), "down");
}

#[test]
fn rounds_reported_while_the_carrier_is_down_are_ignored() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(1100).probe(WIFI, true);
    sim.at(2000).carrier(WIFI, true);
    sim.at(9000);
    assert_eq!(sim.state(WIFI), "down");
}

#[test]
fn a_down_path_with_failing_rounds_stays_down() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(3000).probe(WIFI, false);
    sim.at(60_000);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(1000) });
    assert_eq!(sim.engine.poll_timeout(), None);
}

#[test]
fn zero_hysteresis_switches_in_one_step() {
    let mut s = settings();
    for p in s.paths.values_mut() {
        p.down_after = ms(0);
        p.up_after = ms(0);
    }
    let mut sim = Sim::all_up(s);
    sim.at(1000).probe(WIFI, false);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(1000) });
    sim.at(2000).probe(WIFI, true);
    assert_eq!(sim.health(WIFI), Health::Up { since: t(2000) });
}

#[test]
fn time_going_backwards_is_read_as_the_latest_time() {
    let mut sim = Sim::all_up(settings());
    sim.engine.handle(Event::Tick, t(5000));
    sim.engine.handle(
        Event::Carrier {
            path: WIFI,
            up: false,
        },
        t(1000),
    );
    assert_eq!(sim.health(WIFI), Health::Down { since: t(5000) });
    assert_eq!(sim.engine.now(), t(5000));
}
