//! The lab topology as data: links, addresses, routes, sysctls and NAT, per role.
//! Everything here is pure, so the text handed to `ip -batch` is checked by unit tests.
use crate::role::Role;

pub const LAN_IF: &str = "lan0";
pub const WIFI_IF: &str = "wlan0";
pub const CELLULAR_IF: &str = "wwan0";
pub const AP_WIFI_IF: &str = "wifi0";
pub const CELL_AIR_IF: &str = "air0";
pub const GW_LAN_ADDR: &str = "198.51.100.1";
pub const LAN_HOST: &str = "198.51.100.10";
pub const GW_WIFI_ADDR: &str = "192.0.2.10";
pub const GW_WIFI_ADDR_V6: &str = "2001:db8:1::10";
pub const WIFI_GATEWAY: &str = "192.0.2.1";
pub const WIFI_GATEWAY_V6: &str = "2001:db8:1::1";
pub const GW_CELLULAR_ADDR: &str = "198.51.100.130";
pub const CELLULAR_GATEWAY: &str = "198.51.100.129";
pub const CELLULAR_METRIC: u32 = 700;
pub const INTERNET_HOST: &str = "203.0.113.100";
pub const PLATFORM: &str = "100.127.100.127";
pub const ARC_SERVER: &str = "203.0.113.10";
pub const ARC_SERVER_V6: &str = "2001:db8:3::10";
pub const ARC_PORT: u16 = 11010;
pub const ARC_ENDPOINT: &str = "203.0.113.10:11010";
pub const ARC_SERVER_IF: &str = "wg0";
pub const ARC_SERVER_IP: &str = "100.127.201.1";
pub const ARC_CLIENT_IP: &str = "100.127.201.2";
pub const ARC_ALLOWED_IPS: &str = "100.127.0.0/16";

/// One veth pair: (role, interface, IPv4 address, IPv6 address) for each end.
pub struct Link {
    pub a: End,
    pub b: End,
}

pub struct End {
    pub role: Role,
    pub ifname: &'static str,
    pub v4: &'static str,
    pub v6: Option<&'static str>,
}

const fn end(role: Role, ifname: &'static str, v4: &'static str, v6: Option<&'static str>) -> End {
    End {
        role,
        ifname,
        v4,
        v6,
    }
}

pub const LINKS: [Link; 8] = [
    Link {
        a: end(Role::Gw, LAN_IF, "198.51.100.1/26", None),
        b: end(Role::Lan, "eth0", "198.51.100.10/26", None),
    },
    Link {
        a: end(
            Role::Gw,
            WIFI_IF,
            "192.0.2.10/24",
            Some("2001:db8:1::10/64"),
        ),
        b: end(
            Role::Ap,
            AP_WIFI_IF,
            "192.0.2.1/24",
            Some("2001:db8:1::1/64"),
        ),
    },
    Link {
        a: end(Role::Gw, CELLULAR_IF, "198.51.100.130/26", None),
        b: end(Role::Cell, CELL_AIR_IF, "198.51.100.129/26", None),
    },
    Link {
        a: end(Role::Ap, "up0", "203.0.113.2/30", Some("2001:db8:2::2/64")),
        b: end(
            Role::Inet,
            "ap0",
            "203.0.113.1/30",
            Some("2001:db8:2::1/64"),
        ),
    },
    Link {
        a: end(
            Role::Inet,
            "arc0",
            "203.0.113.9/30",
            Some("2001:db8:3::1/64"),
        ),
        b: end(
            Role::ArcSrv,
            "eth0",
            "203.0.113.10/30",
            Some("2001:db8:3::10/64"),
        ),
    },
    Link {
        a: end(Role::Inet, "cell0", "203.0.113.17/30", None),
        b: end(Role::Cell, "up0", "203.0.113.18/30", None),
    },
    Link {
        a: end(Role::ArcSrv, "plat0", "100.127.254.1/30", None),
        b: end(Role::Plat, "arc0", "100.127.254.2/30", None),
    },
    Link {
        a: end(Role::Cell, "plat0", "100.127.255.1/30", None),
        b: end(Role::Plat, "cell0", "100.127.255.2/30", None),
    },
];

/// Host addresses on loopback.
pub const LOOPBACK: [(Role, &str); 2] = [
    (Role::Inet, "203.0.113.100/32"),
    (Role::Plat, "100.127.100.127/32"),
];

