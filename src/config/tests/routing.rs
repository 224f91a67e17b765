//! `routing:`, `budget:`, `status:`, `metrics:`, `logging:`.

use super::{BASE, errors, expect, expect_only, ok, with};
use crate::config::{LogFormat, LogLevel, Period};

/// BASE with `n` classes (n - 1 matching ones, then the default class).
fn with_classes(n: usize, extra: &str) -> String {
    let mut s = String::from(
        "version: 1\nuplinks:\n  wifi: {interface: wlan0}\n  cellular: {interface: wwan0}\nclasses:\n",
    );
    for i in 0..n.saturating_sub(1) {
        s.push_str(&format!(
            "  - {{name: c{i}, match: {{uids: [{i}]}}, paths: [wifi]}}\n"
        ));
    }
    s.push_str("  - {name: rest, paths: [wifi]}\n");
    s.push_str(extra);
    s
}

#[test]
fn defaults() {
    let r = ok(BASE).routing;
    assert_eq!(
        (
            r.tables.arc,
            r.tables.wifi,
            r.tables.cellular,
            r.tables.classes_start
        ),
        (7101, 7102, 7103, 7110)
    );
    assert_eq!((r.rule_priority.start, r.rule_priority.end), (7100, 7199));
    assert_eq!(r.fwmark_mask, 0x00ff_0000);
}

#[test]
fn reserved_table() {
    expect_only(
        &with("routing:\n  tables: {wifi: 254}\n"),
        9,
        18,
        "routing.tables.wifi",
        "table 254 is reserved",
    );
}

#[test]
fn table_zero() {
    expect_only(
        &with("routing:\n  tables: {cellular: 0}\n"),
        9,
        22,
        "routing.tables.cellular",
        "table 0 is reserved",
    );
}

#[test]
fn path_tables_clash() {
    expect_only(
        &with("routing:\n  tables: {wifi: 7103}\n"),
        9,
        11,
        "routing.tables.cellular",
        "table 7103 is already used by routing.tables.wifi",
    );
}

#[test]
fn tables_of_unconfigured_paths_are_not_checked() {
    ok(&with("routing:\n  tables: {wifi: 7101}\n"));
}

#[test]
fn class_tables_include_a_path_table() {
    let text = with("routing:\n  tables: {classes_start: 7102}\n");
    expect_only(
        &text,
        9,
        27,
        "routing.tables.classes_start",
        "class tables 7102..=7102 (1 classes) include table 7102 of routing.tables.wifi",
    );
}

#[test]
fn class_tables_include_a_reserved_table() {
    let text = with_classes(6, "routing:\n  tables: {classes_start: 250}\n");
    expect_only(
        &text,
        13,
        27,
        "routing.tables.classes_start",
        "class tables 250..=255 (6 classes) include reserved table 253",
    );
}

#[test]
fn class_tables_overflow() {
    let text = with_classes(2, "routing:\n  tables: {classes_start: 4294967295}\n");
    expect_only(
        &text,
        9,
        27,
        "routing.tables.classes_start",
        "run past the largest table id",
    );
}

#[test]
fn priority_zero() {
    expect_only(
        &with("routing:\n  rule_priority: {start: 0}\n"),
        9,
        26,
        "routing.rule_priority.start",
        "rule priority 0 is out of range 1..=32765",
    );
}

#[test]
fn priority_of_main() {
    expect_only(
        &with("routing:\n  rule_priority: {end: 32766}\n"),
        9,
        24,
        "routing.rule_priority.end",
        "rule priority 32766 is out of range",
    );
}

#[test]
fn priority_start_after_end() {
    expect_only(
        &with("routing:\n  rule_priority: {start: 7200}\n"),
        9,
        18,
        "routing.rule_priority.end",
        "end 7199 must be greater than start 7200",
    );
}

#[test]
fn priority_range_too_small() {
    let text = with("routing:\n  rule_priority: {start: 7100, end: 7104}\n");
    expect_only(
        &text,
        9,
        18,
        "routing.rule_priority",
        "7100..=7104 holds 5 priorities but arcway needs 7 (3 path mark rules + 1 suppress rule + 1 source rule + 1 class rules + the last one for the default class)",
    );
}

#[test]
fn priority_range_just_large_enough() {
    ok(&with(
        "routing:\n  rule_priority: {start: 7100, end: 7106}\n",
    ));
}

#[test]
fn mask_zero() {
    expect_only(
        &with("routing:\n  fwmark_mask: 0\n"),
        9,
        16,
        "routing.fwmark_mask",
        "fwmark_mask must not be zero",
    );
}

#[test]
fn mask_not_contiguous() {
    expect_only(
        &with("routing:\n  fwmark_mask: 0x00ff00ff\n"),
        9,
        16,
        "routing.fwmark_mask",
        "one contiguous run of bits",
    );
}

#[test]
fn mask_too_small_for_the_classes() {
    let text = with_classes(4, "routing:\n  fwmark_mask: 0x7\n");
    expect_only(
        &text,
        11,
        16,
        "routing.fwmark_mask",
        "room for mark numbers up to 7, but arcway needs 19 (path marks 1-3, class marks from 16, 4 classes)",
    );
}

