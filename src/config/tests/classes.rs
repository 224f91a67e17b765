//! `classes:`.

use super::{BASE, expect, expect_only, ok, with};
use crate::config::{HoldAction, Protocol};
use crate::model::{PathId, Policy};

/// Four lines of config before `classes:` on line 5: wifi and cellular.
fn classes(list: &str) -> String {
    format!(
        "version: 1\nuplinks:\n  wifi: {{interface: wlan0}}\n  cellular: {{interface: wwan0}}\nclasses:\n{list}"
    )
}

#[test]
fn scalar_path_means_allow_and_map_keeps_policy() {
    let c = ok(&classes(
        "  - name: bulk\n    match: {destinations: [192.0.2.0/24]}\n    paths: [wifi, {path: cellular, policy: hold, hold_action: tcp-reset}]\n",
    ));
    let p = &c.classes[0].paths;
    assert_eq!(
        (p[0].path, p[0].policy, p[0].hold_action),
        (PathId::Wifi, Policy::Allow, None)
    );
    assert_eq!(
        (p[1].path, p[1].policy, p[1].hold_action),
        (PathId::Cellular, Policy::Hold, Some(HoldAction::TcpReset))
    );
}

#[test]
fn hold_defaults_to_reject() {
    let c = ok(&classes(
        "  - name: bulk\n    paths: [{path: cellular, policy: hold}]\n",
    ));
    assert_eq!(c.classes[0].paths[0].hold_action, Some(HoldAction::Reject));
}

#[test]
fn no_classes() {
    expect(&classes(""), 1, 1, "classes", "no classes are configured");
}

#[test]
fn empty_class_list() {
    expect_only(
        "version: 1\nuplinks:\n  wifi: {interface: wlan0}\nclasses: []\n",
        4,
        10,
        "classes",
        "no classes are configured",
    );
}

#[test]
fn duplicate_class_name() {
    let text = classes(
        "  - name: a\n    match: {protocols: [udp]}\n    paths: [wifi]\n  - name: a\n    paths: [wifi]\n",
    );
    expect_only(
        &text,
        9,
        11,
        "classes[1].name",
        "duplicate class name `a` (first used by classes[0])",
    );
}

#[test]
fn invalid_class_name() {
    expect_only(
        &classes("  - name: Bulk Data\n    paths: [wifi]\n"),
        6,
        11,
        "classes[0].name",
        "invalid class name `Bulk Data`",
    );
}

#[test]
fn unknown_path_name() {
    expect_only(
        &classes("  - name: a\n    paths: [wifi, lte]\n"),
        7,
        19,
        "classes[0].paths[1]",
        "unknown path `lte` (expected arc, wifi or cellular)",
    );
}

#[test]
fn unknown_path_name_in_mapping() {
    expect_only(
        &classes("  - name: a\n    paths: [{path: lte}]\n"),
        7,
        20,
        "classes[0].paths[0].path",
        "unknown path `lte`",
    );
}

#[test]
fn arc_path_not_configured() {
    expect_only(
        &classes("  - name: a\n    paths: [arc, wifi]\n"),
        7,
        13,
        "classes[0].paths[0]",
        "uses the arc path, which is not configured (arc:)",
    );
}

#[test]
fn cellular_path_not_configured() {
    let text = "version: 1\nuplinks:\n  wifi: {interface: wlan0}\nclasses:\n  - name: a\n    paths: [wifi, cellular]\n";
    expect_only(
        text,
        6,
        19,
        "classes[0].paths[1]",
        "uses the cellular path, which is not configured (uplinks.cellular)",
    );
}

#[test]
fn wifi_path_not_configured() {
    let text = "version: 1\nuplinks:\n  cellular: {interface: wwan0}\nclasses:\n  - name: a\n    paths: [{path: wifi}]\n";
    expect_only(
        text,
        6,
        20,
        "classes[0].paths[0].path",
        "uses the wifi path, which is not configured (uplinks.wifi)",
    );
}

#[test]
fn path_listed_twice() {
    expect_only(
        &classes("  - name: a\n    paths: [wifi, wifi]\n"),
        7,
        19,
        "classes[0].paths[1]",
        "path wifi is listed twice",
    );
}

#[test]
fn class_without_paths() {
    expect_only(
        &classes("  - name: a\n    paths: []\n"),
        7,
        12,
        "classes[0].paths",
        "class `a` has no paths",
    );
}

