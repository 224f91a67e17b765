//! Shared fixtures for the engine tests: a small driver that keeps `now` and delivers ticks.
#![allow(dead_code)]

use std::time::Duration;

use arcway::engine::{
    Action, ClassPath, ClassRoute, ClassRoutes, ClassSettings, Engine, Event, Health, PathSettings,
    Settings, Time,
};
use arcway::model::{Family, PathId, PerFamily, Policy};

pub const ARC: PathId = PathId::Arc;
pub const WIFI: PathId = PathId::Wifi;
pub const CELL: PathId = PathId::Cellular;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn class(name: &str, paths: &[(PathId, Policy)]) -> ClassSettings {
    let paths = paths
        .iter()
        .map(|&(path, policy)| ClassPath { path, policy })
        .collect();
    ClassSettings {
        name: name.to_owned(),
        paths,
        families: PerFamily::both(true),
    }
}

/// Paths with round numbers: down_after 3 s and up_after 5 s everywhere, handshakes valid
/// for 180 s, Arc riding on Wi-Fi, interfaces named like the lab's.
pub fn settings() -> Settings {
    let path = |underlay, interface: &str| PathSettings {
        down_after: Duration::from_secs(3),
        up_after: Duration::from_secs(5),
        handshake_max_age: Duration::from_secs(180),
        underlay,
        interface: Some(interface.to_owned()),
        ..PathSettings::default()
    };
    let mut s = Settings::default();
    s.paths.insert(ARC, path(Some(WIFI), "arc0"));
    s.paths.insert(WIFI, path(None, "wlan0"));
    s.paths.insert(CELL, path(None, "wwan0"));
    s.classes = vec![
        class("platform", &[(ARC, Policy::Allow), (CELL, Policy::Allow)]),
        class("bulk", &[(WIFI, Policy::Allow), (CELL, Policy::Hold)]),
        class("metered", &[(WIFI, Policy::Allow), (CELL, Policy::Budget)]),
        class("default", &[(WIFI, Policy::Allow), (CELL, Policy::Allow)]),
    ];
    s
}

/// Drives an engine through time: `at` moves the clock (delivering due ticks on the way),
/// and every helper returns the actions of its own event.
pub struct Sim {
    pub engine: Engine,
    pub now: Time,
    /// Actions from ticks delivered while moving the clock.
    pub tick_actions: Vec<Action>,
    /// Every action so far, from ticks and events alike.
    pub history: Vec<Action>,
}

impl Sim {
    pub fn new(settings: Settings) -> Self {
        Sim {
            engine: Engine::new(settings, Time::ZERO),
            now: Time::ZERO,
            tick_actions: Vec::new(),
            history: Vec::new(),
        }
    }

    /// Moves to `t` milliseconds, ticking at every deadline on the way, like the daemon.
    pub fn at(&mut self, t: u64) -> &mut Self {
        let target = Time::from_millis(t);
        while let Some(due) = self.engine.poll_timeout().filter(|&d| d <= target) {
            let acts = self.engine.handle(Event::Tick, due);
            self.history.extend(acts.iter().cloned());
            self.tick_actions.extend(acts);
        }
        self.now = self.now.max(target);
        self
    }

    pub fn send(&mut self, event: Event) -> Vec<Action> {
        let acts = self.engine.handle(event, self.now);
        self.history.extend(acts.iter().cloned());
        acts
    }

    pub fn carrier(&mut self, path: PathId, up: bool) -> Vec<Action> {
        self.send(Event::Carrier { path, up })
    }

    /// A round whose targets cover both families alike.
    pub fn probe(&mut self, path: PathId, ok: bool) -> Vec<Action> {
        self.send(Event::ProbeRound {
            path,
            family: None,
            ok,
            latency: ok.then(|| ms(20)),
            targets: vec![],
            started_ago: Duration::ZERO,
        })
    }

    /// A round of one family's targets.
    pub fn probe_in(&mut self, path: PathId, family: Family, ok: bool) -> Vec<Action> {
        self.send(Event::ProbeRound {
            path,
            family: Some(family),
            ok,
            latency: ok.then(|| ms(20)),
            targets: vec![],
            started_ago: Duration::ZERO,
        })
    }

    /// The families `path` has a default route in.
    pub fn defaults(&mut self, path: PathId, v4: bool, v6: bool) -> Vec<Action> {
        self.send(Event::DefaultRoutes {
            path,
            routes: PerFamily { v4, v6 },
        })
    }

    pub fn handshake(&mut self, path: PathId, age_ms: u64) -> Vec<Action> {
        self.send(Event::Handshake {
            path,
            age: Some(ms(age_ms)),
        })
    }

    pub fn budget(&mut self, path: PathId, class: Option<&str>, exhausted: bool) -> Vec<Action> {
        let class = class.map(str::to_owned);
        self.send(Event::BudgetExhausted {
            path,
            class,
            exhausted,
        })
    }

    /// Carrier up, a fresh handshake for the tunnel, and one passing round: `Up` from
    /// `Unknown` at once.
    pub fn bring_up(&mut self, path: PathId) {
        self.carrier(path, true);
        if path == ARC {
            self.handshake(path, 100);
        }
        self.probe(path, true);
    }

    /// Every path up at t = 0.
    pub fn all_up(settings: Settings) -> Self {
        let mut sim = Sim::new(settings);
        for p in [WIFI, ARC, CELL] {
            sim.bring_up(p);
        }
        sim
    }

    pub fn health(&self, path: PathId) -> Health {
        self.engine.health(path).unwrap_or(Health::Unknown)
    }

    pub fn state(&self, path: PathId) -> &'static str {
        self.health(path).name()
    }

    /// The class's route where both families agree (every test that does not tell the
    /// families apart); panics when they differ.
    pub fn route(&self, class: &str) -> ClassRoute {
        let routes = self.routes(class);
        match routes.same() {
            Some(r) => *r,
            None => panic!("class {class} differs per family: {routes}"),
        }
    }

    pub fn routes(&self, class: &str) -> ClassRoutes {
        self.engine.route(class).unwrap_or_default()
    }

    pub fn health_in(&self, path: PathId, family: Family) -> Health {
        self.engine
            .health_in(path, family)
            .unwrap_or(Health::Unknown)
    }

    /// The human evidence of the latest log entry.
    pub fn last_evidence(&self) -> String {
        self.engine
            .log()
            .last()
            .map(|e| e.evidence.clone())
            .unwrap_or_default()
    }
}

pub fn t(ms: u64) -> Time {
    Time::from_millis(ms)
}