#[test]
fn mask_as_quoted_string() {
    assert_eq!(
        ok(&with("routing:\n  fwmark_mask: \"0xff00\"\n"))
            .routing
            .fwmark_mask,
        0xff00
    );
}

#[test]
fn bad_mask_text() {
    expect_only(
        &with("routing:\n  fwmark_mask: lots\n"),
        9,
        16,
        "routing.fwmark_mask",
        "invalid mask `lots`",
    );
}

#[test]
fn budget_defaults() {
    let b = ok(&with("budget:\n  cellular: {bytes: 500MB}\n"))
        .budget
        .cellular
        .unwrap();
    assert_eq!(
        (b.bytes, b.period, b.reset_day),
        (500_000_000, Period::Monthly, 1)
    );
}

#[test]
fn budget_reset_day_zero() {
    expect_only(
        &with("budget:\n  cellular: {bytes: 1GiB, reset_day: 0}\n"),
        9,
        38,
        "budget.cellular.reset_day",
        "reset_day 0 is out of range 1..=28",
    );
}

#[test]
fn budget_reset_day_29() {
    expect_only(
        &with("budget:\n  cellular: {bytes: 1GiB, reset_day: 29}\n"),
        9,
        38,
        "budget.cellular.reset_day",
        "out of range 1..=28",
    );
}

#[test]
fn budget_reset_day_with_daily_period() {
    let text = with("budget:\n  cellular: {bytes: 1GiB, period: daily, reset_day: 3}\n");
    expect_only(
        &text,
        9,
        53,
        "budget.cellular.reset_day",
        "reset_day only applies to period monthly",
    );
}

#[test]
fn budget_zero_bytes() {
    expect_only(
        &with("budget:\n  cellular: {bytes: 0}\n"),
        9,
        21,
        "budget.cellular.bytes",
        "bytes must be more than zero",
    );
}

#[test]
fn budget_without_cellular() {
    let text = "version: 1\nuplinks:\n  wifi: {interface: wlan0}\nclasses:\n  - {name: a, paths: [wifi]}\nbudget:\n  cellular: {bytes: 1GiB}\n";
    expect_only(
        text,
        7,
        13,
        "budget.cellular",
        "uplinks.cellular is not configured",
    );
}

#[test]
fn relative_status_socket() {
    expect_only(
        &with("status: {socket: arcway.sock}\n"),
        8,
        18,
        "status.socket",
        "must be an absolute path",
    );
}

#[test]
fn metrics_listen_needs_an_address() {
    expect_only(
        &with("metrics: {listen: \"localhost:9786\"}\n"),
        8,
        19,
        "metrics.listen",
        "",
    );
}

#[test]
fn metrics_on_a_non_loopback_address_is_a_warning_with_its_place() {
    let c = ok(&with("metrics: {listen: \"0.0.0.0:9786\"}\n"));
    let warnings: Vec<String> = c.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains(":8:19: metrics.listen: 0.0.0.0:9786 is not a loopback address"),
        "{warnings:?}"
    );
    for quiet in ["127.0.0.1:9786", "[::1]:9786"] {
        let c = ok(&with(&format!("metrics: {{listen: \"{quiet}\"}}\n")));
        assert!(c.warnings.is_empty(), "{quiet}: {:?}", c.warnings);
    }
    assert!(ok(BASE).warnings.is_empty());
}

#[test]
fn misc_defaults_and_values() {
    let c = ok(BASE);
    assert_eq!(c.status.socket.to_str(), Some("/run/arcway/arcway.sock"));
    assert_eq!(c.metrics.listen, None);
    assert_eq!(
        (c.logging.level, c.logging.format),
        (LogLevel::Info, LogFormat::Auto)
    );
    let c = ok(&with(
        "metrics: {listen: \"127.0.0.1:9786\"}\nlogging: {level: debug, format: json}\n",
    ));
    assert_eq!(c.metrics.listen, Some("127.0.0.1:9786".parse().unwrap()));
    assert_eq!(
        (c.logging.level, c.logging.format),
        (LogLevel::Debug, LogFormat::Json)
    );
}

#[test]
fn unknown_log_level() {
    expect_only(
        &with("logging: {level: loud}\n"),
        8,
        18,
        "logging.level",
        "unknown value `loud`",
    );
}

#[test]
fn version_two() {
    expect_only(
        &BASE.replace("version: 1", "version: 2"),
        1,
        10,
        "version",
        "unsupported version 2 (this arcway reads version 1)",
    );
}

#[test]
fn many_problems_at_once_are_sorted_by_position() {
    let text = with("routing:\n  tables: {wifi: 254, classes_start: 0}\n  rule_priority: {start: 0, end: 99999}\n  fwmark_mask: 0\n").replace("version: 1", "version: 3");
    let errs = errors(&text);
    assert!(errs.len() >= 6, "{errs:#?}");
    assert!(errs[0].starts_with("t.yaml:1:10: version: "), "{errs:#?}");
    expect(&text, 11, 16, "routing.fwmark_mask", "must not be zero");
}
