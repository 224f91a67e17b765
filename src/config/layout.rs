//! Numbers derived from the routing configuration: class tables, the ip rule priority
//! layout and the fwmark values. Routing and nftables code use these, never their own.
//!
//! Rule priorities (offsets from `routing.rule_priority.start`), one priority per purpose and
//! fixed slots per path, so adding a path or a class never renumbers the others:
//!
//! | offset | rules |
//! |---|---|
//! | 0, 1, 2 | path rules of arc, wifi, cellular: `from <path address> lookup <path table>` and `fwmark <path mark>/<mask> lookup <path table>` |
//! | 3 | fwmark rule: `fwmark <tunnel mark>/<mask> lookup <wifi table>` (the WireGuard transport) |
//! | 4 | suppress rule: `lookup main suppress_prefixlength 0` |
//! | 5 + i | class rules of class i: its selectors (or none, for the default class) `lookup <class table>` |
//!
//! So the range must hold `RULES_FIXED + number of classes` = 3 + 1 + 1 + classes priorities.
//!
//! Marks live inside `routing.fwmark_mask`, which must be one contiguous run of bits. A mark
//! number n is placed as `n << mask.trailing_zeros()`: path marks are 1 (arc), 2 (wifi),
//! 3 (cellular), the tunnel mark is 4, class i has `MARK_FIRST_CLASS + i` (5, 6, ...). The mask
//! therefore needs room for the number `4 + classes`.

use std::collections::BTreeMap;

use super::types::{Config, RoutingConfig};
use crate::model::PathId;

/// Priorities used besides the class rules: 3 path slots, the fwmark rule, the suppress rule.
pub const RULES_FIXED: u32 = 5;
/// The mark number of the WireGuard transport socket.
pub const MARK_TUNNEL: u32 = 4;
/// The mark number of the first class.
pub const MARK_FIRST_CLASS: u32 = 5;

/// Every derived number in one place, for the routing, nftables and WireGuard code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Routing table of each configured path.
    pub path_tables: BTreeMap<PathId, u32>,
    /// Routing table of each class, in class order.
    pub class_tables: Vec<u32>,
    pub priorities: RulePriorities,
    pub marks: Marks,
}

/// `ip rule` priorities; see the module documentation for what sits where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulePriorities {
    pub paths: BTreeMap<PathId, u32>,
    pub fwmark: u32,
    pub suppress: u32,
    pub classes: Vec<u32>,
}

/// Firewall mark values, already shifted into `mask`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marks {
    pub mask: u32,
    pub paths: BTreeMap<PathId, u32>,
    pub tunnel: u32,
    pub classes: Vec<u32>,
}

fn slot(path: PathId) -> u32 {
    match path {
        PathId::Arc => 0,
        PathId::Wifi => 1,
        PathId::Cellular => 2,
    }
}

impl RoutingConfig {
    /// The routing table of a path.
    pub fn path_table(&self, path: PathId) -> u32 {
        match path {
            PathId::Arc => self.tables.arc,
            PathId::Wifi => self.tables.wifi,
            PathId::Cellular => self.tables.cellular,
        }
    }

    /// The routing table of class `index`; None if it would overflow.
    pub fn class_table(&self, index: usize) -> Option<u32> {
        u32::try_from(index)
            .ok()
            .and_then(|i| self.tables.classes_start.checked_add(i))
    }

    /// How many rule priorities arcway needs for `classes` classes.
    pub fn rules_needed(classes: usize) -> u64 {
        u64::from(RULES_FIXED) + classes as u64
    }

    /// How many priorities the configured range holds.
    pub fn rules_available(&self) -> u64 {
        u64::from(self.rule_priority.end).saturating_sub(u64::from(self.rule_priority.start)) + 1
    }

    /// The largest mark number the mask can hold.
    pub fn mark_capacity(&self) -> u32 {
        let mask = self.fwmark_mask;
        if mask == 0 {
            0
        } else {
            mask >> mask.trailing_zeros()
        }
    }

    /// Places mark number `n` inside the mask.
    pub fn mark(&self, n: u32) -> u32 {
        (n << self.fwmark_mask.trailing_zeros()) & self.fwmark_mask
    }

    /// The number of the path's mark (before shifting into the mask).
    pub fn path_mark_number(path: PathId) -> u32 {
        slot(path) + 1
    }
}

impl Config {
    /// The configured paths, in `PathId` order.
    pub fn paths(&self) -> Vec<PathId> {
        PathId::ALL
            .into_iter()
            .filter(|p| self.has_path(*p))
            .collect()
    }

    pub fn has_path(&self, path: PathId) -> bool {
        match path {
            PathId::Arc => self.arc.is_some(),
            PathId::Wifi => self.uplinks.wifi.is_some(),
            PathId::Cellular => self.uplinks.cellular.is_some(),
        }
    }

    /// Routing table of class `index` (validated to exist for every class).
    pub fn class_table(&self, index: usize) -> u32 {
        self.routing.class_table(index).unwrap_or(u32::MAX)
    }

    /// Tables, rule priorities and marks, derived from `routing` and the classes.
    pub fn layout(&self) -> Layout {
        let r = &self.routing;
        let start = r.rule_priority.start;
        let paths = self.paths();
        let n = self.classes.len();
        let class_number = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        Layout {
            path_tables: paths.iter().map(|&p| (p, r.path_table(p))).collect(),
            class_tables: (0..n).map(|i| self.class_table(i)).collect(),
            priorities: RulePriorities {
                paths: paths.iter().map(|&p| (p, start + slot(p))).collect(),
                fwmark: start + 3,
                suppress: start + 4,
                classes: (0..n)
                    .map(|i| start + RULES_FIXED + class_number(i))
                    .collect(),
            },
            marks: Marks {
                mask: r.fwmark_mask,
                paths: paths
                    .iter()
                    .map(|&p| (p, r.mark(RoutingConfig::path_mark_number(p))))
                    .collect(),
                tunnel: r.mark(MARK_TUNNEL),
                classes: (0..n)
                    .map(|i| r.mark(MARK_FIRST_CLASS + class_number(i)))
                    .collect(),
            },
        }
    }
}