#[test]
fn default_class_not_last() {
    let text = classes(
        "  - name: rest\n    paths: [wifi]\n  - name: b\n    match: {protocols: [udp]}\n    paths: [wifi]\n",
    );
    expect_only(&text, 6, 5, "classes[0]", "it must be the last class");
}

#[test]
fn two_default_classes() {
    let text = classes("  - name: a\n    paths: [wifi]\n  - name: b\n    paths: [wifi]\n");
    expect(
        &text,
        8,
        5,
        "classes[1]",
        "only one class may leave out match: (classes[0] already takes everything else)",
    );
}

#[test]
fn empty_match() {
    expect_only(
        &classes("  - name: a\n    match: {}\n    paths: [wifi]\n"),
        7,
        12,
        "classes[0].match",
        "match has no criteria",
    );
}

#[test]
fn hold_action_without_hold() {
    let text = classes("  - name: a\n    paths: [{path: cellular, hold_action: reject}]\n");
    expect_only(
        &text,
        7,
        43,
        "classes[0].paths[0].hold_action",
        "hold_action only applies to policy hold (the policy is allow)",
    );
}

#[test]
fn bytes_without_budget_policy() {
    let text = classes("  - name: a\n    paths: [{path: cellular, policy: hold, bytes: 1GiB}]\n");
    expect_only(
        &text,
        7,
        51,
        "classes[0].paths[0].bytes",
        "bytes only applies to policy budget (the policy is hold)",
    );
}

#[test]
fn budget_policy_without_any_budget() {
    let text = classes("  - name: a\n    paths: [{path: cellular, policy: budget}]\n");
    expect_only(
        &text,
        7,
        38,
        "classes[0].paths[0].policy",
        "policy budget needs bytes: here or a budget.cellular section",
    );
}

#[test]
fn budget_policy_with_global_budget() {
    let text = classes(
        "  - name: a\n    paths: [{path: cellular, policy: budget}]\nbudget:\n  cellular: {bytes: 1GiB}\n",
    );
    let c = ok(&text);
    assert_eq!(c.classes[0].paths[0].bytes, None);
    assert_eq!(c.budget.cellular.unwrap().bytes, 1 << 30);
}

#[test]
fn budget_policy_with_own_bytes() {
    let c = ok(&classes(
        "  - name: a\n    paths: [{path: cellular, policy: budget, bytes: 100MiB}]\n",
    ));
    assert_eq!(c.classes[0].paths[0].bytes, Some(100 << 20));
}

#[test]
fn budget_policy_zero_bytes() {
    let text = classes("  - name: a\n    paths: [{path: cellular, policy: budget, bytes: 0}]\n");
    expect_only(
        &text,
        7,
        53,
        "classes[0].paths[0].bytes",
        "bytes must be more than zero",
    );
}

#[test]
fn budget_policy_on_wifi() {
    let text = classes("  - name: a\n    paths: [{path: wifi, policy: budget, bytes: 1GiB}]\n");
    expect_only(
        &text,
        7,
        34,
        "classes[0].paths[0].policy",
        "policy budget only applies to the cellular path",
    );
}

#[test]
fn overlapping_destinations_between_classes() {
    let text = classes(
        "  - name: a\n    match: {destinations: [192.0.2.0/24]}\n    paths: [wifi]\n  - name: b\n    match: {destinations: [198.51.100.0/24, 192.0.2.128/25]}\n    paths: [wifi]\n",
    );
    expect_only(
        &text,
        10,
        45,
        "classes[1].match.destinations[1]",
        "destination 192.0.2.128/25 overlaps 192.0.2.0/24 of class `a` (classes[0].match.destinations[0])",
    );
}

#[test]
fn same_destinations_in_one_class_are_not_an_overlap_error() {
    ok(&classes(
        "  - name: a\n    match: {destinations: [192.0.2.0/24, 192.0.2.0/25]}\n    paths: [wifi]\n",
    ));
}

#[test]
fn ports_with_only_icmp() {
    let text =
        classes("  - name: a\n    match: {protocols: [icmp], ports: [80]}\n    paths: [wifi]\n");
    expect_only(
        &text,
        7,
        40,
        "classes[0].match.ports",
        "ports need protocol tcp or udp",
    );
}

