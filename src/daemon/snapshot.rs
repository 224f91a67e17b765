//! The status snapshot: what `arcway status` shows, built from the engine and the observers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::config::Config;
use crate::engine::{self, Engine, Health, Time};
use crate::linkmon::{AddrScope, LinkSnapshot};
use crate::model::PathId;
use crate::status::{
    self, ClassStatus, Clock, ConfigStatus, FamilyStates, PathStatus, ProbeStatus, Route, Snapshot,
    WallTime,
};
use crate::wg::TunnelStatus;

use super::observe::Observed;
use super::setup;

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

/// The probe rows of a path: the targets the configuration in force names, in its order,
/// so a reload that removes a target removes its row. The loss covers the rounds seen so
/// far, up to the window.
fn probe_rows(i: &Inputs<'_>, path: PathId) -> Vec<ProbeStatus> {
    let seen = i.observed.probes.get(&path);
    setup::probe_targets(i.cfg, path)
        .iter()
        .map(|target| {
            let target = target.to_string();
            let h = seen.and_then(|s| s.get(&target));
            ProbeStatus {
                last_latency_ms: h
                    .and_then(|h| h.last_latency)
                    .map(|d| d.as_secs_f64() * 1000.0),
                loss_percent: h.and_then(|h| h.loss_percent()),
                window: h.map_or(0, |h| h.results.len() as u32),
                last_error: h.and_then(|h| h.last_error.clone()),
                target,
            }
        })
        .collect()
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
            let probes = probe_rows(i, *path);
            PathStatus {
                name: path.to_string(),
                interface,
                state: s.health.name().to_owned(),
                // By state name (the families may have come up at different moments), and
                // only where both are routed: a family without a default route is not judged.
                families: (s.families.v4.name() != s.families.v6.name()
                    && s.default_routes.is_none_or(|d| d.v4 && d.v6))
                .then(|| FamilyStates {
                    ipv4: s.families.v4.name().to_owned(),
                    ipv6: s.families.v6.name().to_owned(),
                }),
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
            route: route(c.route.v4),
            route_ipv6: c.route.same().is_none().then(|| route(c.route.v6)),
            since: i.class_since.get(&c.name).map(|t| clock.since(*t)),
        })
        .collect();
    let events = i
        .engine
        .log()
        .map(|e| {
            let (subject, from, to) = match &e.change {
                engine::Change::Path {
                    path,
                    family,
                    from,
                    to,
                } => (
                    match family {
                        Some(f) => format!("{path} {f}"),
                        None => path.to_string(),
                    },
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
