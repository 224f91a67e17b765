//! The per-path health state machine: one handler per state, time-based hysteresis.

use std::fmt;

use serde::Serialize;

use super::evidence::Evidence;
use super::settings::PathSettings;
use super::time::Time;

/// Health of one path. Only `Up` and `Failing` carry traffic.
///
/// Startup: a path with no decision yet is `Unknown` and carries nothing. Its first good
/// evidence (carrier up and a passing probe round, plus a fresh handshake for a tunnel)
/// brings it `Up` at once, without waiting `up_after`: hysteresis damps flapping between
/// decisions, and before the first decision there is nothing to flap from. This gets a
/// (re)started daemon onto its preferred paths after one probe round. Failing evidence for
/// `down_after`, or link loss, makes an `Unknown` path `Down` like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Health {
    Unknown,
    /// Good since `since`.
    Up {
        since: Time,
    },
    /// Still used, but failing evidence holds since `since` (it was up since `up_since`).
    Failing {
        since: Time,
        up_since: Time,
    },
    /// Not used since `since`.
    Down {
        since: Time,
    },
    /// Down since `down_since`, good evidence since `since`; up at `since + up_after`.
    Recovering {
        since: Time,
        down_since: Time,
    },
}

impl Health {
    /// Whether classes may route over the path.
    pub fn is_usable(self) -> bool {
        matches!(self, Health::Up { .. } | Health::Failing { .. })
    }

    pub fn name(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up { .. } => "up",
            Health::Failing { .. } => "failing",
            Health::Down { .. } => "down",
            Health::Recovering { .. } => "recovering",
        }
    }

    /// The health to show for a path whose families differ: the more usable one (up,
    /// failing, recovering, down, then unknown), IPv4's on a tie.
    pub fn best(a: Health, b: Health) -> Health {
        let rank = |h: Health| match h {
            Health::Up { .. } => 4,
            Health::Failing { .. } => 3,
            Health::Recovering { .. } => 2,
            Health::Down { .. } => 1,
            Health::Unknown => 0,
        };
        if rank(b) > rank(a) { b } else { a }
    }

    /// The outage a tunnel's handshake must postdate before the path may come back.
    pub(crate) fn down_since(self) -> Option<Time> {
        match self {
            Health::Down { since }
            | Health::Recovering {
                down_since: since, ..
            } => Some(since),
            _ => None,
        }
    }

    /// When time alone will change this state, given the same evidence.
    pub(crate) fn deadline(self, s: &PathSettings, failing_since: Option<Time>) -> Option<Time> {
        match self {
            Health::Unknown => failing_since.map(|f| f + s.down_after),
            Health::Failing { since, .. } => Some(since + s.down_after),
            Health::Recovering { since, .. } => Some(since + s.up_after),
            Health::Up { .. } | Health::Down { .. } => None,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The verdicts drawn from a path's facts at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The link (or its underlay) is down: decisive at once.
    pub link_down: Option<Evidence>,
    /// Failing evidence and the start of its run.
    pub failing: Option<(Time, Evidence)>,
    /// Good evidence and since when it holds.
    pub good: Option<(Time, Evidence)>,
}

/// The next health given the verdict at `now`: `Some((next, evidence))` when it changes.
/// A change may stay in the same state with a later `since` (failing evidence restarted by
/// received traffic, good evidence restarted); the caller reports only changes of state.
pub(crate) fn step(
    h: Health,
    v: Verdict,
    now: Time,
    s: &PathSettings,
) -> Option<(Health, Evidence)> {
    if let Some(why) = v.link_down {
        return match h {
            Health::Down { .. } => None,
            Health::Recovering { down_since, .. } => {
                Some((Health::Down { since: down_since }, why))
            }
            _ => Some((Health::Down { since: now }, why)),
        };
    }
    match h {
        Health::Unknown => match (v.good, v.failing) {
            (Some((_, why)), _) => Some((Health::Up { since: now }, why)),
            (None, Some((f, why))) if now >= f + s.down_after => {
                Some((Health::Down { since: now }, why))
            }
            _ => None,
        },
        Health::Up { since: up_since } => {
            let (f, why) = v.failing?;
            if now >= f + s.down_after {
                Some((Health::Down { since: now }, why))
            } else {
                Some((Health::Failing { since: f, up_since }, why))
            }
        }
        Health::Failing { since, up_since } => match v.failing {
            None => Some((Health::Up { since: up_since }, recovered(v.good))),
            Some((f, why)) if now >= f + s.down_after => Some((Health::Down { since: now }, why)),
            Some((f, why)) if f != since => Some((Health::Failing { since: f, up_since }, why)),
            Some(_) => None,
        },
        Health::Down { since: down_since } => {
            let (g, why) = v.good?;
            if now >= g + s.up_after {
                Some((Health::Up { since: now }, why))
            } else {
                Some((
                    Health::Recovering {
                        since: g,
                        down_since,
                    },
                    why,
                ))
            }
        }
        Health::Recovering { since, down_since } => match v.good {
            Some((g, why)) if now >= g + s.up_after => Some((Health::Up { since: now }, why)),
            Some((g, why)) if g != since => Some((
                Health::Recovering {
                    since: g,
                    down_since,
                },
                why,
            )),
            Some(_) => None,
            None => {
                let why = v.failing.map_or(Evidence::Unproven, |(_, why)| why);
                Some((Health::Down { since: down_since }, why))
            }
        },
    }
}

/// Failing evidence cleared: say why, preferring the positive evidence if there is one.
fn recovered(good: Option<(Time, Evidence)>) -> Evidence {
    good.map_or(Evidence::FailureCleared, |(_, why)| why)
}