/// Static routes: (role, IPv6?, `ip route add` arguments).
pub const ROUTES: [(Role, bool, &str); 14] = [
    (Role::Lan, false, "default via 198.51.100.1"),
    (Role::Gw, false, "default via 192.0.2.1 dev wlan0"),
    (
        Role::Gw,
        false,
        "default via 198.51.100.129 dev wwan0 metric 700",
    ),
    (Role::Gw, true, "default via 2001:db8:1::1 dev wlan0"),
    (Role::Ap, false, "default via 203.0.113.1"),
    (Role::Ap, true, "default via 2001:db8:2::1"),
    (Role::Inet, true, "2001:db8:1::/64 via 2001:db8:2::2"),
    (Role::ArcSrv, false, "default via 203.0.113.9"),
    (Role::ArcSrv, true, "default via 2001:db8:3::1"),
    (Role::ArcSrv, false, "100.127.0.0/16 via 100.127.254.2"),
    (Role::Cell, false, "default via 203.0.113.17"),
    (Role::Cell, false, "100.127.0.0/16 via 100.127.255.2"),
    (Role::Plat, false, "100.127.201.0/24 via 100.127.254.1"),
    (Role::Plat, false, "198.51.100.128/26 via 100.127.255.1"),
];

/// `ip -batch` lines (run in the root namespace) creating every veth pair inside its namespaces.
///
/// Each end gets its own interface index. In fresh namespaces both ends would otherwise get the
/// same number, and the kernel treats a carrier change of a device whose index equals its
/// peer's as non-urgent, batching it with other link events for up to a second: carrier loss
/// would reach arcway late for reasons that have nothing to do with arcway.
pub fn link_batch(prefix: &str) -> Vec<String> {
    LINKS
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "link add {} index {} netns {} type veth peer name {} index {} netns {}",
                l.a.ifname,
                100 + 2 * i,
                l.a.role.ns(prefix),
                l.b.ifname,
                101 + 2 * i,
                l.b.role.ns(prefix)
            )
        })
        .collect()
}

fn ends(role: Role) -> impl Iterator<Item = &'static End> {
    LINKS
        .iter()
        .flat_map(|l| [&l.a, &l.b])
        .filter(move |e| e.role == role)
}

/// `ip -n NS -batch` lines giving one namespace its addresses, links and routes.
pub fn ns_batch(role: Role, ipv6: bool) -> Vec<String> {
    let v6 = ipv6 && role.has_ipv6();
    let mut lines = vec!["link set lo up".to_owned()];
    for (_, addr) in LOOPBACK.iter().filter(|(r, _)| *r == role) {
        lines.push(format!("addr add {addr} dev lo"));
    }
    for e in ends(role) {
        lines.push(format!("addr add {} dev {}", e.v4, e.ifname));
        if let (true, Some(addr)) = (v6, e.v6) {
            lines.push(format!("addr add {addr} dev {} nodad", e.ifname));
        }
        lines.push(format!("link set {} up", e.ifname));
    }
    for (_, _, spec) in ROUTES.iter().filter(|(r, f, _)| *r == role && (!f || v6)) {
        lines.push(format!("route add {spec}"));
    }
    lines
}

/// Sysctls for one namespace, applied before its links exist so `default` reaches them.
pub fn sysctls(role: Role, ipv6: bool) -> Vec<(String, &'static str)> {
    let v6 = ipv6 && role.has_ipv6();
    // The gateway gets loose reverse-path filtering, as a Debian host with systemd has.
    let rp = if role == Role::Gw { "2" } else { "0" };
    let mut out = vec![
        ("net.ipv4.conf.all.rp_filter".to_owned(), rp),
        ("net.ipv4.conf.default.rp_filter".to_owned(), rp),
        ("net.ipv4.ip_forward".to_owned(), bool_str(role.is_router())),
    ];
    for scope in ["all", "default"] {
        let key = |name: &str| format!("net.ipv6.conf.{scope}.{name}");
        out.push((key("disable_ipv6"), bool_str(!v6)));
        if v6 {
            out.push((key("accept_dad"), "0"));
            out.push((key("accept_ra"), "0"));
            out.push((
                key("forwarding"),
                bool_str(matches!(role, Role::Ap | Role::Inet)),
            ));
        }
    }
    out
}

fn bool_str(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

/// The masquerading of the access point and the cellular core (IPv4 only; IPv6 is routed).
pub fn nat_script(role: Role) -> Option<&'static str> {
    matches!(role, Role::Ap | Role::Cell).then_some(
        "table ip arcway_lab_nat {\n\
         \tchain postrouting {\n\
         \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
         \t\toifname \"up0\" masquerade\n\
         \t}\n\
         }\n",
    )
}

pub use crate::describe::describe;

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
