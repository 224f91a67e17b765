//! Vocabulary shared by the config, the decision engine and the I/O adapters.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A way out of the gateway. Paths are fixed by what the product is: the Arc tunnel, the
/// Wi-Fi (or any fixed) uplink used directly, and the cellular bearer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PathId {
    Arc,
    Wifi,
    Cellular,
}

impl PathId {
    pub const ALL: [PathId; 3] = [PathId::Arc, PathId::Wifi, PathId::Cellular];

    pub fn as_str(self) -> &'static str {
        match self {
            PathId::Arc => "arc",
            PathId::Wifi => "wifi",
            PathId::Cellular => "cellular",
        }
    }
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PathId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PathId::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown path `{s}` (expected arc, wifi or cellular)"))
    }
}

/// What a class may do on one of its paths.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// The class may use the path.
    #[default]
    Allow,
    /// The class is refused while this is the only path left, so applications back off.
    Hold,
    /// Allowed until the data budget for the period is spent, then held.
    Budget,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Allow => "allow",
            Policy::Hold => "hold",
            Policy::Budget => "budget",
        })
    }
}

/// Where a class's traffic goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassRoute {
    /// Route the class over this path.
    Via(PathId),
    /// The only usable path is not allowed (hold, or budget spent): refuse quickly
    /// (the class's hold action) instead of letting connections time out.
    Held(PathId),
    /// No usable path at all.
    #[default]
    Unreachable,
}

impl fmt::Display for ClassRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassRoute::Via(p) => write!(f, "via {p}"),
            ClassRoute::Held(p) => write!(f, "held on {p}"),
            ClassRoute::Unreachable => f.write_str("unreachable"),
        }
    }
}

/// An address family. Each family of a class takes its own path: an uplink may carry one
/// family and not the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(addr: std::net::IpAddr) -> Family {
        match addr {
            std::net::IpAddr::V4(_) => Family::V4,
            std::net::IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn of_net(net: &ipnet::IpNet) -> Family {
        Family::of(net.addr())
    }

    pub fn other(self) -> Family {
        match self {
            Family::V4 => Family::V6,
            Family::V6 => Family::V4,
        }
    }

    /// The `0.0.0.0/0` or `::/0` destination of a default route.
    pub fn default_net(self) -> ipnet::IpNet {
        match self {
            Family::V4 => ipnet::IpNet::V4(Default::default()),
            Family::V6 => ipnet::IpNet::V6(Default::default()),
        }
    }

    /// The metric the kernel gives a route added without one (IPv6 uses 1024).
    pub fn default_metric(self) -> u32 {
        match self {
            Family::V4 => 0,
            Family::V6 => 1024,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per address family. Shown as one value when both agree, else per family
/// (`IPv4 via cellular, IPv6 via wifi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PerFamily<T> {
    pub v4: T,
    pub v6: T,
}

impl<T> PerFamily<T> {
    pub fn get(&self, family: Family) -> &T {
        match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        }
    }

    pub fn get_mut(&mut self, family: Family) -> &mut T {
        match family {
            Family::V4 => &mut self.v4,
            Family::V6 => &mut self.v6,
        }
    }

    pub fn map<U>(&self, mut f: impl FnMut(Family, &T) -> U) -> PerFamily<U> {
        PerFamily {
            v4: f(Family::V4, &self.v4),
            v6: f(Family::V6, &self.v6),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = (Family, &T)> {
        [(Family::V4, &self.v4), (Family::V6, &self.v6)].into_iter()
    }
}

impl<T: Clone> PerFamily<T> {
    /// The same value for both families.
    pub fn both(value: T) -> Self {
        PerFamily {
            v4: value.clone(),
            v6: value,
        }
    }
}

impl<T: PartialEq> PerFamily<T> {
    /// The value both families share, if they do.
    pub fn same(&self) -> Option<&T> {
        (self.v4 == self.v6).then_some(&self.v4)
    }
}

impl<T: fmt::Display + PartialEq> fmt::Display for PerFamily<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.same() {
            Some(v) => write!(f, "{v}"),
            None => write!(f, "IPv4 {}, IPv6 {}", self.v4, self.v6),
        }
    }
}
