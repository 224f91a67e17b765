//! Shared pieces of the lab's own tests (run as root; they build real namespaces).
#![allow(dead_code)]
use std::time::Duration;

use arcway_lab::{Lab, LabOptions, Role, WireGuardGo};

pub const SHORT: Duration = Duration::from_millis(700);

pub fn lab() -> Lab {
    lab_with(LabOptions::default())
}

pub fn lab_with(opts: LabOptions) -> Lab {
    let lab = Lab::build(opts).expect("lab builds");
    eprintln!("lab {} built in {:?}", lab.prefix(), lab.build_time());
    lab
}

/// A WireGuard client in the gateway using the lab's Arc credentials, with a route to the
/// platform through it: what arcway sets up, done by hand.
pub fn arc_client(lab: &Lab, endpoint: &str) -> WireGuardGo {
    let wg = lab
        .start_wireguard(Role::Gw, "wgtest")
        .expect("wireguard-go starts");
    let creds = lab.arc_credentials();
    wg.set_private_key(&creds.arc_client_peer_private_key)
        .expect("private key");
    let peer = &creds.arc_server_peer_public_key;
    wg.wg(&["set", "wgtest", "peer", peer, "endpoint", endpoint])
        .expect("peer");
    wg.wg(&[
        "set",
        "wgtest",
        "peer",
        peer,
        "allowed-ips",
        "100.127.0.0/16",
        "persistent-keepalive",
        "1",
    ])
    .expect("allowed ips");
    lab.ip(
        Role::Gw,
        &["addr", "add", "100.127.201.2/32", "dev", "wgtest"],
    )
    .expect("address");
    lab.ip(Role::Gw, &["link", "set", "wgtest", "up"])
        .expect("link up");
    lab.ip(
        Role::Gw,
        &["route", "add", "100.127.100.127/32", "dev", "wgtest"],
    )
    .expect("route");
    wg
}

/// Namespaces that exist now with this prefix.
pub fn namespaces(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&format!("{prefix}-")))
        .map(str::to_owned)
        .collect()
}

pub fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rfind(')').is_some_and(|i| !s[i + 2..].starts_with('Z')))
        .unwrap_or(false)
}
