//! The metrics page, escaping, switch counting and request parsing.

use super::*;
use crate::accounting::{AccountingStatus, BudgetStatus, ClassBytes, LineBytes, ProbeBytes};
use crate::status::{ClassStatus, Event, PathStatus, ProbeStatus, Route, Snapshot, WallTime};

pub(crate) fn snapshot() -> Snapshot {
    Snapshot {
        arcway_version: "0.1.0".into(),
        paths: vec![
            PathStatus {
                name: "arc".into(),
                state: "up".into(),
                handshake_age_ms: Some(12_500),
                probes: vec![ProbeStatus {
                    target: "icmp 100.127.100.127".into(),
                    last_latency_ms: Some(12.5),
                    loss_percent: Some(25.0),
                    window: 4,
                    last_error: None,
                }],
                ..PathStatus::default()
            },
            PathStatus {
                name: "cellular".into(),
                state: "down".into(),
                probes: vec![ProbeStatus {
                    target: "http \"odd\"\\path\n".into(),
                    loss_percent: Some(100.0),
                    ..ProbeStatus::default()
                }],
                ..PathStatus::default()
            },
        ],
        classes: vec![
            ClassStatus {
                name: "platform".into(),
                route: Route::Via("arc".into()),
                route_ipv6: None,
                since: None,
            },
            ClassStatus {
                name: "bulk".into(),
                route: Route::HeldOn("cellular".into()),
                route_ipv6: None,
                since: None,
            },
        ],
        ..Snapshot::default()
    }
}

pub(crate) fn accounting() -> AccountingStatus {
    AccountingStatus {
        period_start: "2025-01-01".into(),
        period_end: "2025-02-01".into(),
        lines: vec![LineBytes {
            path: "cellular".into(),
            rx: 1000,
            tx: 500,
        }],
        classes: vec![ClassBytes {
            class: "bulk".into(),
            path: "cellular".into(),
            rx: 900,
            tx: 400,
        }],
        budgets: vec![BudgetStatus {
            path: "cellular".into(),
            class: None,
            limit: 2000,
            used: 1500,
            remaining: 500,
            exhausted: false,
        }],
        probes: vec![ProbeBytes {
            path: "cellular".into(),
            sent: 84,
            received: 84,
        }],
    }
}

#[test]
fn page_has_every_family_with_help_and_type() {
    let s = snapshot();
    let a = accounting();
    let page = render(&MetricsInput {
        snapshot: &s,
        accounting: Some(&a),
        switches_total: 3,
    });
    for family in [
        "arcway_info",
        "arcway_path_state",
        "arcway_path_handshake_age_seconds",
        "arcway_probe_latency_seconds",
        "arcway_probe_loss_ratio",
        "arcway_switches_total",
        "arcway_class_route",
        "arcway_class_bytes_total",
        "arcway_line_bytes_total",
        "arcway_budget_remaining_bytes",
        "arcway_probe_bytes_total",
    ] {
        assert!(
            page.contains(&format!("# HELP {family} ")),
            "{family}\n{page}"
        );
        assert!(
            page.contains(&format!("# TYPE {family} ")),
            "{family}\n{page}"
        );
    }
    for line in [
        "arcway_path_state{path=\"arc\",state=\"up\"} 1\n",
        "arcway_path_state{path=\"arc\",state=\"down\"} 0\n",
        "arcway_path_handshake_age_seconds{path=\"arc\"} 12.5\n",
        "arcway_probe_latency_seconds{path=\"arc\",target=\"icmp 100.127.100.127\"} 0.0125\n",
        "arcway_probe_loss_ratio{path=\"arc\",target=\"icmp 100.127.100.127\"} 0.25\n",
        "arcway_probe_loss_ratio{path=\"cellular\",target=\"http \\\"odd\\\"\\\\path\\n\"} 1\n",
        "arcway_switches_total 3\n",
        "arcway_class_route{class=\"bulk\",route=\"held\",path=\"cellular\"} 1\n",
        "arcway_class_bytes_total{class=\"bulk\",path=\"cellular\",direction=\"rx\"} 900\n",
        "arcway_budget_remaining_bytes{path=\"cellular\",class=\"\"} 500\n",
        "arcway_probe_bytes_total{path=\"cellular\",direction=\"tx\"} 84\n",
    ] {
        assert!(page.contains(line), "{line}\n{page}");
    }
    // Stable: the same input renders the same page.
    assert_eq!(
        page,
        render(&MetricsInput {
            snapshot: &s,
            accounting: Some(&a),
            switches_total: 3
        })
    );
    let without = render(&MetricsInput {
        snapshot: &s,
        accounting: None,
        switches_total: 0,
    });
    assert!(!without.contains("arcway_class_bytes_total"));
}

