//! Wi-Fi specifics of the decisions: the short hold after a quick reassociation, and the
//! degraded state of a weak signal (make-before-break) with the class selection around it.

use std::time::Duration;

use super::desired::Action;
use super::evidence::Evidence;
use super::health::Health;
use super::log::Change;
use super::machine::{Engine, is_tunnel};
use super::select::{Budgets, ClassRoute, Skip, SkipReason, select};
use super::settings::{ClassSettings, PathSettings};
use super::time::Time;
use crate::model::{Family, PathId};

impl Engine {
    /// Follows the link of a path across an outage, to tell a quick reassociation (up, link
    /// lost, link back within `up_after`) from a real outage.
    pub(crate) fn track_link(&mut self, path: PathId, link_down: bool, now: Time) {
        let Some(state) = self.paths.get_mut(&path) else {
            return;
        };
        let stable_for = self.settings.paths.get(&path).map(|s| s.up_after);
        if link_down {
            // Only a path that had been up for `up_after` gets the short hold: a link that
            // keeps flapping is damped by the full `up_after` as before.
            // Either family up for that long counts: the link carries both.
            let up_since = |h: Health| match h {
                Health::Up { since }
                | Health::Failing {
                    up_since: since, ..
                } => Some(since),
                _ => None,
            };
            let up_since = match (up_since(state.health.v4), up_since(state.health.v6)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let was_stable = up_since
                .zip(stable_for)
                .is_some_and(|(since, hold)| now.since(since) >= hold);
            if state.link_lost_at.is_none() && was_stable {
                state.link_lost_at = Some(now);
            }
            // Lost again before coming up: the window keeps counting from the first loss.
            state.link_back_at = None;
        } else if state.link_lost_at.is_some() && state.link_back_at.is_none() {
            state.link_back_at = Some(now);
        }
    }

    /// The short hold when the current outage of `path` is a quick reassociation: the link
    /// came back within `up_after` of its loss and `reassoc_up_after` is set.
    pub(crate) fn quick_reassociation(&self, path: PathId) -> Option<Duration> {
        let s = self.settings.paths.get(&path)?;
        let state = self.paths.get(&path)?;
        match (state.link_lost_at, state.link_back_at, s.reassoc_up_after) {
            (Some(lost), Some(back), Some(hold)) if back.since(lost) <= s.up_after => Some(hold),
            _ => None,
        }
    }

    /// The path's settings, with `up_after` shortened when the current outage is a quick
    /// reassociation.
    pub(crate) fn effective_settings(&self, path: PathId) -> Option<PathSettings> {
        let mut s = self.settings.paths.get(&path)?.clone();
        if let Some(hold) = self.quick_reassociation(path) {
            s.up_after = hold.min(s.up_after);
        }
        Some(s)
    }

    /// Enters or leaves the degraded state of every path at `now`.
    pub(crate) fn evaluate_degraded(&mut self, now: Time, actions: &mut Vec<Action>) {
        let paths: Vec<PathId> = self.paths.keys().copied().collect();
        // Signal paths first, so a tunnel riding on one sees this moment's verdict.
        for path in &paths {
            self.degrade_on_signal(*path, now);
        }
        for path in &paths {
            self.degrade_with_underlay(*path, now, actions);
        }
    }

    fn degrade_on_signal(&mut self, path: PathId, now: Time) {
        // A path riding on another is degraded with it, not by a signal of its own.
        let Some(s) = self
            .settings
            .paths
            .get(&path)
            .filter(|s| s.underlay.is_none())
        else {
            return;
        };
        let (Some(facts), Some(state)) = (self.facts.get(&path), self.paths.get_mut(&path)) else {
            return;
        };
        let on = s.interface.clone().unwrap_or_else(|| path.to_string());
        let dbm = facts.signal.map_or(0, |(d, _)| d);
        let change = match s.signal {
            None if state.degraded => Some((
                false,
                Evidence::Reconfigured {
                    what: "signal threshold removed".into(),
                },
            )),
            None => None,
            Some(sig) if !state.degraded => {
                facts.weak_since.filter(|&w| now >= w + sig.hold).map(|_| {
                    let below = sig.below_dbm;
                    (true, Evidence::SignalWeak { on, dbm, below })
                })
            }
            Some(sig) => facts
                .strong_since
                .filter(|&t| now >= t + s.up_after)
                .map(|_| {
                    let above = sig.recovered_dbm();
                    (false, Evidence::SignalRecovered { on, dbm, above })
                }),
        };
        if let Some((degraded, why)) = change {
            state.degraded = degraded;
            if !degraded {
                state.undegraded_at = Some(now);
            }
            self.log.push(now, Change::Degraded { path, degraded }, why);
        }
    }

    /// A tunnel is degraded with its underlay, and stays so after the underlay recovers
    /// until it has a handshake from after the recovery: the way back must be proven.
    fn degrade_with_underlay(&mut self, path: PathId, now: Time, actions: &mut Vec<Action>) {
        let Some(underlay) = self
            .settings
            .paths
            .get(&path)
            .and_then(|s| s.underlay)
            .filter(|&u| u != path)
        else {
            return;
        };
        let (u_degraded, u_since) = match self.paths.get(&underlay) {
            Some(u) => (u.degraded, u.undegraded_at),
            None => (false, None),
        };
        let fresh_after = |t: Option<Time>| {
            let Some(s) = self.settings.paths.get(&path) else {
                return false;
            };
            let Some(facts) = self.facts.get(&path) else {
                return false;
            };
            if !is_tunnel(path) {
                return true;
            }
            facts.handshake_stale_at(now, s).is_some()
                && facts
                    .handshake
                    .is_some_and(|hs| t.is_none_or(|t| hs.age_at(now) < now.since(t)))
        };
        let ok = fresh_after(u_since);
        let Some(state) = self.paths.get_mut(&path) else {
            return;
        };
        let on = underlay.to_string();
        if u_degraded && !state.degraded {
            state.degraded = true;
            state.degraded_renew_sent = false;
            let why = self.log_cause(underlay);
            self.log.push(
                now,
                Change::Degraded {
                    path,
                    degraded: true,
                },
                why,
            );
        } else if !u_degraded && state.degraded {
            if ok {
                state.degraded = false;
                state.undegraded_at = Some(now);
                let why = Evidence::SignalRecovered {
                    on,
                    dbm: self
                        .facts
                        .get(&underlay)
                        .and_then(|f| f.signal)
                        .map_or(0, |(d, _)| d),
                    above: self
                        .settings
                        .paths
                        .get(&underlay)
                        .and_then(|s| s.signal)
                        .map_or(0, |s| s.recovered_dbm()),
                };
                self.log.push(
                    now,
                    Change::Degraded {
                        path,
                        degraded: false,
                    },
                    why,
                );
            } else if !state.degraded_renew_sent {
                state.degraded_renew_sent = true;
                actions.push(Action::RenewHandshake { path });
            }
        }
    }

    /// The evidence of the underlay's degradation, for the tunnel's log entry.
    fn log_cause(&self, underlay: PathId) -> Evidence {
        let s = self.settings.paths.get(&underlay);
        let on = s
            .and_then(|s| s.interface.clone())
            .unwrap_or_else(|| underlay.to_string());
        let dbm = self
            .facts
            .get(&underlay)
            .and_then(|f| f.signal)
            .map_or(0, |(d, _)| d);
        let below = s.and_then(|s| s.signal).map_or(0, |s| s.below_dbm);
        Evidence::SignalWeak { on, dbm, below }
    }

    /// The next moment time alone enters or leaves a degraded state.
    pub(crate) fn degraded_deadline(&self) -> Option<Time> {
        let now = self.now;
        self.paths
            .iter()
            .filter_map(|(path, state)| {
                let s = self.settings.paths.get(path)?;
                let sig = s.signal?;
                let facts = self.facts.get(path)?;
                if state.degraded {
                    facts.strong_since.map(|t| t + s.up_after)
                } else {
                    facts.weak_since.map(|t| t + sig.hold)
                }
            })
            .filter(|&t| t > now)
            .min()
    }
}

/// Class selection in `family` that avoids degraded paths when the class has another
/// allowed way out there, and uses them as before when it has not (a weak link beats a
/// held or unreachable class).
pub(crate) fn select_avoiding(
    class: &ClassSettings,
    family: Family,
    health: impl Fn(PathId, Family) -> Option<Health>,
    has_route: impl Fn(PathId, Family) -> bool,
    degraded: impl Fn(PathId) -> bool,
    budgets: &Budgets,
) -> (ClassRoute, Vec<Skip>) {
    let avoid = |p: PathId| {
        degraded(p) && has_route(p, family) && health(p, family).is_some_and(Health::is_usable)
    };
    if !class.paths.iter().any(|e| avoid(e.path)) {
        return select(class, family, &health, &has_route, budgets);
    }
    let without = |p: PathId, f: Family| {
        if avoid(p) {
            Some(Health::Down { since: Time::ZERO })
        } else {
            health(p, f)
        }
    };
    match select(class, family, without, &has_route, budgets) {
        (ClassRoute::Via(to), mut skipped) => {
            for skip in &mut skipped {
                if avoid(skip.path) {
                    skip.reason = SkipReason::Degraded;
                }
            }
            (ClassRoute::Via(to), skipped)
        }
        _ => select(class, family, &health, &has_route, budgets),
    }
}
