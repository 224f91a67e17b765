//! `classes:`: names, path preferences and policies, the default class, overlaps.

use std::collections::BTreeSet;

use ipnet::IpNet;

use super::{Check, idx, key, names};
use crate::config::error::Pos;
use crate::config::kinds::HoldAction;
use crate::config::raw::{RawClass, RawClassPath, S};
use crate::config::types::{Budgets, ClassConfig, ClassPathConfig, RoutingConfig};
use crate::model::{PathId, Policy};

/// Where a path is configured, for messages.
fn configured_at(path: PathId) -> &'static str {
    match path {
        PathId::Arc => "arc:",
        PathId::Wifi => "uplinks.wifi",
        PathId::Cellular => "uplinks.cellular",
    }
}

pub fn check(
    c: &mut Check,
    raw: Option<S<Vec<S<RawClass>>>>,
    configured: &BTreeSet<PathId>,
    budget: &Budgets,
    routing: &RoutingConfig,
) -> Vec<ClassConfig> {
    let Some(list) = raw else {
        c.err(
            "classes",
            Pos::START,
            "no classes are configured (at least one is needed)",
        );
        return Vec::new();
    };
    if list.value.is_empty() {
        c.err(
            "classes",
            Pos::of(&list),
            "no classes are configured (at least one is needed)",
        );
    }
    let count = list.value.len();
    let mut seen_names: Vec<(String, usize)> = Vec::new();
    let mut default_class: Option<usize> = None;
    let mut destinations: Vec<(IpNet, Pos, String, usize)> = Vec::new();
    let mut classes = Vec::with_capacity(count);
    for (i, class) in list.value.into_iter().enumerate() {
        let here = Pos::of(&class);
        let base = idx("classes", i);
        let class = class.value;
        let name = class.name.value.clone();
        if let Err(m) = names::class_name(&name) {
            c.err(key(&base, "name"), Pos::of(&class.name), m);
        } else if let Some((_, first)) = seen_names.iter().find(|(n, _)| *n == name) {
            c.err(
                key(&base, "name"),
                Pos::of(&class.name),
                format!("duplicate class name `{name}` (first used by classes[{first}])"),
            );
        }
        seen_names.push((name.clone(), i));
        let matcher = match class.matcher {
            None => {
                if let Some(first) = default_class {
                    c.err(&base, here, format!("only one class may leave out match: (classes[{first}] already takes everything else)"));
                } else if i + 1 != count {
                    c.err(&base, here, format!("class `{name}` has no match: so it takes everything; it must be the last class"));
                }
                default_class.get_or_insert(i);
                None
            }
            Some(m) => {
                let m_base = key(&base, "match");
                for (j, d) in m.value.destinations.iter().enumerate() {
                    destinations.push((
                        d.value.0,
                        Pos::of(d),
                        idx(&key(&m_base, "destinations"), j),
                        i,
                    ));
                }
                Some(super::matcher::check(c, &m_base, m, routing))
            }
        };
        let paths = check_paths(c, &base, &name, class.paths, configured, budget);
        classes.push(ClassConfig {
            name,
            matcher,
            paths,
        });
    }
    check_overlaps(c, &destinations, &classes);
    classes
}

fn check_overlaps(
    c: &mut Check,
    destinations: &[(IpNet, Pos, String, usize)],
    classes: &[ClassConfig],
) {
    for (n, (net, pos, path, class)) in destinations.iter().enumerate() {
        let earlier = destinations[..n].iter().find(|(other, _, _, other_class)| {
            other_class != class && (other.contains(net) || net.contains(other))
        });
        if let Some((other, _, other_path, other_class)) = earlier {
            let other_name = classes.get(*other_class).map_or("?", |c| c.name.as_str());
            c.err(
                path.as_str(),
                *pos,
                format!(
                    "destination {net} overlaps {other} of class `{other_name}` ({other_path})"
                ),
            );
        }
    }
}

fn check_paths(
    c: &mut Check,
    base: &str,
    class: &str,
    raw: S<Vec<S<RawClassPath>>>,
    configured: &BTreeSet<PathId>,
    budget: &Budgets,
) -> Vec<ClassPathConfig> {
    let list_base = key(base, "paths");
    if raw.value.is_empty() {
        c.err(
            &list_base,
            Pos::of(&raw),
            format!("class `{class}` has no paths"),
        );
    }
    let mut out: Vec<ClassPathConfig> = Vec::new();
    for (i, entry) in raw.value.into_iter().enumerate() {
        let at = idx(&list_base, i);
        let entry_pos = Pos::of(&entry);
        let (name, name_at, name_pos, map) = match entry.value {
            RawClassPath::Name(n) => (n, at.clone(), entry_pos, None),
            RawClassPath::Full(m) => (
                m.path.value.clone(),
                key(&at, "path"),
                Pos::of(&m.path),
                Some(m),
            ),
        };
        let path = match name.parse::<PathId>() {
            Ok(p) => p,
            Err(msg) => {
                c.err(name_at, name_pos, msg);
                continue;
            }
        };
        if !configured.contains(&path) {
            c.err(
                &name_at,
                name_pos,
                format!(
                    "class `{class}` uses the {path} path, which is not configured ({})",
                    configured_at(path)
                ),
            );
        }
        if out.iter().any(|p| p.path == path) {
            c.err(
                &name_at,
                name_pos,
                format!("path {path} is listed twice in class `{class}`"),
            );
        }
        let mut cp = ClassPathConfig {
            path,
            policy: Policy::Allow,
            hold_action: None,
            bytes: None,
        };
        if let Some(m) = map {
            let policy = m.policy.as_ref().map_or(Policy::Allow, |p| p.value);
            let policy_pos = m.policy.as_ref().map_or(entry_pos, Pos::of);
            cp.policy = policy;
            if let Some(h) = m.hold_action.as_ref().filter(|_| policy != Policy::Hold) {
                c.err(
                    key(&at, "hold_action"),
                    Pos::of(h),
                    format!("hold_action only applies to policy hold (the policy is {policy})"),
                );
            }
            if let Some(b) = &m.bytes {
                if policy != Policy::Budget {
                    c.err(
                        key(&at, "bytes"),
                        Pos::of(b),
                        format!("bytes only applies to policy budget (the policy is {policy})"),
                    );
                } else if b.value.0 == 0 {
                    c.err(
                        key(&at, "bytes"),
                        Pos::of(b),
                        "bytes must be more than zero",
                    );
                }
                cp.bytes = Some(b.value.0);
            }
            if policy == Policy::Budget {
                if path != PathId::Cellular {
                    c.err(
                        key(&at, "policy"),
                        policy_pos,
                        "policy budget only applies to the cellular path",
                    );
                } else if m.bytes.is_none() && budget.cellular.is_none() {
                    c.err(
                        key(&at, "policy"),
                        policy_pos,
                        "policy budget needs bytes: here or a budget.cellular section",
                    );
                }
            }
            if matches!(policy, Policy::Hold | Policy::Budget) {
                cp.hold_action = Some(m.hold_action.map_or(HoldAction::Reject, |h| h.value));
            }
        }
        out.push(cp);
    }
    out
}
