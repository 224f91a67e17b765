//! One evaluation at `now`: verdicts from facts, health steps, then class routes.

use super::desired::Action;
use super::evidence::Evidence;
use super::health::{Health, Verdict, step};
use super::log::Change;
use super::machine::{Engine, is_tunnel};
use super::settings::PathSettings;
use super::signal::select_avoiding;
use super::time::Time;
use crate::model::PathId;

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
        let (Some(facts), Some(state)) = (self.facts.get_mut(&path), self.paths.get_mut(&path))
        else {
            return;
        };
        if link_down.is_some() {
            facts.forget_probes();
        }
        for _ in 0..MAX_STEPS {
            let after = if tunnel {
                state.health.down_since()
            } else {
                None
            };
            let verdict = Verdict {
                link_down: link_down.clone(),
                failing: facts.failing(now, tunnel, &s),
                good: facts.good(now, tunnel, after, &s),
            };
            let Some((next, why)) = step(state.health, verdict, now, &s) else {
                break;
            };
            let from = state.health;
            state.health = next;
            if matches!(next, Health::Up { .. }) {
                state.link_lost_at = None;
                state.link_back_at = None;
            }
            if from.name() == next.name() {
                continue;
            }
            if matches!(next, Health::Down { .. }) && from.down_since().is_none() {
                state.renew_sent = false;
            }
            actions.push(Action::PathChanged {
                path,
                from,
                to: next,
            });
            self.log.push(
                now,
                Change::Path {
                    path,
                    from,
                    to: next,
                },
                why,
            );
        }
        let outage = state.health.down_since();
        if let Some(down) = outage.filter(|_| tunnel && link_down.is_none() && !state.renew_sent)
            && facts.needs_new_handshake(down)
        {
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

    /// Recomputes every class's route and reports the ones that moved.
    pub(crate) fn reroute(&mut self, now: Time, actions: &mut Vec<Action>) {
        for (i, class) in self.settings.classes.iter().enumerate() {
            let health = |p: PathId| self.paths.get(&p).map(|s| s.health);
            let degraded = |p: PathId| self.paths.get(&p).is_some_and(|s| s.degraded);
            let (to, skipped) = select_avoiding(class, health, degraded, &self.budgets);
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
