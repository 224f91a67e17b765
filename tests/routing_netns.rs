//! The reconciler against a real kernel, in throwaway namespaces (root).

#[path = "routing_support.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Instant;

use arcway::model::{PathId, PerFamily};
use arcway::routing::{
    Change, ClassInput, ClassRoute, Layout, PathDefault, PathInput, Reconciler, RoutingInputs,
    Selector, desired,
};
use support::Lab;

fn inputs(lab: &Lab, v6: bool) -> RoutingInputs {
    let layout = Layout::default();
    let gw = &lab.gw;
    let path = |path: PathId, ifname: &str, v4: Option<&str>, v6: Option<&str>, addrs: &[&str]| {
        PathInput {
            ifname: ifname.into(),
            ifindex: gw.ifindex(ifname),
            default_v4: v4.map(|g| PathDefault {
                gateway: Some(g.parse().unwrap()),
            }),
            default_v6: v6.map(|g| PathDefault {
                gateway: Some(g.parse().unwrap()),
            }),
            addresses: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            mark: layout.path_mark(path),
        }
    };
    let wifi_v6 = v6.then_some("2001:db8:1::1");
    let paths = BTreeMap::from([
        (
            PathId::Arc,
            path(PathId::Arc, "arc0", None, None, &["100.127.201.2"]),
        ),
        (
            PathId::Wifi,
            path(
                PathId::Wifi,
                "wlan0",
                Some("192.0.2.1"),
                wifi_v6,
                &["192.0.2.10"],
            ),
        ),
        (
            PathId::Cellular,
            path(
                PathId::Cellular,
                "wwan0",
                Some("198.51.100.129"),
                None,
                &["198.51.100.130"],
            ),
        ),
    ]);
    let class = |i: usize, name: &str, selector, via| ClassInput {
        name: name.into(),
        table: layout.class_table(i),
        selector,
        route: PerFamily::both(ClassRoute::Via(via)),
    };
    let classes = vec![
        class(
            0,
            "platform",
            Selector::Destinations(vec!["100.127.0.0/16".parse().unwrap()]),
            PathId::Arc,
        ),
        class(
            1,
            "bulk",
            Selector::Mark(layout.class_mark(1)),
            PathId::Wifi,
        ),
        class(2, "default", Selector::Default, PathId::Wifi),
    ];
    RoutingInputs {
        layout,
        paths,
        arc_routes: vec!["100.127.0.0/16".parse().unwrap()],
        classes,
    }
}

