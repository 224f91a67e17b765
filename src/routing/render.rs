//! `ip rule` / `ip route`-like text for plans and states: used in logs, the status output
//! and the snapshot tests.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::model::{Change, Family, Route, RouteKind, RoutingObjects, Rule};

fn family_flag(family: Family) -> &'static str {
    match family {
        Family::V4 => "-4",
        Family::V6 => "-6",
    }
}

fn table_name(table: u32) -> String {
    match table {
        254 => "main".to_string(),
        255 => "local".to_string(),
        253 => "default".to_string(),
        t => t.to_string(),
    }
}

/// `pref 7100 fwmark 0x10000/0xff0000 lookup 7102` (without the family).
pub fn rule_text(rule: &Rule) -> String {
    let mut s = format!("pref {}", rule.priority);
    match rule.src {
        Some(src) => write!(s, " from {src}").ok(),
        None => write!(s, " from all").ok(),
    };
    if let Some(dst) = rule.dst {
        write!(s, " to {dst}").ok();
    }
    if let Some((mark, mask)) = rule.fwmark {
        write!(s, " fwmark {mark:#x}/{mask:#x}").ok();
    }
    write!(s, " lookup {}", table_name(rule.table)).ok();
    if let Some(len) = rule.suppress_prefixlen {
        write!(s, " suppress_prefixlength {len}").ok();
    }
    for other in &rule.other {
        write!(s, " [{other}]").ok();
    }
    s
}

/// `default via 192.0.2.1 dev wlan0 table 7102` (without the family).
pub fn route_text(route: &Route, links: &BTreeMap<u32, String>) -> String {
    let dst = if route.key.dst.prefix_len() == 0 {
        "default".to_string()
    } else {
        route.key.dst.to_string()
    };
    let mut s = match &route.kind {
        RouteKind::Unicast { gateway, oif } => {
            let dev = links
                .get(oif)
                .cloned()
                .unwrap_or_else(|| format!("if{oif}"));
            match gateway {
                Some(gw) => format!("{dst} via {gw} dev {dev}"),
                None => format!("{dst} dev {dev}"),
            }
        }
        RouteKind::Unreachable => format!("unreachable {dst}"),
        RouteKind::Prohibit => format!("prohibit {dst}"),
        RouteKind::Other(what) => format!("{dst} [{what}]"),
    };
    write!(s, " table {}", table_name(route.key.table)).ok();
    if route.key.metric != route.family().default_metric() {
        write!(s, " metric {}", route.key.metric).ok();
    }
    s
}

/// One line per change, as the equivalent `ip` command.
pub fn render_changes(changes: &[Change], links: &BTreeMap<u32, String>) -> String {
    let mut out = String::new();
    for change in changes {
        let line = match change {
            Change::AddRoute(r) => format!(
                "ip {} route add {}",
                family_flag(r.family()),
                route_text(r, links)
            ),
            Change::ReplaceRoute(r) => {
                format!(
                    "ip {} route replace {}",
                    family_flag(r.family()),
                    route_text(r, links)
                )
            }
            Change::DelRoute(r) => format!(
                "ip {} route del {}",
                family_flag(r.family()),
                route_text(r, links)
            ),
            Change::AddRule(r) => format!("ip {} rule add {}", family_flag(r.family), rule_text(r)),
            Change::DelRule(r) => format!("ip {} rule del {}", family_flag(r.family), rule_text(r)),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The whole state, rules first (in priority order) then routes by table.
pub fn render_objects(objects: &RoutingObjects, links: &BTreeMap<u32, String>) -> String {
    let mut rules: Vec<&Rule> = objects.rules.iter().collect();
    rules.sort_by_key(|r| (r.family, r.priority));
    let mut out = String::new();
    for rule in rules {
        writeln!(out, "{} rule {}", family_flag(rule.family), rule_text(rule)).ok();
    }
    for route in objects.route_list() {
        writeln!(
            out,
            "{} route {}",
            family_flag(route.family()),
            route_text(&route, links)
        )
        .ok();
    }
    out
}
