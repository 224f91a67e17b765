//! One evaluation at `now`: verdicts from facts, health steps, then class routes.

use super::desired::Action;
use super::evidence::Evidence;
use super::health::{Health, Verdict, step};
use super::log::Change;
use super::machine::{Engine, is_tunnel};
use super::select::select_both;
use super::settings::PathSettings;
use super::time::Time;
use crate::model::{Family, PathId, PerFamily};

/// One change of a family's health: from, to, and why.
type Transition = (Health, Health, Evidence);

/// Steps per path and evaluation; one reaches the fixpoint today, the rest is margin.
const MAX_STEPS: usize = 4;

impl Engine {
    /// Re-derives every path's health and every class's route at `now`.
    pub(crate) fn evaluate(&mut self, now: Time, actions: &mut Vec<Action>) {
        let paths: Vec<PathId> = self.paths.keys().copied().collect();
        for path in paths {
            self.evaluate_path(path, now, actions);
        }
        self.evaluate_degraded(now, actions);
        self.reroute(now, actions);
    }

    fn evaluate_path(&mut self, path: PathId, now: Time, actions: &mut Vec<Action>) {
        let tunnel = is_tunnel(path);
        let link_down = self.link_down(path);
        self.track_link(path, link_down.is_some(), now);
        let Some(s) = self.effective_settings(path) else {
            return;
        };
        // A tunnel over a link that only blipped keeps its session (WireGuard keeps its keys
        // across the underlay's reassociation): probes passing through it prove the way back,
        // so it needs no handshake newer than the outage, only a fresh one as always.
        let proven_by_probes = tunnel && self.quick_reassociation(path).is_some();
        let (Some(facts), Some(state)) = (self.facts.get_mut(&path), self.paths.get_mut(&path))
        else {
            return;
        };
        if link_down.is_some() {
            facts.forget_probes();
        }
        let mut changes: PerFamily<Vec<Transition>> = PerFamily::default();
        for family in Family::ALL {
            let health = state.health.get_mut(family);
            if !facts.has_default(family) {
                // Nothing can use the family here, so it is not judged. A family that is down
                // stays down: its route usually goes because the link or bearer failed, and
                // when it returns the path must earn `up_after` again, not start from unknown.
                let to = match *health {
                    Health::Down { since }
                    | Health::Recovering {
                        down_since: since, ..
                    } => Health::Down { since },
                    _ => Health::Unknown,
                };
                if *health != to {
                    let from = std::mem::replace(health, to);
                    let why = Evidence::NoDefaultRoute { family };
                    changes.get_mut(family).push((from, to, why));
                }
                continue;
            }
            for _ in 0..MAX_STEPS {
                let after = if tunnel && !proven_by_probes {
                    health.down_since()
                } else {
                    None
                };
                let verdict = Verdict {
                    link_down: link_down.clone(),
                    failing: facts.failing(now, family, tunnel, &s),
                    good: facts.good(now, family, tunnel, after, &s),
                };
                let Some((next, why)) = step(*health, verdict, now, &s) else {
                    break;
                };
                let from = std::mem::replace(health, next);
                if from.name() != next.name() {
                    changes.get_mut(family).push((from, next, why));
                }
            }
        }
        // The outage is over once every routed family is up again: the next link loss
        // starts a new reassociation window.
        let mut routed_up = Family::ALL
            .into_iter()
            .filter(|&f| facts.has_default(f))
            .peekable();
        if routed_up.peek().is_some()
            && routed_up.all(|f| matches!(state.health.get(f), Health::Up { .. }))
        {
            state.link_lost_at = None;
            state.link_back_at = None;
        }
        for list in [&changes.v4, &changes.v6] {
            if list.iter().any(|(from, to, _)| {
                matches!(to, Health::Down { .. }) && from.down_since().is_none()
            }) {
                state.renew_sent = false;
            }
        }
        // Families that changed alike are reported once, as the path's change; so is the
        // only family a path is routed in (an IPv4-only uplink logs as before).
        let routed = PerFamily {
            v4: facts.has_default(Family::V4),
            v6: facts.has_default(Family::V6),
        };
        let reports: Vec<(Option<Family>, Vec<Transition>)> =
            if changes.v4 == changes.v6 || (!routed.v6 && changes.v6.is_empty()) {
                vec![(None, changes.v4)]
            } else if !routed.v4 && changes.v4.is_empty() {
                vec![(None, changes.v6)]
            } else {
                vec![
                    (Some(Family::V4), changes.v4),
                    (Some(Family::V6), changes.v6),
                ]
            };
        for (family, list) in reports {
            for (from, to, why) in list {
                actions.push(Action::PathChanged {
                    path,
                    family,
                    from,
                    to,
                });
                let change = Change::Path {
                    path,
                    family,
                    from,
                    to,
                };
                self.log.push(now, change, why);
            }
        }
        if !tunnel || link_down.is_some() || state.renew_sent || proven_by_probes {
            return;
        }
        let needs = state.health.iter().any(|(family, h)| {
            h.down_since()
                .is_some_and(|down| facts.needs_new_handshake(family, down))
        });
        if needs {
            state.renew_sent = true;
            actions.push(Action::RenewHandshake { path });
        }
    }

    /// Why `path` cannot carry anything at all right now: its own link, or its underlay's.
    pub(crate) fn link_down(&self, path: PathId) -> Option<Evidence> {
        let s = self.settings.paths.get(&path)?;
        if let Some(why) = self.facts.get(&path)?.link_down(&name(path, s)) {
            return Some(why);
        }
        let underlay = s.underlay.filter(|&u| u != path)?;
        let us = self.settings.paths.get(&underlay)?;
        let cause = self.facts.get(&underlay)?.link_down(&name(underlay, us))?;
        Some(Evidence::UnderlayLost {
            underlay,
            cause: Box::new(cause),
        })
    }

    /// Recomputes every class's routes and reports the ones that moved.
    pub(crate) fn reroute(&mut self, now: Time, actions: &mut Vec<Action>) {
        for (i, class) in self.settings.classes.iter().enumerate() {
            let health = |p: PathId, f: Family| self.paths.get(&p).map(|s| *s.health.get(f));
            let has_route =
                |p: PathId, f: Family| self.facts.get(&p).is_some_and(|x| x.has_default(f));
            let degraded = |p: PathId| self.paths.get(&p).is_some_and(|s| s.degraded);
            let (to, skipped) = select_both(class, health, has_route, degraded, &self.budgets);
            let Some(slot) = self.routes.get_mut(i) else {
                continue;
            };
            if *slot == to {
                continue;
            }
            let from = std::mem::replace(slot, to);
            let name = class.name.clone();
            actions.push(Action::ClassMoved {
                class: name.clone(),
                from,
                to,
            });
            let change = Change::Class {
                class: name,
                from,
                to,
            };
            self.log.push(now, change, Evidence::Route { skipped });
        }
    }
}

/// How log evidence names a path: its interface when configured.
fn name(path: PathId, s: &PathSettings) -> String {
    s.interface.clone().unwrap_or_else(|| path.to_string())
}
