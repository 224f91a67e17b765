//! Per-path health transitions of a plain (non-tunnel) path, one rule per test.

#[path = "engine_support.rs"]
mod support;

use arcway::engine::{Action, Event, Health};
use support::*;

#[test]
fn a_path_without_evidence_is_unknown_and_unusable() {
    let sim = Sim::new(settings());
    assert_eq!(sim.health(WIFI), Health::Unknown);
    assert!(!sim.health(WIFI).is_usable());
    assert_eq!(sim.engine.poll_timeout(), None);
}

#[test]
fn startup_comes_up_at_once_on_carrier_and_a_passing_round() {
    let mut sim = Sim::new(settings());
    sim.at(700).carrier(WIFI, true);
    assert_eq!(sim.state(WIFI), "unknown");
    let acts = sim.at(900).probe(WIFI, true);
    assert_eq!(sim.health(WIFI), Health::Up { since: t(900) });
    let change = Action::PathChanged {
        path: WIFI,
        from: Health::Unknown,
        to: sim.health(WIFI),
    };
    assert_eq!(acts.first(), Some(&change));
}

#[test]
fn a_passing_round_without_a_carrier_report_proves_nothing() {
    let mut sim = Sim::new(settings());
    sim.probe(WIFI, true);
    assert_eq!(sim.state(WIFI), "unknown");
    sim.at(100).carrier(WIFI, true);
    assert_eq!(sim.state(WIFI), "up");
}

#[test]
fn unknown_goes_down_at_once_on_carrier_loss() {
    let mut sim = Sim::new(settings());
    sim.at(10).carrier(WIFI, false);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(10) });
}

#[test]
fn unknown_goes_down_after_down_after_of_failing_rounds() {
    let mut sim = Sim::new(settings());
    sim.carrier(WIFI, true);
    sim.at(1000).probe(WIFI, false);
    assert_eq!(sim.engine.poll_timeout(), Some(t(4000)));
    sim.at(3999);
    assert_eq!(sim.state(WIFI), "unknown");
    sim.at(4000);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(4000) });
}

#[test]
fn unknown_goes_down_when_the_link_is_gone_or_the_bearer_drops() {
    let mut sim = Sim::new(settings());
    sim.send(Event::LinkGone { path: WIFI });
    sim.send(Event::Bearer {
        path: CELL,
        connected: false,
    });
    assert_eq!(sim.state(WIFI), "down");
    assert_eq!(sim.state(CELL), "down");
}

#[test]
fn up_goes_down_at_once_on_carrier_loss() {
    let mut sim = Sim::all_up(settings());
    let acts = sim.at(2000).carrier(WIFI, false);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(2000) });
    let from = Health::Up { since: t(0) };
    let to = Health::Down { since: t(2000) };
    assert!(acts.contains(&Action::PathChanged {
        path: WIFI,
        from,
        to
    }));
}

#[test]
fn up_goes_down_at_once_when_gone_or_the_bearer_drops() {
    let mut sim = Sim::all_up(settings());
    sim.at(5).send(Event::LinkGone { path: WIFI });
    sim.send(Event::Bearer {
        path: CELL,
        connected: false,
    });
    assert_eq!(sim.health(WIFI), Health::Down { since: t(5) });
    assert_eq!(sim.health(CELL), Health::Down { since: t(5) });
}

#[test]
fn one_failed_round_makes_up_failing_but_still_usable() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(WIFI, false);
    assert_eq!(
        sim.health(WIFI),
        Health::Failing {
            since: t(1000),
            up_since: t(0)
        }
    );
    assert!(sim.health(WIFI).is_usable());
}

#[test]
fn failing_returns_to_up_with_its_old_since_on_a_passing_round() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(WIFI, false);
    sim.at(2000).probe(WIFI, true);
    assert_eq!(sim.health(WIFI), Health::Up { since: t(0) });
}

#[test]
fn failing_goes_down_exactly_at_down_after() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(WIFI, false);
    sim.at(2000).probe(WIFI, false);
    assert_eq!(sim.engine.poll_timeout(), Some(t(4000)));
    sim.at(3999);
    assert_eq!(sim.state(WIFI), "failing");
    sim.at(4000);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(4000) });
}

#[test]
fn a_late_event_plays_the_missed_deadline_at_its_own_time() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(WIFI, false);
    // No tick delivered: the next event arrives long after the deadline.
    sim.engine.handle(Event::Tick, t(9000));
    assert_eq!(sim.health(WIFI), Health::Down { since: t(4000) });
    assert_eq!(sim.engine.log().last().map(|e| e.time), Some(t(4000)));
}

#[test]
fn a_passing_round_at_the_deadline_saves_the_path() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(WIFI, false);
    sim.engine.handle(
        Event::ProbeRound {
            path: WIFI,
            ok: true,
            latency: None,
            targets: vec![],
        },
        t(4000),
    );
    assert_eq!(sim.health(WIFI), Health::Up { since: t(0) });
}

#[test]
fn received_traffic_holds_off_probe_failures() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(CELL, false);
    for s in 2..=10 {
        sim.at(s * 1000).send(Event::RxProgress { path: CELL });
    }
    assert_eq!(
        sim.health(CELL),
        Health::Failing {
            since: t(10_000),
            up_since: t(0)
        }
    );
    sim.at(13_000);
    assert_eq!(sim.health(CELL), Health::Down { since: t(13_000) });
}

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
        ok: false,
        latency: None,
        targets: vec![],
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
