//! Dual stack: each family of a class takes the first path usable in that family with a
//! default route in it, and each family of a path is judged on its own probes.

#[path = "engine_support.rs"]
mod support;

use arcway::engine::{Action, Change, ClassRoute, ClassRoutes, Health};
use arcway::model::{Family, PerFamily};
use support::*;

const V4: Family = Family::V4;
const V6: Family = Family::V6;

fn split(v4: ClassRoute, v6: ClassRoute) -> ClassRoutes {
    ClassRoutes { v4, v6 }
}

fn summaries(sim: &Sim) -> Vec<String> {
    sim.engine.log().map(|e| e.summary()).collect()
}

#[test]
fn with_both_families_everywhere_a_class_has_one_route() {
    let mut sim = Sim::all_up(settings());
    for p in [WIFI, CELL] {
        sim.defaults(p, true, true);
    }
    assert_eq!(
        sim.routes("default"),
        ClassRoutes::both(ClassRoute::Via(WIFI))
    );
    assert_eq!(sim.routes("default").to_string(), "via wifi");
}

#[test]
fn ipv6_goes_to_cellular_when_wifi_has_no_ipv6_default() {
    let mut sim = Sim::all_up(settings());
    sim.defaults(CELL, true, true);
    let acts = sim.at(100).defaults(WIFI, true, false);
    let to = split(ClassRoute::Via(WIFI), ClassRoute::Via(CELL));
    assert!(acts.contains(&Action::ClassMoved {
        class: "default".into(),
        from: ClassRoutes::both(ClassRoute::Via(WIFI)),
        to,
    }));
    assert_eq!(sim.routes("default"), to);
    let log = summaries(&sim);
    assert!(
        log.contains(&"class default: via wifi -> IPv4 via wifi, IPv6 via cellular (wifi has no default route (IPv6))".to_owned()),
        "{log:#?}"
    );
    // Wi-Fi's IPv6 is no longer judged; its IPv4 stays up.
    assert_eq!(sim.health_in(WIFI, V6), Health::Unknown);
    assert_eq!(sim.health_in(WIFI, V4), Health::Up { since: t(0) });
    assert_eq!(sim.state(WIFI), "up");
    // Held classes are held per family too: bulk holds IPv6 on cellular.
    assert_eq!(
        sim.routes("bulk"),
        split(ClassRoute::Via(WIFI), ClassRoute::Held(CELL))
    );
}

#[test]
fn ipv6_only_wifi_and_ipv4_only_cellular_share_the_default_class() {
    let mut sim = Sim::new(settings());
    sim.defaults(WIFI, false, true);
    sim.defaults(CELL, true, false);
    for p in [WIFI, CELL] {
        sim.carrier(p, true);
    }
    // Only IPv6 answers on Wi-Fi, only IPv4 on cellular.
    sim.probe_in(WIFI, V6, true);
    sim.probe_in(WIFI, V4, false);
    sim.probe_in(CELL, V4, true);
    assert_eq!(
        sim.routes("default"),
        split(ClassRoute::Via(CELL), ClassRoute::Via(WIFI))
    );
    assert_eq!(sim.health_in(WIFI, V4), Health::Unknown);
    // Failing IPv4 rounds on a path without an IPv4 default route are not evidence.
    sim.at(10_000).probe_in(WIFI, V4, false);
    assert_eq!(sim.health_in(WIFI, V4), Health::Unknown);
    assert_eq!(sim.health_in(WIFI, V6), Health::Up { since: t(0) });
}

#[test]
fn a_family_fails_over_and_back_on_its_own_probes() {
    let mut sim = Sim::all_up(settings());
    for p in [WIFI, CELL] {
        sim.defaults(p, true, true);
    }
    // Wi-Fi's IPv4 goes silent; its IPv6 keeps answering.
    for s in 1..=5 {
        sim.at(s * 1000).probe_in(WIFI, V4, false);
        sim.probe_in(WIFI, V6, true);
    }
    assert_eq!(sim.health_in(WIFI, V4), Health::Down { since: t(4000) });
    assert_eq!(sim.health_in(WIFI, V6), Health::Up { since: t(0) });
    assert_eq!(
        sim.routes("default"),
        split(ClassRoute::Via(CELL), ClassRoute::Via(WIFI))
    );
    assert_eq!(
        sim.routes("default").to_string(),
        "IPv4 via cellular, IPv6 via wifi"
    );
    let log = summaries(&sim);
    assert!(
        log.iter()
            .any(|l| l.starts_with("wifi IPv4: failing -> down (")),
        "{log:#?}"
    );
    assert!(log.iter().all(|l| !l.starts_with("wifi IPv6")), "{log:#?}");
    // IPv4 comes back after up_after of passing rounds.
    for s in 6..=12 {
        sim.at(s * 1000).probe_in(WIFI, V4, true);
    }
    assert_eq!(sim.health_in(WIFI, V4), Health::Up { since: t(11_000) });
    assert_eq!(
        sim.routes("default"),
        ClassRoutes::both(ClassRoute::Via(WIFI))
    );
}

#[test]
fn ipv6_fails_over_while_ipv4_stays() {
    let mut sim = Sim::all_up(settings());
    for p in [WIFI, CELL] {
        sim.defaults(p, true, true);
    }
    for s in 1..=5 {
        sim.at(s * 1000).probe_in(WIFI, V6, false);
        sim.probe_in(WIFI, V4, true);
    }
    assert_eq!(
        sim.routes("default"),
        split(ClassRoute::Via(WIFI), ClassRoute::Via(CELL))
    );
    let moved = sim.history.iter().rev().find_map(|a| match a {
        Action::ClassMoved { class, from, to } if class == "default" => Some((*from, *to)),
        _ => None,
    });
    assert_eq!(
        moved,
        Some((
            ClassRoutes::both(ClassRoute::Via(WIFI)),
            split(ClassRoute::Via(WIFI), ClassRoute::Via(CELL))
        ))
    );
}

