//! Settings reload: health survives, routes are recomputed, removals are reported.

#[path = "engine_support.rs"]
mod support;

use std::time::Duration;

use arcway::engine::{Action, ClassRoute, ClassRoutes, Health, PathSettings, Settings};
use arcway::model::Policy;
use support::*;

#[test]
fn reloading_the_same_settings_changes_nothing() {
    let mut sim = Sim::all_up(settings());
    let before = sim.engine.desired();
    let acts = sim.engine.reconfigure(settings(), t(1000));
    assert!(acts.is_empty());
    let after = sim.engine.desired();
    assert_eq!(after.classes, before.classes);
    let health =
        |d: &arcway::engine::Desired| d.paths.values().map(|p| p.health).collect::<Vec<_>>();
    assert_eq!(health(&after), health(&before));
}

#[test]
fn health_survives_a_reload() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.engine.reconfigure(settings(), t(2000));
    assert_eq!(sim.health(WIFI), Health::Down { since: t(1000) });
    assert_eq!(sim.health(ARC), Health::Down { since: t(1000) });
    assert_eq!(sim.health(CELL), Health::Up { since: t(0) });
}

#[test]
fn a_removed_path_is_reported_and_its_classes_move() {
    let mut sim = Sim::all_up(settings());
    let mut s = settings();
    s.paths.remove(&ARC);
    let acts = sim.engine.reconfigure(s, t(1000));
    assert!(acts.contains(&Action::PathRemoved {
        path: ARC,
        from: Health::Up { since: t(0) }
    }));
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    assert_eq!(sim.engine.health(ARC), None);
    assert!(
        sim.engine
            .log()
            .any(|e| e.evidence == "configuration reloaded: path removed")
    );
}

#[test]
fn an_added_path_is_judged_at_once_on_what_is_known() {
    let mut s = settings();
    s.paths.remove(&CELL);
    let mut sim = Sim::all_up(s);
    assert_eq!(sim.engine.health(CELL), None);
    sim.at(1000).carrier(WIFI, false);
    assert_eq!(sim.route("default"), ClassRoute::Unreachable);
    sim.engine.reconfigure(settings(), t(2000));
    assert_eq!(sim.health(CELL), Health::Up { since: t(2000) });
    assert_eq!(sim.route("default"), ClassRoute::Via(CELL));
}

#[test]
fn a_removed_class_is_reported() {
    let mut sim = Sim::all_up(settings());
    let mut s = settings();
    s.classes.retain(|c| c.name != "bulk");
    let acts = sim.engine.reconfigure(s, t(1000));
    let removed = Action::ClassRemoved {
        class: "bulk".into(),
        from: ClassRoutes::both(ClassRoute::Via(WIFI)),
    };
    assert_eq!(acts, vec![removed]);
    assert_eq!(sim.engine.route("bulk"), None);
}

#[test]
fn an_added_class_moves_from_unreachable() {
    let mut sim = Sim::all_up(settings());
    let mut s = settings();
    s.classes.insert(
        0,
        class("d2d", &[(ARC, Policy::Allow), (CELL, Policy::Allow)]),
    );
    let acts = sim.engine.reconfigure(s, t(1000));
    let moved = Action::ClassMoved {
        class: "d2d".into(),
        from: ClassRoutes::both(ClassRoute::Unreachable),
        to: ClassRoutes::both(ClassRoute::Via(ARC)),
    };
    assert_eq!(acts, vec![moved]);
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
}

#[test]
fn a_changed_preference_moves_the_class() {
    let mut sim = Sim::all_up(settings());
    let mut s = settings();
    s.classes[3] = class("default", &[(CELL, Policy::Allow), (WIFI, Policy::Allow)]);
    let acts = sim.engine.reconfigure(s, t(1000));
    let moved = Action::ClassMoved {
        class: "default".into(),
        from: ClassRoutes::both(ClassRoute::Via(WIFI)),
        to: ClassRoutes::both(ClassRoute::Via(CELL)),
    };
    assert_eq!(acts, vec![moved]);
}

#[test]
fn a_new_up_after_applies_to_a_path_already_recovering() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(WIFI, true);
    let mut s = settings();
    s.paths.insert(
        WIFI,
        PathSettings {
            up_after: Duration::from_secs(1),
            ..s.paths[&WIFI].clone()
        },
    );
    sim.engine.reconfigure(s, t(3000));
    assert_eq!(sim.engine.poll_timeout(), Some(t(3500)));
    sim.at(3500);
    assert_eq!(sim.health(WIFI), Health::Up { since: t(3500) });
}

#[test]
fn deadlines_due_before_the_reload_play_under_the_old_settings() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(WIFI, false);
    let mut s = settings();
    s.paths.insert(
        WIFI,
        PathSettings {
            down_after: Duration::from_secs(60),
            ..s.paths[&WIFI].clone()
        },
    );
    sim.engine.reconfigure(s, t(5000));
    assert_eq!(sim.health(WIFI), Health::Down { since: t(4000) });
}

#[test]
fn a_smaller_log_capacity_trims_the_log() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.engine.reconfigure(
        Settings {
            log_capacity: 2,
            ..settings()
        },
        t(2000),
    );
    assert_eq!(sim.engine.log().count(), 2);
}

#[test]
fn budgets_survive_a_reload() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.budget(CELL, None, true);
    sim.engine.reconfigure(settings(), t(2000));
    assert_eq!(sim.route("metered"), ClassRoute::Held(CELL));
}

#[test]
fn an_added_path_does_not_count_rounds_from_before_its_link_was_lost() {
    let mut s = settings();
    s.paths.remove(&CELL);
    let mut sim = Sim::new(s);
    sim.probe(CELL, true);
    sim.at(1000).carrier(CELL, false);
    sim.at(2000).carrier(CELL, true);
    sim.engine.reconfigure(settings(), t(3000));
    assert_eq!(sim.health(CELL), Health::Unknown);
}
