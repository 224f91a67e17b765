//! Errors found by the parser: syntax, types, unknown and missing keys, limits.

use super::{errors, expect_only, with};

#[test]
fn unknown_top_level_key() {
    expect_only(
        &with("colour: blue\n"),
        8,
        1,
        "colour",
        "unknown key `colour`",
    );
}

#[test]
fn unknown_nested_key_names_the_path() {
    expect_only(
        &with("arc:\n  mtu: 1420\n  mut: 1\n"),
        10,
        3,
        "arc.mut",
        "unknown key `mut` (expected one of: credentials",
    );
}

#[test]
fn unknown_key_in_flow_mapping_of_a_class_path() {
    let text = "version: 1\nuplinks:\n  wifi: {interface: wlan0}\nclasses:\n  - name: a\n    paths: [wifi, {path: wifi, polcy: hold}]\n";
    expect_only(
        text,
        6,
        32,
        "classes[0].paths[1].polcy",
        "unknown key `polcy`",
    );
}

#[test]
fn duplicate_key() {
    expect_only(
        &with("version: 1\n"),
        8,
        1,
        "version",
        "duplicate key `version`",
    );
}

#[test]
fn missing_required_key_names_it() {
    let text = "version: 1\nuplinks:\n  wifi: {}\nclasses:\n  - name: a\n    paths: [wifi]\n";
    expect_only(text, 3, 9, "uplinks.wifi.interface", "missing required key");
}

#[test]
fn missing_version() {
    let text = "uplinks:\n  wifi: {interface: wlan0}\n";
    expect_only(text, 1, 1, "version", "missing required key");
}

#[test]
fn wrong_type_integer() {
    expect_only(&with("arc:\n  mtu: big\n"), 9, 8, "arc.mtu", "invalid");
}

#[test]
fn wrong_type_sequence_for_scalar() {
    expect_only(
        &with("arc:\n  interface: [a, b]\n"),
        9,
        14,
        "arc.interface",
        "",
    );
}

#[test]
fn bad_duration() {
    expect_only(
        &with("arc:\n  keepalive: 25x\n"),
        9,
        14,
        "arc.keepalive",
        "invalid duration `25x`",
    );
}

#[test]
fn duration_without_unit() {
    expect_only(
        &with("arc:\n  keepalive: 25\n"),
        9,
        14,
        "arc.keepalive",
        "duration `25` needs a unit",
    );
}

#[test]
fn bad_byte_size() {
    let text = with("budget:\n  cellular: {bytes: 1GB2}\n");
    expect_only(
        &text,
        9,
        21,
        "budget.cellular.bytes",
        "invalid byte size `1GB2`",
    );
}

#[test]
fn bad_cidr_in_a_list() {
    expect_only(
        &with("arc:\n  extra_allowed_ips: [192.0.2.0/24, 192.0.2.0/33]\n"),
        9,
        37,
        "arc.extra_allowed_ips[1]",
        "invalid CIDR",
    );
}

#[test]
fn cidr_with_host_bits() {
    expect_only(
        &with("arc:\n  extra_allowed_ips: [192.0.2.1/24]\n"),
        9,
        23,
        "arc.extra_allowed_ips[0]",
        "did you mean 192.0.2.0/24",
    );
}

#[test]
fn unknown_keyword() {
    expect_only(
        &with("arc:\n  backend: magic\n"),
        9,
        12,
        "arc.backend",
        "unknown value `magic` (expected one of: auto, kernel, userspace)",
    );
}

#[test]
fn unknown_probe_kind() {
    let text = with("health:\n  wifi:\n    probes: [{ping: 192.0.2.1}]\n");
    expect_only(
        &text,
        10,
        15,
        "health.wifi.probes[0].ping",
        "unknown value `ping`",
    );
}

#[test]
fn bad_ip_address_in_probe() {
    let text = with("health:\n  wifi:\n    probes: [{icmp: 192.0.2}]\n");
    expect_only(&text, 10, 21, "health.wifi.probes[0].icmp", "");
}

#[test]
fn yes_is_not_a_boolean() {
    let text = "version: 1\nuplinks:\n  cellular: {manage: yes}\nclasses:\n  - name: a\n    paths: [cellular]\n";
    expect_only(text, 3, 22, "uplinks.cellular.manage", "true or false");
}

#[test]
fn class_path_entry_of_wrong_shape() {
    let text = "version: 1\nuplinks:\n  wifi: {interface: wlan0}\nclasses:\n  - name: a\n    paths: [[wifi]]\n";
    expect_only(text, 6, 13, "classes[0].paths[0]", "a path name");
}

