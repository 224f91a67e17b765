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
