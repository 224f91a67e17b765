//! The system bus itself crashes under `arcway run` (root): the private `dbus-daemon` that
//! ModemManager and arcway's modem watcher share is SIGKILLed while LAN platform traffic runs
//! over the bearer. arcway keeps running with the cellular path down, and once a new bus
//! (and ModemManager on it) is back at the same socket path, the watcher reconnects by itself
//! and the traffic flows over cellular again.

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

fn via(class: &'static str, route: &'static str) -> impl Fn(&Arcway) -> bool {
    move |a| a.class_route(class).as_deref() == Some(route)
}

/// LAN platform traffic answered, and it left over the bearer interface.
fn platform_over_cellular(lab: &Lab) {
    let before = lab.link_tx_rx(Role::Gw, "wwan0").unwrap();
    assert!(lab.ping(Role::Lan, "100.127.100.127", 3, Duration::from_secs(1)));
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
    lab.wifi_carrier(false).unwrap();
    wait(
        &arcway,
        &mm,
        "failover to cellular",
        via("platform", "via cellular"),
    );
    platform_over_cellular(&lab);

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
    platform_over_cellular(&lab);
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
