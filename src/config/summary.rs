//! What `arcway check-config` prints, and the engine's share of the configuration.

use std::time::Duration;

use super::types::{
    ClassConfig, ClassPathConfig, Config, Match, ModemSelector, Probe, RoutingConfig,
};
use crate::engine::{ClassPath, ClassSettings, PathSettings, Settings, SignalSettings};
use crate::model::{Family, PathId, PerFamily, Policy};

/// `1500ms`, `3s`, `2m`, `1h`, `1d`: the largest unit that writes the value exactly.
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    match units.iter().find(|(n, _)| ms > 0 && ms.is_multiple_of(*n)) {
        Some((n, unit)) => format!("{}{unit}", ms / n),
        None => format!("{ms}ms"),
    }
}

/// `1GiB`, `500MB`, or plain bytes.
pub fn bytes(b: u64) -> String {
    let units = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
        (1_000_000_000, "GB"),
        (1_000_000, "MB"),
        (1_000, "KB"),
    ];
    match units.iter().find(|(n, _)| b > 0 && b.is_multiple_of(*n)) {
        Some((n, unit)) => format!("{}{unit}", b / n),
        None => format!("{b}B"),
    }
}

fn class_path(p: &ClassPathConfig) -> String {
    match (p.policy, p.hold_action, p.bytes) {
        (Policy::Allow, ..) => p.path.to_string(),
        (Policy::Hold, Some(action), _) => format!("{} (hold: {action})", p.path),
        (Policy::Budget, _, Some(b)) => format!("{} (budget {})", p.path, bytes(b)),
        (policy, ..) => format!("{} ({policy})", p.path),
    }
}

fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join(",")
}

fn matcher(m: &Match) -> String {
    let mut parts = Vec::new();
    let mut add = |name: &str, list: String| {
        if !list.is_empty() {
            parts.push(format!("{name} {list}"));
        }
    };
    add("to", join(&m.destinations));
    add("proto", join(&m.protocols));
    add("ports", join(&m.ports));
    add("dscp", join(&m.dscp));
    add("from", join(&m.sources));
    add("iif", join(&m.interfaces));
    add("uid", join(&m.uids));
    add("cgroup", join(&m.cgroups));
    add("mark", join(&m.fwmarks));
    parts.join(" ")
}

impl Config {
    /// A short normalized description, one fact per line, for `arcway check-config`.
    pub fn summary(&self) -> String {
        let layout = self.layout();
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line("paths:".into());
        for path in self.paths() {
            let what = match path {
                PathId::Arc => self.arc.as_ref().map(|a| {
                    let endpoint = a.endpoint.as_ref().map_or("from credentials".to_owned(), ToString::to_string);
                    format!("interface {} over wifi, mtu {}, keepalive {}, backend {}, endpoint {endpoint}",
                        a.interface, a.mtu, duration(a.keepalive), a.backend)
                }),
                PathId::Wifi => self.uplinks.wifi.as_ref().map(|w| format!("interface {}", w.interface)),
                PathId::Cellular => self.uplinks.cellular.as_ref().map(|c| {
                    let modem = match &c.modem {
                        _ if !c.modemmanager => "none (interface only)".to_owned(),
                        ModemSelector::First => "first".to_owned(),
                        ModemSelector::EquipmentId(s) => format!("equipment_id {s}"),
                        ModemSelector::Iccid(s) => format!("iccid {s}"),
                        ModemSelector::Imsi(s) => format!("imsi {s}"),
                        ModemSelector::Device(s) => format!("device {s}"),
                    };
                    let bearer = if c.manage { format!("connected by arcway (apn {})", c.apn) } else { "watched".to_owned() };
                    format!("interface {}, modem {modem}, bearer {bearer}", c.interface.as_deref().unwrap_or("from ModemManager"))
                }),
            };
            let table = layout.path_tables.get(&path).copied().unwrap_or_default();
            let prio = layout
                .priorities
                .paths
                .get(&path)
                .copied()
                .unwrap_or_default();
            let mark = layout.marks.paths.get(&path).copied().unwrap_or_default();
            line(format!(
                "  {:<9} {}; table {table}, rule {prio}, mark {mark:#x}",
                path.as_str(),
                what.unwrap_or_default()
            ));
        }
        line("health:".into());
        for (path, h) in &self.health {
            let probes: Vec<String> = h.probes.iter().map(ToString::to_string).collect();
            line(format!(
                "  {:<9} every {}, timeout {}, quorum {}/{}, down after {}, up after {}: {}",
                path.as_str(),
                duration(h.interval),
                duration(h.timeout),
                h.quorum,
                h.probes.len(),
                duration(h.down_after),
                duration(h.up_after),
                probes.join(", ")
            ));
        }
        line("classes:".into());
        for (i, c) in self.classes.iter().enumerate() {
            line(class_line(
                c,
                layout.class_tables[i],
                layout.priorities.classes[i],
                layout.marks.classes[i],
            ));
        }
        let r = &self.routing;
        line(format!(
            "routing: rules {}..={} ({} used), fwmark rule {} (tunnel mark {:#x}), suppress rule {}, fwmark mask {:#010x}",
            r.rule_priority.start,
            r.rule_priority.end,
            RoutingConfig::rules_needed(self.classes.len()),
            layout.priorities.fwmark,
            layout.marks.tunnel,
            layout.priorities.suppress,
            r.fwmark_mask
        ));
        if let Some(b) = &self.budget.cellular {
            line(format!(
                "budget: cellular {} {} (reset day {})",
                bytes(b.bytes),
                b.period,
                b.reset_day
            ));
        }
        let metrics = self
            .metrics
            .listen
            .map_or("off".to_owned(), |a| a.to_string());
        line(format!(
            "status: {}; metrics: {metrics}; logging: {} {}",
            self.status.socket.display(),
            self.logging.level,
            self.logging.format
        ));
        out
    }

