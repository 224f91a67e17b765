//! Table tests: inputs in, `ip`-like text out.

use std::collections::BTreeMap;

use crate::model::{PathId, PerFamily};

use super::*;

fn net(s: &str) -> ipnet::IpNet {
    s.parse().expect("test CIDR")
}

/// The lab: arc0 (index 5), wlan0 (3) with v4 and optionally v6, wwan0 (4).
fn lab_inputs(v6: bool) -> RoutingInputs {
    let layout = Layout::default();
    let mut paths = BTreeMap::new();
    paths.insert(
        PathId::Arc,
        PathInput {
            ifname: "arc0".into(),
            ifindex: 5,
            default_v4: None,
            default_v6: None,
            addresses: vec!["100.127.201.2".parse().unwrap()],
            mark: layout.path_mark(PathId::Arc),
        },
    );
    paths.insert(
        PathId::Wifi,
        PathInput {
            ifname: "wlan0".into(),
            ifindex: 3,
            default_v4: Some(PathDefault {
                gateway: Some("192.0.2.1".parse().unwrap()),
            }),
            default_v6: v6.then(|| PathDefault {
                gateway: Some("2001:db8:1::1".parse().unwrap()),
            }),
            addresses: vec![
                "192.0.2.10".parse().unwrap(),
                "2001:db8:1::10".parse().unwrap(),
                "fe80::1".parse().unwrap(),
            ],
            mark: layout.path_mark(PathId::Wifi),
        },
    );
    paths.insert(
        PathId::Cellular,
        PathInput {
            ifname: "wwan0".into(),
            ifindex: 4,
            default_v4: Some(PathDefault {
                gateway: Some("198.51.100.129".parse().unwrap()),
            }),
            default_v6: None,
            addresses: vec!["198.51.100.130".parse().unwrap()],
            mark: layout.path_mark(PathId::Cellular),
        },
    );
    let classes = vec![
        ClassInput {
            name: "platform".into(),
            table: layout.class_table(0),
            selector: Selector::Destinations(vec![net("100.127.0.0/16")]),
            route: PerFamily::both(ClassRoute::Via(PathId::Arc)),
        },
        ClassInput {
            name: "bulk".into(),
            table: layout.class_table(1),
            selector: Selector::Mark(layout.class_mark(1)),
            route: PerFamily::both(ClassRoute::Via(PathId::Wifi)),
        },
        ClassInput {
            name: "default".into(),
            table: layout.class_table(2),
            selector: Selector::Default,
            route: PerFamily::both(ClassRoute::Via(PathId::Wifi)),
        },
    ];
    RoutingInputs {
        layout,
        paths,
        arc_routes: vec![net("100.127.0.0/16"), net("10.128.0.0/9")],
        classes,
    }
}

fn text(d: &DesiredRouting) -> String {
    render_objects(&d.objects, &d.links)
}

#[test]
fn lab_layout_v4() {
    let d = desired(&lab_inputs(false)).unwrap();
    let expected = "\
-4 rule pref 7100 from all fwmark 0x20000/0xff0000 lookup 7102
-4 rule pref 7101 from all fwmark 0x10000/0xff0000 lookup 7101
-4 rule pref 7102 from all fwmark 0x30000/0xff0000 lookup 7103
-4 rule pref 7103 from all lookup main suppress_prefixlength 0
-4 rule pref 7104 from 100.127.201.2/32 lookup 7101
-4 rule pref 7104 from 192.0.2.10/32 lookup 7102
-4 rule pref 7104 from 198.51.100.130/32 lookup 7103
-4 rule pref 7105 from all to 100.127.0.0/16 lookup 7110
-4 rule pref 7106 from all fwmark 0x110000/0xff0000 lookup 7111
-4 rule pref 7199 from all lookup 7112
-4 route default dev arc0 table 7101
-4 route 10.128.0.0/9 dev arc0 table 7101
-4 route 100.127.0.0/16 dev arc0 table 7101
-4 route default via 192.0.2.1 dev wlan0 table 7102
-4 route default via 198.51.100.129 dev wwan0 table 7103
-4 route default dev arc0 table 7110
-4 route default via 192.0.2.1 dev wlan0 table 7111
-4 route default via 192.0.2.1 dev wlan0 table 7112
";
    assert_eq!(text(&d), expected);
}

#[test]
fn ipv6_only_where_an_uplink_has_it() {
    let d = desired(&lab_inputs(true)).unwrap();
    let v6: String = text(&d)
        .lines()
        .filter(|l| l.starts_with("-6"))
        .map(|l| format!("{l}\n"))
        .collect();
    let expected = "\
-6 rule pref 7100 from all fwmark 0x20000/0xff0000 lookup 7102
-6 rule pref 7101 from all fwmark 0x10000/0xff0000 lookup 7101
-6 rule pref 7102 from all fwmark 0x30000/0xff0000 lookup 7103
-6 rule pref 7103 from all lookup main suppress_prefixlength 0
-6 rule pref 7104 from 2001:db8:1::10/128 lookup 7102
-6 rule pref 7106 from all fwmark 0x110000/0xff0000 lookup 7111
-6 rule pref 7199 from all lookup 7112
-6 route unreachable default table 7101
-6 route default via 2001:db8:1::1 dev wlan0 table 7102
-6 route unreachable default table 7103
-6 route default via 2001:db8:1::1 dev wlan0 table 7111
-6 route default via 2001:db8:1::1 dev wlan0 table 7112
";
    assert_eq!(v6, expected);
}

