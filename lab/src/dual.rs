//! Dual stack beyond the lab's Wi-Fi side: IPv6 on the LAN, through the cellular core and
//! to an internet host, and uplinks cut down to the families a case needs.
use crate::error::{LabError, Result};
use crate::lab::Lab;
use crate::role::Role;

/// The LAN host's IPv6 address (the gateway's LAN side is `2001:db8:64::1`).
pub const LAN_V6: &str = "2001:db8:64::10";
/// The internet host's IPv6 address: arcway's default IPv6 probe target too.
pub const INTERNET_V6: &str = "2001:db8::100";
/// The gateway's cellular IPv6 address (the core is `2001:db8:5::1`).
pub const GW_CELLULAR_V6: &str = "2001:db8:5::10";

/// Which families an uplink keeps a default route in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    pub v4: bool,
    pub v6: bool,
}

impl Families {
    pub const BOTH: Families = Families { v4: true, v6: true };
    pub const V4_ONLY: Families = Families {
        v4: true,
        v6: false,
    };
    pub const V6_ONLY: Families = Families {
        v4: false,
        v6: true,
    };
}

fn enable(ifs: &[&str]) -> String {
    let mut keys = vec![
        "net.ipv6.conf.all.disable_ipv6=0".to_owned(),
        "net.ipv6.conf.default.disable_ipv6=0".to_owned(),
        "net.ipv6.conf.all.accept_dad=0".to_owned(),
    ];
    keys.extend(
        ifs.iter()
            .map(|i| format!("net.ipv6.conf.{i}.disable_ipv6=0")),
    );
    format!("sysctl -qw {}", keys.join(" "))
}

/// The shell lines per namespace (pure, so the plan is checked without root).
pub fn scripts(wifi: Families, cellular: Families) -> Vec<(Role, String)> {
    let lan = [
        enable(&["eth0"]),
        format!("ip addr add {LAN_V6}/64 dev eth0 nodad"),
        "ip -6 route add default via 2001:db8:64::1".into(),
    ];
    let cell = [
        enable(&["air0", "up0"]),
        "sysctl -qw net.ipv6.conf.all.forwarding=1".into(),
        "ip addr add 2001:db8:5::1/64 dev air0 nodad".into(),
        "ip addr add 2001:db8:6::2/64 dev up0 nodad".into(),
        "ip -6 route add default via 2001:db8:6::1".into(),
    ];
    let inet = [
        enable(&["cell0"]),
        "ip addr add 2001:db8:6::1/64 dev cell0 nodad".into(),
        format!("ip addr add {INTERNET_V6}/128 dev lo"),
        "ip -6 route add 2001:db8:5::/64 via 2001:db8:6::2".into(),
    ];
    let mut gw = vec![
        enable(&["lan0", "wwan0"]),
        "sysctl -qw net.ipv6.conf.all.forwarding=1".to_owned(),
        "ip addr add 2001:db8:64::1/64 dev lan0 nodad".to_owned(),
        format!("ip addr add {GW_CELLULAR_V6}/64 dev wwan0 nodad"),
    ];
    if cellular.v6 {
        gw.push("ip -6 route add default via 2001:db8:5::1 dev wwan0 metric 2000".into());
    }
    if !cellular.v4 {
        gw.push("ip route del default dev wwan0".into());
    }
    if !wifi.v6 {
        gw.push("ip -6 route del default dev wlan0".into());
    }
    if !wifi.v4 {
        gw.push("ip route del default dev wlan0".into());
    }
    vec![
        (Role::Lan, lan.join("\n")),
        (Role::Cell, cell.join("\n")),
        (Role::Inet, inet.join("\n")),
        (Role::Gw, gw.join("\n")),
    ]
}

impl Lab {
    /// Extends a lab built with `ipv6: true` to IPv6 on the LAN, through the cellular core and
    /// to [`INTERNET_V6`], then leaves each uplink the default routes of `wifi` and `cellular`.
    pub fn dual_stack(&self, wifi: Families, cellular: Families) -> Result<()> {
        if !self.options().ipv6 {
            return Err(LabError::DualStack("the lab was built without ipv6".into()));
        }
        for (role, script) in scripts(wifi, cellular) {
            self.exec_ok(role, &["sh", "-ec", &script])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uplinks_keep_only_the_families_asked_for() {
        let gw = |w, c| {
            scripts(w, c)
                .into_iter()
                .find(|(r, _)| *r == Role::Gw)
                .map(|(_, s)| s)
                .unwrap_or_default()
        };
        let both = gw(Families::BOTH, Families::BOTH);
        assert!(both.contains("ip -6 route add default via 2001:db8:5::1 dev wwan0"));
        assert!(!both.contains("route del"));
        let split = gw(Families::V6_ONLY, Families::V4_ONLY);
        assert!(split.contains("ip route del default dev wlan0"));
        assert!(!split.contains("ip -6 route add default"));
        assert!(!split.contains("ip route del default dev wwan0"));
    }
}