#[test]
fn two_documents_are_refused() {
    expect_only(
        &format!("{}---\nversion: 1\n", super::BASE),
        9,
        1,
        "(top level)",
        "only one YAML document",
    );
}

#[test]
fn syntax_error_has_a_position() {
    let errs = errors("version: 1\nuplinks:\n  wifi: {interface: wlan0\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("t.yaml:"), "{errs:?}");
}

#[test]
fn unclosed_quote() {
    let errs = errors("version: 1\narc:\n  interface: \"arc0\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("t.yaml:3:"), "{errs:?}");
}

#[test]
fn top_level_not_a_mapping() {
    let errs = errors("- a\n- b\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].starts_with("t.yaml:1:1: (top level): "), "{errs:?}");
}

#[test]
fn control_characters_stay_on_one_line() {
    let errs = errors("version: 1\n\"bad\\nkey\": 1\n");
    assert_eq!(errs.len(), 1);
    assert!(!errs[0].contains('\n'), "{errs:?}");
    assert!(errs[0].contains("bad\\nkey"), "{errs:?}");
}

#[test]
fn alias_bomb_is_refused_quickly() {
    // Each class replays a 1000-element list: 300 of them would be 300k replayed events.
    let big = vec!["g"; 1000].join(", ");
    let mut text = format!(
        "version: 1\nuplinks: {{wifi: {{interface: wlan0}}}}\nclasses:\n  - {{name: c0, match: {{cgroups: &big [{big}]}}, paths: [wifi]}}\n"
    );
    for i in 1..300 {
        text.push_str(&format!(
            "  - {{name: c{i}, match: {{cgroups: *big}}, paths: [wifi]}}\n"
        ));
    }
    let started = std::time::Instant::now();
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("too large or too complex"), "{errs:?}");
    assert!(errs[0].contains(": classes["), "{errs:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn deep_nesting_is_refused() {
    for open in ["[", "{a: "] {
        let text = format!("version: 1\nclasses: {}\n", open.repeat(10_000));
        let errs = errors(&text);
        assert_eq!(errs.len(), 1, "{errs:?}");
    }
}

#[test]
fn deep_block_nesting_is_refused() {
    let mut text = String::from("version: 1\nclasses:\n");
    for depth in 1..200 {
        text.push_str(&format!("{}- \n", "  ".repeat(depth)));
    }
    assert_eq!(errors(&text).len(), 1);
}

#[test]
fn merge_keys_work_within_limits() {
    let text = "version: 1\nuplinks:\n  wifi: {interface: wlan0}\nhealth:\n  wifi:\n    <<: {interval: 2s}\n    timeout: 1s\nclasses:\n  - {name: a, paths: [wifi]}\n";
    assert_eq!(
        super::ok(text).health[&crate::model::PathId::Wifi].interval,
        std::time::Duration::from_secs(2)
    );
}

#[test]
fn aliases_within_limits_work() {
    let text = "version: 1\nuplinks:\n  wifi: {interface: wlan0}\nhealth:\n  wifi: &h {interval: 2s, timeout: 1s}\nclasses:\n  - name: a\n    paths: [wifi]\n";
    let c = super::ok(text);
    assert_eq!(
        c.health[&crate::model::PathId::Wifi].interval,
        std::time::Duration::from_secs(2)
    );
}

#[test]
fn unknown_tags_are_refused() {
    let errs = errors("version: !custom 1\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn number_and_boolean_errors_name_the_value() {
    let mtu = |v: &str| with(&format!("arc:\n  credentials: /a\n  mtu: {v}\n"));
    expect_only(
        &mtu("big"),
        10,
        8,
        "arc.mtu",
        "invalid number `big` (expected a whole number)",
    );
    expect_only(
        &mtu("-5"),
        10,
        8,
        "arc.mtu",
        "number `-5` is out of range (0 to 4294967295)",
    );
    expect_only(
        &mtu("0x1_0000_0000"),
        10,
        8,
        "arc.mtu",
        "number `0x1_0000_0000` is out of range (0 to 4294967295)",
    );
    expect_only(
        &mtu("010"),
        10,
        8,
        "arc.mtu",
        "a leading zero is not allowed",
    );
    expect_only(
        &mtu("!!str 1400"),
        10,
        14,
        "arc.mtu",
        "expected a whole number, found a value tagged `!!str`",
    );
    expect_only(
        &mtu("[1]"),
        10,
        8,
        "arc.mtu",
        "expected a single value, found a list",
    );
    expect_only(
        &with("arc:\n  credentials: /a\n  rebootstrap_on_auth_failure: yes\n"),
        10,
        32,
        "arc.rebootstrap_on_auth_failure",
        "invalid boolean `yes` (expected true or false)",
    );
}
