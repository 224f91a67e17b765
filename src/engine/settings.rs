//! What the decision engine needs to know from the configuration, and nothing more.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{PathId, PerFamily, Policy};

/// How many log entries the engine keeps when the configuration does not say.
pub const DEFAULT_LOG_CAPACITY: usize = 256;

/// Hysteresis and wiring of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSettings {
    /// Failing evidence for this long takes the path down (carrier or bearer loss does at once).
    pub down_after: Duration,
    /// Good evidence for this long brings the path up again.
    pub up_after: Duration,
    /// Tunnel paths only (Arc): a latest handshake older than this is failing evidence.
    /// WireGuard drops a session 180 s after its handshake, so older means no session.
    pub handshake_max_age: Duration,
    /// The path this one rides on (Arc rides on Wi-Fi): losing the underlay's carrier takes
    /// this path down at once instead of waiting for its probes to time out.
    pub underlay: Option<PathId>,
    /// Interface name, only used to make log evidence readable ("carrier lost on wlan0").
    pub interface: Option<String>,
    /// Replaces `up_after` when the outage was a quick reassociation: the path had been up
    /// for `up_after`, lost its link (or its underlay's), and the link came back within
    /// `up_after`.
    pub reassoc_up_after: Option<Duration>,
    /// Make-before-break on a weak Wi-Fi signal (the wifi path only); `None`: off.
    pub signal: Option<SignalSettings>,
    /// The families the path's probes cover. A family without probes of its own is judged
    /// on link evidence alone (carrier, bearer, handshake): probes of the other family say
    /// nothing about it.
    pub probed: PerFamily<bool>,
}

/// A weak signal for `hold` makes the path degraded; above `below + hysteresis` for the
/// path's `up_after` ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalSettings {
    pub below_dbm: i32,
    pub hysteresis_db: u32,
    pub hold: Duration,
}

impl SignalSettings {
    /// The level the signal must exceed to count as recovered.
    pub fn recovered_dbm(&self) -> i32 {
        self.below_dbm
            .saturating_add(i32::try_from(self.hysteresis_db).unwrap_or(i32::MAX))
    }
}

impl Default for PathSettings {
    fn default() -> Self {
        PathSettings {
            down_after: Duration::from_secs(3),
            up_after: Duration::from_secs(5),
            handshake_max_age: Duration::from_secs(180),
            underlay: None,
            interface: None,
            reassoc_up_after: None,
            signal: None,
            probed: PerFamily::both(true),
        }
    }
}

impl PathSettings {
    /// The documented configuration defaults for `path` (Arc rides on Wi-Fi; cellular is
    /// slow to declare down because its probes are rare and cost money).
    pub fn defaults_for(path: PathId) -> Self {
        let secs = Duration::from_secs;
        match path {
            PathId::Arc => PathSettings {
                down_after: secs(3),
                up_after: secs(3),
                underlay: Some(PathId::Wifi),
                ..PathSettings::default()
            },
            PathId::Wifi => PathSettings::default(),
            PathId::Cellular => PathSettings {
                down_after: secs(60),
                up_after: secs(5),
                ..PathSettings::default()
            },
        }
    }
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
    /// The families the class has traffic in (a class of IPv4 destinations has no IPv6):
    /// a family it lacks follows the other's route, so the class reads as one route.
    pub families: PerFamily<bool>,
}

/// Everything the engine is configured with. Only configured paths appear in `paths`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub paths: BTreeMap<PathId, PathSettings>,
    pub classes: Vec<ClassSettings>,
    /// Entries kept in the event log ring (oldest dropped first).
    pub log_capacity: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            paths: BTreeMap::new(),
            classes: Vec::new(),
            log_capacity: DEFAULT_LOG_CAPACITY,
        }
    }
}
