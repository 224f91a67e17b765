//! Dual stack through the real daemon in the lab (root): each family of a class takes its
//! own path. The lab's IPv6 reaches the LAN, the cellular core and the internet host
//! (`Lab::dual_stack`), and uplinks lose a family's default route where a case needs it.

mod failover_support;

use std::thread::sleep;
use std::time::{Duration, Instant};

use arcway_lab::dual::{GW_CELLULAR_V6, INTERNET_V6, LAN_V6};
use arcway_lab::{Arcway, Families, Health, Lab, LabOptions, Role};
use failover_support::PingStream;
use serde_json::Value;

const INTERNET_V4: &str = "203.0.113.100";
const GW_WIFI_V6: &str = "2001:db8:1::10";
/// Both families probed on each uplink, each judged on its own targets.
const HEALTH: Health = Health {
    arc: Health::FAST.arc,
    wifi: "{probes: [{icmp: 203.0.113.100}, {icmp: \"2001:db8::100\"}], interval: 200ms, timeout: 200ms, down_after: 600ms, up_after: 1s}",
    cellular: "{probes: [{icmp: 100.127.100.127}, {icmp: \"2001:db8::100\"}], interval: 500ms, timeout: 400ms, down_after: 3s, up_after: 1s}",
};
/// The default class's table in the lab's configuration (platform is 7110).
const DEFAULT_TABLE: &str = "7111";

const BOTH: Families = Families::BOTH;
const V4_ONLY: Families = Families::V4_ONLY;
const V6_ONLY: Families = Families::V6_ONLY;

/// The lab with IPv6 on the LAN, cellular and the internet host too, each uplink keeping
/// the default routes of `wifi` and `cell`.
fn dual_lab(wifi: Families, cell: Families) -> Lab {
    let lab = Lab::build(LabOptions {
        ipv6: true,
        ..LabOptions::default()
    })
    .expect("lab builds");
    lab.dual_stack(wifi, cell).expect("dual stack in the lab");
    lab
}

fn start(lab: &Lab) -> Arcway {
    let arcway = lab
        .start_arcway(&lab.arcway_config(&HEALTH))
        .expect("arcway starts");
    assert!(
        arcway.wait_ready(Duration::from_secs(10)),
        "{}",
        arcway.log()
    );
    arcway
}

fn route(v: &Value) -> Option<String> {
    Some(match (v["kind"].as_str()?, v["path"].as_str()) {
        ("via", Some(p)) => format!("via {p}"),
        ("held_on", Some(p)) => format!("held on {p}"),
        (kind, _) => kind.to_owned(),
    })
}

/// The class's route as `arcway status` words it: `via wifi`, or per family when they
/// differ (`IPv4 via cellular, IPv6 via wifi`).
fn class_route(a: &Arcway, class: &str) -> Option<String> {
    let s = a.status().ok()?;
    let c = s["classes"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == class)?
        .clone();
    let v4 = route(&c["route"])?;
    Some(match route(&c["route_ipv6"]) {
        Some(v6) if v6 != v4 => format!("IPv4 {v4}, IPv6 {v6}"),
        _ => v4,
    })
}

fn wait_route(a: &Arcway, class: &str, want: &str, timeout: Duration) -> Duration {
    a.wait_until(timeout, |a| class_route(a, class).as_deref() == Some(want))
        .unwrap_or_else(|| {
            panic!(
                "{class} never became `{want}` (is {:?}); status {:?}\n{}",
                class_route(a, class),
                a.status().ok(),
                a.log()
            )
        })
}

fn table(lab: &Lab, family: &str) -> String {
    lab.ip(Role::Gw, &[family, "route", "show", "table", DEFAULT_TABLE])
        .unwrap_or_else(|e| format!("ip {family} route show table {DEFAULT_TABLE}: {e}"))
}

/// Waits (a little: the status may be a moment ahead of the kernel) for the default
/// class's table of `family` to route by `dev`.
fn expect_table(lab: &Lab, family: &str, dev: &str) {
    let start = Instant::now();
    while !table(lab, family).contains(dev) {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "table {DEFAULT_TABLE} ({family}) does not use {dev}: {}\nrules: {}",
            table(lab, family),
            lab.ip(Role::Gw, &[family, "rule"]).unwrap_or_default()
        );
        sleep(Duration::from_millis(50));
    }
}

/// Pings from the LAN host until one answer comes (or the timeout).
fn lan_reaches(lab: &Lab, dst: &str) -> bool {
    let out = lab.exec(
        Role::Lan,
        &["ping", "-n", "-c", "1", "-w", "5", "-W", "1", dst],
    );
    out.is_ok_and(|o| o.status.success())
}

#[test]
fn both_families_up_take_wifi() {
    let lab = dual_lab(BOTH, BOTH);
    let arcway = start(&lab);
    wait_route(&arcway, "default", "via wifi", Duration::from_secs(15));
    expect_table(&lab, "-6", "dev wlan0");
    expect_table(&lab, "-4", "dev wlan0");
    assert!(lan_reaches(&lab, INTERNET_V4), "LAN lost IPv4");
    assert!(lan_reaches(&lab, INTERNET_V6), "LAN lost IPv6");
}

