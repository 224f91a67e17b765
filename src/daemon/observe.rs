//! Observations from the I/O owners, turned into engine events (pure), and the little
//! history `arcway status` shows about them.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime};

use crate::engine::{Event, ProbeTarget};
use crate::linkmon::{LinkEvent, LinkSnapshot};
use crate::model::{Family, PathId};
use crate::probe::ProbeRound;
use crate::wg::WgSample;

/// How many probe results per target the loss figure covers.
pub const PROBE_WINDOW: usize = 20;

/// The paths whose interface is `name` (Arc and Wi-Fi never share one, but nothing forbids
/// a configuration from naming the same interface twice for cellular and Wi-Fi).
pub fn paths_of(interfaces: &BTreeMap<PathId, String>, name: &str) -> Vec<PathId> {
    interfaces
        .iter()
        .filter(|(_, ifname)| ifname.as_str() == name)
        .map(|(p, _)| *p)
        .collect()
}

/// A link monitor event as engine events.
pub fn link_events(interfaces: &BTreeMap<PathId, String>, event: &LinkEvent) -> Vec<Event> {
    paths_of(interfaces, event.name())
        .into_iter()
        .map(|path| match event {
            LinkEvent::Changed(snap) => Event::Carrier {
                path,
                up: snap.is_up(),
            },
            LinkEvent::Gone { .. } => Event::LinkGone { path },
        })
        .collect()
}

/// A probe round as engine events: one per family its targets reach, each judged on that
/// family's targets alone (a passive round, resting on traffic, counts for both). A
/// round's latency is its fastest good answer.
pub fn probe_events(round: &ProbeRound) -> Vec<Event> {
    if round.passive {
        return vec![probe_event(round, None, round.ok)];
    }
    round
        .families
        .iter()
        .filter_map(|(family, ok)| Some(probe_event(round, Some(family), (*ok)?)))
        .collect()
}

fn probe_event(round: &ProbeRound, family: Option<Family>, ok: bool) -> Event {
    let mine = |t: &&crate::probe::TargetResult| {
        family.is_none_or(|f| Family::of(t.target.peer().ip()) == f)
    };
    let targets: Vec<ProbeTarget> = round
        .targets
        .iter()
        .filter(mine)
        .map(|t| ProbeTarget {
            target: t.target.to_string(),
            ok: t.ok,
            latency: t.latency,
        })
        .collect();
    let latency = round
        .targets
        .iter()
        .filter(mine)
        .filter(|t| t.ok)
        .filter_map(|t| t.latency)
        .min();
    Event::ProbeRound {
        path: round.path,
        family,
        ok,
        latency,
        targets,
        started_ago: round.at.saturating_duration_since(round.started),
    }
}

/// A WireGuard reading as engine events: the handshake age, and receive progress when the
/// counter rose since the previous reading. Readings come once a second, so bytes counted
/// in one may have arrived before an outage began; with probes on the path that stale
/// evidence would only delay detection, so receive progress is used only when `passive`
/// (the path has no probes and relies on real traffic).
///
/// `renewed` is when the peer was last replaced, if that happened before this reading: a
/// replaced peer starts without a handshake, so whatever it reports was made after that.
/// This matters because userspace WireGuard reports whole seconds: a handshake made just
/// after a renewal would otherwise look up to a second older than the renewal, and so older
/// than the outage it is meant to end, which the engine never accepts as a way back.
pub fn wg_events(
    previous: Option<&WgSample>,
    sample: &WgSample,
    wall_now: SystemTime,
    passive: bool,
    renewed: Option<SystemTime>,
) -> Vec<Event> {
    let age = sample.last_handshake.map(|t| {
        let t = renewed.map_or(t, |r| t.max(r));
        wall_now.duration_since(t).unwrap_or(Duration::ZERO)
    });
    let mut events = vec![Event::Handshake {
        path: PathId::Arc,
        age,
    }];
    if passive && previous.is_some_and(|p| sample.rx_bytes > p.rx_bytes) {
        events.push(Event::RxProgress { path: PathId::Arc });
    }
    events
}

/// One probe target's recent results.
#[derive(Debug, Clone, Default)]
pub struct TargetHistory {
    pub results: VecDeque<bool>,
    pub last_latency: Option<Duration>,
    pub last_error: Option<String>,
}

impl TargetHistory {
    pub fn loss_percent(&self) -> Option<f64> {
        if self.results.is_empty() {
            return None;
        }
        let lost = self.results.iter().filter(|ok| !**ok).count();
        Some(100.0 * lost as f64 / self.results.len() as f64)
    }
}

/// What the status output shows besides the engine's own view.
#[derive(Debug, Default)]
pub struct Observed {
    pub links: BTreeMap<String, LinkSnapshot>,
    pub wg: Option<WgSample>,
    pub probes: BTreeMap<PathId, BTreeMap<String, TargetHistory>>,
}