#[test]
fn first_plan_adds_routes_before_rules_and_second_plan_is_empty() {
    let d = desired(&lab_inputs(false)).unwrap();
    let mut kernel = KernelRouting::default();
    let changes = plan(&kernel, &d);
    let rendered = render_changes(&changes, &d.links);
    let lines: Vec<&str> = rendered.lines().collect();
    let first_rule = lines.iter().position(|l| l.contains(" rule ")).unwrap();
    let last_route = lines.iter().rposition(|l| l.contains(" route ")).unwrap();
    assert!(last_route < first_rule, "{rendered}");
    assert!(
        rendered.starts_with("ip -4 route add default dev arc0 table 7101\n"),
        "{rendered}"
    );
    simulate(&mut kernel, &changes);
    assert_eq!(plan(&kernel, &d), vec![]);
}

#[test]
fn switching_a_class_is_one_route_replace() {
    let mut inputs = lab_inputs(true);
    let before = desired(&inputs).unwrap();
    let mut kernel = KernelRouting::default();
    let first = plan(&kernel, &before);
    simulate(&mut kernel, &first);
    inputs.classes[2].route = PerFamily::both(ClassRoute::Via(PathId::Cellular));
    let after = desired(&inputs).unwrap();
    let changes = plan(&kernel, &after);
    assert_eq!(
        render_changes(&changes, &after.links),
        "ip -4 route replace default via 198.51.100.129 dev wwan0 table 7112\n\
         ip -6 route replace unreachable default table 7112\n"
    );
}

#[test]
fn each_family_of_a_class_takes_its_own_path() {
    let mut inputs = lab_inputs(true);
    let before = desired(&inputs).unwrap();
    let mut kernel = KernelRouting::default();
    let first = plan(&kernel, &before);
    simulate(&mut kernel, &first);
    // IPv4 leaves for cellular while IPv6 stays on Wi-Fi: one replace, IPv4 only.
    inputs.classes[2].route = PerFamily {
        v4: ClassRoute::Via(PathId::Cellular),
        v6: ClassRoute::Via(PathId::Wifi),
    };
    let after = desired(&inputs).unwrap();
    let changes = plan(&kernel, &after);
    assert_eq!(
        render_changes(&changes, &after.links),
        "ip -4 route replace default via 198.51.100.129 dev wwan0 table 7112\n"
    );
    let out = text(&after);
    assert!(
        out.contains("-6 route default via 2001:db8:1::1 dev wlan0 table 7112"),
        "{out}"
    );
}

#[test]
fn held_and_unreachable_classes_refuse_fast() {
    let mut inputs = lab_inputs(false);
    inputs.classes[1].route = PerFamily::both(ClassRoute::Held(PathId::Cellular));
    inputs.classes[2].route = PerFamily::both(ClassRoute::Unreachable);
    let out = text(&desired(&inputs).unwrap());
    assert!(
        out.contains("-4 route prohibit default table 7111\n"),
        "{out}"
    );
    assert!(
        out.contains("-4 route unreachable default table 7112\n"),
        "{out}"
    );
}

#[test]
fn a_path_without_default_pins_its_traffic_to_unreachable() {
    let mut inputs = lab_inputs(false);
    inputs.paths.get_mut(&PathId::Wifi).unwrap().default_v4 = None;
    let out = text(&desired(&inputs).unwrap());
    assert!(
        out.contains("-4 route unreachable default table 7102\n"),
        "{out}"
    );
    assert!(
        out.contains("-4 route unreachable default table 7112\n"),
        "{out}"
    );
}

#[test]
fn stale_and_hand_made_objects_in_the_range_are_removed() {
    let d = desired(&lab_inputs(false)).unwrap();
    let mut kernel = KernelRouting::default();
    let first = plan(&kernel, &d);
    simulate(&mut kernel, &first);
    let mut stale = Rule::lookup(Family::V4, 7150, 7140);
    stale.other.push("iif lan0".into());
    kernel.rules.insert(stale);
    let mut key = RouteKey {
        table: 7112,
        dst: Family::V4.default_net(),
        metric: 100,
    };
    kernel.routes.insert(key, RouteKind::Unreachable);
    key.metric = 0;
    kernel.routes.insert(
        key,
        RouteKind::Unicast {
            gateway: None,
            oif: 9,
        },
    );
    let rendered = render_changes(&plan(&kernel, &d), &d.links);
    assert_eq!(
        rendered,
        "ip -4 route replace default via 192.0.2.1 dev wlan0 table 7112\n\
         ip -4 rule del pref 7150 from all lookup 7140 [iif lan0]\n\
         ip -4 route del unreachable default table 7112 metric 100\n"
    );
}