#[test]
fn numbers_and_escapes() {
    assert_eq!(number(3.0), "3");
    assert_eq!(number(0.25), "0.25");
    assert_eq!(number(f64::NAN), "NaN");
    assert_eq!(number(f64::INFINITY), "+Inf");
    assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
}

fn switch(ms: i64) -> Event {
    Event {
        at: WallTime::from_unix_ms(ms),
        subject: "class bulk".into(),
        ..Event::default()
    }
}

#[test]
fn switches_count_only_new_events_of_a_bounded_log() {
    let mut c = SwitchCounter::default();
    let mut s = Snapshot::default();
    assert_eq!(c.observe(&s), 0);
    s.events = vec![
        switch(1),
        Event {
            subject: "path wifi".into(),
            ..switch(1)
        },
        switch(2),
        switch(2),
    ];
    assert_eq!(c.observe(&s), 3);
    assert_eq!(c.observe(&s), 3);
    // The log dropped its oldest entries and gained two.
    s.events = vec![switch(2), switch(2), switch(2), switch(5)];
    assert_eq!(c.observe(&s), 5);
}

#[test]
fn request_lines() {
    assert_eq!(
        parse_request_line("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        Some(("GET", "/metrics"))
    );
    assert_eq!(
        parse_request_line("GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
        Some(("GET", "/metrics"))
    );
    assert_eq!(parse_request_line("GET /metrics\r\n"), None);
    assert_eq!(parse_request_line("garbage"), None);
}

#[test]
fn problems_are_a_gauge_per_object() {
    let mut s = snapshot();
    let page = render(&MetricsInput {
        snapshot: &s,
        accounting: None,
        switches_total: 0,
    });
    for object in ["credentials", "nftables", "routing", "tunnel"] {
        assert!(
            page.contains(&format!("arcway_problem{{object=\"{object}\"}} 0\n")),
            "{object}\n{page}"
        );
    }
    s.problems.push(crate::status::Problem {
        object: "nftables".into(),
        since: crate::status::WallTime::from_unix_ms(1_714_564_800_000),
        error: "failed to load table inet arcway: Operation not permitted".into(),
    });
    let page = render(&MetricsInput {
        snapshot: &s,
        accounting: None,
        switches_total: 0,
    });
    assert!(
        page.contains("arcway_problem{object=\"nftables\"} 1\n"),
        "{page}"
    );
    assert!(
        page.contains("arcway_problem{object=\"routing\"} 0\n"),
        "{page}"
    );
}

#[test]
fn wifi_gauges_for_a_followed_station() {
    let mut s = snapshot();
    s.paths.push(PathStatus {
        name: "wifi".into(),
        state: "up".into(),
        wifi: Some(crate::status::WifiStatus {
            signal_dbm: Some(-67),
            freq_mhz: Some(5180),
            tx_bitrate_kbps: Some(866_700),
            rx_bitrate_kbps: None,
            degraded: true,
            ..Default::default()
        }),
        ..PathStatus::default()
    });
    let page = render(&MetricsInput {
        snapshot: &s,
        accounting: None,
        switches_total: 0,
    });
    for line in [
        "arcway_wifi_signal_dbm{path=\"wifi\"} -67",
        "arcway_wifi_frequency_mhz{path=\"wifi\"} 5180",
        "arcway_wifi_tx_bitrate_bps{path=\"wifi\"} 866700000",
        "arcway_wifi_degraded{path=\"wifi\"} 1",
        "# TYPE arcway_wifi_rx_bitrate_bps gauge",
    ] {
        assert!(page.lines().any(|l| l == line), "no `{line}` in:\n{page}");
    }
    // No sample for what is not known, and none for paths that are not Wi-Fi stations.
    assert!(!page.contains("arcway_wifi_rx_bitrate_bps{"), "{page}");
    assert!(
        !page.contains("arcway_wifi_signal_dbm{path=\"arc\"}"),
        "{page}"
    );
}
