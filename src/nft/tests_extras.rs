//! Rendering of counters, held classes and missing cgroups.

use std::collections::BTreeSet;

use super::*;
use crate::config::HoldAction;
use crate::model::PathId;

fn inputs() -> NftInputs {
    NftInputs {
        fwmark_mask: 0x00ff_0000,
        nat: vec![],
        classes: vec![
            MarkClass {
                name: "bulk".into(),
                mark: 0x0011_0000,
                destinations: vec!["203.0.113.0/24".parse().unwrap()],
                ..MarkClass::default()
            },
            MarkClass {
                name: "svc".into(),
                mark: 0x0012_0000,
                uids: vec![1000],
                cgroups: vec!["system.slice/a.service".into(), "b.slice".into()],
                ..MarkClass::default()
            },
        ],
    }
}

fn counted() -> TableExtras {
    TableExtras {
        counted: vec![
            CountedPath {
                path: PathId::Wifi,
                ifname: "wlan0".into(),
            },
            CountedPath {
                path: PathId::Cellular,
                ifname: "wwan0".into(),
            },
        ],
        default_class: Some("default".into()),
        ..TableExtras::default()
    }
}

#[test]
fn counters_per_class_path_and_line() {
    let text = render_table_with(&inputs(), &counted()).unwrap();
    let keys = counter_keys(&inputs(), &counted());
    // 2 paths x 2 directions x (line + 3 classes)
    assert_eq!(keys.len(), 16);
    for key in &keys {
        assert!(
            text.contains(&format!("\tcounter {} {{\n", key.name())),
            "{text}"
        );
        assert_eq!(CounterKey::parse(&key.name()).as_ref(), Some(key));
    }
    assert!(text.contains("\t\toifname vmap { \"wlan0\" : jump account_out_wifi, \"wwan0\" : jump account_out_cellular }\n"), "{text}");
    assert!(text.contains("\t\tiifname vmap { \"wlan0\" : jump account_in_wifi, \"wwan0\" : jump account_in_cellular }\n"), "{text}");
    assert!(text.contains("\tchain account_in_cellular {\n\t\tcounter name \"line.cellular.rx\"\n\t\tct mark & 0x00ff0000 == 0x00110000 counter name \"class.bulk.cellular.rx\" return\n"), "{text}");
    assert!(text.contains("\t\tmeta mark & 0x00ff0000 == 0x00000000 counter name \"class.default.wifi.tx\" return\n"), "{text}");
    assert!(!text.contains("hold_"), "nothing held: {text}");
}

#[test]
fn no_counters_without_counted_paths() {
    let text = render_table_with(&inputs(), &TableExtras::default()).unwrap();
    assert_eq!(text, render_table(&inputs()).unwrap());
    assert!(!text.contains("counter"));
}

#[test]
fn counter_names_round_trip_and_reject_foreign_names() {
    assert_eq!(
        CounterKey::parse("line.cellular.tx"),
        Some(CounterKey::Line {
            path: PathId::Cellular,
            dir: Direction::Tx
        })
    );
    for bad in [
        "line.cellular",
        "class.x.moon.rx",
        "other.wifi.rx",
        "class..wifi.rx",
        "line.wifi.up",
    ] {
        assert_eq!(CounterKey::parse(bad), None, "{bad}");
    }
}

/// A counter object as the kernel sends it in a GETOBJ dump reply.
fn counter_object(table: &str, name: &str, kind: u32, bytes: u64) -> Vec<u8> {
    let mut buf = Vec::new();
    crate::nfnetlink::header(&mut buf, 10, 18, 2, 1, 1);
    crate::nfnetlink::attr_str(&mut buf, 1, table);
    crate::nfnetlink::attr_str(&mut buf, 2, name);
    crate::nfnetlink::attr(&mut buf, 3, &kind.to_be_bytes());
    let mut data = Vec::new();
    crate::nfnetlink::attr(&mut data, 1, &bytes.to_be_bytes());
    crate::nfnetlink::attr(&mut data, 2, &3u64.to_be_bytes());
    crate::nfnetlink::attr(&mut buf, 4 | crate::nfnetlink::NLA_F_NESTED, &data);
    crate::nfnetlink::finish(buf)
}

#[test]
fn counter_dump_asks_for_one_table_and_parses_its_counters() {
    let req = counters::dump_request(1, "arcway");
    let msgs = crate::nfnetlink::messages(&req);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind, 10 << 8 | 19, "nf_tables GETOBJ");
    assert_eq!(msgs[0].payload[0], 1, "inet family");
    let attrs: Vec<(u16, Vec<u8>)> = crate::nfnetlink::attrs(&msgs[0].payload[4..])
        .map(|(k, v)| (k, v.to_vec()))
        .collect();
    assert_eq!(
        attrs,
        [(1, b"arcway\0".to_vec()), (3, 1u32.to_be_bytes().to_vec())]
    );

    let reply = counter_object("arcway", "line.cellular.rx", 1, 180);
    assert_eq!(
        counters::parse_object(&reply),
        Some(("arcway".into(), "line.cellular.rx".into(), 180))
    );
    let quota = counter_object("arcway", "line.cellular.rx", 2, 180);
    assert_eq!(counters::parse_object(&quota), None, "not a counter");
    let mut error = reply.clone();
    error[4..6].copy_from_slice(&2u16.to_ne_bytes());
    assert_eq!(counters::parse_object(&error), None, "an error message");
}

