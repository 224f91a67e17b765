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
    // Status follows the engine, and the table's owner loads the hold rules a few
    // milliseconds later. Until then only the `prohibit` route refuses, and the kernel drops
    // the first ICMP error to a source it has not answered before (its per-source limiter
    // starts with no tokens), so a SYN in that window waits for its 1 s retransmission.
    let rule = "reject with tcp reset";
    let deadline = Instant::now() + Duration::from_secs(10);
    let table = loop {
        let table = lab
            .exec_ok(Role::Gw, &["nft", "list", "table", "inet", "arcway"])
            .unwrap_or_default();
        if table.contains(rule) || Instant::now() > deadline {
            break table;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        table.contains(rule),
        "the hold rules never reached the table:\n{table}\n{}",
        arcway.log()
    );
    let (ok, took) = connect_from_lan(&lab);
    eprintln!("held bulk connection refused after {took:?}");
    assert!(!ok, "a held class must be refused");
    assert!(
        took < Duration::from_millis(500),
        "refused only after {took:?}: applications would wait for a timeout\n{}",
        arcway.log()
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

/// Fetches the internet host's page `n` times from the LAN host (one connection each).
fn fetch_from_lan(lab: &Lab, n: u32) -> u32 {
    let script = format!(
        "ok=0; for i in $(seq {n}); do exec 3<>/dev/tcp/203.0.113.100/80 || continue; \
         printf 'GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n' >&3; cat <&3 >/dev/null && ok=$((ok+1)); \
         exec 3<&-; done; echo $ok"
    );
    let out = lab
        .exec(Role::Lan, &["timeout", "20", "bash", "-c", &script])
        .expect("bash runs in the LAN host");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn a_spent_budget_holds_the_class_and_survives_a_restart() {
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    let state = lab.state_dir().join("accounting.json");
    let config = lab
        .arcway_config(&Health::FAST)
        .replace(
            "  - name: default\n",
            "  - name: bulk\n    match: {destinations: [203.0.113.100/32], protocols: [tcp], ports: ['80']}\n    paths: [wifi, {path: cellular, policy: budget, bytes: 8000}]\n  - name: default\n",
        )
        .replace("budget: {", "budget: {cellular: {bytes: 1GiB, period: daily}, ");
    assert!(config.contains(&format!("state_file: {}", state.display())));
    let mut arcway = lab.start_arcway(&config).expect("arcway starts");
    wait(&arcway, "bulk via wifi", |a| {
        a.class_route("bulk").as_deref() == Some("via wifi")
    });
    lab.wifi_carrier(false).unwrap();
    wait(&arcway, "bulk via cellular within its budget", |a| {
        a.class_route("bulk").as_deref() == Some("via cellular")
    });
    // Each fetch moves a few hundred bytes over cellular; the budget is 8000.
    let fetched = fetch_from_lan(&lab, 60);
    assert!(
        fetched > 0,
        "nothing passed over cellular before the budget was spent"
    );
    let spent = arcway.wait_until(Duration::from_secs(15), |a| {
        a.class_route("bulk").as_deref() == Some("held on cellular")
    });
    assert!(spent.is_some(), "budget never spent:\n{}", arcway.log());
    eprintln!("{fetched} fetches passed over cellular before the class was held");
    let (ok, _) = connect_from_lan(&lab);
    assert!(!ok, "a class whose budget is spent must be refused");

    assert_eq!(arcway.terminate(Duration::from_secs(10)), Some(0));
    assert!(state.exists(), "no accounting state at {}", state.display());
    let arcway = lab.start_arcway(&config).expect("arcway starts again");
    wait(&arcway, "bulk still held after the restart", |a| {
        a.class_route("bulk").as_deref() == Some("held on cellular")
    });
    let status = arcway.status().unwrap();
    assert!(
        status["accounting"].to_string().contains("bulk"),
        "accounting missing from status: {status:#}"
    );
    lab.wifi_carrier(true).unwrap();
}
