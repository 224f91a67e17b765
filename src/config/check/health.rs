//! `health:`: probes and hysteresis per path, defaults per path.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::{Check, idx, key, names, pos_or};
use crate::config::error::Pos;
use crate::config::raw::{RawHealth, RawHealthAll, RawProbe, RawSignal, S};
use crate::config::types::{HealthConfig, Probe, SignalConfig};
use crate::model::PathId;

const PLATFORM_PONG: IpAddr = IpAddr::V4(Ipv4Addr::new(100, 127, 100, 127));
/// The IPv6 stand-in for an internet host (a documentation address, like the IPv4 one):
/// uplinks are probed in both families by default, each family judged on its own.
const INTERNET_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100));

/// The health settings of a path nobody tuned.
pub fn defaults(path: PathId) -> HealthConfig {
    let secs = Duration::from_secs;
    let ms = Duration::from_millis;
    match path {
        // Half-second rounds and a failure counted from the unanswered round's start find a
        // silent failure in 1.0-1.5 s; probes on Wi-Fi cost nothing.
        PathId::Arc => HealthConfig {
            probes: vec![Probe::Icmp(PLATFORM_PONG)],
            interval: ms(500),
            timeout: ms(500),
            quorum: 1,
            down_after: secs(1),
            up_after: secs(3),
            handshake_max_age: Some(secs(180)),
            reassoc_up_after: None,
            signal: None,
        },
        PathId::Wifi => {
            let host = Ipv4Addr::new(203, 0, 113, 100);
            HealthConfig {
                probes: vec![
                    Probe::Icmp(host.into()),
                    Probe::Tcp(SocketAddr::new(host.into(), 443)),
                    Probe::Icmp(INTERNET_V6),
                    Probe::Tcp(SocketAddr::new(INTERNET_V6, 443)),
                ],
                interval: ms(500),
                timeout: ms(500),
                quorum: 1,
                down_after: secs(1),
                up_after: secs(5),
                handshake_max_age: None,
                // A station that reassociates within a second has not really been away.
                reassoc_up_after: Some(ms(500)),
                signal: None,
            }
        }
        // Cellular probes cost money: rare, and real traffic counts as evidence too. Only
        // the platform's pong, which SORACOM runs: a stand-in IPv6 target would fail on every
        // real bearer and pay for it, so cellular IPv6 is judged on the bearer and link alone.
        PathId::Cellular => HealthConfig {
            probes: vec![Probe::Icmp(PLATFORM_PONG)],
            interval: secs(30),
            timeout: secs(2),
            quorum: 1,
            down_after: secs(60),
            up_after: secs(5),
            handshake_max_age: None,
            reassoc_up_after: None,
            signal: None,
        },
    }
}

pub fn check(
    c: &mut Check,
    raw: Option<S<RawHealthAll>>,
    configured: &BTreeSet<PathId>,
) -> BTreeMap<PathId, HealthConfig> {
    let mut given: BTreeMap<PathId, S<RawHealth>> = BTreeMap::new();
    if let Some(all) = raw.map(|h| h.value) {
        for (path, h) in [
            (PathId::Arc, all.arc),
            (PathId::Wifi, all.wifi),
            (PathId::Cellular, all.cellular),
        ] {
            if let Some(h) = h {
                given.insert(path, h);
            }
        }
    }
    for (path, h) in &given {
        if !configured.contains(path) {
            c.err(
                format!("health.{path}"),
                Pos::of(h),
                format!("health.{path} is given but the {path} path is not configured"),
            );
        }
    }
    configured
        .iter()
        .map(|&path| {
            let h = match given.remove(&path) {
                Some(h) => check_path(c, path, h),
                None => defaults(path),
            };
            (path, h)
        })
        .collect()
}