proptest::proptest! {
    /// Arbitrary object attributes, or arbitrary bytes, never panic the counter reader.
    #[test]
    fn arbitrary_counter_replies_never_panic(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
    ) {
        let mut m = Vec::new();
        crate::nfnetlink::nlmsg_header(&mut m, 10 << 8 | 18, 2, 1);
        m.extend_from_slice(&body);
        let _ = counters::parse_object(&crate::nfnetlink::finish(m));
        let _ = counters::parse_object(&body);
    }
}

#[test]
fn held_classes_goto_hold_chains_with_their_action() {
    let mut extras = counted();
    extras.held = vec![
        Held {
            mark: 0x0011_0000,
            ifname: "wwan0".into(),
            action: HoldAction::TcpReset,
        },
        Held {
            mark: 0x0012_0000,
            ifname: "wwan0".into(),
            action: HoldAction::Reject,
        },
    ];
    let text = render_table_with(&inputs(), &extras).unwrap();
    let pre = text.split("\tchain output").next().unwrap();
    assert!(pre.contains("ct mark & 0x00ff0000 == 0x00110000 meta mark set meta mark & 0xff00ffff | 0x00110000 goto hold_prerouting\n"), "{text}");
    assert!(!pre.contains(" return comment"), "{text}");
    assert!(text.contains("\tchain hold_prerouting {\n\t\tmeta mark & 0x00ff0000 == 0x00110000 ct direction original fib daddr . mark oif missing meta l4proto tcp reject with tcp reset\n\t\tmeta mark & 0x00ff0000 == 0x00110000 ct direction original fib daddr . mark oif missing reject with icmpx admin-prohibited\n\t\tmeta mark & 0x00ff0000 == 0x00110000 ct direction original fib daddr . mark oifname \"wwan0\" meta l4proto tcp reject with tcp reset\n"), "{text}");
    assert!(text.contains("\t\tmeta mark & 0x00ff0000 == 0x00120000 ct direction original fib daddr type != local reject with icmpx admin-prohibited\n"), "{text}");
    assert!(
        !text.contains("0x00120000 ct direction original fib daddr type != local meta l4proto tcp"),
        "{text}"
    );
    // The first line of our own marks still returns: probes and WireGuard are never held.
    assert!(text.contains("\t\tmeta mark & 0x00ff0000 != 0 return\n"));
}

#[test]
fn missing_cgroups_are_left_out_and_a_class_of_only_missing_cgroups_matches_nothing() {
    let mut extras = TableExtras {
        missing_cgroups: BTreeSet::from(["b.slice".to_owned()]),
        ..TableExtras::default()
    };
    let text = render_table_with(&inputs(), &extras).unwrap();
    assert!(
        text.contains("socket cgroupv2 level 2 \"system.slice/a.service\""),
        "{text}"
    );
    assert!(!text.contains("b.slice"), "{text}");
    extras
        .missing_cgroups
        .insert("system.slice/a.service".into());
    let text = render_table_with(&inputs(), &extras).unwrap();
    assert!(!text.contains("comment \"svc\""), "{text}");
}

#[test]
fn missing_cgroups_are_found_under_the_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("system.slice/a.service")).unwrap();
    let missing = missing_cgroups(&inputs(), dir.path());
    assert_eq!(missing, BTreeSet::from(["b.slice".to_owned()]));
}

#[test]
fn classes_limits_and_holds_from_the_example_config() {
    let text = include_str!("../../examples/arcway.yaml");
    let config = crate::config::parse_str(text, "arcway.yaml").unwrap();
    let classes = mark_classes(&config);
    let names: Vec<&str> = classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["platform", "bulk", "telemetry"]);
    let bulk = &classes[1];
    assert_eq!(bulk.mark, 0x0011_0000);
    assert_eq!(bulk.ports, ["443", "8000-9000"]);
    assert_eq!(bulk.fwmarks, [(0x1, 0xff)]);
    assert_eq!(bulk.cgroups, ["system.slice/backup.service"]);
    let inputs = NftInputs {
        fwmark_mask: 0x00ff_0000,
        nat: vec![],
        classes,
    };
    // The example renders (nft itself is exercised by the classify_lab tests).
    assert!(
        render_table(&inputs)
            .unwrap()
            .contains("comment \"telemetry\"")
    );

    use crate::engine::ClassRoute;
    let routes = [
        ("platform", ClassRoute::Via(PathId::Arc)),
        ("bulk", ClassRoute::Held(PathId::Cellular)),
        ("telemetry", ClassRoute::Held(PathId::Cellular)),
        ("default", ClassRoute::Held(PathId::Cellular)),
    ];
    let held = held_classes(&config, routes, |p| {
        (p == PathId::Cellular).then(|| "wwan0".to_owned())
    });
    assert_eq!(
        held,
        [
            Held {
                mark: 0x0011_0000,
                ifname: "wwan0".into(),
                action: HoldAction::Reject
            },
            Held {
                mark: 0x0012_0000,
                ifname: "wwan0".into(),
                action: HoldAction::Reject
            },
        ]
    );
    let limits = crate::accounting::Limits::from_config(&config);
    assert_eq!(limits.lines[&PathId::Cellular], 1 << 30);
    assert_eq!(
        limits.classes[&("telemetry".to_owned(), PathId::Cellular)],
        100 << 20
    );
}