#[test]
fn carrier_loss_takes_both_families_down_in_one_change() {
    let mut sim = Sim::all_up(settings());
    for p in [WIFI, CELL] {
        sim.defaults(p, true, true);
    }
    let acts = sim.at(1000).carrier(WIFI, false);
    assert!(acts.contains(&Action::PathChanged {
        path: WIFI,
        family: None,
        from: Health::Up { since: t(0) },
        to: Health::Down { since: t(1000) },
    }));
    assert_eq!(
        sim.routes("default"),
        ClassRoutes::both(ClassRoute::Via(CELL))
    );
}

#[test]
fn a_family_without_probes_of_its_own_is_judged_on_the_link() {
    let mut s = settings();
    s.paths.get_mut(&WIFI).unwrap().probed = PerFamily {
        v4: true,
        v6: false,
    };
    let mut sim = Sim::new(s);
    sim.defaults(WIFI, true, true);
    sim.defaults(CELL, true, true);
    sim.bring_up(CELL);
    sim.carrier(WIFI, true);
    // The carrier alone brings IPv6 up; IPv4 waits for its probes.
    assert_eq!(sim.health_in(WIFI, V6), Health::Up { since: t(0) });
    assert_eq!(sim.health_in(WIFI, V4), Health::Unknown);
    assert_eq!(
        sim.routes("default"),
        split(ClassRoute::Via(CELL), ClassRoute::Via(WIFI))
    );
    let log = summaries(&sim);
    assert!(
        log.contains(&"wifi IPv6: unknown -> up (link up, no IPv6 probes)".to_owned()),
        "{log:#?}"
    );
    // Failing IPv4 probes say nothing about IPv6.
    for s in 1..=5 {
        sim.at(s * 1000).probe(WIFI, false);
    }
    assert_eq!(sim.health_in(WIFI, V4), Health::Down { since: t(4000) });
    assert_eq!(sim.health_in(WIFI, V6), Health::Up { since: t(0) });
    // Carrier loss still counts for both.
    sim.at(6000).carrier(WIFI, false);
    assert_eq!(sim.health_in(WIFI, V6), Health::Down { since: t(6000) });
}

#[test]
fn losing_and_regaining_a_default_route_moves_only_that_family() {
    let mut sim = Sim::all_up(settings());
    sim.defaults(CELL, true, true);
    sim.defaults(WIFI, true, true);
    sim.at(1000).defaults(WIFI, true, false);
    assert_eq!(
        sim.routes("default"),
        split(ClassRoute::Via(WIFI), ClassRoute::Via(CELL))
    );
    let log = summaries(&sim);
    assert!(
        log.contains(&"wifi IPv6: up -> unknown (no IPv6 default route)".to_owned()),
        "{log:#?}"
    );
    // The route back is not enough: IPv6 needs a passing round of its own.
    sim.at(2000).defaults(WIFI, true, true);
    assert_eq!(sim.routes("default").v6, ClassRoute::Via(CELL));
    sim.at(2100).probe_in(WIFI, V6, true);
    assert_eq!(
        sim.routes("default"),
        ClassRoutes::both(ClassRoute::Via(WIFI))
    );
}

#[test]
fn the_status_view_shows_each_family() {
    let mut sim = Sim::all_up(settings());
    sim.defaults(CELL, true, true);
    sim.defaults(WIFI, true, false);
    let d = sim.engine.desired();
    let wifi = &d.paths[&WIFI];
    assert_eq!(wifi.families.v6, Health::Unknown);
    assert_eq!(wifi.health, Health::Up { since: t(0) });
    assert_eq!(
        wifi.default_routes,
        Some(PerFamily {
            v4: true,
            v6: false
        })
    );
    assert!(d.paths[&CELL].in_use);
    let json = serde_json::to_value(&d).unwrap_or_default();
    assert_eq!(
        json["classes"][3],
        serde_json::json!({"name": "default", "route": {"v4": {"via": "wifi"}, "v6": {"via": "cellular"}}})
    );
    let last = sim.engine.log().last().map(|e| e.change.clone());
    assert!(matches!(last, Some(Change::Class { .. })));
}

#[test]
fn a_path_that_went_down_stays_down_while_its_default_route_is_gone() {
    let mut sim = Sim::all_up(settings());
    sim.defaults(WIFI, true, false);
    sim.defaults(CELL, true, false);
    // Carrier loss takes Wi-Fi down; its default route goes with the link.
    sim.at(1000).carrier(WIFI, false);
    assert_eq!(sim.state(WIFI), "down");
    sim.at(1100).defaults(WIFI, false, false);
    assert_eq!(
        sim.health_in(WIFI, V4),
        Health::Down { since: t(1000) },
        "down, not unknown: status must not call a failed uplink unknown"
    );
    // Link and route back with good probes: the path earns up_after (5 s) again.
    sim.at(2000).carrier(WIFI, true);
    sim.at(2100).defaults(WIFI, true, false);
    sim.at(2200).probe(WIFI, true);
    assert_eq!(sim.state(WIFI), "recovering");
    assert_eq!(sim.routes("default").v4, ClassRoute::Via(CELL));
    sim.at(7300);
    assert_eq!(sim.state(WIFI), "up");
    assert_eq!(sim.routes("default").v4, ClassRoute::Via(WIFI));
}
