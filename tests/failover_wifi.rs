//! Wi-Fi failures through the real daemon in the lab (root): carrier loss, a silent
//! blackhole, the return of Wi-Fi (make before break), and a flapping carrier.

mod failover_support;

use std::thread::sleep;
use std::time::{Duration, Instant};

use arcway_lab::{Arcway, Health, Lab, Role};
use failover_support::*;

const STREAM: Duration = Duration::from_millis(20);
/// The longest outage a carrier loss may cause: the link event and one route replace, with
/// room for a loaded machine running debug builds.
const CARRIER_OUTAGE: Duration = Duration::from_millis(500);

fn moved_to_cellular(a: &Arcway) -> bool {
    a.class_route("platform").as_deref() == Some("via cellular")
        && a.class_route("default").as_deref() == Some("via cellular")
}

#[test]
fn carrier_loss_keeps_platform_traffic_flowing_over_cellular_and_fails_back_after_a_handshake() {
    let lab = lab();
    let arcway = start_steady(&lab, &lab.arcway_config(&Health::FAST));
    let gw = PingStream::start(&lab, Role::Gw, PLATFORM, STREAM);
    let lan = PingStream::start(&lab, Role::Lan, PLATFORM, STREAM);
    let lan_inet = PingStream::start(&lab, Role::Lan, INTERNET, STREAM);
    sleep(Duration::from_secs(1));

    let cut = Instant::now();
    lab.wifi_carrier(false).unwrap();
    let seen = arcway
        .wait_until(Duration::from_secs(5), moved_to_cellular)
        .map(|_| cut.elapsed())
        .unwrap_or_else(|| panic!("classes did not move:\n{}", arcway.log()));
    eprintln!(
        "carrier loss: both classes on cellular in status {} ms after the cut",
        ms(seen)
    );
    sleep(Duration::from_secs(2));
    let gw = gw.stop();
    let lan = lan.stop();
    let lan_inet = lan_inet.stop();
    let route = lab.route_get(Role::Gw, PLATFORM).unwrap();
    assert!(
        route.contains("dev wwan0"),
        "platform not on cellular: {route}"
    );
    for (what, f) in [
        ("gw -> platform", &gw),
        ("lan -> platform", &lan),
        ("lan -> internet", &lan_inet),
    ] {
        assert!(f.received > 100, "{what}: the stream hardly ran: {f}");
        assert!(
            f.outage() <= CARRIER_OUTAGE && f.lost <= f.longest_gap + 2,
            "{what}: carrier loss cost too much: {f}"
        );
    }

    // Wi-Fi returns: the platform goes back to Arc only after a handshake made after the
    // restore and passing probes.
    let restored_at = now_ms();
    lab.wifi_carrier(true).unwrap();
    let back = wait_steady(&arcway, "after the carrier returned");
    eprintln!("carrier restored: steady again after {} ms", ms(back));
    check_failback(&lab, &arcway, restored_at);
}

#[test]
fn silent_blackhole_switches_within_the_configured_window_and_fails_back_after_a_handshake() {
    let lab = lab();
    let health = Health::FAST;
    let arcway = start_steady(&lab, &lab.arcway_config(&health));
    let lan = PingStream::start(&lab, Role::Lan, PLATFORM, STREAM);
    sleep(Duration::from_millis(500));

    let cut = Instant::now();
    lab.wifi_blackhole(true).unwrap();
    let (mut default_at, mut platform_at) = (None, None);
    arcway
        .wait_until(Duration::from_secs(10), |a| {
            if default_at.is_none() && a.class_route("default").as_deref() == Some("via cellular") {
                default_at = Some(cut.elapsed());
            }
            if platform_at.is_none() && a.class_route("platform").as_deref() == Some("via cellular")
            {
                platform_at = Some(cut.elapsed());
            }
            default_at.is_some() && platform_at.is_some()
        })
        .unwrap_or_else(|| panic!("classes did not move:\n{}", arcway.log()));
    // Failing evidence starts with the first probe round after the cut (up to one interval
    // later, known after one timeout) and must last down_after; 500 ms cover status polling
    // on a loaded machine. Arc also counts received bytes as life, read once a second: a
    // reading just after the cut may credit traffic from before it, so Arc gets that second.
    let window = |h: &str| {
        setting(h, "down_after")
            + setting(h, "interval")
            + setting(h, "timeout")
            + Duration::from_millis(500)
    };
    let windows = [
        ("default", default_at.unwrap(), window(health.wifi)),
        (
            "platform",
            platform_at.unwrap(),
            window(health.arc) + Duration::from_secs(1),
        ),
    ];
    sleep(Duration::from_millis(500));
    let lan = lan.stop();
    for (class, took, window) in windows {
        eprintln!(
            "blackhole: class {class} on cellular after {} ms (window {} ms)",
            ms(took),
            ms(window)
        );
        assert!(
            took <= window,
            "{class}: switch took {took:?}, window {window:?}"
        );
    }
    eprintln!("blackhole: lan -> platform {lan}");

    let restored_at = now_ms();
    lab.wifi_blackhole(false).unwrap();
    let back = wait_steady(&arcway, "after the blackhole ended");
    eprintln!("blackhole ended: steady again after {} ms", ms(back));
    check_failback(&lab, &arcway, restored_at);
}

