//! The nftables owner's `nft` hangs, then works again (root): arcway runs with an `nft` ahead
//! of the real one in its PATH that hangs while a switch file says so. The table's problem
//! shows in status with the reason, a Wi-Fi carrier loss still moves platform traffic to
//! cellular at once (nothing on the loop waits for `nft`), every owner keeps answering, and
//! once `nft` works the owner's own retry loads the table and the problem goes away.

mod failover_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use arcway_lab::inject::LinkSwitch;
use arcway_lab::{Arcway, Health, Role};
use failover_support::*;
use serde_json::Value;

/// The table in the gateway's class table of the platform class.
const PLATFORM_TABLE: &str = "7110";

fn problems(arcway: &Arcway) -> Vec<(String, String)> {
    let status = arcway.status().unwrap_or(Value::Null);
    status["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["object"].as_str().unwrap_or_default().to_owned(),
                        p["error"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn nft_problem(arcway: &Arcway) -> Option<String> {
    problems(arcway)
        .into_iter()
        .find(|(o, _)| o == "nftables")
        .map(|(_, e)| e)
}

/// An `nft` that hangs while `switch` says "hang", and is the real one otherwise.
fn install_nft_wrapper(dir: &Path, switch: &Path) {
    let real = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nft is installed");
    std::fs::create_dir_all(dir).unwrap();
    let script = format!(
        "#!/bin/sh\n\
         if [ \"$(cat '{switch}' 2>/dev/null)\" = hang ]; then exec sleep 600; fi\n\
         exec {real} \"$@\"\n",
        switch = switch.display()
    );
    let path = dir.join("nft");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn table_loaded(lab: &arcway_lab::Lab) -> bool {
    let ns = lab.ns(Role::Gw);
    std::process::Command::new("ip")
        .args([
            "netns", "exec", &ns, "nft", "list", "table", "inet", "arcway",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_hanging_nft_is_shown_does_not_hold_up_failover_and_clears_when_nft_works() {
    let lab = lab();
    let bin = lab.state_dir().join("nft-bin");
    let switch = lab.state_dir().join("nft-switch");
    install_nft_wrapper(&bin, &switch);
    std::fs::write(&switch, "hang").unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
    );
    let config = lab.arcway_config(&Health::FAST);
    let arcway = lab
        .start_arcway_with(&config, &[("PATH", path.as_str())])
        .expect("arcway starts");
    wait_steady(&arcway, "first start with a hanging nft");

    // `nft` is given up on after 10 s: the table's problem says so.
    let shown = poll(Duration::from_secs(25), || nft_problem(&arcway).is_some())
        .unwrap_or_else(|| panic!("no nftables problem; status {:?}", arcway.status().ok()));
    let why = nft_problem(&arcway).unwrap();
    assert!(why.contains("did not finish"), "{why}");
    assert!(
        !table_loaded(&lab),
        "the table loaded through a hanging nft"
    );
    eprintln!("nftables problem shown after {shown:?}: {why}");

    // A carrier loss while `nft` hangs (the owner retries every 10 s, each try hangs).
    let wifi = LinkSwitch::wifi(lab.prefix()).unwrap();
    let cellular_route = || {
        lab.ip(Role::Gw, &["route", "show", "table", PLATFORM_TABLE])
            .is_ok_and(|r| r.contains("wwan0"))
    };
    assert!(!cellular_route(), "platform starts on Arc");
    wifi.set(false).unwrap();
    let moved = poll(Duration::from_secs(2), cellular_route).unwrap_or_else(|| {
        panic!(
            "platform did not move to cellular while nft hangs: {:?}\n{}",
            lab.ip(Role::Gw, &["route", "show", "table", PLATFORM_TABLE]),
            arcway.log()
        )
    });
    eprintln!("carrier loss while nft hangs: platform on cellular after {moved:?}");
    assert!(moved < Duration::from_millis(500), "took {moved:?}");
    assert_eq!(
        arcway.class_route("platform").as_deref(),
        Some("via cellular")
    );
    // The owner is busy with `nft`, not dead or stuck: nothing else is wrong.
    let others: Vec<_> = problems(&arcway)
        .into_iter()
        .filter(|(o, _)| o != "nftables")
        .collect();
    assert!(others.is_empty(), "{others:?}");
    wifi.set(true).unwrap();
    wait_steady(&arcway, "after the carrier loss");

    // `nft` works again: the next retry loads the table and the problem goes.
    std::fs::write(&switch, "work").unwrap();
    let cleared =
        poll(Duration::from_secs(30), || nft_problem(&arcway).is_none()).unwrap_or_else(|| {
            panic!(
                "the nftables problem stayed: {:?}\n{}",
                nft_problem(&arcway),
                arcway.log()
            )
        });
    assert!(table_loaded(&lab), "no table after the problem cleared");
    eprintln!("nft works again: table loaded, problem gone after {cleared:?}");
    assert!(
        arcway.log().contains("the problem is gone"),
        "the log does not say the problem is gone"
    );
}
