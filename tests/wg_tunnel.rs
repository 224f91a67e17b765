//! The tunnel against a real wireguard-go server in throwaway namespaces (root).

mod wg_support;

use std::time::{Duration, Instant};

use arcway::wg::{ActiveBackend, OnStop, Tunnel, TunnelSpec, WgSettings};
use tokio::sync::mpsc;
use wg_support::{Lab, ping_ok, sh, sh_ok, wait_sample};

/// The Arc table of arcway's default layout: the tunnel must leave it alone.
const TABLE: u32 = 7101;
const MARK: u32 = 0x0042_0000;

fn settings(lab: &Lab) -> WgSettings {
    WgSettings {
        ifname: lab.client_if.clone(),
        keepalive: Some(Duration::from_secs(5)),
        handshake_timeout: Duration::from_secs(5),
        fwmark: MARK,
        ..WgSettings::default()
    }
}

fn nft_count(ns: &str, chain_text: &str, needle: &str) -> u64 {
    let text = sh(&format!(
        "ip netns exec {ns} nft list chain inet awtest {chain_text}"
    ));
    let line = text
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no rule {needle} in {text}"));
    let after = line.split("packets ").nth(1).expect("no counter");
    after.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn tunnel_comes_up_and_marks_its_udp() {
    let lab = Lab::new();
    let (c, ifname) = (lab.client.clone(), lab.client_if.clone());
    sh(&format!(
        "printf 'table inet awtest {{\n chain out {{\n type filter hook output priority 0; policy accept;\n \
         meta mark {MARK:#010x} udp dport 11010 counter\n meta mark != {MARK:#010x} udp dport 11010 counter\n }}\n}}\n' \
         | ip netns exec {c} nft -f -"
    ));
    let spec = TunnelSpec::new(settings(&lab), lab.credentials("192.0.2.1:11010", None));
    let (c2, if2) = (c.clone(), ifname.clone());
    let (status, handshake_after) = lab.run_in_client(move || async move {
        let (tx, mut rx) = mpsc::channel(64);
        let started = Instant::now();
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        let sample = wait_sample(&mut rx, Duration::from_secs(10), |s| {
            s.last_handshake.is_some()
        })
        .await;
        let handshake_after = started.elapsed();
        assert!(sample.is_some(), "no handshake within 10 s");
        assert!(
            tokio::task::spawn_blocking(move || ping_ok(&c2, &if2))
                .await
                .unwrap(),
            "ping through the tunnel failed"
        );
        let status = tunnel.status().await.unwrap();
        let sample = wait_sample(&mut rx, Duration::from_secs(3), |_| true)
            .await
            .unwrap();
        assert!(sample.rx_bytes > 0 && sample.tx_bytes > 0, "{sample:?}");
        tunnel.stop().await.expect("stop");
        (status, handshake_after)
    });
    eprintln!("start to first handshake sample: {handshake_after:?}");
    assert_eq!(
        status.backend,
        ActiveBackend::Userspace,
        "this kernel has no WireGuard: auto must fall back"
    );
    assert!(status.child_pid.is_some());
    let pid = status.child_pid.unwrap();
    assert!(
        !sh_ok(&format!("kill -0 {pid}")),
        "wireguard-go still running after stop"
    );
    assert!(
        !sh_ok(&format!("ip -n {c} link show {ifname}")),
        "device left after stop remove"
    );
    let marked = nft_count(&c, "out", "meta mark 0x00420000");
    let unmarked = nft_count(&c, "out", "meta mark != 0x00420000");
    assert!(marked > 0, "no marked WireGuard UDP seen");
    assert_eq!(unmarked, 0, "WireGuard UDP left without the mark");
}

/// The AllowedIPs routes are the routing reconciler's alone: the tunnel adds none, in its
/// table or in main, however often it is applied.
#[test]
fn the_tunnel_routes_nothing_and_replaces_its_address() {
    let lab = Lab::new();
    let (c, ifname) = (lab.client.clone(), lab.client_if.clone());
    let mut s = settings(&lab);
    s.extra_allowed_ips = vec!["10.128.0.0/9".parse().unwrap()];
    let creds = lab.credentials("192.0.2.1", None);
    let mut renewed = creds.clone();
    renewed.ip_address = "100.127.201.3".parse().unwrap();
    let spec = TunnelSpec::new(s, creds);
    let (c2, if2) = (c.clone(), ifname.clone());
    let (table, main, addr, addr2) = lab.run_in_client(move || async move {
        let (tx, _rx) = mpsc::channel(64);
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        // Applying again must be a no-op, not an EEXIST.
        tunnel.repair().await.expect("repair");
        tunnel.repair().await.expect("second repair");
        let addr = sh(&format!("ip -n {c2} -4 addr show dev {if2}"));
        // A new session with a new tunnel IP replaces the address, it does not add one.
        tunnel.update_credentials(renewed).await.expect("update");
        // A table that never held a route does not exist, which is also empty.
        let table = sh(&format!(
            "ip -n {c} route show table {TABLE} 2>/dev/null || true"
        ));
        let main = sh(&format!("ip -n {c} route show table main"));
        let addr2 = sh(&format!("ip -n {c} -4 addr show dev {ifname}"));
        tunnel.stop().await.expect("stop");
        (table, main, addr, addr2)
    });
    assert_eq!(table.trim(), "", "{table}");
    assert!(
        !main.contains("100.127.0.0/16") && !main.contains("10.128.0.0/9"),
        "{main}"
    );
    assert!(
        addr.contains("inet 100.127.201.2/32") && addr.contains("mtu 1420"),
        "{addr}"
    );
    assert!(
        addr2.contains("inet 100.127.201.3/32") && !addr2.contains("100.127.201.2"),
        "{addr2}"
    );
}

#[test]
fn stop_keep_leaves_the_device_and_its_routes_and_a_restart_adopts_them() {
    let lab = Lab::new();
    let (c, ifname) = (lab.client.clone(), lab.client_if.clone());
    let mut s = settings(&lab);
    s.on_stop = OnStop::Keep;
    let creds = lab.credentials("192.0.2.1:11010", None);
    let spec = TunnelSpec::new(s.clone(), creds.clone());
    let (c3, if3) = (c.clone(), ifname.clone());
    let pid = lab.run_in_client(move || async move {
        let (tx, _rx) = mpsc::channel(64);
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        // What arcway's routing reconciler would add once the device is there.
        sh(&format!(
            "ip -n {c3} route replace 100.127.0.0/16 dev {if3} table {TABLE}"
        ));
        let pid = tunnel.status().await.unwrap().child_pid.unwrap();
        tunnel.stop().await.expect("stop keep");
        pid
    });
    assert!(
        sh_ok(&format!("kill -0 {pid}")),
        "kept wireguard-go was ended"
    );
    assert!(
        sh_ok(&format!("ip -n {c} link show {ifname}")),
        "kept device is gone"
    );
    assert!(sh(&format!("ip -n {c} route show table {TABLE}")).contains("100.127.0.0/16"));

    // A new arcway adopts the kept device, then removes it for good.
    let spec = TunnelSpec::new(s, creds);
    let c2 = c.clone();
    let status = lab.run_in_client(move || async move {
        let (tx, mut rx) = mpsc::channel(64);
        let tunnel = Tunnel::start(spec, tx).await.expect("adopting start");
        assert!(
            wait_sample(&mut rx, Duration::from_secs(10), |s| s
                .last_handshake
                .is_some())
            .await
            .is_some()
        );
        let status = tunnel.status().await.unwrap();
        tunnel
            .stop_with(Some(OnStop::Remove))
            .await
            .expect("stop remove");
        let _ = c2;
        status
    });
    assert_eq!(
        status.child_pid, None,
        "adopted device must not get a second process"
    );
    assert!(status.device_up);
    // wireguard-go ends once its device is gone; on a loaded machine that can take a while,
    // and until the test process reaps it, an ended child is a zombie (`kill -0` still works).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while running(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !running(pid),
        "adopted wireguard-go still running 10 s after remove"
    );
    assert!(
        !sh_ok(&format!("ip -n {c} link show {ifname}")),
        "device left after remove"
    );
    assert_eq!(
        sh(&format!("ip -n {c} route show table {TABLE}")).trim(),
        ""
    );
}

/// Whether process `pid` exists and has not ended (a zombie has ended).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}
