//! Numbers derived from the routing configuration: class tables, the ip rule priority
//! layout and the fwmark values. They come from `routing::Layout`, the one place that decides
//! where each rule and mark sits (see the `routing` module documentation), so the summary,
//! the checks and the kernel objects can never disagree.
//!
//! | offset from `rule_priority.start` | rules |
//! |---|---|
//! | 0, 1, 2 | `fwmark <path mark>/<mask> lookup <path table>` for wifi, arc, cellular (the WireGuard transport carries the wifi mark) |
//! | 3 | `lookup main suppress_prefixlength 0` |
//! | 4 | `from <path address> lookup <path table>` for every path address |
//! | 5 + i | class i: its selectors `lookup <class table>` |
//! | `rule_priority.end` | the default class (no match) |
//!
//! So the range must hold `RULES_FIXED + classes + 1` priorities.
//!
//! Marks live inside `routing.fwmark_mask`, which must be one contiguous run of bits. A mark
//! number n is placed as `n << mask.trailing_zeros()`: path marks are 1 (arc), 2 (wifi),
//! 3 (cellular); class i has `MARK_FIRST_CLASS + i`. The mask therefore needs room for the
//! number `MARK_FIRST_CLASS + classes - 1`.

use std::collections::BTreeMap;

use super::types::{Config, RoutingConfig};
use crate::model::PathId;

/// Priorities before the first class rule: 3 path mark slots, the suppress rule, source rules.
pub const RULES_FIXED: u32 = 5;
/// The mark number of the first class.
pub const MARK_FIRST_CLASS: u32 = 16;

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

    /// How many rule priorities arcway needs for `classes` classes (the default class
    /// takes the range's last priority, so one more than the slots in front of it).
    pub fn rules_needed(classes: usize) -> u64 {
        u64::from(RULES_FIXED) + classes as u64 + 1
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

    /// Where the routing code puts arcway's tables, rules and marks.
    pub fn routing_layout(&self) -> crate::routing::Layout {
        let r = &self.routing;
        crate::routing::Layout {
            path_tables: self
                .paths()
                .into_iter()
                .map(|p| (p, r.path_table(p)))
                .collect(),
            classes_start: r.tables.classes_start,
            priorities: r.rule_priority.start..=r.rule_priority.end,
            fwmark_mask: r.fwmark_mask,
        }
    }

    /// Tables, rule priorities and marks, derived from `routing` and the classes.
    pub fn layout(&self) -> Layout {
        let rl = self.routing_layout();
        let paths = self.paths();
        let n = self.classes.len();
        Layout {
            path_tables: rl.path_tables.clone(),
            class_tables: (0..n).map(|i| self.class_table(i)).collect(),
            priorities: RulePriorities {
                paths: paths.iter().map(|&p| (p, rl.mark_priority(p))).collect(),
                fwmark: rl.mark_priority(PathId::Wifi),
                suppress: rl.suppress_priority(),
                classes: self
                    .classes
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if c.matcher.is_none() {
                            rl.default_class_priority()
                        } else {
                            rl.class_priority(i)
                        }
                    })
                    .collect(),
            },
            marks: Marks {
                mask: r_mask(&rl),
                paths: paths.iter().map(|&p| (p, rl.path_mark(p))).collect(),
                tunnel: rl.path_mark(PathId::Wifi),
                classes: (0..n).map(|i| rl.class_mark(i)).collect(),
            },
        }
    }
}

fn r_mask(l: &crate::routing::Layout) -> u32 {
    l.fwmark_mask
}
