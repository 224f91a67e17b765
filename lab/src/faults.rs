//! Failure injection: carrier loss, silent loss, and the Arc server going dark. Each call
//! returns once the change is in the kernel (and, for carrier, seen on the gateway's side).
use std::time::{Duration, Instant};

use crate::error::{LabError, Result};
use crate::lab::Lab;
use crate::plan::{AP_WIFI_IF, ARC_PORT, CELL_AIR_IF, CELLULAR_IF, WIFI_IF};
use crate::role::Role;

const WIFI_DROP: &str = "arcway_lab_wifi_drop";
const ARC_DROP: &str = "arcway_lab_arc_drop";

impl Lab {
    /// Sets the access point's end of the Wi-Fi link down or up: the gateway sees carrier loss.
    pub fn wifi_carrier(&self, up: bool) -> Result<()> {
        self.set_link(Role::Ap, AP_WIFI_IF, up)?;
        self.wait_carrier(Role::Gw, WIFI_IF, up)
    }

    /// Drops every packet to and from the Wi-Fi link in the access point, keeping carrier:
    /// a silent failure only probes can notice.
    pub fn wifi_blackhole(&self, on: bool) -> Result<()> {
        let rules = format!(
            "chain input {{ type filter hook input priority -10; iifname \"{AP_WIFI_IF}\" counter drop; }}\n\
             chain forward {{ type filter hook forward priority -10; iifname \"{AP_WIFI_IF}\" counter drop; oifname \"{AP_WIFI_IF}\" counter drop; }}\n\
             chain output {{ type filter hook output priority -10; oifname \"{AP_WIFI_IF}\" counter drop; }}\n"
        );
        self.drop_table(Role::Ap, WIFI_DROP, on.then_some(rules.as_str()))
    }

    /// Sets the cellular core's end of the cellular link down or up.
    pub fn cellular_link(&self, up: bool) -> Result<()> {
        self.set_link(Role::Cell, CELL_AIR_IF, up)?;
        self.wait_carrier(Role::Gw, CELLULAR_IF, up)
    }

    /// Drops the Arc server's WireGuard traffic (both ways) while everything else keeps working.
    pub fn arc_server_blackhole(&self, on: bool) -> Result<()> {
        let rules = format!(
            "chain input {{ type filter hook input priority -10; udp dport {ARC_PORT} counter drop; }}\n\
             chain output {{ type filter hook output priority -10; udp sport {ARC_PORT} counter drop; }}\n"
        );
        self.drop_table(Role::ArcSrv, ARC_DROP, on.then_some(rules.as_str()))
    }

    fn set_link(&self, role: Role, ifname: &str, up: bool) -> Result<()> {
        self.ip_quiet(
            role,
            &["link", "set", ifname, if up { "up" } else { "down" }],
        )
    }

    /// Replaces (or removes) a table in one transaction, so calling twice is harmless.
    fn drop_table(&self, role: Role, table: &str, rules: Option<&str>) -> Result<()> {
        let mut script = format!("add table inet {table}\ndelete table inet {table}\n");
        if let Some(rules) = rules {
            script.push_str(&format!("table inet {table} {{\n{rules}}}\n"));
        }
        self.nft(role, &script)
    }

    /// Waits until `ifname` in `role` has (or has lost) carrier.
    pub fn wait_carrier(&self, role: Role, ifname: &str, up: bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.has_carrier(role, ifname)? != up {
            if Instant::now() > deadline {
                return Err(LabError::Timeout {
                    what: format!(
                        "carrier {} on {ifname} in {role}",
                        if up { "up" } else { "down" }
                    ),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}
