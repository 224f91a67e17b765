//! Property tests of the decision engine: safety of routes, flap damping, determinism,
//! and robustness on arbitrary input.

#[path = "engine_support.rs"]
mod support;

#[path = "engine_gen.rs"]
mod generate;

use std::time::Duration;

use arcway::engine::{Action, ClassRoute, Engine, Event, Health, LogEntry, Settings, Time};
use arcway::model::{Family, PathId, Policy};
use generate::*;
use proptest::prelude::*;
use support::*;

/// Random hysteresis, handshake limit, log size, and one extra class with random policies.
fn settings_strategy() -> impl Strategy<Value = Settings> {
    let hyst = (0u64..8000, 0u64..8000, 0u64..200_000);
    let extra = prop::collection::vec((path(), policy()), 0..4);
    (
        prop::array::uniform3(hyst),
        0usize..64,
        any::<bool>(),
        extra,
    )
        .prop_map(|(h, cap, underlay, extra)| {
            let mut s = settings();
            for (p, (down, up, hs)) in [ARC, WIFI, CELL].into_iter().zip(h) {
                let ps = s.paths.get_mut(&p).expect("fixture has every path");
                (ps.down_after, ps.up_after, ps.handshake_max_age) = (ms(down), ms(up), ms(hs));
            }
            s.paths.get_mut(&ARC).expect("fixture has arc").underlay = underlay.then_some(WIFI);
            s.log_capacity = cap;
            s.classes.push(class("extra", &extra));
            s
        })
}

/// (a): in each family, a class is routed over a path usable in that family and with a
/// default route in it only, and never past an allowed such path.
fn check_routes(engine: &Engine) -> Result<(), TestCaseError> {
    for family in Family::ALL {
        check_family_routes(engine, family)?;
    }
    Ok(())
}

fn check_family_routes(engine: &Engine, family: Family) -> Result<(), TestCaseError> {
    let desired = engine.desired();
    let routed = |p: PathId| {
        desired
            .paths
            .get(&p)
            .is_none_or(|s| s.default_routes.is_none_or(|d| *d.get(family)))
    };
    let usable =
        |p: PathId| engine.health_in(p, family).is_some_and(Health::is_usable) && routed(p);
    for class in &engine.settings().classes {
        let route = *engine.route(&class.name).unwrap_or_default().get(family);
        if let ClassRoute::Via(p) | ClassRoute::Held(p) = route {
            prop_assert!(
                usable(p),
                "{} {family} uses {p} which is {:?}",
                class.name,
                engine.health_in(p, family)
            );
        }
        let allowed = class
            .paths
            .iter()
            .position(|e| e.policy == Policy::Allow && usable(e.path));
        if let Some(best) = allowed {
            let ClassRoute::Via(p) = route else {
                return Err(TestCaseError::fail(format!(
                    "{} is {route} with {:?} up",
                    class.name, class.paths[best]
                )));
            };
            let at = class.paths.iter().position(|e| e.path == p);
            prop_assert!(
                at.is_some_and(|i| i <= best),
                "{} skipped an allowed up path",
                class.name
            );
        }
    }
    Ok(())
}

/// Runs `steps`, delivering ticks strictly before each event (`ticks`) or never.
fn run(s: &Settings, steps: &[(u64, Event)], ticks: bool) -> (Vec<Action>, Engine) {
    let mut engine = Engine::new(s.clone(), Time::ZERO);
    let mut actions = Vec::new();
    let mut now = Time::ZERO;
    for (gap, ev) in steps {
        now = now + ms(*gap);
        while let Some(due) = engine.poll_timeout().filter(|&d| ticks && d < now) {
            actions.extend(engine.handle(Event::Tick, due));
        }
        actions.extend(engine.handle(ev.clone(), now));
    }
    actions.extend(engine.handle(Event::Tick, now));
    (actions, engine)
}

fn log(engine: &Engine) -> Vec<LogEntry> {
    engine.log().cloned().collect()
}

/// Transitions of `path` into `Up` from an unusable state.
fn ups(actions: &[Action], path: PathId) -> usize {
    let up = |a: &&Action| matches!(a, Action::PathChanged { path: p, family: _, from, to: Health::Up { .. } } if *p == path && !from.is_usable());
    actions.iter().filter(up).count()
}

fn moves(actions: &[Action], class: &str) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::ClassMoved { class: c, .. } if c == class))
        .count()
}

