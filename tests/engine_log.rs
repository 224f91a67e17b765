//! The event log: one entry per change, readable evidence, structured detail, JSON shape.

#[path = "engine_support.rs"]
mod support;

use arcway::engine::{
    Change, ClassRoute, ClassRoutes, Event, Evidence, Health, ProbeTarget, Settings,
};
use support::*;

fn path_entries(sim: &Sim, path: arcway::model::PathId) -> Vec<String> {
    let of_path = |e: &&arcway::engine::LogEntry| matches!(e.change, Change::Path { path: p, .. } if p == path);
    sim.engine
        .log()
        .filter(of_path)
        .map(|e| e.summary())
        .collect()
}

#[test]
fn carrier_loss_is_logged_with_the_interface_name() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    let wifi = path_entries(&sim, WIFI);
    assert_eq!(
        wifi.last().map(String::as_str),
        Some("wifi: up -> down (carrier lost on wlan0)")
    );
}

#[test]
fn a_path_without_an_interface_name_is_named_by_its_id() {
    let mut s = settings();
    s.paths.values_mut().for_each(|p| p.interface = None);
    let mut sim = Sim::all_up(s);
    sim.at(1000).carrier(WIFI, false);
    assert!(
        path_entries(&sim, WIFI)
            .iter()
            .any(|e| e.ends_with("(carrier lost on wifi)"))
    );
}

#[test]
fn probe_failures_are_counted_over_their_duration() {
    let mut sim = Sim::all_up(settings());
    for s in 1..=3 {
        sim.at(s * 1000).probe(WIFI, false);
    }
    sim.at(4000);
    let wifi = path_entries(&sim, WIFI);
    assert_eq!(
        wifi.last().map(String::as_str),
        Some("wifi: failing -> down (3 failed probe rounds over 3.0s)")
    );
}

#[test]
fn failback_cites_the_handshake_and_the_probes() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).handshake(ARC, 0);
    sim.at(2500).probe(ARC, true);
    for s in 3..=6 {
        sim.at(s * 1000 + 500).probe(ARC, true);
    }
    sim.at(7500);
    let arc = path_entries(&sim, ARC);
    assert_eq!(
        arc.last().map(String::as_str),
        Some("arc: recovering -> up (handshake 5.0s old, probes ok for 5.0s (5 rounds))")
    );
}

#[test]
fn class_moves_say_which_preferred_paths_were_passed_over() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    let bulk = sim
        .engine
        .log()
        .rfind(|e| matches!(&e.change, Change::Class { class, .. } if class == "bulk"))
        .cloned();
    let bulk = bulk.map(|e| e.summary());
    assert_eq!(
        bulk.as_deref(),
        Some("class bulk: via wifi -> held on cellular (wifi down, cellular on hold)")
    );
}

#[test]
fn entries_are_numbered_and_timed() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    let seqs: Vec<u64> = sim.engine.log().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(sim.engine.log().last().map(|e| e.time), Some(t(1000)));
}

#[test]
fn the_ring_keeps_only_the_latest_entries() {
    let mut sim = Sim::all_up(Settings {
        log_capacity: 3,
        ..settings()
    });
    sim.at(1000).carrier(WIFI, false);
    assert_eq!(sim.engine.log().count(), 3);
    assert!(sim.engine.log().next().is_some_and(|e| e.seq > 0));
}

#[test]
fn the_default_capacity_is_256() {
    assert_eq!(Settings::default().log_capacity, 256);
}

#[test]
fn every_action_has_a_log_entry() {
    let mut sim = Sim::new(settings());
    let mut changes = 0;
    for p in [WIFI, ARC, CELL] {
        sim.carrier(p, true);
        sim.handshake(p, 0);
        changes += sim.probe(p, true).len();
    }
    changes += sim.at(1000).carrier(WIFI, false).len();
    assert_eq!(sim.engine.log().count(), changes);
}

#[test]
fn entries_serialize_with_subject_states_and_evidence() {
    let mut sim = Sim::all_up(settings());
    sim.at(1500).carrier(WIFI, false);
    let entry = sim.engine.log().find(|e| {
        matches!(
            e.change,
            Change::Path {
                path: WIFI,
                to: Health::Down { .. },
                ..
            }
        )
    });
    let json = serde_json::to_value(entry).unwrap_or_default();
    let expected = serde_json::json!({
        "seq": json["seq"], "time": 1.5, "subject": "path", "path": "wifi",
        "from": {"state": "up", "since": 0.0}, "to": {"state": "down", "since": 1.5},
        "evidence": "carrier lost on wlan0",
        "detail": {"kind": "carrier_lost", "on": "wlan0"}
    });
    assert_eq!(json, expected);
}

#[test]
fn route_evidence_serializes_its_skips() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    let entry = sim.engine.log().find(|e| {
        matches!(
            &e.change,
            Change::Class {
                to: ClassRoutes {
                    v4: ClassRoute::Held(_),
                    ..
                },
                ..
            }
        )
    });
    let json = serde_json::to_value(entry.map(|e| &e.detail)).unwrap_or_default();
    let expected = serde_json::json!({"kind": "route", "skipped": [
        {"path": "wifi", "why": "not_usable", "state": "down"},
        {"path": "cellular", "why": "hold"}
    ]});
    assert_eq!(json, expected);
    assert!(matches!(
        entry.map(|e| &e.detail),
        Some(Evidence::Route { .. })
    ));
}

#[test]
fn desired_serializes_for_status_output() {
    let mut sim = Sim::all_up(settings());
    let targets = vec![ProbeTarget {
        target: "icmp 203.0.113.100".into(),
        ok: true,
        latency: Some(ms(12)),
    }];
    sim.at(2000).send(Event::ProbeRound {
        path: WIFI,
        family: None,
        ok: true,
        latency: Some(ms(12)),
        targets,
        started_ago: std::time::Duration::ZERO,
    });
    let json = serde_json::to_value(sim.engine.desired()).unwrap_or_default();
    assert_eq!(
        json["classes"][1],
        serde_json::json!({"name": "bulk", "route": {"v4": {"via": "wifi"}, "v6": {"via": "wifi"}}})
    );
    assert_eq!(
        json["paths"]["arc"]["handshake_age"],
        serde_json::json!(2.1)
    );
    assert_eq!(
        json["paths"]["wifi"]["health"],
        serde_json::json!({"state": "up", "since": 0.0})
    );
    assert_eq!(
        json["paths"]["wifi"]["last_probe"]["targets"][0]["latency"],
        serde_json::json!(0.012)
    );
    assert_eq!(
        json["paths"]["cellular"]["in_use"],
        serde_json::json!(false)
    );
}

#[test]
fn unreachable_serializes_as_a_plain_string() {
    let json = serde_json::to_value(ClassRoute::Unreachable).unwrap_or_default();
    assert_eq!(json, serde_json::json!("unreachable"));
}