    /// The paths' hysteresis and the classes' preferences, for the decision engine.
    pub fn engine_settings(&self) -> Settings {
        Settings {
            paths: self
                .health
                .iter()
                .map(|(&p, h)| {
                    (
                        p,
                        PathSettings {
                            down_after: h.down_after,
                            up_after: h.up_after,
                            handshake_max_age: h
                                .handshake_max_age
                                .unwrap_or(PathSettings::default().handshake_max_age),
                            // The tunnel's UDP rides the Wi-Fi uplink (the fwmark rule).
                            underlay: (p == PathId::Arc).then_some(PathId::Wifi),
                            interface: self.interface(p),
                            // A tunnel over Wi-Fi is back as soon as the Wi-Fi it rides is.
                            reassoc_up_after: match p {
                                PathId::Arc => self
                                    .health
                                    .get(&PathId::Wifi)
                                    .and_then(|w| w.reassoc_up_after),
                                _ => h.reassoc_up_after,
                            },
                            signal: h.signal.map(|s| SignalSettings {
                                below_dbm: s.below_dbm,
                                hysteresis_db: s.hysteresis_db,
                                hold: s.hold,
                            }),
                            probed: probed_families(&h.probes),
                        },
                    )
                })
                .collect(),
            classes: self
                .classes
                .iter()
                .map(|c| ClassSettings {
                    families: class_families(c.matcher.as_ref()),
                    name: c.name.clone(),
                    paths: c
                        .paths
                        .iter()
                        .map(|p| ClassPath {
                            path: p.path,
                            policy: p.policy,
                        })
                        .collect(),
                })
                .collect(),
            ..Settings::default()
        }
    }

    /// The interface a path uses, as configured.
    pub fn interface(&self, path: PathId) -> Option<String> {
        match path {
            PathId::Arc => self.arc.as_ref().map(|a| a.interface.clone()),
            PathId::Wifi => self.uplinks.wifi.as_ref().map(|w| w.interface.clone()),
            PathId::Cellular => self
                .uplinks
                .cellular
                .as_ref()
                .and_then(|c| c.interface.clone()),
        }
    }
}

fn class_line(c: &ClassConfig, table: u32, prio: u32, mark: u32) -> String {
    let paths: Vec<String> = c.paths.iter().map(class_path).collect();
    let what = c
        .matcher
        .as_ref()
        .map_or("everything else".to_owned(), matcher);
    format!(
        "  {:<12} -> {}; {what}; table {table}, rule {prio}, mark {mark:#x}",
        c.name,
        paths.join(", ")
    )
}

/// The families a path's probes reach: each family is judged by its own probes only.
fn probed_families(probes: &[Probe]) -> PerFamily<bool> {
    let has = |f: Family| probes.iter().any(|p| p.family() == Some(f));
    PerFamily {
        v4: has(Family::V4),
        v6: has(Family::V6),
    }
}

/// The families a class has traffic in: a destination class only those of its CIDRs.
fn class_families(matcher: Option<&Match>) -> PerFamily<bool> {
    match matcher {
        Some(m) if m.destinations_only() => PerFamily {
            v4: m
                .destinations
                .iter()
                .any(|n| Family::of_net(n) == Family::V4),
            v6: m
                .destinations
                .iter()
                .any(|n| Family::of_net(n) == Family::V6),
        },
        _ => PerFamily::both(true),
    }
}
