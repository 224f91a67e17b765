//! The engine: owns facts, health and routes; events and `now` in, actions out.

use std::collections::BTreeMap;

use super::desired::Action;
use super::event::Event;
use super::facts::{Facts, ProbeReport};
use super::health::Health;
use super::log::{EventLog, LogEntry};
use super::select::{Budgets, ClassRoutes};
use super::settings::Settings;
use super::time::Time;
use crate::model::{Family, PathId, PerFamily};

/// Deadlines handled in one call before giving up on catching up; each one moves a state
/// forward, so a handful per path is plenty and the bound only guards against a bug.
const MAX_CATCH_UP: usize = 64;

/// Health and bookkeeping of one configured path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathState {
    /// Each family is judged on its own: probes of one family say nothing of the other.
    pub health: PerFamily<Health>,
    /// `RenewHandshake` was already asked for in the current outage.
    pub renew_sent: bool,
    /// Classes with another way out avoid the path (weak signal, or riding on such a path).
    pub degraded: bool,
    /// A tunnel's `RenewHandshake` after its underlay's degradation ended was asked for.
    pub degraded_renew_sent: bool,
    /// When degradation last ended (a tunnel riding on it needs a handshake after that).
    pub undegraded_at: Option<Time>,
    /// When the path lost its link (or its underlay's) while up, in the current outage.
    pub link_lost_at: Option<Time>,
    /// When that link came back.
    pub link_back_at: Option<Time>,
}

impl PathState {
    pub fn new() -> Self {
        PathState {
            health: PerFamily::both(Health::Unknown),
            renew_sent: false,
            degraded: false,
            degraded_renew_sent: false,
            undegraded_at: None,
            link_lost_at: None,
            link_back_at: None,
        }
    }
}

/// The decision core. Deterministic: the same settings and the same `(event, now)` sequence
/// give the same actions, desired state and log.
///
/// Times must not go backwards; an earlier `now` is treated as the latest one seen.
/// Timers fire at their deadline even when the `Tick` comes late: before applying an event
/// the engine first plays every deadline that passed, at the deadline's own time.
#[derive(Debug, Clone)]
pub struct Engine {
    pub(crate) settings: Settings,
    pub(crate) now: Time,
    /// Facts for every path, configured or not, so a reload that adds a path knows its link.
    pub(crate) facts: BTreeMap<PathId, Facts>,
    pub(crate) paths: BTreeMap<PathId, PathState>,
    pub(crate) budgets: Budgets,
    /// Routes in the order of `settings.classes`.
    pub(crate) routes: Vec<ClassRoutes>,
    pub(crate) log: EventLog,
}

impl Engine {
    /// A fresh engine: every configured path `Unknown`, every class `Unreachable`.
    pub fn new(settings: Settings, now: Time) -> Self {
        let facts = PathId::ALL
            .into_iter()
            .map(|p| (p, Facts::default()))
            .collect();
        let paths = settings
            .paths
            .keys()
            .map(|&p| (p, PathState::new()))
            .collect();
        let routes = vec![ClassRoutes::default(); settings.classes.len()];
        let log = EventLog::new(settings.log_capacity);
        Engine {
            settings,
            now,
            facts,
            paths,
            budgets: Budgets::default(),
            routes,
            log,
        }
    }

    /// Applies one event at `now` and returns what changed.
    pub fn handle(&mut self, event: Event, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        let now = self.catch_up(now, &mut actions);
        self.apply(event, now);
        self.evaluate(now, &mut actions);
        actions
    }