#[test]
fn dscp_out_of_range() {
    expect_only(
        &classes("  - name: a\n    match: {dscp: [8, 64]}\n    paths: [wifi]\n"),
        7,
        23,
        "classes[0].match.dscp[1]",
        "dscp 64 is out of range 0..=63",
    );
}

#[test]
fn bad_match_interface() {
    let text =
        classes("  - name: a\n    match: {interfaces: [lan0, \"lan/1\"]}\n    paths: [wifi]\n");
    expect_only(
        &text,
        7,
        32,
        "classes[0].match.interfaces[1]",
        "contains `/`",
    );
}

/// Names nftables would parse (a quote, a wildcard, a brace) are refused where they are
/// written, as the kernel's own rules are.
#[test]
fn match_interfaces_nft_would_parse() {
    for (name, col, message) in [
        (
            "\"lan\\\"x\"",
            26,
            "contains `\"`, which nftables would parse",
        ),
        ("\"lan*\"", 26, "contains `*`"),
        ("\"a{b\"", 26, "contains `{`"),
        ("\"abcdefghijklmnop\"", 26, "longer than 15 bytes"),
        ("\"..\"", 26, "not a valid interface name"),
        ("\"\"", 26, "interface name is empty"),
    ] {
        let text = classes(&format!(
            "  - name: a\n    match: {{interfaces: [{name}]}}\n    paths: [wifi]\n"
        ));
        expect_only(&text, 7, col, "classes[0].match.interfaces[0]", message);
    }
}

#[test]
fn cgroup_paths_nft_would_parse() {
    for (path, message) in [
        ("\"a\\\"b\"", "contains `\\\"`"),
        ("\"a/../b\"", "`..` component"),
        ("\"system.slice/x y\"", "contains ` `"),
    ] {
        let text = classes(&format!(
            "  - name: a\n    match: {{cgroups: [{path}]}}\n    paths: [wifi]\n"
        ));
        expect_only(&text, 7, 23, "classes[0].match.cgroups[0]", message);
    }
}

#[test]
fn empty_cgroup() {
    expect_only(
        &classes("  - name: a\n    match: {cgroups: [\"/\"]}\n    paths: [wifi]\n"),
        7,
        23,
        "classes[0].match.cgroups[0]",
        "cgroup path is empty",
    );
}

#[test]
fn mark_overlapping_the_routing_mask() {
    let text =
        classes("  - name: a\n    match: {fwmarks: [\"0x10000/0x30000\"]}\n    paths: [wifi]\n");
    expect_only(
        &text,
        7,
        23,
        "classes[0].match.fwmarks[0]",
        "overlaps routing.fwmark_mask 0x00ff0000",
    );
}

#[test]
fn mark_value_outside_its_mask() {
    let text = classes("  - name: a\n    match: {fwmarks: [\"0x100/0xff\"]}\n    paths: [wifi]\n");
    expect_only(
        &text,
        7,
        23,
        "classes[0].match.fwmarks[0]",
        "has value bits outside its mask",
    );
}

#[test]
fn mark_with_empty_mask() {
    let text = classes("  - name: a\n    match: {fwmarks: [\"0/0\"]}\n    paths: [wifi]\n");
    expect_only(
        &text,
        7,
        23,
        "classes[0].match.fwmarks[0]",
        "has an empty mask",
    );
}

#[test]
fn full_match_is_kept() {
    let text = classes(
        "  - name: a\n    match: {destinations: [192.0.2.0/24], protocols: [tcp, udp], ports: [\"443\", \"8000-9000\", 53], dscp: [8], sources: [198.51.100.64/26], interfaces: [lan1], uids: [1000], cgroups: [x.slice], fwmarks: [\"0x1/0xff\"]}\n    paths: [wifi]\n",
    );
    let m = ok(&text).classes[0].matcher.clone().unwrap();
    assert_eq!(m.protocols, [Protocol::Tcp, Protocol::Udp]);
    assert_eq!(m.ports.len(), 3);
    assert_eq!(m.ports[1].to_string(), "8000-9000");
    assert_eq!(m.uids, [1000]);
}

#[test]
fn all_class_errors_are_collected() {
    let text =
        classes("  - name: A\n    paths: [lte, arc]\n  - name: b\n    match: {}\n    paths: []\n");
    let errs = super::errors(&text);
    assert_eq!(errs.len(), 6, "{errs:#?}");
}

#[test]
fn base_is_valid() {
    ok(BASE);
    ok(&with(""));
}
