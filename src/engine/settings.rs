//! What the decision engine needs to know from the configuration, and nothing more.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{PathId, Policy};

/// Hysteresis of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSettings {
    /// Failing evidence for this long takes the path down (carrier or bearer loss does at once).
    pub down_after: Duration,
    /// Good evidence for this long brings the path up again.
    pub up_after: Duration,
}

/// One entry of a class's ordered path preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassPath {
    pub path: PathId,
    pub policy: Policy,
}

/// A traffic class: its name and the paths it prefers, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSettings {
    pub name: String,
    pub paths: Vec<ClassPath>,
}

/// Everything the engine is configured with. Only configured paths appear in `paths`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub paths: BTreeMap<PathId, PathSettings>,
    pub classes: Vec<ClassSettings>,
}
