//! Class -> path selection: preference order, hold, budgets and the moves they cause.

#[path = "engine_support.rs"]
mod support;

use arcway::engine::{Action, ClassRoute, ClassRoutes, Settings};
use arcway::model::Policy;
use support::*;

fn only(classes: Vec<arcway::engine::ClassSettings>) -> Settings {
    Settings {
        classes,
        ..settings()
    }
}

#[test]
fn every_class_is_unreachable_before_any_evidence() {
    let sim = Sim::new(settings());
    for c in ["platform", "bulk", "metered", "default"] {
        assert_eq!(sim.route(c), ClassRoute::Unreachable);
    }
}

#[test]
fn the_first_preferred_path_wins_when_everything_is_up() {
    let sim = Sim::all_up(settings());
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
    assert_eq!(sim.route("bulk"), ClassRoute::Via(WIFI));
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
}

#[test]
fn a_down_first_choice_falls_to_the_next_allowed_path() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    assert_eq!(sim.route("default"), ClassRoute::Via(CELL));
}

#[test]
fn a_failing_path_keeps_its_classes() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).probe(WIFI, false);
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
}

#[test]
fn a_recovering_path_is_not_used_yet() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.at(2000).carrier(WIFI, true);
    sim.at(2500).probe(WIFI, true);
    assert_eq!(sim.route("default"), ClassRoute::Via(CELL));
    sim.at(7500);
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
}

#[test]
fn hold_on_the_only_usable_path_holds_the_class() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    assert_eq!(sim.route("bulk"), ClassRoute::Held(CELL));
}

#[test]
fn hold_with_nothing_usable_is_unreachable() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.send(arcway::engine::Event::Bearer {
        path: CELL,
        connected: false,
    });
    assert_eq!(sim.route("bulk"), ClassRoute::Unreachable);
}

#[test]
fn held_names_the_first_refused_usable_path() {
    let s = only(vec![class(
        "c",
        &[
            (WIFI, Policy::Allow),
            (ARC, Policy::Hold),
            (CELL, Policy::Hold),
        ],
    )]);
    let mut sim = Sim::all_up(s);
    sim.at(1000).probe(ARC, false);
    sim.at(4000);
    sim.carrier(WIFI, false);
    assert_eq!(sim.route("c"), ClassRoute::Held(CELL));
}

#[test]
fn budget_policy_uses_the_path_until_the_line_budget_is_spent() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    assert_eq!(sim.route("metered"), ClassRoute::Via(CELL));
    sim.budget(CELL, None, true);
    assert_eq!(sim.route("metered"), ClassRoute::Held(CELL));
    sim.budget(CELL, None, false);
    assert_eq!(sim.route("metered"), ClassRoute::Via(CELL));
}

#[test]
fn a_spent_line_budget_leaves_allow_classes_alone() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.budget(CELL, None, true);
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    assert_eq!(sim.route("default"), ClassRoute::Via(CELL));
}

#[test]
fn a_class_budget_only_holds_its_own_class() {
    let mut s = settings();
    s.classes.push(class(
        "video",
        &[(WIFI, Policy::Allow), (CELL, Policy::Budget)],
    ));
    let mut sim = Sim::all_up(s);
    sim.at(1000).carrier(WIFI, false);
    sim.budget(CELL, Some("video"), true);
    assert_eq!(sim.route("video"), ClassRoute::Held(CELL));
    assert_eq!(sim.route("metered"), ClassRoute::Via(CELL));
}

#[test]
fn a_budget_on_another_path_does_not_matter() {
    let mut sim = Sim::all_up(settings());
    sim.at(1000).carrier(WIFI, false);
    sim.budget(WIFI, None, true);
    assert_eq!(sim.route("metered"), ClassRoute::Via(CELL));
}

#[test]
fn an_unconfigured_path_is_skipped() {
    let mut s = only(vec![class(
        "c",
        &[(WIFI, Policy::Allow), (CELL, Policy::Allow)],
    )]);
    s.paths.remove(&WIFI);
    let sim = Sim::all_up(s);
    assert_eq!(sim.route("c"), ClassRoute::Via(CELL));
    assert_eq!(sim.engine.health(WIFI), None);
}

#[test]
fn a_class_without_paths_is_unreachable() {
    let sim = Sim::all_up(only(vec![class("empty", &[])]));
    assert_eq!(sim.route("empty"), ClassRoute::Unreachable);
}

#[test]
fn a_move_names_the_class_and_both_routes() {
    let mut sim = Sim::all_up(settings());
    let acts = sim.at(1000).carrier(WIFI, false);
    let moved = |class: &str, from, to| Action::ClassMoved {
        class: class.to_owned(),
        from: ClassRoutes::both(from),
        to: ClassRoutes::both(to),
    };
    assert!(acts.contains(&moved(
        "default",
        ClassRoute::Via(WIFI),
        ClassRoute::Via(CELL)
    )));
    assert!(acts.contains(&moved(
        "bulk",
        ClassRoute::Via(WIFI),
        ClassRoute::Held(CELL)
    )));
    assert!(acts.contains(&moved(
        "platform",
        ClassRoute::Via(ARC),
        ClassRoute::Via(CELL)
    )));
}

#[test]
fn path_changes_come_before_the_class_moves_they_cause() {
    let mut sim = Sim::all_up(settings());
    let acts = sim.at(1000).carrier(WIFI, false);
    let first_move = acts
        .iter()
        .position(|a| matches!(a, Action::ClassMoved { .. }));
    let last_path = acts
        .iter()
        .rposition(|a| matches!(a, Action::PathChanged { .. }));
    assert!(last_path < first_move);
}

#[test]
fn nothing_moves_when_nothing_changes() {
    let mut sim = Sim::all_up(settings());
    assert!(sim.at(1000).probe(WIFI, true).is_empty());
}

#[test]
fn desired_marks_the_paths_in_use() {
    let mut sim = Sim::all_up(settings());
    let d = sim.engine.desired();
    assert!(d.paths[&WIFI].in_use && d.paths[&ARC].in_use && !d.paths[&CELL].in_use);
    sim.at(1000).carrier(WIFI, false);
    let d = sim.engine.desired();
    assert!(!d.paths[&WIFI].in_use && d.paths[&CELL].in_use);
    assert_eq!(
        d.route("bulk"),
        Some(ClassRoutes::both(ClassRoute::Held(CELL)))
    );
}
