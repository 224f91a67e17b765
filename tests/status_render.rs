//! The human views, checked against their exact text, and the JSON form of a snapshot.

use arcway::status::{
    ClassStatus, ConfigStatus, Event, EventLog, FamilyStates, PathStatus, ProbeStatus, Problem,
    ReloadError, Route, Since, Snapshot, WallTime, WifiDisconnect, WifiStatus, render_events,
    render_status, status_line,
};

/// 2024-05-01T12:00:00Z, the moment the fixture snapshot is taken.
const NOW: i64 = 1_714_564_800_000;

fn at(seconds_before: i64) -> WallTime {
    WallTime::from_unix_ms(NOW - seconds_before * 1000)
}

fn since(seconds_before: i64) -> Option<Since> {
    Some(Since {
        at: at(seconds_before),
        for_ms: seconds_before as u64 * 1000,
    })
}

fn event(seconds_before: i64, subject: &str, from: &str, to: &str, evidence: &[&str]) -> Event {
    Event {
        at: at(seconds_before),
        subject: subject.into(),
        from: from.into(),
        to: to.into(),
        evidence: evidence.iter().map(|e| (*e).to_owned()).collect(),
    }
}

fn fixture() -> Snapshot {
    Snapshot {
        arcway_version: "0.1.0".into(),
        pid: Some(812),
        started_at: Some(at(2 * 86_400 + 3 * 3600)),
        taken_at: at(0),
        config: ConfigStatus {
            path: "/etc/arcway/arcway.yaml".into(),
            loaded_at: Some(at(2 * 86_400 + 3 * 3600)),
            reload_error: Some(ReloadError {
                at: at(60),
                message: "classes[1]: unknown path `lte`".into(),
            }),
        },
        paths: vec![
            PathStatus {
                name: "arc".into(),
                interface: Some("arc0".into()),
                state: "up".into(),
                families: None,
                since: since(12),
                carrier: None,
                addresses: vec!["100.127.201.2/32".into()],
                handshake_age_ms: Some(4_200),
                rx_bytes: Some(1_300_000),
                tx_bytes: Some(345 * 1024),
                probes: vec![ProbeStatus {
                    target: "icmp 100.127.100.127".into(),
                    last_latency_ms: Some(23.46),
                    loss_percent: Some(0.0),
                    window: 20,
                    last_error: None,
                }],
                wifi: None,
            },
            PathStatus {
                name: "wifi".into(),
                interface: Some("wlan0".into()),
                state: "up".into(),
                families: Some(FamilyStates {
                    ipv4: "down".into(),
                    ipv6: "up".into(),
                }),
                since: since(7380),
                carrier: Some(true),
                addresses: vec!["192.0.2.10/24".into(), "2001:db8:1::10/64".into()],
                handshake_age_ms: None,
                rx_bytes: Some(5 << 30),
                tx_bytes: Some(700),
                probes: vec![
                    ProbeStatus {
                        target: "icmp 203.0.113.100".into(),
                        last_latency_ms: Some(1.234),
                        loss_percent: Some(2.5),
                        window: 40,
                        last_error: None,
                    },
                    ProbeStatus {
                        target: "tcp 203.0.113.100:443".into(),
                        last_latency_ms: None,
                        loss_percent: Some(15.0),
                        window: 20,
                        last_error: Some("connection refused".into()),
                    },
                ],
                wifi: Some(WifiStatus {
                    ssid: Some("plant-4".into()),
                    bssid: Some("02:00:00:00:00:01".into()),
                    freq_mhz: Some(2412),
                    signal_dbm: Some(-61),
                    tx_bitrate_kbps: Some(54_000),
                    rx_bitrate_kbps: Some(6_500),
                    last_disconnect: Some(WifiDisconnect {
                        reason: "deauthenticated by the access point (reason 3)".into(),
                        reason_code: Some(3),
                        locally_generated: false,
                        at: at(95),
                    }),
                    degraded: false,
                }),
            },
            PathStatus {
                name: "cellular".into(),
                interface: Some("wwan0".into()),
                state: "down".into(),
                since: since(2 * 86_400),
                carrier: Some(false),
                probes: vec![ProbeStatus {
                    target: "icmp 100.127.100.127".into(),
                    window: 0,
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
                since: since(12),
            },
            ClassStatus {
                name: "bulk".into(),
                route: Route::HeldOn("cellular".into()),
                route_ipv6: None,
                since: since(40),
            },
            ClassStatus {
                name: "default".into(),
                route: Route::Unreachable,
                route_ipv6: Some(Route::Via("wifi".into())),
                since: None,
            },
        ],
        events: vec![
            event(
                2 * 86_400,
                "path cellular",
                "up",
                "down",
                &["bearer disconnected"],
            ),
            event(95, "path wifi", "up", "down", &["carrier lost on wlan0"]),
            event(95, "class platform", "arc", "cellular", &["path arc down"]),
            event(40, "class bulk", "wifi", "held on cellular", &[]),
            event(
                30,
                "path wifi",
                "down",
                "up",
                &["carrier on wlan0", "5/5 probes answered for 5s"],
            ),
            event(
                12,
                "class platform",
                "cellular",
                "arc",
                &["handshake 4s ago", "probes answered"],
            ),
        ],
        ..Snapshot::default()
    }
}

const STATUS: &str = "\
arcway 0.1.0 (pid 812), up 2d03h since 2024-04-29 09:00:00Z
config /etc/arcway/arcway.yaml, loaded 2024-04-29 09:00:00Z
reload FAILED 2024-05-01 11:59:00Z: classes[1]: unknown path `lte` (the previous config keeps running)

PATH      INTERFACE  STATE               SINCE                           CARRIER  HANDSHAKE  RX      TX      ADDRESSES
arc       arc0       up                  11:59:48Z for 12s               -        4s ago     1.2MiB  345KiB  100.127.201.2/32
wifi      wlan0      IPv4 down, IPv6 up  09:57:00Z for 2h03m             yes      -          5.0GiB  700B    192.0.2.10/24, 2001:db8:1::10/64
cellular  wwan0      down                2024-04-29 12:00:00Z for 2d00h  no       -          -       -       -
wifi: ssid plant-4, bssid 02:00:00:00:00:01, 2412 MHz, -61 dBm, tx 54.0 Mbit/s, rx 6.5 Mbit/s; last lost 11:58:25Z: deauthenticated by the access point (reason 3)

PROBE     TARGET                 LAST    LOSS        ERROR
arc       icmp 100.127.100.127   23.5ms  0% of 20
wifi      icmp 203.0.113.100     1.23ms  2.5% of 40
wifi      tcp 203.0.113.100:443  failed  15% of 20   connection refused
cellular  icmp 100.127.100.127   -       -

CLASS     ROUTE                            SINCE
platform  via arc                          11:59:48Z for 12s
bulk      held on cellular                 11:59:20Z for 40s
default   IPv4 unreachable, IPv6 via wifi  -

LATEST SWITCHES
11:58:25Z  path wifi       up -> down                carrier lost on wlan0
11:58:25Z  class platform  arc -> cellular           path arc down
11:59:20Z  class bulk      wifi -> held on cellular  -
11:59:30Z  path wifi       down -> up                carrier on wlan0; 5/5 probes answered for 5s
11:59:48Z  class platform  cellular -> arc           handshake 4s ago; probes answered
";

const EVENTS: &str = "\
TIME                      SUBJECT         CHANGE                    EVIDENCE
2024-04-29T12:00:00.000Z  path cellular   up -> down                bearer disconnected
2024-05-01T11:58:25.000Z  path wifi       up -> down                carrier lost on wlan0
2024-05-01T11:58:25.000Z  class platform  arc -> cellular           path arc down
2024-05-01T11:59:20.000Z  class bulk      wifi -> held on cellular  -
2024-05-01T11:59:30.000Z  path wifi       down -> up                carrier on wlan0; 5/5 probes answered for 5s
2024-05-01T11:59:48.000Z  class platform  cellular -> arc           handshake 4s ago; probes answered
";

#[test]
fn status_view() {
    assert_eq!(render_status(&fixture()), STATUS);
}

#[test]
fn events_view() {
    assert_eq!(render_events(&EventLog::from(&fixture())), EVENTS);
}

#[test]
fn empty_views() {
    let empty = Snapshot {
        taken_at: at(0),
        ..Snapshot::default()
    };
    let expected = format!(
        "arcway {}\nconfig -\n\nno paths configured\n\nLATEST SWITCHES\nnone yet\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(render_status(&empty), expected);
    assert_eq!(render_events(&EventLog::default()), "no events yet\n");
}

#[test]
fn control_characters_do_not_reach_the_terminal() {
    let mut s = Snapshot {
        taken_at: at(0),
        ..Snapshot::default()
    };
    s.events
        .push(event(1, "path \u{1b}[2Jwifi", "up", "down", &["bad\nline"]));
    let text = render_status(&s);
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("bad line"), "{text}");
}

#[test]
fn json_shape() {
    let value = serde_json::to_value(fixture()).unwrap();
    assert_eq!(value["version"], 1);
    assert_eq!(value["started_at"], "2024-04-29T09:00:00.000Z");
    assert_eq!(value["paths"][0]["since"]["at"], "2024-05-01T11:59:48.000Z");
    assert_eq!(value["paths"][0]["since"]["for_ms"], 12_000);
    assert_eq!(
        value["paths"][1]["probes"][1]["last_latency_ms"],
        serde_json::Value::Null
    );
    assert_eq!(
        value["classes"][0]["route"],
        serde_json::json!({"kind": "via", "path": "arc"})
    );
    assert_eq!(
        value["classes"][1]["route"],
        serde_json::json!({"kind": "held_on", "path": "cellular"})
    );
    assert_eq!(
        value["classes"][2]["route"],
        serde_json::json!({"kind": "unreachable"})
    );
    assert_eq!(
        value["config"]["reload_error"]["message"],
        "classes[1]: unknown path `lte`"
    );
    let wifi = &value["paths"][1]["wifi"];
    assert_eq!(wifi["ssid"], "plant-4");
    assert_eq!(wifi["signal_dbm"], -61);
    assert_eq!(wifi["tx_bitrate_kbps"], 54_000);
    assert_eq!(wifi["degraded"], false);
    assert_eq!(wifi["last_disconnect"]["reason_code"], 3);
    assert_eq!(wifi["last_disconnect"]["locally_generated"], false);
    assert_eq!(wifi["last_disconnect"]["at"], "2024-05-01T11:58:25.000Z");
    assert!(value["paths"][0].get("wifi").is_none());
    let back: Snapshot = serde_json::from_value(value).unwrap();
    assert_eq!(back, fixture());
}

#[test]
fn json_from_other_releases_still_reads() {
    // A newer daemon with fields this client does not know, and fields it left out.
    let text = r#"{
        "version": 1, "taken_at": "2024-05-01T12:00:00Z",
        "modem": {"model": "EG25", "signal": 71},
        "paths": [{"name": "cellular", "state": "up", "budget": {"used": 5}}],
        "classes": [{"name": "bulk", "route": {"kind": "via", "path": "cellular"}}]
    }"#;
    let s: Snapshot = serde_json::from_str(text).unwrap();
    assert_eq!(s.taken_at, at(0));
    assert_eq!(s.paths[0].name, "cellular");
    assert_eq!(s.paths[0].interface, None);
    assert_eq!(s.classes[0].route, Route::Via("cellular".into()));
    assert!(s.events.is_empty());
}

/// What arcway could not set up is named in the header, in the JSON and in the one line the
/// service manager shows, with the error, one line each whatever the error holds.
#[test]
fn problems_show_in_the_header_json_and_status_line() {
    let mut s = fixture();
    assert!(
        status_line(&s).starts_with("running: "),
        "{}",
        status_line(&s)
    );
    s.problems = vec![
        Problem {
            object: "credentials".into(),
            since: at(90),
            error: "failed to parse /var/lib/arcway/arc.json as JSON: EOF\nwhile parsing".into(),
        },
        Problem {
            object: "nftables".into(),
            since: at(5),
            error:
                "failed to load table inet arcway: Could not process rule: Operation not permitted"
                    .into(),
        },
    ];
    let text = render_status(&s);
    let problem_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("PROBLEM ")).collect();
    assert_eq!(problem_lines.len(), 2, "{text}");
    assert!(
        problem_lines[0].starts_with("PROBLEM credentials since "),
        "{text}"
    );
    // The error's newline does not break the line: the text after it stays on it.
    assert!(problem_lines[0].ends_with("while parsing"), "{text}");
    assert!(
        problem_lines[1].starts_with("PROBLEM nftables since "),
        "{text}"
    );
    assert!(
        problem_lines[1].ends_with("Operation not permitted"),
        "{text}"
    );
    let line = status_line(&s);
    assert!(!line.contains('\n'), "{line}");
    assert!(
        line.starts_with("degraded: credentials: failed to parse")
            && line.contains("; nftables: failed to load table inet arcway"),
        "{line}"
    );
    let json: serde_json::Value = serde_json::to_value(&s).unwrap();
    assert_eq!(json["problems"][1]["object"], "nftables");
    assert!(json["problems"][0]["since"].is_string(), "{json}");
    // A snapshot from a release without problems reads as none.
    let old: Snapshot = serde_json::from_str(r#"{"version": 1}"#).unwrap();
    assert!(old.problems.is_empty());
}
