//! The Arc tunnel under faults, run by `arcway run` in the lab (root): its WireGuard process
//! killed or stopped, a wrong server key, and Arc as the only platform path across a Wi-Fi
//! outage.

mod arc_support;

use std::time::{Duration, Instant};

use arc_support::*;
use arcway_lab::{Arcway, Health, KeyPair, Lab, Role};

#[test]
fn killed_wireguard_go_is_restarted_and_the_handshake_comes_back() {
    let lab = lab();
    let mut s = signal_wireguard_go(&lab, libc::SIGKILL, "killed", Duration::from_secs(10));
    wait_arc_up(&s.arcway, Duration::from_secs(15));
    let up = s.at.elapsed();
    eprintln!(
        "wireguard-go killed: restarted after {} ms, handshake after {} ms, arc up after {} ms",
        s.replaced.as_millis(),
        s.handshake.as_millis(),
        up.as_millis()
    );
    assert!(
        s.handshake < Duration::from_secs(10),
        "handshake took {:?}",
        s.handshake
    );
    assert!(
        server_handshake(&lab) + 1 >= unix_now() - s.at.elapsed().as_secs(),
        "the Arc server saw no new handshake"
    );
    assert!(lab.ping(Role::Gw, PLATFORM, 3, Duration::from_secs(1)));
    assert!(s.arcway.is_running());
}

#[test]
fn stopped_wireguard_go_is_killed_and_replaced() {
    let lab = lab();
    // Stopped, it is alive and its socket still accepts connections, but nothing answers.
    let mut s = signal_wireguard_go(&lab, libc::SIGSTOP, "stopped", Duration::from_secs(30));
    assert!(!alive(s.old), "the stopped wireguard-go is still there");
    wait_arc_up(&s.arcway, Duration::from_secs(15));
    eprintln!(
        "wireguard-go stopped: replaced after {} ms, handshake after {} ms, arc up after {} ms",
        s.replaced.as_millis(),
        s.handshake.as_millis(),
        s.at.elapsed().as_millis()
    );
    let log = s.arcway.log();
    assert!(
        log.contains("does not answer on its socket"),
        "no word of the stuck process:\n{}",
        tail(&log, 40)
    );
    assert!(lab.ping(Role::Gw, PLATFORM, 3, Duration::from_secs(1)));
    assert!(s.arcway.is_running());
}

/// arcway after its wireguard-go got a signal: when, how long until another one ran, and
/// until a handshake newer than the signal.
struct Signalled {
    arcway: Arcway,
    old: i32,
    at: Instant,
    replaced: Duration,
    handshake: Duration,
    // Dropped after arcway, which ends its own children first.
    _reap: Reap,
}

/// Kills the signalled wireguard-go on drop if it is still there, so that a stopped one never
/// outlives a failed test (it is in a process group of its own).
struct Reap(i32);