#[test]
fn teardown_plan_removes_everything() {
    let d = desired(&lab_inputs(true)).unwrap();
    let mut kernel = KernelRouting::default();
    let first = plan(&kernel, &d);
    simulate(&mut kernel, &first);
    let empty = DesiredRouting::empty(d.layout.clone());
    let changes = plan(&kernel, &empty);
    assert!(
        changes
            .iter()
            .all(|c| matches!(c, Change::DelRule(_) | Change::DelRoute(_)))
    );
    simulate(&mut kernel, &changes);
    assert_eq!(kernel, KernelRouting::default());
}

#[test]
fn layout_checks() {
    let mut inputs = lab_inputs(false);
    inputs.layout.priorities = 7100..=7106;
    assert!(desired(&inputs).is_err());
    let mut inputs = lab_inputs(false);
    inputs.classes.swap(1, 2);
    assert!(desired(&inputs).is_err(), "default class must be last");
    let layout = Layout::default();
    assert!(layout.owns_table(7101) && layout.owns_table(7150) && !layout.owns_table(254));
    assert_eq!(layout.mark(1), 0x10000);
}

/// A message through the bytes the kernel gets and back, serialized and parsed by
/// netlink-packet-route.
fn through_bytes(
    message: netlink_packet_route::RouteNetlinkMessage,
) -> netlink_packet_route::RouteNetlinkMessage {
    use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
    let mut nl = NetlinkMessage::from(message);
    nl.finalize();
    let mut bytes = vec![0; nl.buffer_len()];
    nl.serialize(&mut bytes);
    match NetlinkMessage::deserialize(&bytes).unwrap().payload {
        NetlinkPayload::InnerMessage(inner) => inner,
        other => panic!("{other:?}"),
    }
}

#[test]
fn netlink_messages_round_trip() {
    use super::convert::{parse_route, parse_rule, route_message, rule_message};
    use netlink_packet_route::RouteNetlinkMessage::{NewRoute, NewRule};
    let d = desired(&lab_inputs(true)).unwrap();
    for rule in &d.objects.rules {
        assert_eq!(parse_rule(&rule_message(rule)).as_ref(), Some(rule));
        let NewRule(back) = through_bytes(NewRule(rule_message(rule))) else {
            panic!()
        };
        assert_eq!(parse_rule(&back).as_ref(), Some(rule));
    }
    for route in d.objects.route_list() {
        assert_eq!(parse_route(&route_message(&route)), Some(route.clone()));
        let NewRoute(back) = through_bytes(NewRoute(route_message(&route))) else {
            panic!()
        };
        assert_eq!(parse_route(&back), Some(route.clone()));
    }
}

/// An IPv4 default via an IPv6 next hop (RTA_VIA) is carried and compared like any gateway.
#[test]
fn a_gateway_of_the_other_family_travels_in_rta_via() {
    use super::convert::{parse_route, route_message};
    use netlink_packet_route::RouteNetlinkMessage::NewRoute;
    use netlink_packet_route::route::{RouteAttribute, RouteVia};
    let route = Route::new(
        7102,
        Family::V4.default_net(),
        RouteKind::Unicast {
            gateway: Some("fe80::1".parse().unwrap()),
            oif: 3,
        },
    );
    let msg = route_message(&route);
    assert!(
        msg.attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Via(RouteVia::Inet6(_)))),
        "{msg:?}"
    );
    let NewRoute(back) = through_bytes(NewRoute(msg)) else {
        panic!()
    };
    assert_eq!(parse_route(&back), Some(route.clone()));
    let links = BTreeMap::from([(3, "wlan0".to_string())]);
    assert_eq!(
        route_text(&route, &links),
        "default via fe80::1 dev wlan0 table 7102"
    );
}

/// Attributes arcway never sets make a dumped route differ from the desired one, so the
/// plan replaces it (and a replace writes exactly what arcway wants).
#[test]
fn drift_in_source_nexthop_id_and_metrics_is_replaced() {
    use super::convert::{parse_route, route_message};
    use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMetric};
    let d = desired(&lab_inputs(false)).unwrap();
    let mut kernel = KernelRouting::default();
    let first = plan(&kernel, &d);
    simulate(&mut kernel, &first);
    let wifi = d
        .objects
        .route_list()
        .find(|r| r.key.table == 7102)
        .unwrap();
    let extras = [
        RouteAttribute::PrefSource(RouteAddress::Inet("192.0.2.10".parse().unwrap())),
        RouteAttribute::NhId(7),
        RouteAttribute::Metrics(vec![RouteMetric::Mtu(1280)]),
    ];
    for extra in extras {
        let mut msg = route_message(&wifi);
        msg.attributes.push(extra.clone());
        let drifted = parse_route(&msg).unwrap();
        assert_eq!(drifted.key, wifi.key);
        assert!(matches!(drifted.kind, RouteKind::Other(_)), "{extra:?}");
        let mut k = kernel.clone();
        k.add_route(drifted);
        assert_eq!(
            render_changes(&plan(&k, &d), &d.links),
            "ip -4 route replace default via 192.0.2.1 dev wlan0 table 7102\n",
            "{extra:?}"
        );
    }
}
