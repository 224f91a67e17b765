//! Which path a platform reply took, stamped by the platform itself.
//!
//! The platform answers a request on the path its source address belongs to: the Arc client
//! address comes and goes through the tunnel, the gateway's cellular address through the
//! cellular core. So the platform namespace rewrites the DSCP of every echo reply by its
//! destination, and a LAN host reading the DSCP of a reply knows, per packet, whether the
//! gateway sent that echo over Arc or over cellular. Nothing on the way rewrites DSCP.
use std::net::Ipv4Addr;

use crate::cmd::nft;
use crate::error::Result;
use crate::plan::{ARC_CLIENT_IP, GW_CELLULAR_ADDR};
use crate::role::Role;

/// The platform's address (`plan::PLATFORM`) for sockets.
pub const PLATFORM_V4: Ipv4Addr = Ipv4Addr::new(100, 127, 100, 127);

const TABLE: &str = "arcway_lab_pathtag";
/// CS1 on replies that leave toward cellular.
const DSCP_CELLULAR: u8 = 8;
/// CS2 on replies that go back through the Arc tunnel.
const DSCP_ARC: u8 = 16;

/// The path of one reply as the platform saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Arc,
    Cellular,
    /// Not stamped: the platform did not answer one of the gateway's path addresses.
    Other,
}

impl Via {
    pub fn from_dscp(dscp: u8) -> Via {
        match dscp {
            DSCP_ARC => Via::Arc,
            DSCP_CELLULAR => Via::Cellular,
            _ => Via::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Via::Arc => "arc",
            Via::Cellular => "cellular",
            Via::Other => "other",
        }
    }
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The nftables script for the platform namespace (replaces an earlier copy atomically).
pub fn script() -> String {
    format!(
        "add table ip {TABLE}\ndelete table ip {TABLE}\n\
         table ip {TABLE} {{\n\
         \x20 chain output {{\n\
         \x20   type filter hook output priority 0; policy accept;\n\
         \x20   icmp type echo-reply ip daddr {GW_CELLULAR_ADDR} counter ip dscp set {DSCP_CELLULAR}\n\
         \x20   icmp type echo-reply ip daddr {ARC_CLIENT_IP} counter ip dscp set {DSCP_ARC}\n\
         \x20 }}\n\
         }}\n"
    )
}

/// Makes the platform of the lab `prefix` stamp its echo replies with their path.
pub fn install(prefix: &str) -> Result<()> {
    nft(&Role::Plat.ns(prefix), &script())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::PLATFORM;

    #[test]
    fn dscp_round_trips_and_script_names_both_addresses() {
        assert_eq!(Via::from_dscp(DSCP_ARC), Via::Arc);
        assert_eq!(Via::from_dscp(DSCP_CELLULAR), Via::Cellular);
        assert_eq!(Via::from_dscp(0), Via::Other);
        assert_eq!(PLATFORM_V4.to_string(), PLATFORM);
        let s = script();
        assert!(s.contains("ip daddr 198.51.100.130 counter ip dscp set 8"));
        assert!(s.contains("ip daddr 100.127.201.2 counter ip dscp set 16"));
    }
}
