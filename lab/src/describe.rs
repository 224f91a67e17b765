//! The lab's topology as text, for `arcway-lab up` and `show`.
use std::fmt::Write;

use crate::plan::{ARC_PORT, ARC_SERVER_IF, ARC_SERVER_IP, LINKS, LOOPBACK, ROUTES};
use crate::role::Role;

/// A human description of the lab: namespaces, links, addresses and routes.
pub fn describe(prefix: &str, ipv6: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "lab {prefix} (IPv6 {})",
        if ipv6 { "on" } else { "off" }
    );
    for role in Role::ALL {
        let v6 = ipv6 && role.has_ipv6();
        let _ = writeln!(out, "  {}", role.ns(prefix));
        for (_, addr) in LOOPBACK.iter().filter(|(r, _)| *r == role) {
            let _ = writeln!(out, "    lo      {addr}");
        }
        for link in &LINKS {
            for (e, peer) in [(&link.a, &link.b), (&link.b, &link.a)] {
                if e.role == role {
                    let six =
                        e.v6.filter(|_| v6)
                            .map(|a| format!(" {a}"))
                            .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "    {:<7} {}{six}  (to {} {})",
                        e.ifname, e.v4, peer.role, peer.ifname
                    );
                }
            }
        }
        if role == Role::ArcSrv {
            let _ = writeln!(
                out,
                "    {ARC_SERVER_IF}     {ARC_SERVER_IP}/32  (WireGuard, port {ARC_PORT})"
            );
        }
        for (_, _, spec) in ROUTES.iter().filter(|(r, f, _)| *r == role && (!f || v6)) {
            let _ = writeln!(out, "    route   {spec}");
        }
    }
    out
}
