//! Building, running side by side, and removing labs: nothing may be left behind.
mod common;

use std::process::Command;
use std::time::Duration;

use arcway_lab::process::PidRecord;
use arcway_lab::state::LabState;
use arcway_lab::{Lab, LabOptions, Role, plan};
use common::{SHORT, lab, namespaces, pid_alive};

const LAB_BIN: &str = env!("CARGO_BIN_EXE_arcway-lab");

#[test]
fn unique_prefixes_look_right() {
    let a = Lab::unique_prefix();
    assert_eq!(a.len(), 7);
    assert!(a.starts_with("aw"));
    assert!(a[2..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, Lab::unique_prefix());
}

#[test]
fn build_is_fast_enough() {
    let lab = lab();
    assert!(
        lab.build_time() < Duration::from_secs(2),
        "{:?}",
        lab.build_time()
    );
}

#[test]
fn drop_removes_namespaces_processes_and_files() {
    let lab = lab();
    let prefix = lab.prefix().to_owned();
    assert_eq!(namespaces(&prefix).len(), 7);
    lab.write_hosts(Role::Gw, &[("arc.lab.test", plan::ARC_SERVER)])
        .expect("hosts");
    // A process the test forgets to end, and one started outside the lab's knowledge.
    let leaked = lab.spawn(Role::Lan, &["sleep", "600"]).expect("spawn");
    let leaked_pid = leaked.pid();
    std::mem::forget(leaked);
    let mut stray = lab
        .command(Role::Cell, &["sleep", "600"])
        .spawn()
        .expect("spawn");
    let lab_pids: Vec<i32> = LabState::load(&prefix)
        .expect("state")
        .pids
        .iter()
        .map(|r| r.pid)
        .collect();
    assert!(lab_pids.len() >= 4, "{lab_pids:?}");
    drop(lab);
    assert!(namespaces(&prefix).is_empty());
    for pid in lab_pids.iter().chain([&leaked_pid]) {
        assert!(!pid_alive(*pid), "pid {pid} survived");
    }
    assert!(
        stray.try_wait().expect("wait").is_some(),
        "stray process survived"
    );
    assert!(!LabState::dir(&prefix).exists());
    assert!(!std::path::Path::new(&format!("/etc/netns/{prefix}-gw")).exists());
}

#[test]
fn panic_inside_a_test_still_cleans_up() {
    let prefix = Lab::unique_prefix();
    let p = prefix.clone();
    let result = std::panic::catch_unwind(move || {
        let _lab = Lab::build(LabOptions {
            prefix: Some(p),
            ..LabOptions::default()
        })
        .expect("lab builds");
        panic!("test failure inside a lab");
    });
    assert!(result.is_err());
    assert!(namespaces(&prefix).is_empty());
    assert!(!LabState::dir(&prefix).exists());
}

#[test]
fn two_labs_run_in_parallel() {
    let builders: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(|| Lab::build(LabOptions::default()).expect("lab builds")))
        .collect();
    let labs: Vec<Lab> = builders
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    assert_ne!(labs[0].prefix(), labs[1].prefix());
    for lab in &labs {
        assert!(lab.ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
    }
    // A failure in one lab leaves the other alone.
    labs[0].wifi_carrier(false).expect("carrier down");
    assert!(!labs[0].ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
    assert!(labs[1].ping(Role::Gw, plan::INTERNET_HOST, 1, SHORT));
}

#[test]
fn a_taken_prefix_is_refused_and_left_intact() {
    let lab = lab();
    let again = Lab::build(LabOptions {
        prefix: Some(lab.prefix().to_owned()),
        ..LabOptions::default()
    });
    assert!(again.is_err());
    assert_eq!(namespaces(lab.prefix()).len(), 7);
    assert!(lab.ping(Role::Gw, plan::WIFI_GATEWAY, 1, SHORT));
}

fn cli(args: &[&str]) -> String {
    let out = Command::new(LAB_BIN)
        .args(args)
        .output()
        .expect("arcway-lab runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn cli_up_show_down() {
    let prefix = Lab::unique_prefix();
    let up = cli(&["up", "--prefix", &prefix]);
    assert!(up.contains(&format!("{prefix}-arcsrv")), "{up}");
    assert!(
        up.contains(&format!("/run/arcway-lab/{prefix}/arc.json")),
        "{up}"
    );
    assert_eq!(namespaces(&prefix).len(), 7);
    let state = LabState::load(&prefix).expect("state");
    assert!(state.owner.is_none());
    assert!(state.pids.iter().all(PidRecord::is_alive), "{state:?}");
    let show = cli(&["show", "--prefix", &prefix]);
    assert!(show.contains("100.127.100.127/32"), "{show}");
    assert!(show.contains("wireguard-go"), "{show}");
    cli(&["down", "--prefix", &prefix]);
    assert!(namespaces(&prefix).is_empty());
    assert!(state.pids.iter().all(|r| !r.is_alive()), "{state:?}");
    assert!(!LabState::dir(&prefix).exists());
}

#[test]
fn cli_cleanup_removes_labs_whose_owner_died() {
    let lab = lab();
    let prefix = lab.prefix().to_owned();
    let pids = LabState::load(&prefix).expect("state").pids;
    // Pretend the owning test was killed: its Drop never runs, its PID is gone.
    let mut dead = Command::new("true").spawn().expect("spawn");
    let dead_pid = dead.id() as i32;
    let mut state = LabState::load(&prefix).expect("state");
    state.owner = Some(PidRecord {
        pid: dead_pid,
        start: 1,
        what: "owner".to_owned(),
    });
    dead.wait().expect("wait");
    state.save().expect("save");
    std::mem::forget(lab);
    let out = cli(&["cleanup"]);
    assert!(out.contains(&format!("removed {prefix}")), "{out}");
    assert!(namespaces(&prefix).is_empty());
    assert!(pids.iter().all(|r| !r.is_alive()));
}

#[test]
fn binaries_are_found() {
    let found = arcway_lab::bin_path("arcway-lab").expect("arcway-lab is built for these tests");
    assert_eq!(
        found.canonicalize().expect("canonical"),
        std::path::Path::new(LAB_BIN)
            .canonicalize()
            .expect("canonical")
    );
    assert!(arcway_lab::bin_path("no-such-binary-here").is_err());
}

#[test]
fn private_wireguard_dir_is_private() {
    let lab = lab();
    let marker = format!("{}.marker", lab.prefix());
    let script = format!("touch /run/wireguard/{marker} && ls /run/wireguard");
    let mut cmd = lab.command_private_wg(Role::Gw, &["sh", "-c", &script]);
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only our marker inside (not the host's sockets), and nothing left on the host.
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), marker);
    assert!(
        !std::path::Path::new("/run/wireguard")
            .join(&marker)
            .exists()
    );
}