impl Drop for Reap {
    fn drop(&mut self) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.0)).unwrap_or_default();
        if stat.contains("(wireguard-go)") {
            // SAFETY: kill(2) on the wireguard-go the test signalled, still there.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

/// Starts arcway with Arc up, lets the first handshake age (so it cannot pass for a new one),
/// sends `signal` to its wireguard-go and waits up to `within` for another one to run, then
/// for a new handshake.
fn signal_wireguard_go(lab: &Lab, signal: i32, what: &str, within: Duration) -> Signalled {
    let arcway = start(lab, &lab.arcway_config(&Health::FAST));
    wait_arc_up(&arcway, Duration::from_secs(10));
    let old = wg_child(arcway.pid()).expect("arcway runs wireguard-go");
    std::thread::sleep(Duration::from_secs(1));

    // SAFETY: kill(2) on the wireguard-go child found above, which is alive.
    assert_eq!(unsafe { libc::kill(old, signal) }, 0);
    let reap = Reap(old);
    let at = Instant::now();
    let at_ms = unix_ms();
    let replaced = poll(within, || wg_child(arcway.pid()).is_some_and(|p| p != old))
        .unwrap_or_else(|| {
            panic!(
                "{what} wireguard-go not replaced:\n{}",
                tail(&arcway.log(), 40)
            )
        });
    let mut handshake_ms = 0;
    poll(Duration::from_secs(15), || {
        handshake_ms = handshake_unix_ms(&arcway).unwrap_or(0) - at_ms;
        handshake_ms > 0
    })
    .unwrap_or_else(|| panic!("no new handshake:\n{}", tail(&arcway.log(), 40)));
    Signalled {
        arcway,
        old,
        at,
        replaced,
        handshake: Duration::from_millis(handshake_ms as u64),
        _reap: reap,
    }
}

#[test]
fn wrong_server_key_means_no_handshake_no_crash_loop_and_no_log_flood() {
    let lab = lab();
    let mut creds = lab.arc_credentials();
    creds.arc_server_peer_public_key = KeyPair::generate().unwrap().public;
    creds.write(&lab.credentials_path()).unwrap();
    let mut arcway = start(&lab, &lab.arcway_config(&Health::FAST));
    let down = arcway
        .wait_until(Duration::from_secs(5), |a| {
            a.path_state("arc").as_deref() == Some("down")
        })
        .unwrap_or_else(|| panic!("arc not reported down:\n{}", tail(&arcway.log(), 40)));
    let child = wg_child(arcway.pid()).expect("arcway runs wireguard-go");
    let (all_before, loud_before) = log_lines(&arcway);
    let window = Duration::from_secs(8);
    std::thread::sleep(window);
    let (all_after, loud_after) = log_lines(&arcway);
    let (all, loud) = (all_after - all_before, loud_after - loud_before);
    eprintln!(
        "wrong server key: arc down after {} ms; over {window:?}: {all} log lines ({loud} above debug)",
        down.as_millis()
    );
    assert!(arcway.is_running(), "arcway exited:\n{}", arcway.log());
    assert_eq!(
        wg_child(arcway.pid()),
        Some(child),
        "wireguard-go was restarted"
    );
    assert_eq!(arcway.path_state("arc").as_deref(), Some("down"));
    assert_eq!(
        arcway.class_route("platform").as_deref(),
        Some("via cellular")
    );
    assert_eq!(server_handshake(&lab), 0, "a handshake with a wrong key");
    // A re-resolution warning per handshake_timeout (5 s) and little else; debug lines carry
    // the probe rounds (three paths, five rounds a second at most).
    assert!(
        loud <= 10,
        "{loud} lines above debug:\n{}",
        tail(&arcway.log(), loud)
    );
    assert!(all <= 200, "{all} log lines in {window:?}");
    let text = arcway.log();
    let private = &lab.arc_credentials().arc_client_peer_private_key;
    assert!(!text.contains(private.as_str()), "private key in the log");
}

#[test]
fn arc_only_serves_gateway_and_lan_and_recovers_after_a_wifi_blackhole() {
    let lab = lab();
    let plat = Counters::install(
        &lab,
        Role::Plat,
        &[("from_arc", "ip saddr 100.127.201.2 icmp type echo-request")],
    );
    let arcway = start(&lab, &arc_only_config(&lab));
    let took = wait_arc_up(&arcway, Duration::from_secs(10));
    eprintln!("arc only: up {} ms after start", took.as_millis());
    assert!(lab.ping(Role::Gw, PLATFORM, 3, Duration::from_secs(1)));
    let before = plat.packets("from_arc");
    let replies = lab.ping_replies(Role::Lan, None, PLATFORM, 5, Duration::from_secs(1));
    assert_eq!(replies, 5, "LAN host cannot reach the platform");
    // The platform only knows the Arc address: LAN traffic arrives masqueraded to it.
    assert!(plat.packets("from_arc") >= before + 5);
    assert_eq!(arcway.class_route("default").as_deref(), Some("via wifi"));

    lab.wifi_blackhole(true).unwrap();
    let lost = arcway
        .wait_until(Duration::from_secs(5), |a| {
            a.path_state("arc").as_deref() == Some("down")
        })
        .expect("arc goes down behind a silent Wi-Fi failure");
    // With no other platform path, platform traffic is refused rather than sent elsewhere.
    assert_eq!(
        arcway.class_route("platform").as_deref(),
        Some("unreachable")
    );
    assert!(!lab.ping(Role::Gw, PLATFORM, 2, Duration::from_millis(300)));
    lab.wifi_blackhole(false).unwrap();
    let restored_ms = unix_ms();
    let back = wait_arc_up(&arcway, Duration::from_secs(15));
    let handshake_ms = handshake_unix_ms(&arcway).expect("handshake time") - restored_ms;
    eprintln!(
        "arc only: down {} ms into the blackhole; up {} ms after restore, handshake {handshake_ms} ms after restore",
        lost.as_millis(),
        back.as_millis(),
    );
    assert!(
        handshake_ms > 0,
        "arc came back on a handshake from before the restore"
    );
    assert!(back < Duration::from_secs(10), "recovery took {back:?}");
    assert!(lab.ping(Role::Lan, PLATFORM, 3, Duration::from_secs(1)));
}