/// Wi-Fi and cellular up at t = 0, everything on the `default` class.
fn flap_start(up_after: u64, down_after: u64) -> Sim {
    let mut s = settings();
    for p in s.paths.values_mut() {
        (p.up_after, p.down_after) = (ms(up_after), ms(down_after));
    }
    s.classes.retain(|c| c.name == "default");
    let mut sim = Sim::new(s);
    for p in [CELL, WIFI] {
        sim.carrier(p, true);
        sim.probe(p, true);
    }
    sim
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn a_class_never_uses_a_down_path_while_an_allowed_one_is_up(s in settings_strategy(), steps in steps()) {
        let mut engine = Engine::new(s, Time::ZERO);
        let mut now = Time::ZERO;
        for (gap, ev) in steps {
            now = now + ms(gap);
            while let Some(due) = engine.poll_timeout().filter(|&d| d <= now) {
                engine.handle(Event::Tick, due);
                check_routes(&engine)?;
            }
            engine.handle(ev, now);
            check_routes(&engine)?;
        }
    }

    #[test]
    fn flapping_is_bounded_by_duration_over_up_after(
        up_after in 1u64..5000, down_after in 0u64..5000,
        steps in prop::collection::vec((0u64..15_000, wifi_event()), 0..120),
    ) {
        let mut sim = flap_start(up_after, down_after);
        let mut end = 0;
        for (gap, ev) in steps {
            end += gap;
            sim.at(end).send(ev);
        }
        let acts = &sim.history;
        let bound = (end / up_after) as usize + 1;
        prop_assert!(ups(acts, WIFI) <= bound, "{} ups in {end} ms, bound {bound}", ups(acts, WIFI));
        prop_assert!(moves(acts, "default") <= 2 * ups(acts, WIFI) + 1);
    }

    #[test]
    fn flapping_faster_than_up_after_never_fails_back(
        up_after in 2u64..8000, down_after in 0u64..5000,
        phases in prop::collection::vec((0.0f64..1.0, 0u64..20_000, any::<bool>()), 1..40),
    ) {
        let mut sim = flap_start(up_after, down_after);
        let mut now = 0;
        for (good_share, bad_ms, by_carrier) in phases {
            if by_carrier { sim.carrier(WIFI, false) } else { sim.probe(WIFI, false) };
            now += bad_ms;
            sim.at(now);
            // Good evidence for strictly less than up_after, then the next bad phase.
            let good_ms = ((up_after - 1) as f64 * good_share) as u64;
            sim.carrier(WIFI, true);
            sim.probe(WIFI, true);
            now += good_ms;
            sim.at(now);
        }
        sim.probe(WIFI, false);
        let acts = &sim.history;
        prop_assert_eq!(ups(acts, WIFI), 1, "only the startup brings wifi up");
        prop_assert!(moves(acts, "default") <= 3, "{} moves", moves(acts, "default"));
    }

    #[test]
    fn the_same_events_give_the_same_decisions_and_log(s in settings_strategy(), steps in steps()) {
        let (a1, e1) = run(&s, &steps, true);
        let (a2, e2) = run(&s, &steps, true);
        prop_assert_eq!(a1, a2);
        prop_assert_eq!(e1.desired(), e2.desired());
        prop_assert_eq!(log(&e1), log(&e2));
    }

    #[test]
    fn late_ticks_change_nothing(s in settings_strategy(), steps in steps()) {
        let (on_time, e1) = run(&Settings { log_capacity: 10_000, ..s.clone() }, &steps, true);
        let (late, e2) = run(&Settings { log_capacity: 10_000, ..s }, &steps, false);
        prop_assert_eq!(log(&e1), log(&e2));
        prop_assert_eq!(on_time, late);
        prop_assert_eq!(e1.desired(), e2.desired());
    }

    #[test]
    fn arbitrary_input_never_panics_and_keeps_its_promises(
        s in settings_strategy(), other in settings_strategy(), steps in steps(), reload_at in 0usize..150,
    ) {
        let mut engine = Engine::new(s.clone(), Time::ZERO);
        let mut now = Time::ZERO;
        for (i, (gap, ev)) in steps.into_iter().enumerate() {
            now = now + Duration::from_millis(gap);
            if i == reload_at {
                engine.reconfigure(other.clone(), now);
            }
            let before = engine.log_next_seq();
            let acts = engine.handle(ev, now);
            let logged = acts.iter().filter(|a| !matches!(a, Action::RenewHandshake { .. })).count();
            let after = engine.log_next_seq();
            prop_assert_eq!(after - before, logged as u64, "every change is logged");
            prop_assert!(engine.log().count() <= engine.settings().log_capacity);
            prop_assert!(engine.poll_timeout().is_none_or(|t| t > now), "deadlines lie ahead");
            check_routes(&engine)?;
            let _ = serde_json::to_string(&engine.desired());
        }
    }
}
