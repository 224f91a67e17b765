use super::*;

fn documentation_address(addr: &str) -> bool {
    let host = addr.split('/').next().unwrap_or_default();
    [
        "192.0.2.",
        "198.51.100.",
        "203.0.113.",
        "100.127.",
        "2001:db8:",
    ]
    .iter()
    .any(|p| host.starts_with(p))
}

#[test]
fn every_address_is_a_documentation_or_platform_address() {
    for link in &LINKS {
        for e in [&link.a, &link.b] {
            assert!(documentation_address(e.v4), "{}", e.v4);
            assert!(e.v6.is_none_or(documentation_address));
        }
    }
    for (_, addr) in LOOPBACK {
        assert!(documentation_address(addr));
    }
}

#[test]
fn gateway_batch_has_the_two_default_routes_and_no_arc() {
    let lines = ns_batch(Role::Gw, false);
    assert!(lines.contains(&"route add default via 192.0.2.1 dev wlan0".to_owned()));
    assert!(
        lines.contains(&"route add default via 198.51.100.129 dev wwan0 metric 700".to_owned())
    );
    assert!(!lines.iter().any(|l| l.contains("2001:db8")));
    assert!(!lines.iter().any(|l| l.contains("100.127.")));
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or(usize::MAX)
    };
    assert!(pos("link set wlan0 up") < pos("route add default via 192.0.2.1"));
}

#[test]
fn ipv6_only_where_the_plan_has_it() {
    let gw = ns_batch(Role::Gw, true);
    assert!(gw.contains(&"addr add 2001:db8:1::10/64 dev wlan0 nodad".to_owned()));
    assert!(gw.contains(&"route add default via 2001:db8:1::1 dev wlan0".to_owned()));
    assert!(
        !ns_batch(Role::Cell, true)
            .iter()
            .any(|l| l.contains("2001:db8"))
    );
    let plat = sysctls(Role::Plat, true);
    assert!(plat.contains(&("net.ipv6.conf.all.disable_ipv6".to_owned(), "1")));
    let gw = sysctls(Role::Gw, true);
    assert!(gw.contains(&("net.ipv6.conf.default.disable_ipv6".to_owned(), "0")));
    assert!(gw.contains(&("net.ipv4.ip_forward".to_owned(), "1")));
}

#[test]
fn links_are_created_in_their_namespaces() {
    let lines = link_batch("aw00001");
    assert_eq!(lines.len(), 8);
    assert_eq!(
        lines[1],
        "link add wlan0 index 102 netns aw00001-gw type veth peer name wifi0 index 103 netns aw00001-ap"
    );
}

#[test]
fn only_ap_and_cell_masquerade() {
    for role in Role::ALL {
        assert_eq!(
            nat_script(role).is_some(),
            matches!(role, Role::Ap | Role::Cell)
        );
    }
}

#[test]
fn description_names_every_namespace() {
    let text = describe("aw00001", true);
    for role in Role::ALL {
        assert!(text.contains(&role.ns("aw00001")));
    }
    assert!(text.contains("100.127.100.127/32"));
}
