//! Class -> path selection, per address family: the first path that is usable in the
//! family, has a default route in it, and that the class's policy allows.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use super::health::Health;
use super::settings::ClassSettings;
use super::signal::select_avoiding;
use crate::model::{Family, PathId, PerFamily, Policy};

pub use crate::model::ClassRoute;

/// A class's route in each family.
pub type ClassRoutes = PerFamily<ClassRoute>;

/// Why a preferred path was passed over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum SkipReason {
    /// The class names a path the configuration does not have.
    NotConfigured,
    /// The path is not usable in this health state.
    NotUsable { state: &'static str },
    /// The path has no default route in the family.
    NoRoute,
    /// The class's policy on this path is hold.
    Hold,
    /// Budget policy and the line's (`class_budget: false`) or the class's budget is spent.
    BudgetSpent { class_budget: bool },
    /// Usable, but degraded (weak Wi-Fi signal) and the class has another way out.
    Degraded,
}

/// A path the class preferred but did not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    pub path: PathId,
    #[serde(flatten)]
    pub reason: SkipReason,
    /// The family it was skipped in; `None` when skipped in both alike.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path;
        match &self.reason {
            SkipReason::NotConfigured => write!(f, "{p} not configured"),
            SkipReason::NotUsable { state } => write!(f, "{p} {state}"),
            SkipReason::NoRoute => write!(f, "{p} has no default route"),
            SkipReason::Hold => write!(f, "{p} on hold"),
            SkipReason::BudgetSpent {
                class_budget: false,
            } => write!(f, "{p} budget spent"),
            SkipReason::BudgetSpent { class_budget: true } => write!(f, "{p} class budget spent"),
            SkipReason::Degraded => write!(f, "{p} degraded"),
        }?;
        match self.family {
            Some(family) => write!(f, " ({family})"),
            None => Ok(()),
        }
    }
}

/// Spent data budgets: `(path, None)` is the line's total, `(path, Some(class))` a class's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Budgets(BTreeSet<(PathId, Option<String>)>);

impl Budgets {
    pub fn set(&mut self, path: PathId, class: Option<String>, exhausted: bool) {
        if exhausted {
            self.0.insert((path, class));
        } else {
            self.0.remove(&(path, class));
        }
    }

    pub fn line_spent(&self, path: PathId) -> bool {
        self.0.contains(&(path, None))
    }

    /// Which budget stops `class` from using `path`, if any (the line's first).
    fn spent(&self, path: PathId, class: &str) -> Option<SkipReason> {
        if self.line_spent(path) {
            Some(SkipReason::BudgetSpent {
                class_budget: false,
            })
        } else if self.0.contains(&(path, Some(class.to_owned()))) {
            Some(SkipReason::BudgetSpent { class_budget: true })
        } else {
            None
        }
    }
}

/// Picks the route of `class` in `family`: the first path that has a default route in
/// the family, is usable in it and allowed. Failing that, `Held` on the first such path
/// its policy refused, else `Unreachable`. Also returns the skipped paths before the
/// choice, which is the evidence the log shows.
pub(crate) fn select(
    class: &ClassSettings,
    family: Family,
    health: impl Fn(PathId, Family) -> Option<Health>,
    has_route: impl Fn(PathId, Family) -> bool,
    budgets: &Budgets,
) -> (ClassRoute, Vec<Skip>) {
    let mut skipped = Vec::new();
    let mut held = None;
    for entry in &class.paths {
        let path = entry.path;
        let reason = match health(path, family) {
            None => SkipReason::NotConfigured,
            Some(_) if !has_route(path, family) => SkipReason::NoRoute,
            Some(h) if !h.is_usable() => SkipReason::NotUsable { state: h.name() },
            Some(_) => match entry.policy {
                Policy::Allow => return (ClassRoute::Via(path), skipped),
                Policy::Hold => SkipReason::Hold,
                Policy::Budget => match budgets.spent(path, &class.name) {
                    None => return (ClassRoute::Via(path), skipped),
                    Some(reason) => reason,
                },
            },
        };
        if matches!(reason, SkipReason::Hold | SkipReason::BudgetSpent { .. }) {
            held.get_or_insert(path);
        }
        skipped.push(Skip {
            path,
            reason,
            family: Some(family),
        });
    }
    (
        held.map_or(ClassRoute::Unreachable, ClassRoute::Held),
        skipped,
    )
}

/// The routes of `class` in both families, with the skips of both: a skip made alike in
/// both families is shown once, untagged.
/// A degraded path is avoided in each family where the class has another way out.
pub(crate) fn select_both(
    class: &ClassSettings,
    health: impl Fn(PathId, Family) -> Option<Health>,
    has_route: impl Fn(PathId, Family) -> bool,
    degraded: impl Fn(PathId) -> bool,
    budgets: &Budgets,
) -> (ClassRoutes, Vec<Skip>) {
    let in_family =
        |family| select_avoiding(class, family, &health, &has_route, &degraded, budgets);
    let (v4, skipped4) = in_family(Family::V4);
    let (v6, skipped6) = in_family(Family::V6);
    let untagged = |skips: Vec<Skip>| {
        let skips = skips.into_iter().map(|s| Skip { family: None, ..s });
        skips.collect::<Vec<_>>()
    };
    match (class.families.v4, class.families.v6) {
        (true, false) => return (ClassRoutes::both(v4), untagged(skipped4)),
        (false, true) => return (ClassRoutes::both(v6), untagged(skipped6)),
        _ => {}
    }
    let alike = |a: &Skip, b: &Skip| a.path == b.path && a.reason == b.reason;
    let mut skipped: Vec<Skip> = skipped4
        .iter()
        .map(|a| Skip {
            family: if skipped6.iter().any(|b| alike(a, b)) {
                None
            } else {
                a.family
            },
            ..a.clone()
        })
        .collect();
    skipped.extend(
        skipped6
            .into_iter()
            .filter(|b| !skipped4.iter().any(|a| alike(a, b))),
    );
    (ClassRoutes { v4, v6 }, skipped)
}