impl Observed {
    pub fn record_round(&mut self, round: &ProbeRound) {
        let path = self.probes.entry(round.path).or_default();
        for t in &round.targets {
            let h = path.entry(t.target.to_string()).or_default();
            if h.results.len() == PROBE_WINDOW {
                h.results.pop_front();
            }
            h.results.push_back(t.ok);
            h.last_latency = t.latency;
            h.last_error = t.error.clone();
        }
    }

    pub fn record_link(&mut self, event: &LinkEvent) {
        match event {
            LinkEvent::Changed(snap) => {
                self.links.insert(snap.name.clone(), snap.clone());
            }
            LinkEvent::Gone { name } => {
                self.links.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::probe::{Target, TargetResult};

    fn ifaces() -> BTreeMap<PathId, String> {
        BTreeMap::from([
            (PathId::Arc, "arc0".to_owned()),
            (PathId::Wifi, "wlan0".to_owned()),
            (PathId::Cellular, "wwan0".to_owned()),
        ])
    }

    fn sample(rx: u64, handshake: Option<SystemTime>) -> WgSample {
        WgSample {
            at: Instant::now(),
            last_handshake: handshake,
            rx_bytes: rx,
            tx_bytes: 0,
        }
    }

    #[test]
    fn a_gone_interface_is_link_loss_of_its_path() {
        let events = link_events(
            &ifaces(),
            &LinkEvent::Gone {
                name: "wlan0".into(),
            },
        );
        assert_eq!(events, [Event::LinkGone { path: PathId::Wifi }]);
        assert!(
            link_events(
                &ifaces(),
                &LinkEvent::Gone {
                    name: "eth9".into()
                }
            )
            .is_empty()
        );
    }

    #[test]
    fn handshake_age_is_measured_from_the_wall_clock() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let s = sample(10, Some(now - Duration::from_secs(7)));
        let events = wg_events(None, &s, now, true, None);
        assert_eq!(
            events,
            [Event::Handshake {
                path: PathId::Arc,
                age: Some(Duration::from_secs(7))
            }]
        );
    }

    #[test]
    fn rising_rx_is_evidence_of_life() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let before = sample(10, None);
        let after = sample(11, None);
        let events = wg_events(Some(&before), &after, now, true, None);
        assert!(events.contains(&Event::RxProgress { path: PathId::Arc }));
        assert_eq!(wg_events(Some(&after), &after, now, true, None).len(), 1);
        // With probes on the path, readings only report the handshake.
        assert_eq!(wg_events(Some(&before), &after, now, false, None).len(), 1);
    }

    #[test]
    fn a_handshake_in_the_future_counts_as_fresh() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        let s = sample(0, Some(now + Duration::from_secs(3)));
        assert_eq!(
            wg_events(None, &s, now, true, None)[0],
            Event::Handshake {
                path: PathId::Arc,
                age: Some(Duration::ZERO)
            }
        );
    }

    #[test]
    fn a_handshake_reported_after_a_renewal_is_not_older_than_the_renewal() {
        // Renewed at 1000.7 s; the new handshake (1000.8 s) is reported as 1000 s.
        let renewed = SystemTime::UNIX_EPOCH + Duration::from_millis(1_000_700);
        let now = SystemTime::UNIX_EPOCH + Duration::from_millis(1_001_200);
        let s = sample(0, Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1000)));
        let age = |renewed| match wg_events(None, &s, now, true, renewed)[0] {
            Event::Handshake { age, .. } => age,
            _ => None,
        };
        assert_eq!(age(Some(renewed)), Some(Duration::from_millis(500)));
        assert_eq!(age(None), Some(Duration::from_millis(1200)));
        // A handshake newer than the renewal keeps its own time.
        let earlier = SystemTime::UNIX_EPOCH + Duration::from_millis(900_000);
        assert_eq!(age(Some(earlier)), Some(Duration::from_millis(1200)));
    }

    #[test]
    fn loss_is_counted_over_the_window() {
        let mut o = Observed::default();
        for i in 0..(PROBE_WINDOW + 5) {
            o.record_round(&ProbeRound {
                path: PathId::Wifi,
                started: Instant::now(),
                at: Instant::now(),
                ok: i % 2 == 0,
                passive: false,
                families: Default::default(),
                targets: vec![TargetResult {
                    target: Target::Icmp("203.0.113.100".parse().unwrap()),
                    ok: i % 4 != 0,
                    latency: None,
                    error: None,
                }],
            });
        }
        let h = &o.probes[&PathId::Wifi]["icmp 203.0.113.100"];
        assert_eq!(h.results.len(), PROBE_WINDOW);
        assert_eq!(h.loss_percent(), Some(25.0));
    }
}
