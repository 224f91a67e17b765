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
        family: None,
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
        family: None,
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
            family: None,
            ok: true,
            latency: None,
            targets: vec![],
            started_ago: std::time::Duration::ZERO,
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

fn failed_round(started_ago_ms: u64) -> Event {
    Event::ProbeRound {
        path: WIFI,
        family: None,
        ok: false,
        latency: None,
        targets: vec![],
        started_ago: ms(started_ago_ms),
    }
}

#[test]
fn a_failure_counts_from_when_the_failed_round_went_out() {
    let mut sim = Sim::new(settings());
    sim.carrier(WIFI, true);
    sim.at(500).probe(WIFI, true);
    sim.at(2000).send(failed_round(800));
    // down_after (3 s) from 1200, when the unanswered probes were sent.
    assert_eq!(sim.engine.poll_timeout(), Some(t(4200)));
    sim.at(4200);
    assert_eq!(sim.health(WIFI), Health::Down { since: t(4200) });
}

#[test]
fn a_failure_never_starts_before_the_last_good_answer() {
    let mut sim = Sim::new(settings());
    sim.carrier(WIFI, true);
    sim.at(1500).probe(WIFI, true);
    sim.at(2000).send(failed_round(1500));
    assert_eq!(sim.engine.poll_timeout(), Some(t(4500)));
}

#[test]
fn a_bearer_no_longer_watched_stops_holding_the_path_down() {
    // Judged from then on exactly as if the bearer had come back: probes bring it up.
    let run = |last: Event| {
        let mut sim = Sim::all_up(settings());
        sim.at(5).send(Event::Bearer {
            path: CELL,
            connected: false,
        });
        assert_eq!(sim.health(CELL), Health::Down { since: t(5) });
        sim.at(100).send(last);
        let mut seen = Vec::new();
        for ms in (1000..=20_000).step_by(1000) {
            sim.at(ms).probe(CELL, true);
            seen.push(sim.health(CELL));
        }
        seen
    };
    let unwatched = run(Event::BearerUnwatched { path: CELL });
    assert!(
        unwatched.last().is_some_and(|h| h.is_usable()),
        "{unwatched:?}"
    );
    let reconnected = run(Event::Bearer {
        path: CELL,
        connected: true,
    });
    assert_eq!(unwatched, reconnected);
}