#[test]
fn ipv4_only_wifi_and_dual_cellular_split_the_default_class() {
    let lab = dual_lab(V4_ONLY, BOTH);
    let arcway = start(&lab);
    wait_route(
        &arcway,
        "default",
        "IPv4 via wifi, IPv6 via cellular",
        Duration::from_secs(15),
    );
    expect_table(&lab, "-6", "dev wwan0");
    expect_table(&lab, "-4", "dev wlan0");
    assert!(lan_reaches(&lab, INTERNET_V4), "LAN lost IPv4");
    assert!(
        lan_reaches(&lab, INTERNET_V6),
        "LAN lost IPv6 over cellular"
    );
}

#[test]
fn ipv6_only_wifi_and_ipv4_only_cellular_split_the_default_class() {
    let lab = dual_lab(V6_ONLY, V4_ONLY);
    let arcway = start(&lab);
    wait_route(
        &arcway,
        "default",
        "IPv4 via cellular, IPv6 via wifi",
        Duration::from_secs(15),
    );
    expect_table(&lab, "-6", "dev wlan0");
    expect_table(&lab, "-4", "dev wwan0");
    assert!(
        lan_reaches(&lab, INTERNET_V4),
        "LAN lost IPv4 over cellular"
    );
    assert!(lan_reaches(&lab, INTERNET_V6), "LAN lost IPv6");
    // The status says which family each path carries.
    let status = arcway.status().expect("status");
    let wifi = status["paths"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "wifi"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(wifi["state"], "up", "{wifi}");
}

/// Drops one family on the Wi-Fi link in the access point: a silent failure of that
/// family only, which only that family's probes can notice.
fn wifi_family_blackhole(lab: &Lab, family: &str, on: bool) {
    let name = format!("dual_drop_{family}");
    let mut script = format!("add table inet {name}\ndelete table inet {name}\n");
    if on {
        script.push_str(&format!(
            "table inet {name} {{\n\
             chain forward {{ type filter hook forward priority -10; iifname \"wifi0\" meta nfproto {family} drop; oifname \"wifi0\" meta nfproto {family} drop; }}\n\
             chain input {{ type filter hook input priority -10; iifname \"wifi0\" meta nfproto {family} drop; }}\n\
             }}\n"
        ));
    }
    lab.nft(Role::Ap, &script).expect("nft in the access point");
}

#[test]
fn each_family_fails_over_and_back_on_its_own() {
    let lab = dual_lab(BOTH, BOTH);
    let arcway = start(&lab);
    wait_route(&arcway, "default", "via wifi", Duration::from_secs(15));
    let interval = Duration::from_millis(50);
    let v4 = PingStream::start(&lab, Role::Lan, INTERNET_V4, interval);
    let v6 = PingStream::start(&lab, Role::Lan, INTERNET_V6, interval);
    sleep(Duration::from_secs(1));

    // IPv6 dies silently on Wi-Fi: IPv6 leaves for cellular, IPv4 stays.
    let cut = Instant::now();
    wifi_family_blackhole(&lab, "ipv6", true);
    let took = wait_route(
        &arcway,
        "default",
        "IPv4 via wifi, IPv6 via cellular",
        Duration::from_secs(10),
    );
    eprintln!(
        "IPv6 failover seen in status {} ms after the cut",
        took.as_millis()
    );
    sleep(Duration::from_secs(1));
    expect_table(&lab, "-6", "dev wwan0");
    expect_table(&lab, "-4", "dev wlan0");
    // And back once it answers again.
    wifi_family_blackhole(&lab, "ipv6", false);
    wait_route(&arcway, "default", "via wifi", Duration::from_secs(10));
    sleep(Duration::from_secs(1));

    // Now IPv4: the other way round.
    wifi_family_blackhole(&lab, "ipv4", true);
    wait_route(
        &arcway,
        "default",
        "IPv4 via cellular, IPv6 via wifi",
        Duration::from_secs(10),
    );
    sleep(Duration::from_secs(1));
    wifi_family_blackhole(&lab, "ipv4", false);
    wait_route(&arcway, "default", "via wifi", Duration::from_secs(10));
    sleep(Duration::from_secs(1));
    let v4 = v4.stop();
    let v6 = v6.stop();
    let total = cut.elapsed();
    // Each stream only lost what its own family's outage cost (detection plus the
    // switch); the family that kept working lost next to nothing.
    for (what, f) in [("IPv4", &v4), ("IPv6", &v6)] {
        assert!(f.received > 50, "{what}: the stream hardly ran: {f}");
        assert!(
            f.outage() < Duration::from_secs(3),
            "{what}: an outage too long: {f}"
        );
        assert!(
            (f.lost as f64) < 0.5 * (total.as_millis() as f64 / 50.0),
            "{what}: lost too much: {f}"
        );
    }
    let log: Vec<String> = arcway.events().ok().map_or_else(Vec::new, |e| {
        e["events"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| format!("{} {} -> {}", e["subject"], e["from"], e["to"]))
                    .collect()
            })
            .unwrap_or_default()
    });
    assert!(
        log.iter().any(|l| l.contains("wifi IPv6")),
        "no per-family path change in {log:#?}"
    );
}