/// The event log after a restore at `restored_at` (wall ms): Arc recovered with handshake
/// evidence before the platform class moved back, the handshake is newer than the restore,
/// and the class never went back to Arc while Arc was not up.
fn check_failback(lab: &Lab, arcway: &Arcway, restored_at: i64) {
    let evs = events(arcway);
    print_events("events", &evs);
    let is_arc = |e: &Ev, to: &str| e.subject == "arc" && e.to == to;
    let outage = evs
        .iter()
        .rposition(|e| is_arc(e, "down"))
        .expect("an arc -> down entry");
    let back = outage
        + evs[outage..]
            .iter()
            .position(|e| e.subject == "class platform" && e.to == "via arc")
            .expect("class platform went back to arc");
    let up = outage
        + evs[outage..back]
            .iter()
            .rposition(|e| is_arc(e, "up"))
            .unwrap_or_else(|| panic!("platform moved back before arc was up:\n{}", evs[back]));
    let recovering = evs[outage..up]
        .iter()
        .rfind(|e| is_arc(e, "recovering"))
        .expect("an arc -> recovering entry before arc -> up");
    assert!(
        recovering.evidence.contains("handshake") && evs[up].evidence.contains("handshake"),
        "arc recovered without handshake evidence: {recovering} / {}",
        evs[up]
    );
    assert!(evs[up].at_ms <= evs[back].at_ms);
    // Arc was never up in between, so nothing may have moved the class to it before `up`.
    assert!(
        !evs[outage..up]
            .iter()
            .any(|e| e.subject == "class platform" && e.to == "via arc"),
        "class platform went to arc while arc was down"
    );
    // The handshake the evidence names was made after the restore (userspace WireGuard
    // reports whole seconds, hence the second of slack).
    let age = evs[up]
        .evidence
        .split("handshake ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(parse_duration)
        .expect("a handshake age in the evidence");
    let handshake_at = evs[up].at_ms - age.as_millis() as i64;
    assert!(
        handshake_at + 1000 >= restored_at,
        "the handshake ({handshake_at}) predates the restore ({restored_at})"
    );
    let server = lab
        .arc_server()
        .wg(&["show", "wg0", "latest-handshakes"])
        .unwrap();
    let server_secs: i64 = server
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a handshake time on the server");
    assert!(
        server_secs >= restored_at / 1000,
        "the server saw no handshake after the restore: {server_secs} < {}",
        restored_at / 1000
    );
    eprintln!(
        "failback: arc up {} ms and platform back {} ms after the restore; handshake {} ms after it",
        evs[up].at_ms - restored_at,
        evs[back].at_ms - restored_at,
        handshake_at - restored_at
    );
}

/// Hold-down longer than the flap's up phases: no up phase is long enough to return.
const FLAP_HEALTH: Health = Health {
    arc: "{probes: [{icmp: 100.127.100.127}], interval: 200ms, timeout: 200ms, down_after: 600ms, up_after: 2s}",
    wifi: "{probes: [{icmp: 203.0.113.100}], interval: 200ms, timeout: 200ms, down_after: 600ms, up_after: 2s}",
    cellular: Health::FAST.cellular,
};

#[test]
fn flapping_carrier_causes_a_bounded_number_of_switches() {
    let lab = lab();
    let arcway = start_steady(&lab, &lab.arcway_config(&FLAP_HEALTH));
    let before = events(&arcway).len();
    let lan = PingStream::start(&lab, Role::Lan, PLATFORM, STREAM);
    let phase = Duration::from_secs(1);
    let cycles = 10;
    let start = Instant::now();
    for _ in 0..cycles {
        lab.wifi_carrier(false).unwrap();
        sleep(phase);
        lab.wifi_carrier(true).unwrap();
        sleep(phase);
    }
    let flapped = start.elapsed();
    let evs = events(&arcway);
    let during = &evs[before..];
    let lan = lan.stop();
    print_events("events while flapping", during);

    // A class goes back to its first path only after up_after of good evidence: an up
    // phase shorter than that cannot bring it back, a longer one at most once per up_after.
    // Every return pairs with one move away, plus the first move away, plus one quick
    // return and move away: the first loss after a steady period is taken as a quick
    // reassociation (health.wifi.reassoc_up_after), the flaps after it are not.
    let up_phase = phase.as_millis();
    for (class, path) in [("platform", FLAP_HEALTH.arc), ("default", FLAP_HEALTH.wifi)] {
        let up_after = setting(path, "up_after").as_millis();
        let returns = cycles * (up_phase / up_after) as usize;
        let bound = 2 * returns + 3;
        let moves = class_moves(during, class).len();
        eprintln!(
            "flapping {} s: class {class} moved {moves} times (bound {bound} from up_after {up_after} ms)",
            flapped.as_secs()
        );
        assert!(moves >= 1, "class {class} never left wifi");
        assert!(
            moves <= bound,
            "class {class} moved {moves} times, bound {bound}"
        );
    }
    eprintln!("flapping: lan -> platform {lan}");
    assert!(
        lan.outage() <= CARRIER_OUTAGE,
        "flapping interrupted platform traffic: {lan}"
    );
    let back = wait_steady(&arcway, "after the flapping");
    eprintln!("flapping over: steady again after {} ms", ms(back));
}
