//! What the engine hands out: the actions of one step and the desired state as a whole.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::facts::ProbeReport;
use super::health::Health;
use super::select::{ClassRoute, ClassRoutes};
use super::time::opt_secs;
use crate::model::{Family, PathId, PerFamily};

/// A change the daemon acts on. Every change also gets a log entry with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A path changed health state (`from` and `to` are different states) in `family`,
    /// or in both alike (`None`).
    PathChanged {
        path: PathId,
        family: Option<Family>,
        from: Health,
        to: Health,
    },
    /// A class changed route in one family or both: replace the class table's route of
    /// each family that moved and evict the class's conntrack entries of that family NATed
    /// to `from`'s path. A class added by a reload moves from `Unreachable`.
    ClassMoved {
        class: String,
        from: ClassRoutes,
        to: ClassRoutes,
    },
    /// A reload removed the class: delete its table, rules and marks.
    ClassRemoved { class: String, from: ClassRoutes },
    /// A reload removed the path.
    PathRemoved { path: PathId, from: Health },
    /// A tunnel is down while its probes pass on a session from before the outage; make
    /// WireGuard handshake again (e.g. re-set the peer) so the way back is proven.
    /// Sent once per outage.
    RenewHandshake { path: PathId },
}

/// Health and evidence of one configured path, for the reconciler and status output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathStatus {
    /// The better of the two families' health (see [`Health::best`]).
    pub health: Health,
    /// Health per family: each family is judged on its own probes.
    pub families: PerFamily<Health>,
    /// The families it has a default route in (`None`: not reported, both count).
    pub default_routes: Option<PerFamily<bool>>,
    /// Whether classes may route over it in some family (`Up` or `Failing`).
    pub usable: bool,
    /// Whether some class routes over it now (the prober may probe idle paths less).
    pub in_use: bool,
    pub carrier: Option<bool>,
    pub bearer: Option<bool>,
    /// Age of the latest handshake at the engine's latest `now` (tunnels only).
    #[serde(serialize_with = "opt_secs")]
    pub handshake_age: Option<Duration>,
    pub last_probe: Option<ProbeReport>,
    /// The line's data budget is spent.
    pub budget_spent: bool,
    /// Usable, but classes with another way out avoid it (weak Wi-Fi signal).
    pub degraded: bool,
}

/// One class's route per family, in configuration order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClassStatus {
    pub name: String,
    pub route: ClassRoutes,
}

/// The whole decision: per-path health and per-class route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desired {
    pub paths: BTreeMap<PathId, PathStatus>,
    pub classes: Vec<ClassStatus>,
}

impl Desired {
    pub fn route(&self, class: &str) -> Option<ClassRoutes> {
        self.classes
            .iter()
            .find(|c| c.name == class)
            .map(|c| c.route)
    }

    /// Whether some class routes over `path` in some family.
    pub fn in_use(&self, path: PathId) -> bool {
        let via = ClassRoute::Via(path);
        self.classes
            .iter()
            .any(|c| c.route.v4 == via || c.route.v6 == via)
    }

    pub fn health(&self, path: PathId) -> Option<Health> {
        self.paths.get(&path).map(|p| p.health)
    }
}
