//! ModemManager as the cellular path's truth, through `arcway run` in the lab: a bearer drop
//! while Wi-Fi is also down leaves the platform unreachable, and the bearer's return brings it
//! back over cellular (root). The fake ModemManager runs as `arcway-lab fake-mm` on its own
//! private bus, driven over its standard input.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use arcway_lab::{Arcway, Health, Lab, LabOptions, bin_path};

struct FakeMm {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    bus: String,
}

impl FakeMm {
    fn start() -> FakeMm {
        let mut child = Command::new(bin_path("arcway-lab").expect("arcway-lab is built"))
            .args(["fake-mm", "--interface", "wwan0", "--connected"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("fake-mm starts");
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut bus = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(addr) = line.strip_prefix("bus ") {
                bus = addr.to_owned();
            }
            if line == "ready" {
                break;
            }
        }
        assert!(!bus.is_empty(), "fake-mm printed no bus address");
        FakeMm {
            child,
            stdin,
            lines,
            bus,
        }
    }

    fn say(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}").unwrap();
        let answer = self.lines.next().unwrap().unwrap();
        assert!(answer.starts_with("ok"), "{command}: {answer}");
        answer
    }
}

impl Drop for FakeMm {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait(arcway: &Arcway, what: &str, check: impl Fn(&Arcway) -> bool) -> Duration {
    match arcway.wait_until(Duration::from_secs(10), check) {
        Some(took) => took,
        None => panic!("{what} never happened:\n{}", arcway.log()),
    }
}

#[test]
fn bearer_drop_with_wifi_down_leaves_the_platform_unreachable_until_it_returns() {
    let mut fake = FakeMm::start();
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    let config = lab.arcway_config(&Health::FAST).replace(
        "cellular: {interface: wwan0}",
        "cellular: {interface: wwan0, modem: {}}",
    );
    assert!(config.contains("modem: {}"), "{config}");
    let arcway = lab
        .start_arcway_with(&config, &[("DBUS_SYSTEM_BUS_ADDRESS", fake.bus.as_str())])
        .expect("arcway starts");
    wait(&arcway, "arc up", |a| {
        a.class_route("platform").as_deref() == Some("via arc")
    });
    let status = arcway.status().unwrap();
    assert!(
        status["modem"].to_string().contains("wwan0"),
        "modem missing from status: {status:#}"
    );

    lab.wifi_carrier(false).unwrap();
    wait(&arcway, "failover to cellular", |a| {
        a.class_route("platform").as_deref() == Some("via cellular")
    });

    let dropped = Instant::now();
    fake.say("drop");
    let took = wait(&arcway, "platform unreachable", |a| {
        a.class_route("platform").as_deref() == Some("unreachable")
            && a.path_state("cellular").as_deref() == Some("down")
    });
    eprintln!(
        "bearer drop seen as platform unreachable in status within {took:?} ({:?} since the drop; status polled every 50 ms)",
        dropped.elapsed()
    );

    fake.say("restore");
    wait(&arcway, "platform back over cellular", |a| {
        a.class_route("platform").as_deref() == Some("via cellular")
    });
    let events = arcway.events().unwrap().to_string();
    assert!(
        events.contains("bearer"),
        "no bearer evidence in the log: {events}"
    );
    lab.wifi_carrier(true).unwrap();
}

/// Rewrites the configuration, sends SIGHUP and waits until the reload is in force.
fn reload(arcway: &Arcway, config: &str) {
    let before = arcway.status().unwrap()["config"]["loaded_at"].clone();
    std::fs::write(arcway.config_path(), config).unwrap();
    arcway.signal(libc::SIGHUP);
    wait(arcway, "reload", |a| {
        a.status().is_ok_and(|s| {
            s["config"]["loaded_at"] != before && s["config"]["reload_error"].is_null()
        })
    });
}

#[test]
fn reload_starts_and_stops_the_modem_watcher() {
    let mut fake = FakeMm::start();
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    let plain = lab.arcway_config(&Health::FAST);
    let watched = plain.replace(
        "cellular: {interface: wwan0}",
        "cellular: {interface: wwan0, modem: {}}",
    );
    assert_ne!(plain, watched);
    let arcway = lab
        .start_arcway_with(&plain, &[("DBUS_SYSTEM_BUS_ADDRESS", fake.bus.as_str())])
        .expect("arcway starts");
    wait(&arcway, "cellular up", |a| {
        a.path_state("cellular").as_deref() == Some("up")
    });
    assert!(arcway.status().unwrap()["modem"].is_null());

    // Turned on by a reload: the watcher reports the modem and its bearer counts.
    reload(&arcway, &watched);
    wait(&arcway, "modem in status", |a| {
        a.status()
            .is_ok_and(|s| s["modem"].to_string().contains("wwan0"))
    });
    fake.say("drop");
    wait(&arcway, "cellular down on the bearer drop", |a| {
        a.path_state("cellular").as_deref() == Some("down")
    });

    // Turned off again: the stopped watcher's last word (disconnected) no longer holds the
    // path down, and the probes over the interface bring it back.
    reload(&arcway, &plain);
    wait(&arcway, "modem gone from status", |a| {
        a.status().is_ok_and(|s| s["modem"].is_null())
    });
    wait(&arcway, "cellular up without ModemManager", |a| {
        a.path_state("cellular").as_deref() == Some("up")
    });
    assert!(
        arcway
            .log()
            .contains("modem watcher stopped: ModemManager is no longer used"),
        "{}",
        arcway.log()
    );
}