fn check_path(c: &mut Check, path: PathId, raw: S<RawHealth>) -> HealthConfig {
    let here = Pos::of(&raw);
    let base = format!("health.{path}");
    let p = |k| key(&base, k);
    let h = raw.value;
    let d = defaults(path);
    let dur = |v: &Option<S<crate::config::values::Dur>>, default: Duration| {
        v.as_ref().map_or(default, |v| v.value.0)
    };

    let probes = match &h.probes {
        Some(list) => {
            if list.value.is_empty() {
                c.err(p("probes"), Pos::of(list), "at least one probe is needed");
            }
            list.value
                .iter()
                .enumerate()
                .filter_map(|(i, probe)| check_probe(c, &idx(&p("probes"), i), probe))
                .collect()
        }
        None => d.probes,
    };
    let probe_count = h.probes.as_ref().map_or(probes.len(), |l| l.value.len());

    let interval = dur(&h.interval, d.interval);
    if interval.is_zero() {
        c.err(
            p("interval"),
            pos_or(&h.interval, here),
            "interval must be more than zero",
        );
    }
    let timeout = dur(&h.timeout, d.timeout);
    if timeout.is_zero() {
        c.err(
            p("timeout"),
            pos_or(&h.timeout, here),
            "timeout must be more than zero",
        );
    } else if timeout > interval && !interval.is_zero() {
        let pos = pos_or(&h.timeout, pos_or(&h.interval, here));
        c.err(
            p("timeout"),
            pos,
            format!("timeout {timeout:?} is longer than the interval {interval:?}"),
        );
    }
    let quorum = h.quorum.as_ref().map_or(d.quorum, |q| q.value);
    if quorum == 0 || (probe_count > 0 && quorum as usize > probe_count) {
        let pos = pos_or(&h.quorum, here);
        c.err(
            p("quorum"),
            pos,
            format!("quorum {quorum} must be between 1 and the number of probes ({probe_count})"),
        );
    }
    let down_after = dur(&h.down_after, d.down_after);
    let up_after = dur(&h.up_after, d.up_after);
    for (name, value, v) in [
        ("down_after", down_after, &h.down_after),
        ("up_after", up_after, &h.up_after),
    ] {
        if value.is_zero() {
            c.err(
                p(name),
                pos_or(v, here),
                format!("{name} must be more than zero"),
            );
        }
    }
    let handshake_max_age = match (&h.handshake_max_age, path) {
        (Some(v), PathId::Arc) if v.value.0.is_zero() => {
            c.err(
                p("handshake_max_age"),
                Pos::of(v),
                "handshake_max_age must be more than zero",
            );
            d.handshake_max_age
        }
        (Some(v), PathId::Arc) => Some(v.value.0),
        (Some(v), _) => {
            c.err(
                p("handshake_max_age"),
                Pos::of(v),
                "handshake_max_age only applies to health.arc",
            );
            None
        }
        (None, _) => d.handshake_max_age,
    };
    let reassoc_up_after = match (&h.reassoc_up_after, path) {
        (Some(v), PathId::Wifi) if v.value.0 > up_after => {
            c.err(
                p("reassoc_up_after"),
                Pos::of(v),
                format!(
                    "reassoc_up_after {:?} is longer than up_after {up_after:?}",
                    v.value.0
                ),
            );
            d.reassoc_up_after
        }
        (Some(v), PathId::Wifi) => Some(v.value.0),
        (Some(v), _) => {
            c.err(
                p("reassoc_up_after"),
                Pos::of(v),
                "reassoc_up_after only applies to health.wifi",
            );
            None
        }
        (None, _) => d.reassoc_up_after,
    };
    let signal = match (h.signal, path) {
        (Some(v), PathId::Wifi) => check_signal(c, &p("signal"), v),
        (Some(v), _) => {
            c.err(
                p("signal"),
                Pos::of(&v),
                "signal only applies to health.wifi",
            );
            None
        }
        (None, _) => None,
    };
    HealthConfig {
        probes,
        interval,
        timeout,
        quorum,
        down_after,
        up_after,
        handshake_max_age,
        reassoc_up_after,
        signal,
    }
}

/// How long a weak signal must last when `signal.for` is not written.
const SIGNAL_HOLD: Duration = Duration::from_secs(2);

fn check_signal(c: &mut Check, base: &str, raw: S<RawSignal>) -> Option<SignalConfig> {
    let here = Pos::of(&raw);
    let s = raw.value;
    let mut ok = true;
    let below = s.below.value.0;
    // What nl80211 can carry (s32) and what a receiver can report in practice.
    if !(-120..=-1).contains(&below) {
        c.err(
            key(base, "below"),
            Pos::of(&s.below),
            format!("signal threshold {below} dBm is out of range -120..=-1 dBm"),
        );
        ok = false;
    }
    let hysteresis = s.hysteresis.as_ref().map_or(5, |h| h.value.0);
    if hysteresis > 30 {
        c.err(
            key(base, "hysteresis"),
            pos_or(&s.hysteresis, here),
            format!("hysteresis {hysteresis} dB is out of range 0..=30 dB"),
        );
        ok = false;
    }
    let hold = s.hold.as_ref().map_or(SIGNAL_HOLD, |h| h.value.0);
    ok.then_some(SignalConfig {
        below_dbm: below,
        hysteresis_db: hysteresis,
        hold,
    })
}

fn check_probe(c: &mut Check, path: &str, probe: &S<RawProbe>) -> Option<Probe> {
    let checked = match &probe.value {
        RawProbe::Icmp(a) => Ok(Probe::Icmp(*a)),
        RawProbe::Tcp(a) if a.value.port() == 0 => Err((
            key(path, "tcp"),
            Pos::of(a),
            format!("tcp probe {} needs a port", a.value),
        )),
        RawProbe::Tcp(a) => Ok(Probe::Tcp(a.value)),
        RawProbe::Http(url) => names::http_url(&url.value)
            .map(|_| Probe::Http(url.value.clone()))
            .map_err(|m| (key(path, "http"), Pos::of(url), m)),
        RawProbe::Dns(d) => names::dns_name(&d.name.value)
            .map(|_| Probe::Dns {
                server: d.server,
                name: d.name.value.clone(),
            })
            .map_err(|m| (key(path, "dns.name"), Pos::of(&d.name), m)),
    };
    checked.map_err(|(at, pos, m)| c.err(at, pos, m)).ok()
}
