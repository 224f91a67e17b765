//! A storm of link events overruns the link monitor's netlink socket (root): hundreds of veth
//! pairs come and go in the gateway while arcway is stalled (SIGSTOP, as a starved process on
//! a busy gateway would be), so the kernel drops notifications (ENOBUFS). The monitor must
//! notice, re-read the links, keep answering, and a Wi-Fi carrier loss afterwards must still
//! move platform traffic to cellular at once.

mod failover_support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use arcway_lab::inject::LinkSwitch;
use arcway_lab::{Health, Lab, Role};
use failover_support::*;

const PAIRS: usize = 400;
const OVERRUN: &str = "netlink events were lost (receive buffer overrun)";

/// Runs `lines` through `ip -batch -` in the gateway (one process: the events come as fast as
/// the kernel makes them).
fn batch(lab: &Lab, lines: &str) {
    let mut child = Command::new("ip")
        .args(["-n", &lab.ns(Role::Gw), "-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    child.wait().unwrap();
}

fn storm(lab: &Lab) {
    let mut add = String::new();
    let mut up = String::new();
    let mut del = String::new();
    for i in 0..PAIRS {
        add.push_str(&format!("link add st{i}a type veth peer name st{i}b\n"));
        up.push_str(&format!("link set st{i}a up\nlink set st{i}b up\n"));
        del.push_str(&format!("link del st{i}a\n"));
    }
    batch(lab, &add);
    batch(lab, &up);
    batch(lab, &del);
}

#[test]
fn after_a_netlink_overrun_the_link_monitor_resyncs_and_carrier_loss_still_fails_over() {
    let lab = lab();
    let config = lab.arcway_config(&Health::FAST);
    let arcway = start_steady(&lab, &config);

    // Nothing reads the socket while the storm lasts: the kernel must drop notifications.
    let stalled = std::time::Instant::now();
    arcway.signal(libc::SIGSTOP);
    storm(&lab);
    arcway.signal(libc::SIGCONT);
    let stalled = stalled.elapsed();
    let overrun = poll(Duration::from_secs(5), || arcway.log().contains(OVERRUN));
    assert!(
        overrun.is_some(),
        "a storm of {PAIRS} veth pairs did not overrun the link monitor's socket\n{}",
        arcway.log()
    );
    eprintln!("overrun after a storm of {PAIRS} veth pairs ({stalled:?} stalled)");
    // Still steady: the re-read found the uplinks as they are, and no owner is late.
    wait_steady(&arcway, "after the storm");
    std::thread::sleep(Duration::from_secs(2));
    let status = arcway.status().unwrap();
    assert_eq!(
        status["problems"].as_array().map(Vec::len),
        Some(0),
        "{status}"
    );

    let wifi = LinkSwitch::wifi(lab.prefix()).unwrap();
    let cellular_route = || {
        lab.ip(Role::Gw, &["route", "show", "table", "7110"])
            .is_ok_and(|r| r.contains("wwan0"))
    };
    assert!(!cellular_route(), "platform starts on Arc");
    wifi.set(false).unwrap();
    let moved = poll(Duration::from_secs(2), cellular_route)
        .unwrap_or_else(|| panic!("no failover after the storm\n{}", arcway.log()));
    eprintln!("carrier loss after the overrun: platform on cellular after {moved:?}");
    assert!(moved < Duration::from_millis(500), "took {moved:?}");
    assert_eq!(arcway.path_state("wifi").as_deref(), Some("down"));
    wifi.set(true).unwrap();
    wait_steady(&arcway, "after Wi-Fi came back");
}