fn arcway_rules(lab: &Lab, family: &str) -> String {
    lab.gw
        .sh(&format!("ip {family} rule show"))
        .lines()
        .filter(|l| l.starts_with("71"))
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

#[test]
fn apply_is_idempotent_repairs_drift_and_tears_down_only_its_own() {
    let lab = Lab::new(false);
    lab.gw.sh("ip rule add pref 7000 fwmark 0x5 lookup 100 && ip route add 203.0.113.0/24 dev wlan0 table 100");
    let d = desired(&inputs(&lab, false)).unwrap();
    let d2 = d.clone();
    let (first, second, timing) = lab.gw.run(move || async move {
        let r = Reconciler::spawn(d.layout.clone()).unwrap();
        let start = Instant::now();
        let first = r.set(d.clone()).await.unwrap();
        let full = start.elapsed();
        let start = Instant::now();
        let second = r.set(d).await.unwrap();
        (first, second, (full, start.elapsed()))
    });
    eprintln!(
        "full apply {:?} ({} changes), no-op reconcile {:?}",
        timing.0,
        first.len(),
        timing.1
    );
    assert!(!first.is_empty());
    assert_eq!(second, vec![], "second apply must change nothing");
    let rules = arcway_rules(&lab, "-4");
    assert_eq!(
        rules,
        "7100:\tfrom all fwmark 0x20000/0xff0000 lookup 7102\n\
         7101:\tfrom all fwmark 0x10000/0xff0000 lookup 7101\n\
         7102:\tfrom all fwmark 0x30000/0xff0000 lookup 7103\n\
         7103:\tfrom all lookup main suppress_prefixlength 0\n\
         7104:\tfrom 100.127.201.2 lookup 7101\n\
         7104:\tfrom 192.0.2.10 lookup 7102\n\
         7104:\tfrom 198.51.100.130 lookup 7103\n\
         7105:\tfrom all to 100.127.0.0/16 lookup 7110\n\
         7106:\tfrom all fwmark 0x110000/0xff0000 lookup 7111\n\
         7199:\tfrom all lookup 7112\n"
    );
    assert_eq!(
        lab.gw.sh("ip route show table 7102"),
        "default via 192.0.2.1 dev wlan0 proto static \n"
    );
    assert_eq!(
        lab.gw.sh("ip route show table 7101"),
        "default dev arc0 proto static scope link \n100.127.0.0/16 dev arc0 proto static scope link \n"
    );
    // Routing decisions as the kernel takes them.
    assert!(
        lab.gw
            .sh("ip route get 100.127.100.127")
            .contains("dev arc0")
    );
    assert!(
        lab.gw
            .sh("ip route get 203.0.113.100")
            .contains("dev wlan0")
    );
    assert!(
        lab.gw
            .sh("ip route get 203.0.113.100 mark 0x30000")
            .contains("dev wwan0")
    );
    assert!(
        lab.gw.sh("ip route get 192.0.2.77").contains("dev wlan0"),
        "connected routes of main still win"
    );

    // Drift: a rule deleted and a class route changed by hand.
    lab.gw.sh(
        "ip rule del pref 7103 && ip route replace default via 198.51.100.129 dev wwan0 table 7112",
    );
    let (repaired, again, torn) = lab.gw.run(move || async move {
        // A fresh reconciler (as after a restart) adopts what is there and fixes only the drift.
        let r = Reconciler::spawn(Layout::default()).unwrap();
        let repaired = r.set(d2).await.unwrap();
        let again = r.repair().await.unwrap();
        let torn = r.teardown().await.unwrap();
        (repaired, again, torn)
    });
    assert_eq!(repaired.len(), 2, "{repaired:?}");
    assert!(
        repaired
            .iter()
            .any(|c| matches!(c, Change::ReplaceRoute(_)))
    );
    assert!(repaired.iter().any(|c| matches!(c, Change::AddRule(_))));
    assert_eq!(again, vec![]);
    assert!(!torn.is_empty());
    assert_eq!(arcway_rules(&lab, "-4"), "");
    for table in [7101, 7102, 7103, 7110, 7111, 7112] {
        assert_eq!(
            lab.gw.sh(&format!("ip route show table {table}")),
            "",
            "table {table}"
        );
    }
    assert!(
        lab.gw
            .sh("ip rule show")
            .contains("7000:\tfrom all fwmark 0x5 lookup 100")
    );
    assert_eq!(
        lab.gw.sh("ip route show table 100"),
        "203.0.113.0/24 dev wlan0 scope link \n"
    );
    assert!(
        lab.gw
            .sh("ip route show")
            .contains("default via 192.0.2.1 dev wlan0")
    );
}

#[test]
fn repair_restores_drift_and_a_class_switch_is_one_replace() {
    let lab = Lab::new(false);
    let mut inputs = inputs(&lab, false);
    let d = desired(&inputs).unwrap();
    inputs.classes[2].route = PerFamily::both(ClassRoute::Via(PathId::Cellular));
    let switched = desired(&inputs).unwrap();
    let gw_name = lab.gw.name.clone();
    let (r_changes, switch, elapsed) = lab.gw.run(move || async move {
        let r = Reconciler::spawn(d.layout.clone()).unwrap();
        r.set(d).await.unwrap();
        let status = std::process::Command::new("sh")
            .args([
                "-c",
                "ip rule del pref 7105 && ip route replace unreachable default table 7111",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "drift in {gw_name}");
        let repaired = r.repair().await.unwrap();
        let start = Instant::now();
        let switch = r.set(switched).await.unwrap();
        (repaired, switch, start.elapsed())
    });
    eprintln!("class switch applied in {elapsed:?}");
    assert_eq!(r_changes.len(), 2, "{r_changes:?}");
    assert!(arcway_rules(&lab, "-4").contains("7105:\tfrom all to 100.127.0.0/16 lookup 7110"));
    assert_eq!(
        lab.gw.sh("ip route show table 7111"),
        "default via 192.0.2.1 dev wlan0 proto static \n"
    );
    assert_eq!(switch.len(), 1, "{switch:?}");
    assert!(matches!(switch[0], Change::ReplaceRoute(_)));
    assert_eq!(
        lab.gw.sh("ip route show table 7112"),
        "default via 198.51.100.129 dev wwan0 proto static \n"
    );
    assert!(
        lab.gw
            .sh("ip route get 203.0.113.100")
            .contains("dev wwan0")
    );
}

#[test]
fn ipv6_rules_and_tables_when_an_uplink_has_ipv6() {
    let lab = Lab::new(true);
    let d = desired(&inputs(&lab, true)).unwrap();
    let (first, second) = lab.gw.run(move || async move {
        let r = Reconciler::spawn(d.layout.clone()).unwrap();
        let first = r.set(d.clone()).await.unwrap();
        let second = r.set(d).await.unwrap();
        r.teardown().await.unwrap();
        let third = r.current().await.unwrap();
        assert!(
            third.rules.is_empty() && third.routes.is_empty(),
            "{third:?}"
        );
        (first, second)
    });
    assert!(!first.is_empty());
    assert_eq!(second, vec![], "IPv6 must be idempotent too");
}

#[test]
fn ipv6_layout_in_the_kernel() {
    let lab = Lab::new(true);
    let d = desired(&inputs(&lab, true)).unwrap();
    lab.gw.run(move || async move {
        Reconciler::spawn(d.layout.clone())
            .unwrap()
            .set(d)
            .await
            .unwrap();
    });
    assert_eq!(
        arcway_rules(&lab, "-6"),
        "7100:\tfrom all fwmark 0x20000/0xff0000 lookup 7102\n\
         7101:\tfrom all fwmark 0x10000/0xff0000 lookup 7101\n\
         7102:\tfrom all fwmark 0x30000/0xff0000 lookup 7103\n\
         7103:\tfrom all lookup main suppress_prefixlength 0\n\
         7106:\tfrom all fwmark 0x110000/0xff0000 lookup 7111\n\
         7199:\tfrom all lookup 7112\n"
    );
    let t = lab.gw.sh("ip -6 route show table 7102");
    assert!(
        t.starts_with("default via 2001:db8:1::1 dev wlan0 proto static metric 1024"),
        "{t}"
    );
    let t = lab.gw.sh("ip -6 route show table 7103");
    assert!(
        t.starts_with("unreachable default dev lo proto static metric 1024"),
        "{t}"
    );
    assert!(
        lab.gw
            .sh("ip -6 route get 2001:db8:2::1")
            .contains("dev wlan0")
    );
}

#[test]
fn drift_watch_puts_a_deleted_rule_back() {
    let lab = Lab::new(false);
    let d = desired(&inputs(&lab, false)).unwrap();
    let restored = lab.gw.run(move || async move {
        let r = Reconciler::spawn(d.layout.clone()).unwrap();
        r.set(d).await.unwrap();
        let watch = arcway::routing::spawn_drift_watch(
            r.clone(),
            std::time::Duration::from_millis(20),
            std::time::Duration::from_secs(60),
            arcway::liveness::Heartbeat::new(),
        )
        .unwrap();
        let status = tokio::process::Command::new("ip")
            .args(["rule", "del", "pref", "7199"])
            .status()
            .await
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + std::time::Duration::from_secs(3);
        let mut restored = false;
        while Instant::now() < deadline && !restored {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            restored = r
                .current()
                .await
                .unwrap()
                .rules
                .iter()
                .any(|rule| rule.priority == 7199);
        }
        watch.abort();
        restored
    });
    assert!(restored, "the watch did not repair the deleted rule");
    assert!(arcway_rules(&lab, "-4").contains("7199:\tfrom all lookup 7112"));
}

/// Drift the planner cannot see in a gateway and device alone: a preferred source, a metric,
/// a next hop of the other family (RTA_VIA) and a nexthop object. Each is replaced by the
/// route arcway wants.
#[test]
fn repair_replaces_routes_with_a_source_metrics_a_via_or_a_nexthop_id() {
    let lab = Lab::new(false);
    let d = desired(&inputs(&lab, false)).unwrap();
    let gw_name = lab.gw.name.clone();
    let (repaired, again) = lab.gw.run(move || async move {
        let r = Reconciler::spawn(d.layout.clone()).unwrap();
        r.set(d).await.unwrap();
        let drift = "ip route replace default via 192.0.2.1 dev wlan0 src 192.0.2.10 table 7102 \
            && ip route replace default via 192.0.2.1 dev wlan0 mtu 1280 table 7111 \
            && ip -4 route replace default via inet6 fe80::1 dev wlan0 table 7112 \
            && ip nexthop add id 77 dev arc0 \
            && ip route replace default nhid 77 table 7110";
        let status = std::process::Command::new("sh")
            .args(["-c", drift])
            .status()
            .unwrap();
        assert!(status.success(), "drift in {gw_name}");
        let repaired = r.repair().await.unwrap();
        let again = r.repair().await.unwrap();
        (repaired, again)
    });
    assert_eq!(repaired.len(), 4, "{repaired:?}");
    assert!(
        repaired
            .iter()
            .all(|c| matches!(c, Change::ReplaceRoute(_))),
        "{repaired:?}"
    );
    assert_eq!(again, vec![]);
    for table in [7102, 7111, 7112] {
        assert_eq!(
            lab.gw.sh(&format!("ip route show table {table}")),
            "default via 192.0.2.1 dev wlan0 proto static \n",
            "table {table}"
        );
    }
    assert_eq!(
        lab.gw.sh("ip route show table 7110"),
        "default dev arc0 proto static scope link \n"
    );
}
