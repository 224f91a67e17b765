//! The pure diff between what the kernel has and what arcway wants.
//!
//! Order matters for traffic: routes are written before the rules that point at them, new
//! rules are added before stale ones go (a moved rule never leaves a gap), and stale routes
//! go last, after no rule of ours can reach them any more.

use super::desired::DesiredRouting;
use super::model::{Change, KernelRouting, Route};

/// The changes that turn `current` into `desired`. `current` must only hold arcway's own
/// objects (its priority range and its tables); nothing else is ever deleted.
pub fn plan(current: &KernelRouting, desired: &DesiredRouting) -> Vec<Change> {
    let want = &desired.objects;
    let mut changes = Vec::new();

    for (key, kind) in &want.routes {
        let route = Route {
            key: *key,
            kind: kind.clone(),
        };
        match current.routes.get(key) {
            None => changes.push(Change::AddRoute(route)),
            Some(have) if have != kind => changes.push(Change::ReplaceRoute(route)),
            Some(_) => {}
        }
    }
    for rule in want.rules.difference(&current.rules) {
        changes.push(Change::AddRule(rule.clone()));
    }
    for rule in current.rules.difference(&want.rules) {
        changes.push(Change::DelRule(rule.clone()));
    }
    for route in current.route_list() {
        if !want.routes.contains_key(&route.key) {
            changes.push(Change::DelRoute(route));
        }
    }
    changes
}

/// Applies `changes` to a model of the kernel, as the kernel would (for tests and for
/// predicting the state after a partial apply).
pub fn simulate(current: &mut KernelRouting, changes: &[Change]) {
    for change in changes {
        match change {
            Change::AddRoute(route) | Change::ReplaceRoute(route) => {
                current.routes.insert(route.key, route.kind.clone());
            }
            Change::DelRoute(route) => {
                current.routes.remove(&route.key);
            }
            Change::AddRule(rule) => {
                current.rules.insert(rule.clone());
            }
            Change::DelRule(rule) => {
                current.rules.remove(rule);
            }
        }
    }
}
