//! Where arcway's objects live: table ids, the rule priority range and the fwmark mask.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use crate::model::PathId;

use super::RoutingError;

/// Priority offsets inside the range (see the module documentation for the whole layout).
const SLOT_SUPPRESS: u32 = 3;
const SLOT_SOURCE: u32 = 4;
const SLOT_FIRST_CLASS: u32 = 5;

/// Table ids, the priority range and the mark mask from the `routing:` config section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub path_tables: BTreeMap<PathId, u32>,
    pub classes_start: u32,
    pub priorities: RangeInclusive<u32>,
    pub fwmark_mask: u32,
}

impl Default for Layout {
    /// The defaults of the config contract.
    fn default() -> Layout {
        Layout {
            path_tables: BTreeMap::from([
                (PathId::Arc, 7101),
                (PathId::Wifi, 7102),
                (PathId::Cellular, 7103),
            ]),
            classes_start: 7110,
            priorities: 7100..=7199,
            fwmark_mask: 0x00ff_0000,
        }
    }
}

impl Layout {
    /// Checks that the range holds the fixed slots plus `classes` class rules and that table
    /// ids and the mask are usable.
    pub fn validate(&self, classes: usize) -> Result<(), RoutingError> {
        let (start, end) = (*self.priorities.start(), *self.priorities.end());
        let needed = SLOT_FIRST_CLASS as usize + classes;
        if end < start || ((end - start) as usize) < needed {
            return Err(RoutingError::Layout(format!(
                "rule priority range {start}-{end} is too small for {classes} classes"
            )));
        }
        if self.fwmark_mask == 0 {
            return Err(RoutingError::Layout("fwmark mask is 0".into()));
        }
        let reserved = [0, 253, 254, 255];
        let mut seen = BTreeSet::new();
        for table in self
            .path_tables
            .values()
            .copied()
            .chain(self.class_tables(classes))
        {
            if reserved.contains(&table) || !seen.insert(table) {
                return Err(RoutingError::Layout(format!(
                    "table {table} is reserved or used twice"
                )));
            }
        }
        Ok(())
    }

    pub fn path_table(&self, path: PathId) -> Option<u32> {
        self.path_tables.get(&path).copied()
    }

    /// Table of the class at `index` in config order.
    pub fn class_table(&self, index: usize) -> u32 {
        self.classes_start + index as u32
    }

    fn class_tables(&self, classes: usize) -> impl Iterator<Item = u32> + '_ {
        (0..classes).map(|i| self.class_table(i))
    }

    /// Whether a table id belongs to arcway: a path table or one of the class tables that
    /// the priority range could ever address (so tables of classes removed from the config
    /// are still recognised and cleaned).
    pub fn owns_table(&self, table: u32) -> bool {
        let slots = self.class_slots();
        self.path_tables.values().any(|t| *t == table)
            || (table >= self.classes_start && table - self.classes_start < slots)
    }

    fn class_slots(&self) -> u32 {
        let span = self
            .priorities
            .end()
            .saturating_sub(*self.priorities.start());
        span.saturating_sub(SLOT_FIRST_CLASS)
    }

    pub fn owns_priority(&self, priority: u32) -> bool {
        self.priorities.contains(&priority)
    }

    /// Priority of the `fwmark` rule of a path: wifi first (WireGuard's own UDP), then the others.
    pub fn mark_priority(&self, path: PathId) -> u32 {
        let slot = match path {
            PathId::Wifi => 0,
            PathId::Arc => 1,
            PathId::Cellular => 2,
        };
        self.priorities.start() + slot
    }

    pub fn suppress_priority(&self) -> u32 {
        self.priorities.start() + SLOT_SUPPRESS
    }

    pub fn source_priority(&self) -> u32 {
        self.priorities.start() + SLOT_SOURCE
    }

    pub fn class_priority(&self, index: usize) -> u32 {
        self.priorities.start() + SLOT_FIRST_CLASS + index as u32
    }

    /// The default class always comes last.
    pub fn default_class_priority(&self) -> u32 {
        *self.priorities.end()
    }

    /// `value` shifted into the mask (value 1 = the mask's lowest bit).
    pub fn mark(&self, value: u32) -> u32 {
        (value << self.fwmark_mask.trailing_zeros()) & self.fwmark_mask
    }

    /// The conventional mark of a path (1, 2, 3 inside the mask).
    pub fn path_mark(&self, path: PathId) -> u32 {
        let value = match path {
            PathId::Arc => 1,
            PathId::Wifi => 2,
            PathId::Cellular => 3,
        };
        self.mark(value)
    }

    /// The conventional mark of the class at `index` (16 and up inside the mask).
    pub fn class_mark(&self, index: usize) -> u32 {
        self.mark(16 + index as u32)
    }
}
