//! Bulk offload through `arcway run` in the lab (root): bulk traffic goes straight out over
//! Wi-Fi while Wi-Fi works; with Wi-Fi down and policy hold it is refused at once while
//! platform traffic flows over cellular.

use std::time::{Duration, Instant};

use arcway_lab::{Arcway, Health, Lab, LabOptions, Role};

fn wait(arcway: &Arcway, what: &str, check: impl Fn(&Arcway) -> bool) {
    if arcway.wait_until(Duration::from_secs(10), check).is_none() {
        panic!("{what} never happened:\n{}", arcway.log());
    }
}

/// A TCP connection from the LAN host to the internet host's port 80: whether it was
/// accepted, and how long the attempt took.
fn connect_from_lan(lab: &Lab) -> (bool, Duration) {
    let start = Instant::now();
    let out = lab
        .exec(
            Role::Lan,
            &[
                "timeout",
                "5",
                "bash",
                "-c",
                "exec 3<>/dev/tcp/203.0.113.100/80",
            ],
        )
        .expect("bash runs in the LAN host");
    (out.status.success(), start.elapsed())
}

#[test]
fn bulk_rides_wifi_and_is_refused_at_once_when_only_cellular_is_left() {
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    let config = lab.arcway_config(&Health::FAST).replace(
        "  - name: default\n",
        "  - name: bulk\n    match: {destinations: [203.0.113.100/32], protocols: [tcp], ports: ['80']}\n    paths: [wifi, {path: cellular, policy: hold, hold_action: tcp-reset}]\n  - name: default\n",
    );
    assert!(config.contains("name: bulk"), "{config}");
    let arcway = lab.start_arcway(&config).expect("arcway starts");
    wait(&arcway, "bulk via wifi", |a| {
        a.class_route("bulk").as_deref() == Some("via wifi")
            && a.class_route("platform").as_deref() == Some("via arc")
    });

    let (ok, _) = connect_from_lan(&lab);
    assert!(ok, "bulk connection over Wi-Fi failed:\n{}", arcway.log());
    let bulk_route = lab
        .exec_ok(Role::Gw, &["ip", "route", "show", "table", "7111"])
        .unwrap();
    assert!(bulk_route.contains("dev wlan0"), "bulk table: {bulk_route}");

    lab.wifi_carrier(false).unwrap();
    wait(&arcway, "bulk held, platform via cellular", |a| {
        a.class_route("bulk").as_deref() == Some("held on cellular")
            && a.class_route("platform").as_deref() == Some("via cellular")
    });
    let (ok, took) = connect_from_lan(&lab);
    eprintln!("held bulk connection refused after {took:?}");
    assert!(!ok, "a held class must be refused");
    assert!(
        took < Duration::from_millis(500),
        "refused only after {took:?}: applications would wait for a timeout"
    );
    assert!(
        lab.ping(Role::Lan, "100.127.100.127", 3, Duration::from_secs(1)),
        "platform traffic must flow over cellular while bulk is held"
    );

    lab.wifi_carrier(true).unwrap();
    wait(&arcway, "bulk back on wifi", |a| {
        a.class_route("bulk").as_deref() == Some("via wifi")
    });
    let (ok, _) = connect_from_lan(&lab);
    assert!(ok, "bulk must work again over Wi-Fi");
}
