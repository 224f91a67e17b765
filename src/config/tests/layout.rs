//! Derived numbers, the summary and the engine settings.

use std::time::Duration;

use super::{BASE, ok, with};
use crate::config::summary::{bytes, duration};
use crate::engine::{ClassPath, PathSettings};
use crate::model::{PathId, Policy};

const FULL: &str = include_str!("../../../examples/arcway.yaml");

#[test]
fn layout_of_the_example() {
    let c = ok(FULL);
    let l = c.layout();
    assert_eq!(
        l.path_tables.values().copied().collect::<Vec<_>>(),
        [7101, 7102, 7103]
    );
    assert_eq!(l.class_tables, [7110, 7111, 7112, 7113]);
    assert_eq!(
        l.priorities.paths.values().copied().collect::<Vec<_>>(),
        [7101, 7100, 7102]
    );
    assert_eq!((l.priorities.fwmark, l.priorities.suppress), (7100, 7103));
    assert_eq!(l.priorities.classes, [7105, 7106, 7107, 7199]);
    assert_eq!(l.marks.mask, 0x00ff_0000);
    assert_eq!(
        l.marks.paths.values().copied().collect::<Vec<_>>(),
        [0x1_0000, 0x2_0000, 0x3_0000]
    );
    assert_eq!(l.marks.tunnel, 0x2_0000);
    assert_eq!(
        l.marks.classes,
        [0x10_0000, 0x11_0000, 0x12_0000, 0x13_0000]
    );
    assert_eq!(c.class_table(2), 7112);
}

#[test]
fn path_slots_do_not_move_when_paths_are_missing() {
    let l = ok(BASE).layout();
    assert_eq!(l.priorities.paths.get(&PathId::Arc), None);
    assert_eq!(l.priorities.paths[&PathId::Wifi], 7100);
    assert_eq!(l.priorities.paths[&PathId::Cellular], 7102);
    assert_eq!(l.marks.paths[&PathId::Cellular], 0x3_0000);
}

#[test]
fn marks_follow_the_mask() {
    let c = ok(&with("routing: {fwmark_mask: 0x1f00}\n"));
    let l = c.layout();
    assert_eq!(l.marks.paths[&PathId::Wifi], 0x200);
    assert_eq!(l.marks.tunnel, 0x200);
    assert_eq!(l.marks.classes, [0x1000]);
    assert!(l.marks.classes.iter().all(|m| m & !0x1f00 == 0));
}

#[test]
fn rules_needed_formula() {
    assert_eq!(crate::config::RoutingConfig::rules_needed(0), 6);
    assert_eq!(crate::config::RoutingConfig::rules_needed(4), 10);
}

#[test]
fn engine_settings_mirror_health_and_classes() {
    let s = ok(FULL).engine_settings();
    assert_eq!(s.paths.len(), 3);
    assert_eq!(
        s.paths[&PathId::Cellular],
        PathSettings {
            down_after: Duration::from_secs(60),
            up_after: Duration::from_secs(5),
            interface: Some("wwan0".into()),
            // Its only probe is IPv4: IPv6 is judged on the link alone.
            probed: crate::model::PerFamily {
                v4: true,
                v6: false
            },
            ..PathSettings::default()
        }
    );
    let names: Vec<_> = s.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["platform", "bulk", "telemetry", "default"]);
    assert_eq!(
        s.classes[1].paths,
        [
            ClassPath {
                path: PathId::Wifi,
                policy: Policy::Allow
            },
            ClassPath {
                path: PathId::Cellular,
                policy: Policy::Hold
            },
        ]
    );
}

#[test]
fn summary_names_paths_classes_and_numbers() {
    let s = ok(FULL).summary();
    for needle in [
        "arc       interface arc0 over wifi, mtu 1420",
        "wifi      interface wlan0; table 7102, rule 7100, mark 0x20000",
        "cellular  interface wwan0, modem first, bearer watched",
        "platform     -> arc, cellular; to 100.127.0.0/16,10.128.0.0/9; table 7110, rule 7105",
        "bulk         -> wifi, cellular (hold: reject)",
        "telemetry    -> wifi, cellular (budget 100MiB)",
        "default      -> wifi, cellular; everything else",
        "routing: rules 7100..=7199 (10 used), fwmark rule 7100 (tunnel mark 0x20000), suppress rule 7103, fwmark mask 0x00ff0000",
        "budget: cellular 1GiB monthly (reset day 1)",
        "status: /run/arcway/arcway.sock; metrics: off; logging: info auto",
    ] {
        assert!(s.contains(needle), "summary lacks `{needle}`:\n{s}");
    }
    assert!(
        !s.contains("sora"),
        "the summary must not show credentials:\n{s}"
    );
}

#[test]
fn summary_formats() {
    assert_eq!(duration(Duration::from_millis(250)), "250ms");
    assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
    assert_eq!(duration(Duration::from_secs(90)), "90s");
    assert_eq!(duration(Duration::from_secs(7200)), "2h");
    assert_eq!(duration(Duration::ZERO), "0ms");
    assert_eq!(bytes(1 << 30), "1GiB");
    assert_eq!(bytes(500_000_000), "500MB");
    assert_eq!(bytes(1001), "1001B");
}
