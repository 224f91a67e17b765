//! What is currently known about one path, and the verdicts drawn from it at a given time.

use std::time::Duration;

use serde::Serialize;

use super::event::ProbeTarget;
use super::evidence::Evidence;
use super::settings::PathSettings;
use super::time::{Time, opt_secs};
use crate::model::{Family, PerFamily};

/// A run of probe rounds with the same outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Streak {
    ok: bool,
    since: Time,
    rounds: u32,
}

/// The latest probe round, kept for status output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeReport {
    pub at: Time,
    pub ok: bool,
    #[serde(serialize_with = "opt_secs")]
    pub latency: Option<Duration>,
    pub targets: Vec<ProbeTarget>,
}

/// The latest handshake as reported: `age` old at `seen`. Kept this way because the
/// handshake may predate the time origin, which `Time` cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handshake {
    seen: Time,
    age: Duration,
}

impl Handshake {
    pub fn age_at(self, now: Time) -> Duration {
        self.age.saturating_add(now.since(self.seen))
    }

    /// When it turns stale (`None`: it already was when reported).
    fn stale_at(self, max_age: Duration) -> Option<Time> {
        max_age.checked_sub(self.age).map(|left| self.seen + left)
    }

    /// Whether it happened at or before `t`.
    fn not_after(self, t: Time) -> bool {
        self.seen <= t + self.age
    }

    /// Its moment, clamped at the origin.
    fn at(self) -> Time {
        self.seen.saturating_sub(self.age)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Carrier state and since when it holds; `None` until the link monitor reports.
    pub carrier: Option<(bool, Time)>,
    pub gone: bool,
    pub bearer: Option<bool>,
    /// Probe streaks per family: a round judges the family of its targets.
    streaks: PerFamily<Option<Streak>>,
    /// When each family's latest round was seen.
    last_round: PerFamily<Option<Time>>,
    pub last_probe: Option<ProbeReport>,
    /// The families the path has a default route in; `None` until reported (both count).
    pub defaults: Option<PerFamily<bool>>,
    pub handshake: Option<Handshake>,
    /// When the WireGuard monitor first said "no handshake" (cleared by a handshake).
    no_handshake_since: Option<Time>,
    last_rx: Option<Time>,
    /// The loss nl80211 reported, until the station is connected again.
    pub wifi_lost: Option<String>,
    /// The latest signal reading in dBm and when it came.
    pub signal: Option<(i32, Time)>,
    /// Since when every reading was below the threshold (`None`: the latest was not).
    pub weak_since: Option<Time>,
    /// Since when every reading was above threshold + hysteresis.
    pub strong_since: Option<Time>,
}

impl Facts {
    pub fn carrier(&mut self, up: bool, now: Time) {
        self.gone = false;
        if !up {
            self.forget_probes();
        } else if matches!(self.carrier, Some((false, _))) {
            // The link came back: whatever nl80211 said about the loss is over too.
            self.wifi_lost = None;
        }
        if self.carrier.map(|(c, _)| c) != Some(up) {
            self.carrier = Some((up, now));
        }
    }

    pub fn gone(&mut self, now: Time) {
        self.gone = true;
        self.forget_probes();
        self.carrier = Some((false, now));
    }

    pub fn bearer(&mut self, connected: bool) {
        if !connected {
            self.forget_probes();
        }
        self.bearer = Some(connected);
    }

    /// Records a round for `family` (both when `None`). The caller drops rounds while the
    /// link is down: a result that raced a carrier loss must not count as evidence for the
    /// link that comes back. A failing streak starts when the round's probes went out
    /// (`started`), but never before the family's previous round was seen: the path was
    /// known good until then. A good streak starts when its evidence arrived.
    pub fn probe(&mut self, report: ProbeReport, started: Time, family: Option<Family>) {
        let (ok, at) = (report.ok, report.at);
        // A family without a default route is not judged: its probes fail by design.
        let families = Family::ALL
            .into_iter()
            .filter(|f| family.is_none_or(|g| g == *f) && self.has_default(*f))
            .collect::<Vec<_>>();
        for f in families {
            let last = *self.last_round.get(f);
            match self.streaks.get_mut(f) {
                Some(s) if s.ok == ok => s.rounds = s.rounds.saturating_add(1),
                streak => {
                    let since = match (last, ok) {
                        (_, true) => at,
                        (Some(last), false) => started.max(last).min(at),
                        (None, false) => started.min(at),
                    };
                    *streak = Some(Streak {
                        ok,
                        since,
                        rounds: 1,
                    })
                }
            }
            *self.last_round.get_mut(f) = Some(at);
        }
        self.last_probe = Some(report);
    }

    /// Forgets probe results; done while the link is down so recovery needs fresh rounds.
    pub fn forget_probes(&mut self) {
        self.streaks = PerFamily::default();
    }

    /// Forgets one family's probe results (it lost its default route).
    pub fn forget_family(&mut self, family: Family) {
        *self.streaks.get_mut(family) = None;
    }

    /// Whether the path has a default route in `family` (assumed until reported).
    pub fn has_default(&self, family: Family) -> bool {
        self.defaults.is_none_or(|d| *d.get(family))
    }

