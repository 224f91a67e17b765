//! ModemManager as the cellular path's truth, through `arcway run` in the lab (root): Debian's
//! ModemManager runs in the gateway namespace and drives an emulated modem whose network port
//! is the gateway's `wwan0`. Also the bus under both of them killed and started again.

use std::time::{Duration, Instant};

use arcway_lab::mm::ModemManager;
use arcway_lab::{Arcway, Health, Lab, LabOptions, Role};

fn wait(
    arcway: &Arcway,
    mm: &ModemManager,
    what: &str,
    check: impl Fn(&Arcway) -> bool,
) -> Duration {
    match arcway.wait_until(Duration::from_secs(30), check) {
        Some(took) => took,
        None => panic!(
            "{what} never happened:\n{}\n{}",
            arcway.log(),
            mm.logs()
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// Wi-Fi (and Arc over it) loses carrier; waits for LAN platform traffic to be routed over
/// the bearer.
fn wifi_gone(lab: &Lab, arcway: &Arcway, mm: &ModemManager) {
    lab.wifi_carrier(false).unwrap();
    wait(
        arcway,
        mm,
        "failover to cellular",
        via("platform", "via cellular"),
    );
}

fn via(class: &'static str, route: &'static str) -> impl Fn(&Arcway) -> bool {
    move |a| a.class_route(class).as_deref() == Some(route)
}

fn start(lab: &Lab, mm: &ModemManager, cellular: &str) -> Arcway {
    let config = lab.arcway_config(&Health::FAST).replace(
        "cellular: {interface: wwan0}",
        &format!("cellular: {cellular}"),
    );
    assert!(config.contains(cellular), "{config}");
    lab.start_arcway_with(&config, &[("DBUS_SYSTEM_BUS_ADDRESS", mm.address())])
        .expect("arcway starts")
}

/// Default routes over the cellular link in any table of the gateway.
fn cellular_defaults(lab: &Lab) -> String {
    lab.ip(
        Role::Gw,
        &["-4", "route", "show", "table", "all", "dev", "wwan0"],
    )
    .unwrap_or_default()
    .lines()
    .filter(|l| l.starts_with("default"))
    .collect::<Vec<_>>()
    .join("\n")
}

#[test]
fn manage_mode_carries_lan_platform_traffic_over_cellular_through_drops_and_restarts() {
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    // The bearer interface has nothing until arcway applies the bearer's STATIC config.
    lab.unconfigure_cellular().unwrap();
    let mm = lab.start_modem_manager().expect("ModemManager starts");
    let arcway = start(
        &lab,
        &mm,
        "{interface: wwan0, modem: {}, manage: true, apn: soracom.io, user: sora, password: sora}",
    );
    wait(&arcway, &mm, "arc up", via("platform", "via arc"));
    wait(&arcway, &mm, "bearer connected", |a| {
        a.status().is_ok_and(|s| {
            s["modem"]["bearer_connected"] == true && s["modem"]["address"] == "198.51.100.130/26"
        })
    });
    let addr = lab
        .ip(Role::Gw, &["-4", "-o", "addr", "show", "dev", "wwan0"])
        .unwrap();
    assert!(addr.contains("inet 198.51.100.130/26"), "{addr}");
    let status = arcway.status().unwrap();
    assert_eq!(status["modem"]["mode"], "manage", "{status:#}");
    assert_eq!(status["modem"]["model"], "LARA-R280", "{status:#}");
    assert!(mm.modem(0).at_log().contains("\"sora\",\"sora\""));

    // Wi-Fi (and Arc over it) gone: LAN platform traffic goes over the bearer.
    wifi_gone(&lab, &arcway, &mm);
    platform_over_cellular(&lab, 5);

    // The network drops the bearer: the path is down at once, then arcway reconnects.
    let dropped = Instant::now();
    assert!(mm.modem(0).drop_bearer());
    let took = wait(&arcway, &mm, "platform unreachable", |a| {
        a.class_route("platform").as_deref() == Some("unreachable")
            && a.path_state("cellular").as_deref() == Some("down")
    });
    eprintln!(
        "network-side drop seen as platform unreachable within {took:?} ({:?} since the drop; status polled every 50 ms)",
        dropped.elapsed()
    );
    wait(
        &arcway,
        &mm,
        "platform back over cellular",
        via("platform", "via cellular"),
    );
    assert_eq!(mm.modem(0).activations(), 2);
    assert!(lab.ping(Role::Lan, "100.127.100.127", 3, Duration::from_secs(1)));

    // ModemManager killed: down, no route left behind; restarted: back without restarting
    // arcway.
    mm.kill_daemon();
    wait(&arcway, &mm, "cellular down without ModemManager", |a| {
        a.path_state("cellular").as_deref() == Some("down")
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cellular_defaults(&lab).is_empty() {
        assert!(
            Instant::now() < deadline,
            "stale route: {}",
            cellular_defaults(&lab)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    mm.start_daemon().expect("ModemManager starts again");
    wait(
        &arcway,
        &mm,
        "platform over cellular after the restart",
        via("platform", "via cellular"),
    );
    assert!(lab.ping(Role::Lan, "100.127.100.127", 3, Duration::from_secs(1)));
    let events = arcway.events().unwrap().to_string();
    assert!(
        events.contains("bearer"),
        "no bearer evidence in the log: {events}"
    );
    lab.wifi_carrier(true).unwrap();
    drop(arcway);
    let pids = mm.pids();
    drop(mm);
    assert!(pids.iter().all(|p| !p.is_alive()), "{pids:?}");
}

#[test]
fn observe_mode_follows_a_bearer_someone_else_connected() {
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    let mm = lab.start_modem_manager().expect("ModemManager starts");
    // Someone else connects the modem and configures wwan0 (the lab already did).
    mm.connect_with_mmcli(0).expect("mmcli connects");
    let arcway = start(&lab, &mm, "{interface: wwan0, modem: {}}");
    wait(&arcway, &mm, "arc up", via("platform", "via arc"));
    wait(&arcway, &mm, "modem in status", |a| {
        a.status().is_ok_and(|s| {
            s["modem"]["bearer_connected"] == true && s["modem"]["mode"] == "observe"
        })
    });

    wifi_gone(&lab, &arcway, &mm);
    let dropped = Instant::now();
    assert!(mm.modem(0).drop_bearer());
    wait(&arcway, &mm, "platform unreachable", |a| {
        a.class_route("platform").as_deref() == Some("unreachable")
            && a.path_state("cellular").as_deref() == Some("down")
    });
    eprintln!(
        "network-side drop -> platform unreachable: {:?}",
        dropped.elapsed()
    );
    // Observe mode never dials.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(mm.modem(0).activations(), 1);
    mm.connect_with_mmcli(0).expect("mmcli reconnects");
    wait(
        &arcway,
        &mm,
        "platform back over cellular",
        via("platform", "via cellular"),
    );
    lab.wifi_carrier(true).unwrap();
}

/// Rewrites the configuration, sends SIGHUP and waits until the reload is in force.
fn reload(arcway: &Arcway, mm: &ModemManager, config: &str) {
    let before = arcway.status().unwrap()["config"]["loaded_at"].clone();
    std::fs::write(arcway.config_path(), config).unwrap();
    arcway.signal(libc::SIGHUP);
    wait(arcway, mm, "reload", |a| {
        a.status().is_ok_and(|s| {
            s["config"]["loaded_at"] != before && s["config"]["reload_error"].is_null()
        })
    });
}

#[test]
fn reload_starts_and_stops_the_modem_watcher() {
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    let mm = lab.start_modem_manager().expect("ModemManager starts");
    mm.connect_with_mmcli(0).expect("mmcli connects");
    let plain = lab.arcway_config(&Health::FAST);
    let watched = plain.replace(
        "cellular: {interface: wwan0}",
        "cellular: {interface: wwan0, modem: {}}",
    );
    assert_ne!(plain, watched);
    let arcway = lab
        .start_arcway_with(&plain, &[("DBUS_SYSTEM_BUS_ADDRESS", mm.address())])
        .expect("arcway starts");
    wait(&arcway, &mm, "cellular up", |a| {
        a.path_state("cellular").as_deref() == Some("up")
    });
    assert!(arcway.status().unwrap()["modem"].is_null());

    // Turned on by a reload: the watcher reports the modem and its bearer.
    reload(&arcway, &mm, &watched);
    wait(&arcway, &mm, "modem in status", |a| {
        a.status()
            .is_ok_and(|s| s["modem"].to_string().contains("wwan0"))
    });
    assert!(mm.modem(0).drop_bearer());
    wait(&arcway, &mm, "cellular down on the bearer drop", |a| {
        a.path_state("cellular").as_deref() == Some("down")
    });

    // Turned off again: the stopped watcher's last word (disconnected) no longer holds the
    // path down, and the probes over the interface bring it back.
    reload(&arcway, &mm, &plain);
    wait(&arcway, &mm, "modem gone from status", |a| {
        a.status().is_ok_and(|s| s["modem"].is_null())
    });
    wait(&arcway, &mm, "cellular up without ModemManager", |a| {
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

// The system bus itself crashes: the private `dbus-daemon` that ModemManager and arcway's
// modem watcher share is SIGKILLed while LAN platform traffic runs over the bearer. arcway
// keeps running with the cellular path down, and once a new bus (and ModemManager on it) is
// back at the same socket path, the watcher reconnects by itself and the traffic flows over
// cellular again.

/// LAN platform traffic answered, and it left over the bearer interface.
fn platform_over_cellular(lab: &Lab, pings: u32) {
    let before = lab.link_tx_rx(Role::Gw, "wwan0").unwrap();
    assert!(lab.ping(Role::Lan, "100.127.100.127", pings, Duration::from_secs(1)));
    let after = lab.link_tx_rx(Role::Gw, "wwan0").unwrap();
    assert!(after.tx_packets > before.tx_packets, "{before:?} {after:?}");
}

#[test]
fn modem_watcher_reconnects_after_the_system_bus_is_killed_and_restarted() {
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    lab.unconfigure_cellular().unwrap();
    let mut mm = lab.start_modem_manager().expect("ModemManager starts");
    let config = lab.arcway_config(&Health::FAST).replace(
        "cellular: {interface: wwan0}",
        "cellular: {interface: wwan0, modem: {}, manage: true, apn: soracom.io}",
    );
    assert!(config.contains("manage: true"), "{config}");
    // As a system names its bus: the socket path only, which the new bus will listen on too.
    let address = mm.path_address();
    assert!(!address.contains("guid="), "{address}");
    let mut arcway = lab
        .start_arcway_with(&config, &[("DBUS_SYSTEM_BUS_ADDRESS", &address)])
        .expect("arcway starts");
    wait(&arcway, &mm, "arc up", via("platform", "via arc"));
    wait(&arcway, &mm, "bearer connected", |a| {
        a.status()
            .is_ok_and(|s| s["modem"]["service"] == true && s["modem"]["bearer_connected"] == true)
    });
    wifi_gone(&lab, &arcway, &mm);
    platform_over_cellular(&lab, 3);

    // The bus dies: ModemManager goes with it, and the watcher knows nothing about the modem
    // any more, so the path is down rather than trusted blind.
    let killed = Instant::now();
    mm.kill_bus();
    let took = wait(&arcway, &mm, "cellular down without a bus", |a| {
        a.path_state("cellular").as_deref() == Some("down")
            && a.status().is_ok_and(|s| {
                s["modem"]["service"] == false && s["modem"]["bearer_connected"] == false
            })
    });
    eprintln!("bus killed -> cellular down, modem lost in status: {took:?}");
    assert_eq!(
        arcway.class_route("platform").as_deref(),
        Some("unreachable")
    );
    // It keeps trying against the dead socket and keeps running meanwhile.
    wait(&arcway, &mm, "a failed reconnect attempt", |a| {
        a.log().contains("failed to watch ModemManager, retrying")
    });
    assert!(
        arcway
            .log()
            .contains("lost the D-Bus connection, reconnecting"),
        "{}",
        arcway.log()
    );
    assert!(arcway.is_running(), "arcway exited: {}", arcway.log());
    assert!(!lab.ping(Role::Lan, "100.127.100.127", 1, Duration::from_secs(1)));
    let down_for = killed.elapsed();

    // A new bus at the same path, ModemManager on it: back without restarting arcway.
    let restarted = Instant::now();
    lab.restart_modem_bus(&mut mm)
        .expect("the bus starts again");
    assert_eq!(mm.path_address(), address);
    let bus_up = restarted.elapsed();
    wait(
        &arcway,
        &mm,
        "platform over cellular on the new bus",
        via("platform", "via cellular"),
    );
    let recovered = restarted.elapsed();
    let status = arcway.status().unwrap();
    assert_eq!(status["modem"]["service"], true, "{status:#}");
    assert_eq!(status["modem"]["bearer_connected"], true, "{status:#}");
    assert_eq!(status["modem"]["model"], "LARA-R280", "{status:#}");
    platform_over_cellular(&lab, 3);
    assert!(arcway.is_running(), "arcway exited: {}", arcway.log());
    eprintln!(
        "{{\"bench\":\"modem_bus_restart\",\"bus_down_ms\":{},\"bus_and_mm_start_ms\":{},\"recovery_ms\":{}}}",
        down_for.as_millis(),
        bus_up.as_millis(),
        recovered.as_millis()
    );

    lab.wifi_carrier(true).unwrap();
    drop(arcway);
    let pids = mm.pids();
    drop(mm);
    assert!(pids.iter().all(|p| !p.is_alive()), "{pids:?}");
}
