//! The namespaces of the lab, by role.
use std::fmt;
use std::str::FromStr;

/// One network namespace of the lab; its name is `<prefix>-<role>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The gateway where arcway runs (lan0, wlan0, wwan0).
    Gw,
    /// A LAN host behind the gateway.
    Lan,
    /// The Wi-Fi access point (NAT to the internet).
    Ap,
    /// The internet, holding 203.0.113.100.
    Inet,
    /// The SORACOM Arc server (wireguard-go wg0).
    ArcSrv,
    /// The cellular core (SORACOM Air), routing to the platform and the internet.
    Cell,
    /// The SORACOM platform, holding 100.127.100.127.
    Plat,
}

impl Role {
    /// Every role, in creation order.
    pub const ALL: [Role; 7] = [
        Role::Gw,
        Role::Lan,
        Role::Ap,
        Role::Inet,
        Role::ArcSrv,
        Role::Cell,
        Role::Plat,
    ];

    /// The suffix of the namespace name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Gw => "gw",
            Role::Lan => "lan",
            Role::Ap => "ap",
            Role::Inet => "inet",
            Role::ArcSrv => "arcsrv",
            Role::Cell => "cell",
            Role::Plat => "plat",
        }
    }

    /// The namespace name of this role in the lab with `prefix`.
    pub fn ns(self, prefix: &str) -> String {
        format!("{prefix}-{}", self.as_str())
    }

    /// Roles that forward packets between their links.
    pub fn is_router(self) -> bool {
        !matches!(self, Role::Lan | Role::Plat)
    }

    /// Roles with IPv6 addresses when the lab is built with IPv6.
    pub fn has_ipv6(self) -> bool {
        matches!(self, Role::Gw | Role::Ap | Role::Inet | Role::ArcSrv)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown lab role {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.ns("aw12345"), format!("aw12345-{role}"));
        }
        assert!("modem".parse::<Role>().is_err());
    }
}