    pub fn handshake(&mut self, age: Option<Duration>, now: Time) {
        match age {
            Some(age) => {
                self.handshake = Some(Handshake { seen: now, age });
                self.no_handshake_since = None;
            }
            None => {
                self.handshake = None;
                self.no_handshake_since.get_or_insert(now);
            }
        }
    }

    pub fn rx(&mut self, now: Time) {
        self.last_rx = Some(now);
    }

    pub fn wifi_lost(&mut self, event: String) {
        self.forget_probes();
        // Readings after the loss come from whatever the station associates with next.
        self.strong_since = None;
        self.wifi_lost = Some(event);
    }

    /// Records a signal reading, classified against `signal` when make-before-break is on.
    pub fn signal(
        &mut self,
        dbm: i32,
        now: Time,
        signal: Option<&super::settings::SignalSettings>,
    ) {
        self.signal = Some((dbm, now));
        let Some(s) = signal else {
            self.weak_since = None;
            self.strong_since = None;
            return;
        };
        if dbm < s.below_dbm {
            self.weak_since.get_or_insert(now);
        } else {
            self.weak_since = None;
        }
        if dbm > s.recovered_dbm() {
            self.strong_since.get_or_insert(now);
        } else {
            self.strong_since = None;
        }
    }

    /// Why the link itself is down, if it is (underlays are the caller's business).
    pub fn link_down(&self, on: &str) -> Option<Evidence> {
        let on = on.to_owned();
        if self.gone {
            Some(Evidence::LinkGone { on })
        } else if self.bearer == Some(false) {
            Some(Evidence::BearerDisconnected { on })
        } else if let Some(event) = &self.wifi_lost {
            let event = event.clone();
            Some(Evidence::WifiLost { on, event })
        } else if matches!(self.carrier, Some((false, _))) {
            Some(Evidence::CarrierLost { on })
        } else {
            None
        }
    }

    /// The moment a fresh handshake turns stale, if it is still fresh at `now`.
    pub fn handshake_stale_at(&self, now: Time, s: &PathSettings) -> Option<Time> {
        let at = self.handshake?.stale_at(s.handshake_max_age)?;
        (at > now).then_some(at)
    }

    /// Start of the current failing run, with the evidence, or `None` if nothing fails.
    /// Received traffic restarts the probe clock (only probes, since a tunnel without a
    /// recent handshake cannot be receiving anything real).
    pub fn failing(
        &self,
        now: Time,
        family: Family,
        tunnel: bool,
        s: &PathSettings,
    ) -> Option<(Time, Evidence)> {
        let streak = self.streaks.get(family).as_ref();
        let probes = streak
            .filter(|st| !st.ok && *s.probed.get(family))
            .map(|st| {
                let since = st.since.max(self.last_rx.unwrap_or(Time::ZERO));
                let over = now.since(st.since);
                (
                    since,
                    Evidence::ProbesFailing {
                        rounds: st.rounds,
                        over,
                    },
                )
            });
        let handshake = if !tunnel {
            None
        } else if let Some(hs) = self.handshake {
            let stale = hs.stale_at(s.handshake_max_age).unwrap_or(hs.seen);
            let age = Some(hs.age_at(now));
            (stale <= now).then_some((stale, Evidence::HandshakeStale { age }))
        } else {
            self.no_handshake_since
                .map(|t| (t, Evidence::HandshakeStale { age: None }))
        };
        match (probes, handshake) {
            (Some(p), Some(h)) => Some(if h.0 < p.0 { h } else { p }),
            (p, h) => p.or(h),
        }
    }

    /// Since when all good evidence for `family` holds (carrier up, the family's probes
    /// passing if it has any, and for a tunnel a fresh handshake newer than `after`), with
    /// the evidence, or `None`.
    pub fn good(
        &self,
        now: Time,
        family: Family,
        tunnel: bool,
        after: Option<Time>,
        s: &PathSettings,
    ) -> Option<(Time, Evidence)> {
        let (true, carrier_since) = self.carrier? else {
            return None;
        };
        if self.gone || self.bearer == Some(false) || self.wifi_lost.is_some() {
            return None;
        }
        let streak = match *s.probed.get(family) {
            true => Some(self.streaks.get(family).as_ref().filter(|st| st.ok)?),
            false => None,
        };
        let mut since = carrier_since.max(streak.map_or(Time::ZERO, |st| st.since));
        let mut handshake_age = None;
        if tunnel {
            let hs = self.handshake?;
            let fresh = hs.stale_at(s.handshake_max_age).is_some_and(|at| at > now);
            if !fresh || after.is_some_and(|down| hs.not_after(down)) {
                return None;
            }
            if after.is_some() {
                since = since.max(hs.at());
            }
            handshake_age = Some(hs.age_at(now));
        }
        let evidence = match streak {
            Some(st) => Evidence::ProbesOk {
                rounds: st.rounds,
                over: now.since(st.since),
                handshake_age,
            },
            None => Evidence::Unprobed {
                family,
                handshake_age,
            },
        };
        Some((since, evidence))
    }

    /// A tunnel whose probes pass but whose handshake predates the outage: WireGuard keeps
    /// using the old session, so only a forced re-handshake can prove the way back.
    pub fn needs_new_handshake(&self, family: Family, down_since: Time) -> bool {
        let probes_ok = self.streaks.get(family).as_ref().is_some_and(|st| st.ok);
        probes_ok && self.handshake.is_none_or(|hs| hs.not_after(down_since))
    }
}
