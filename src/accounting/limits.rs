//! Data budgets from the configuration.

use std::collections::BTreeMap;

use crate::config::{Config, Period};
use crate::model::{PathId, Policy};

/// The budgets to enforce and the period they renew with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub period: Period,
    /// First day of a monthly period (1..=31; short months use their last day).
    pub reset_day: u8,
    /// The line's budget per path (`budget.cellular.bytes`).
    pub lines: BTreeMap<PathId, u64>,
    /// A class's own budget on a path (`{path: cellular, policy: budget, bytes: ...}`).
    pub classes: BTreeMap<(String, PathId), u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            period: Period::Monthly,
            reset_day: 1,
            lines: BTreeMap::new(),
            classes: BTreeMap::new(),
        }
    }
}

impl Limits {
    /// `budget.cellular` and every class's `policy: budget` entry with `bytes`. Without a
    /// `budget.cellular` section, class budgets renew monthly on the 1st.
    pub fn from_config(config: &Config) -> Limits {
        let mut limits = Limits::default();
        if let Some(b) = &config.budget.cellular {
            limits.period = b.period;
            limits.reset_day = b.reset_day;
            limits.lines.insert(PathId::Cellular, b.bytes);
        }
        for class in &config.classes {
            for p in &class.paths {
                if let (Policy::Budget, Some(bytes)) = (p.policy, p.bytes) {
                    limits.classes.insert((class.name.clone(), p.path), bytes);
                }
            }
        }
        limits
    }
}
