//! The status snapshot: what `arcway status` shows, built from the engine and the observers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::config::Config;
use crate::engine::{self, Engine, Health, Time};
use crate::linkmon::{AddrScope, LinkSnapshot};
use crate::model::PathId;
use crate::status::{
    self, ClassStatus, Clock, ConfigStatus, PathStatus, ProbeStatus, Route, Snapshot, WallTime,
};
use crate::wg::TunnelStatus;

use super::observe::{Observed, PROBE_WINDOW};

pub struct Inputs<'a> {
    pub cfg: &'a Config,
    pub config_path: &'a Path,
    pub loaded_at: WallTime,
    pub reload_error: Option<status::ReloadError>,
    pub started_at: WallTime,
    pub origin: Instant,
    pub engine: &'a Engine,
    pub observed: &'a Observed,
    pub interfaces: &'a BTreeMap<PathId, String>,
    pub tunnel: Option<&'a TunnelStatus>,
    pub class_since: &'a BTreeMap<String, Instant>,
}

fn health_since(h: Health) -> Option<Time> {
    match h {
        Health::Unknown => None,
        Health::Up { since }
        | Health::Failing { since, .. }
        | Health::Down { since }
        | Health::Recovering { since, .. } => Some(since),
    }
}

fn route(r: engine::ClassRoute) -> Route {
    match r {
        engine::ClassRoute::Via(p) => Route::Via(p.to_string()),
        engine::ClassRoute::Held(p) => Route::HeldOn(p.to_string()),
        engine::ClassRoute::Unreachable => Route::Unreachable,
    }
}

fn addresses(link: &LinkSnapshot) -> Vec<String> {
    link.addresses
        .iter()
        .filter(|a| a.scope == AddrScope::Global)
        .map(|a| format!("{}/{}", a.addr, a.prefix_len))
        .collect()
}

pub fn build(i: &Inputs<'_>) -> Snapshot {
    let clock = Clock::now();
    let at = |t: Time| i.origin + t.as_duration();
    let desired = i.engine.desired();
    let mut paths: Vec<PathStatus> = desired
        .paths
        .iter()
        .map(|(path, s)| {
            let interface = i.interfaces.get(path).cloned();
            let link = interface.as_ref().and_then(|n| i.observed.links.get(n));
            let tunnel = (*path == PathId::Arc).then_some(i.tunnel).flatten();
            let probes = i
                .observed
                .probes
                .get(path)
                .map(|targets| {
                    targets
                        .iter()
                        .map(|(target, h)| ProbeStatus {
                            target: target.clone(),
                            last_latency_ms: h.last_latency.map(|d| d.as_secs_f64() * 1000.0),
                            loss_percent: h.loss_percent(),
                            window: PROBE_WINDOW as u32,
                            last_error: h.last_error.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            PathStatus {
                name: path.to_string(),
                interface,
                state: s.health.name().to_owned(),
                since: health_since(s.health).map(|t| clock.since(at(t))),
                carrier: link.map(LinkSnapshot::is_up).or(s.carrier),
                addresses: link.map(addresses).unwrap_or_default(),
                handshake_age_ms: s
                    .handshake_age
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                // The once-a-second reading is fresher than the tunnel's own status.
                rx_bytes: (*path == PathId::Arc)
                    .then(|| i.observed.wg.map(|w| w.rx_bytes))
                    .flatten()
                    .or(tunnel.map(|t| t.rx_bytes)),
                tx_bytes: (*path == PathId::Arc)
                    .then(|| i.observed.wg.map(|w| w.tx_bytes))
                    .flatten()
                    .or(tunnel.map(|t| t.tx_bytes)),
                probes,
                // Filled in by the loop, which holds the Wi-Fi monitor's observations.
                wifi: None,
            }
        })
        .collect();
    // Paths configured but not yet known to the engine still get a row.
    for path in i.cfg.paths() {
        if !paths.iter().any(|p| p.name == path.as_str()) {
            paths.push(PathStatus {
                name: path.to_string(),
                interface: i.cfg.interface(path),
                state: Health::Unknown.name().to_owned(),
                ..PathStatus::default()
            });
        }
    }
    let classes = desired
        .classes
        .iter()
        .map(|c| ClassStatus {
            name: c.name.clone(),
            route: route(c.route),
            since: i.class_since.get(&c.name).map(|t| clock.since(*t)),
        })
        .collect();
    let events = i
        .engine
        .log()
        .map(|e| {
            let (subject, from, to) = match &e.change {
                engine::Change::Path { path, from, to } => (
                    path.to_string(),
                    from.name().to_owned(),
                    to.name().to_owned(),
                ),
                engine::Change::Class { class, from, to } => {
                    (format!("class {class}"), from.to_string(), to.to_string())
                }
                engine::Change::Degraded { path, degraded } => {
                    let [from, to] = if *degraded {
                        ["ok", "degraded"]
                    } else {
                        ["degraded", "ok"]
                    };
                    (path.to_string(), from.to_owned(), to.to_owned())
                }
            };
            status::Event {
                at: clock.wall(at(e.time)),
                subject,
                from,
                to,
                evidence: vec![e.evidence.clone()],
            }
        })
        .collect();
    Snapshot {
        pid: Some(std::process::id()),
        started_at: Some(i.started_at),
        taken_at: clock.wall_now(),
        config: ConfigStatus {
            path: i.config_path.display().to_string(),
            loaded_at: Some(i.loaded_at),
            reload_error: i.reload_error.clone(),
        },
        paths,
        classes,
        events,
        ..Snapshot::default()
    }
}
