//! Stopping arcway (root, lab): `on_stop: remove` leaves nothing of arcway behind;
//! `on_stop: keep` leaves the tunnel and the rules working, and a restart adopts them.

mod arc_support;

use std::time::Duration;

use arc_support::*;
use arcway_lab::Role;

#[test]
fn sigterm_with_on_stop_remove_removes_device_rules_routes_and_table() {
    let lab = lab();
    let mut arcway = start(&lab, &config_with_arc(&lab, "  on_stop: remove\n"));
    wait_arc_up(&arcway, Duration::from_secs(10));
    let child = wg_child(arcway.pid()).expect("wireguard-go child");
    let (v4, v6) = (arcway_rules(&lab, "-4"), arcway_rules(&lab, "-6"));
    assert!(!v4.is_empty() && link_exists(&lab, "arc0"));
    eprintln!(
        "running: {} IPv4 and {} IPv6 rules, {} routes in arcway's tables",
        v4.len(),
        v6.len(),
        arcway_routes(&lab, "-4").len() + arcway_routes(&lab, "-6").len()
    );

    let code = arcway.terminate(Duration::from_secs(10));
    assert_eq!(
        code,
        Some(0),
        "exit after SIGTERM:\n{}",
        tail(&arcway.log(), 30)
    );
    assert!(!link_exists(&lab, "arc0"), "arc0 is still there");
    assert!(!alive(child), "wireguard-go {child} still runs");
    for family in ["-4", "-6"] {
        assert_eq!(
            arcway_rules(&lab, family),
            Vec::<String>::new(),
            "{family} rules left"
        );
        assert_eq!(
            arcway_routes(&lab, family),
            Vec::<String>::new(),
            "{family} routes left"
        );
    }
    let nft = lab
        .exec(Role::Gw, &["nft", "list", "table", "inet", "arcway"])
        .unwrap();
    assert!(!nft.status.success(), "table inet arcway left behind");
    // The lab's own main-table defaults are untouched.
    let main = lab.ip(Role::Gw, &["route", "show", "default"]).unwrap();
    assert!(
        main.contains("dev wlan0") && main.contains("dev wwan0"),
        "{main}"
    );
}

#[test]
fn sigterm_with_on_stop_keep_leaves_everything_and_a_restart_adopts_it() {
    let lab = lab();
    let config = config_with_arc(&lab, "  on_stop: keep\n");
    let mut arcway = start(&lab, &config);
    wait_arc_up(&arcway, Duration::from_secs(10));
    let child = wg_child(arcway.pid()).expect("wireguard-go child");
    let index = ifindex(&lab, "arc0").expect("arc0");
    let rules = (arcway_rules(&lab, "-4"), arcway_rules(&lab, "-6"));
    let config_path = arcway.config_path().clone();

    let code = arcway.terminate(Duration::from_secs(10));
    assert_eq!(
        code,
        Some(0),
        "exit after SIGTERM:\n{}",
        tail(&arcway.log(), 30)
    );
    assert!(alive(child), "wireguard-go ended with on_stop: keep");
    assert_eq!(ifindex(&lab, "arc0"), Some(index), "arc0 replaced or gone");
    assert_eq!((arcway_rules(&lab, "-4"), arcway_rules(&lab, "-6")), rules);
    // With arcway gone, the tunnel still carries platform traffic.
    assert!(lab.ping(Role::Gw, PLATFORM, 3, Duration::from_secs(1)));

    // The restart shares the mount namespace (and so /run/wireguard) of the kept
    // wireguard-go, as a restarted service on a real system does.
    let bin = arcway_lab::bin_path("arcway").unwrap();
    let mut cmd = std::process::Command::new("nsenter");
    cmd.args(["-t", &child.to_string(), "-m", "-n", "--"])
        .arg(bin)
        .args(["run", "--config"])
        .arg(&config_path)
        .env("ARCWAY_LOG", "debug,zbus=warn");
    let mut second = lab.spawn_command("arcway", cmd).unwrap();
    let socket = lab.arcway_socket();
    let up = poll(Duration::from_secs(10), || {
        status_at(&socket).is_some_and(|s| state_in(&s, "arc").as_deref() == Some("up"))
    });
    let log = second.log();
    assert!(
        up.is_some(),
        "restarted arcway: arc not up:\n{}",
        tail(&log, 60)
    );
    eprintln!(
        "restart adopted the kept tunnel; arc up {} ms after start",
        up.unwrap().as_millis()
    );
    assert!(
        log.contains("adopting the running userspace WireGuard device"),
        "{}",
        tail(&log, 60)
    );
    assert!(second.is_running());
    assert!(alive(child), "the adopted wireguard-go ended");
    assert_eq!(
        wg_child(second.pid()),
        None,
        "a second wireguard-go was started"
    );
    assert_eq!(ifindex(&lab, "arc0"), Some(index));
    let after = (arcway_rules(&lab, "-4"), arcway_rules(&lab, "-6"));
    eprintln!(
        "rules before stop {}+{}, after restart {}+{}",
        rules.0.len(),
        rules.1.len(),
        after.0.len(),
        after.1.len()
    );
    assert_eq!(after, rules, "rules changed or doubled across the restart");
    assert!(lab.ping(Role::Gw, PLATFORM, 3, Duration::from_secs(1)));
}
