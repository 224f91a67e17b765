//! Proptest generators for the engine's property tests: events, settings, sequences.
#![allow(dead_code)]

use std::time::Duration;

use arcway::engine::Event;
use arcway::model::{Family, PathId, PerFamily, Policy};
use proptest::option;
use proptest::prelude::*;

const ARC: PathId = PathId::Arc;
const WIFI: PathId = PathId::Wifi;
const CELL: PathId = PathId::Cellular;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn path() -> impl Strategy<Value = PathId> {
    prop_oneof![Just(ARC), Just(WIFI), Just(CELL)]
}

pub fn family() -> impl Strategy<Value = Family> {
    prop_oneof![Just(Family::V4), Just(Family::V6)]
}

pub fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Allow),
        Just(Policy::Hold),
        Just(Policy::Budget)
    ]
}

pub fn event() -> impl Strategy<Value = Event> {
    let class = option::of(prop_oneof![
        Just("metered".to_owned()),
        Just("extra".to_owned()),
        Just("nope".to_owned())
    ]);
    prop_oneof![
        4 => (path(), any::<bool>()).prop_map(|(path, up)| Event::Carrier { path, up }),
        1 => path().prop_map(|path| Event::LinkGone { path }),
        1 => any::<bool>().prop_map(|connected| Event::Bearer { path: CELL, connected }),
        1 => Just(Event::BearerUnwatched { path: CELL }),
        8 => (path(), option::of(family()), any::<bool>(), option::of(0u64..3000), 0u64..5000).prop_map(|(path, family, ok, l, s)| {
            Event::ProbeRound { path, family, ok, latency: l.map(ms), targets: vec![], started_ago: ms(s) }
        }),
        2 => (path(), any::<bool>(), any::<bool>()).prop_map(|(path, v4, v6)| {
            Event::DefaultRoutes { path, routes: PerFamily { v4, v6 } }
        }),
        3 => option::of(0u64..250_000).prop_map(|a| Event::Handshake { path: ARC, age: a.map(ms) }),
        2 => path().prop_map(|path| Event::RxProgress { path }),
        1 => (path(), class, any::<bool>()).prop_map(|(path, class, exhausted)| {
            Event::BudgetExhausted { path, class, exhausted }
        }),
        1 => Just(Event::Tick),
    ]
}

pub fn steps() -> impl Strategy<Value = Vec<(u64, Event)>> {
    prop::collection::vec((0u64..6000, event()), 0..150)
}

pub fn wifi_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        any::<bool>().prop_map(|up| Event::Carrier { path: WIFI, up }),
        any::<bool>().prop_map(|ok| Event::ProbeRound {
            path: WIFI,
            family: None,
            ok,
            latency: None,
            targets: vec![],
            started_ago: Duration::ZERO,
        }),
    ]
}