/// Conntrack entries of the gateway for the LAN host's flows whose reply goes to `addr`
/// (NATed to it); the gateway's own probes from that address are not counted.
fn natted_to(lab: &Lab, addr: &str) -> usize {
    let out = lab
        .exec_ok(
            Role::Gw,
            &[
                "conntrack",
                "-L",
                "-f",
                "ipv6",
                "-s",
                LAN_V6,
                "--reply-dst",
                addr,
            ],
        )
        .unwrap_or_default();
    out.lines().filter(|l| l.contains(addr)).count()
}

#[test]
fn ipv6_flows_natted_to_wifi_are_evicted_when_ipv6_moves() {
    let lab = dual_lab(BOTH, BOTH);
    let arcway = start(&lab);
    wait_route(&arcway, "default", "via wifi", Duration::from_secs(15));
    // A long-lived IPv6 flow from the LAN, masqueraded to Wi-Fi's address.
    let ping = PingStream::start(&lab, Role::Lan, INTERNET_V6, Duration::from_millis(100));
    let seen = Instant::now();
    while natted_to(&lab, GW_WIFI_V6) == 0 {
        assert!(
            seen.elapsed() < Duration::from_secs(5),
            "no IPv6 flow NATed to {GW_WIFI_V6}"
        );
        sleep(Duration::from_millis(100));
    }
    wifi_family_blackhole(&lab, "ipv6", true);
    wait_route(
        &arcway,
        "default",
        "IPv4 via wifi, IPv6 via cellular",
        Duration::from_secs(10),
    );
    // The flow's entry NATed to Wi-Fi is gone; the same ping carries on over cellular.
    let gone = arcway.wait_until(Duration::from_secs(3), |_| {
        natted_to(&lab, GW_WIFI_V6) == 0 && natted_to(&lab, GW_CELLULAR_V6) > 0
    });
    sleep(Duration::from_secs(2));
    let f = ping.stop();
    assert!(
        gone.is_some(),
        "IPv6 entries NATed to Wi-Fi survived the move ({} left)\n{}",
        natted_to(&lab, GW_WIFI_V6),
        arcway.log()
    );
    // About 20 echoes went out over cellular after the move; most must have come back.
    assert!(
        f.received > 12,
        "the flow did not carry on over cellular: {f}"
    );
}

/// The probe rows of a path in `arcway status --json`: (target, window).
fn probe_rows(a: &Arcway, path: &str) -> Vec<(String, u64)> {
    let s = a.status().unwrap_or_default();
    s["paths"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == path))
        .and_then(|p| p["probes"].as_array())
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let target = r["target"].as_str().unwrap_or_default().to_owned();
                    (target, r["window"].as_u64().unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn probe_rows_follow_a_reload_and_count_the_rounds_so_far() {
    let lab = dual_lab(BOTH, BOTH);
    let arcway = start(&lab);
    wait_route(&arcway, "default", "via wifi", Duration::from_secs(15));
    // Cellular probes every 500 ms here: early on, the loss covers only the rounds so far.
    // Rows exist for every configured target before its first round (window 0).
    assert_eq!(probe_rows(&arcway, "cellular").len(), 2);
    let counted = arcway.wait_until(Duration::from_secs(3), |a| {
        let rows = probe_rows(a, "cellular");
        rows.iter().all(|(_, w)| *w >= 1) && rows.iter().all(|(_, w)| *w < 20)
    });
    assert!(
        counted.is_some(),
        "windows should count the rounds so far: {:?}",
        probe_rows(&arcway, "cellular")
    );
    // A reload that drops Wi-Fi's IPv6 probe drops its row.
    let config = std::fs::read_to_string(arcway.config_path()).expect("config");
    let changed = config.replace(
        ", {icmp: \"2001:db8::100\"}], interval: 200ms",
        "], interval: 200ms",
    );
    assert_ne!(changed, config, "the lab's Wi-Fi health changed");
    std::fs::write(arcway.config_path(), changed).expect("config written");
    arcway.signal(libc::SIGHUP);
    let reloaded = arcway.wait_until(Duration::from_secs(5), |a| {
        probe_rows(a, "wifi")
            .iter()
            .map(|(t, _)| t.as_str())
            .eq(["icmp 203.0.113.100"])
    });
    assert!(
        reloaded.is_some(),
        "wifi rows after the reload: {:?}\n{}",
        probe_rows(&arcway, "wifi"),
        arcway.log()
    );
}
