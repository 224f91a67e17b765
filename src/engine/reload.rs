//! Settings reload and the desired-state snapshot.

use std::collections::BTreeMap;

use super::desired::{Action, ClassStatus, Desired, PathStatus};
use super::evidence::Evidence;
use super::health::Health;
use super::log::Change;
use super::machine::{Engine, PathState, is_tunnel};
use super::select::{ClassRoute, ClassRoutes};
use super::settings::Settings;
use super::time::Time;

impl Engine {
    /// Swaps in new settings at `now`. Paths that still exist keep their health (and all
    /// facts are kept), so a reload never causes a switch by itself; new paths start
    /// `Unknown` and are judged at once on what is already known about them. Classes keep
    /// their route by name; new ones move from `Unreachable`, removed ones are reported.
    pub fn reconfigure(&mut self, settings: Settings, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        let now = self.catch_up(now, &mut actions);

        let old_paths = std::mem::take(&mut self.paths);
        for (path, state) in old_paths {
            if settings.paths.contains_key(&path) {
                self.paths.insert(path, state);
                continue;
            }
            let from = Health::best(state.health.v4, state.health.v6);
            actions.push(Action::PathRemoved { path, from });
            let change = Change::Path {
                path,
                family: None,
                from,
                to: Health::Unknown,
            };
            self.log.push(now, change, reconfigured("path removed"));
        }
        for &path in settings.paths.keys() {
            self.paths.entry(path).or_insert_with(PathState::new);
        }

        let mut old_routes: BTreeMap<String, ClassRoutes> = self
            .settings
            .classes
            .iter()
            .map(|c| c.name.clone())
            .zip(self.routes.iter().copied())
            .collect();
        self.routes = settings
            .classes
            .iter()
            .map(|c| old_routes.remove(&c.name).unwrap_or_default())
            .collect();
        for (class, from) in old_routes {
            actions.push(Action::ClassRemoved {
                class: class.clone(),
                from,
            });
            let change = Change::Class {
                class,
                from,
                to: ClassRoutes::default(),
            };
            self.log.push(now, change, reconfigured("class removed"));
        }

        self.log.set_capacity(settings.log_capacity);
        self.settings = settings;
        self.evaluate(now, &mut actions);
        actions
    }

    /// The full decision: every configured path's health and every class's route.
    pub fn desired(&self) -> Desired {
        let classes: Vec<ClassStatus> = self
            .settings
            .classes
            .iter()
            .zip(&self.routes)
            .map(|(c, &route)| ClassStatus {
                name: c.name.clone(),
                route,
            })
            .collect();
        let paths = self
            .paths
            .iter()
            .map(|(&path, state)| {
                let facts = self.facts.get(&path);
                let handshake = facts.and_then(|f| f.handshake).filter(|_| is_tunnel(path));
                let via = ClassRoute::Via(path);
                let status = PathStatus {
                    health: Health::best(state.health.v4, state.health.v6),
                    families: state.health,
                    default_routes: facts.and_then(|f| f.defaults),
                    usable: state.health.v4.is_usable() || state.health.v6.is_usable(),
                    in_use: classes
                        .iter()
                        .any(|c| c.route.v4 == via || c.route.v6 == via),
                    carrier: facts.and_then(|f| f.carrier).map(|(up, _)| up),
                    bearer: facts.and_then(|f| f.bearer),
                    handshake_age: handshake.map(|hs| hs.age_at(self.now)),
                    last_probe: facts.and_then(|f| f.last_probe.clone()),
                    budget_spent: self.budgets.line_spent(path),
                    degraded: state.degraded,
                };
                (path, status)
            })
            .collect();
        Desired { paths, classes }
    }
}

fn reconfigured(what: &str) -> Evidence {
    Evidence::Reconfigured {
        what: what.to_owned(),
    }
}