    /// The next moment a `Tick` can change something, if any.
    pub fn poll_timeout(&self) -> Option<Time> {
        let now = self.now;
        let mut next: Option<Time> = None;
        for (&path, state) in &self.paths {
            let Some(s) = self.effective_settings(path) else {
                continue;
            };
            let s = &s;
            let facts = &self.facts[&path];
            let tunnel = is_tunnel(path);
            for (family, &health) in state.health.iter() {
                let failing = facts.failing(now, family, tunnel, s).map(|(t, _)| t);
                let timer = health.deadline(s, failing);
                let stale = match health {
                    Health::Down { .. } => None,
                    _ if tunnel => facts.handshake_stale_at(now, s),
                    _ => None,
                };
                for t in [timer, stale].into_iter().flatten().filter(|&t| t > now) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
            }
        }
        match (next, self.degraded_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Plays every deadline before `now` at its own time; returns the effective `now`.
    pub(crate) fn catch_up(&mut self, now: Time, actions: &mut Vec<Action>) -> Time {
        let now = now.max(self.now);
        for _ in 0..MAX_CATCH_UP {
            match self.poll_timeout() {
                Some(t) if t < now => {
                    self.now = t;
                    self.evaluate(t, actions);
                }
                _ => break,
            }
        }
        self.now = now;
        now
    }

    fn apply(&mut self, event: Event, now: Time) {
        let link_down = event.path().is_some_and(|p| {
            let own = self.facts.get(&p).and_then(|f| f.link_down(p.as_str()));
            own.is_some() || self.link_down(p).is_some()
        });
        let facts = event.path().and_then(|p| self.facts.get_mut(&p));
        match (event, facts) {
            (Event::Carrier { up, .. }, Some(f)) => f.carrier(up, now),
            (Event::LinkGone { .. }, Some(f)) => f.gone(now),
            (Event::Bearer { connected, .. }, Some(f)) => f.bearer(connected),
            (Event::BearerUnwatched { .. }, Some(f)) => f.bearer = None,
            (
                Event::ProbeRound {
                    family,
                    ok,
                    latency,
                    targets,
                    started_ago,
                    ..
                },
                Some(f),
            ) if !link_down => f.probe(
                ProbeReport {
                    at: now,
                    ok,
                    latency,
                    targets,
                },
                now.saturating_sub(started_ago),
                family,
            ),
            (Event::DefaultRoutes { routes, .. }, Some(f)) => {
                for family in Family::ALL.into_iter().filter(|x| !*routes.get(*x)) {
                    f.forget_family(family);
                }
                f.defaults = Some(routes);
            }
            (Event::Handshake { age, .. }, Some(f)) => f.handshake(age, now),
            (Event::RxProgress { .. }, Some(f)) => f.rx(now),
            (Event::WifiLost { event, .. }, Some(f)) => f.wifi_lost(event),
            (Event::WifiConnected { .. }, Some(f)) => f.wifi_lost = None,
            (Event::WifiSignal { path, dbm }, Some(f)) => {
                let signal = self.settings.paths.get(&path).and_then(|s| s.signal);
                f.signal(dbm, now, signal.as_ref());
            }
            (
                Event::BudgetExhausted {
                    path,
                    class,
                    exhausted,
                },
                _,
            ) => self.budgets.set(path, class, exhausted),
            _ => {}
        }
    }

    /// The latest `now` the engine has seen.
    pub fn now(&self) -> Time {
        self.now
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Health of a configured path: the better of its families' (see [`Health::best`]).
    pub fn health(&self, path: PathId) -> Option<Health> {
        self.paths
            .get(&path)
            .map(|s| Health::best(s.health.v4, s.health.v6))
    }

    /// Health of a configured path in one family.
    pub fn health_in(&self, path: PathId, family: Family) -> Option<Health> {
        self.paths.get(&path).map(|s| *s.health.get(family))
    }

    /// Current routes of a configured class, per family.
    pub fn route(&self, class: &str) -> Option<ClassRoutes> {
        let i = self.settings.classes.iter().position(|c| c.name == class)?;
        self.routes.get(i).copied()
    }

    /// The `seq` the next log entry will get: entries with a smaller one are already out.
    pub fn log_next_seq(&self) -> u64 {
        self.log.next_seq()
    }

    /// The event log, oldest first.
    pub fn log(&self) -> impl DoubleEndedIterator<Item = &LogEntry> {
        self.log.iter()
    }
}

/// Tunnel paths need a handshake to come up and fail on a stale one. Arc is the only one.
pub(crate) fn is_tunnel(path: PathId) -> bool {
    path == PathId::Arc
}
