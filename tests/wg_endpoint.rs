//! Endpoint names and address families against a real wireguard-go server (root, namespaces).

mod wg_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use arcway::wg::{Resolver, Tunnel, TunnelSpec, WgSettings};
use tokio::sync::mpsc;
use wg_support::{Lab, SERVER_V4, SERVER_V6, ping_ok, sh, wait_sample};

fn spec(lab: &Lab, hosts: &str, prefer_ipv6: bool, handshake_timeout: Duration) -> TunnelSpec {
    // The hosts file `ip netns exec` would bind-mount over /etc/hosts for this namespace; the
    // code under test runs on a setns thread, so it reads the file through the resolver seam.
    let dir = format!("/etc/netns/{}", lab.client);
    sh(&format!("mkdir -p {dir} && printf '{hosts}' > {dir}/hosts"));
    let resolver = Resolver::from_hosts_file(format!("{dir}/hosts")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let settings = WgSettings {
        ifname: lab.client_if.clone(),
        keepalive: Some(Duration::from_secs(5)),
        handshake_timeout,
        ..WgSettings::default()
    };
    let mut spec = TunnelSpec::new(settings, lab.credentials("arc.test:11010", None));
    spec.prefer_ipv6 = prefer_ipv6;
    spec.resolver = resolver;
    spec
}

#[test]
fn ipv6_only_name_works_over_ipv6() {
    let lab = Lab::new();
    let (c, ifname) = (lab.client.clone(), lab.client_if.clone());
    let spec = spec(
        &lab,
        &format!("{SERVER_V6} arc.test\\n"),
        true,
        Duration::from_secs(5),
    );
    let endpoint = lab.run_in_client(move || async move {
        let (tx, mut rx) = mpsc::channel(64);
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        assert!(
            wait_sample(&mut rx, Duration::from_secs(10), |s| s
                .last_handshake
                .is_some())
            .await
            .is_some()
        );
        assert!(
            tokio::task::spawn_blocking(move || ping_ok(&c, &ifname))
                .await
                .unwrap()
        );
        let endpoint = tunnel.status().await.unwrap().endpoint;
        tunnel.stop().await.expect("stop");
        endpoint
    });
    assert_eq!(
        endpoint,
        Some(SocketAddr::new(SERVER_V6.parse().unwrap(), 11010))
    );
}

#[test]
fn dead_preferred_family_falls_back_to_the_other_after_the_timeout() {
    let lab = Lab::new();
    // The IPv6 address answers nothing; IPv4 works.
    let hosts = format!("2001:db8:9::99 arc.test\\n{SERVER_V4} arc.test\\n");
    let spec = spec(&lab, &hosts, true, Duration::from_secs(3));
    let (first, last, took) = lab.run_in_client(move || async move {
        let (tx, mut rx) = mpsc::channel(64);
        let started = Instant::now();
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        let first = tunnel.status().await.unwrap().endpoint;
        let ok = wait_sample(&mut rx, Duration::from_secs(15), |s| {
            s.last_handshake.is_some()
        })
        .await;
        let took = started.elapsed();
        assert!(ok.is_some(), "no handshake after falling back");
        let last = tunnel.status().await.unwrap().endpoint;
        tunnel.stop().await.expect("stop");
        (first, last, took)
    });
    eprintln!("fallback from dead IPv6 to IPv4 handshake: {took:?} (handshake_timeout 3 s)");
    assert!(first.is_some_and(|e| e.is_ipv6()), "{first:?}");
    assert_eq!(
        last,
        Some(SocketAddr::new(SERVER_V4.parse().unwrap(), 11010))
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
}

#[test]
fn preference_change_moves_the_endpoint_to_ipv6() {
    let lab = Lab::new();
    let (c, ifname) = (lab.client.clone(), lab.client_if.clone());
    let hosts = format!("{SERVER_V4} arc.test\\n{SERVER_V6} arc.test\\n");
    let spec = spec(&lab, &hosts, false, Duration::from_secs(5));
    let (before, after) = lab.run_in_client(move || async move {
        let (tx, mut rx) = mpsc::channel(64);
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        assert!(
            wait_sample(&mut rx, Duration::from_secs(10), |s| s
                .last_handshake
                .is_some())
            .await
            .is_some()
        );
        let before = tunnel.status().await.unwrap().endpoint;
        tunnel.set_prefer_ipv6(true).await.unwrap();
        let mut after = before;
        for _ in 0..50 {
            after = tunnel.status().await.unwrap().endpoint;
            if after != before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The first packet after a path change may be lost while neighbours are learned.
        let mut ok = false;
        for _ in 0..3 {
            let (c, ifname) = (c.clone(), ifname.clone());
            if tokio::task::spawn_blocking(move || ping_ok(&c, &ifname))
                .await
                .unwrap()
            {
                ok = true;
                break;
            }
        }
        assert!(ok, "no ping over the IPv6 endpoint in 3 tries");
        tunnel.stop().await.expect("stop");
        (before, after)
    });
    assert_eq!(
        before,
        Some(SocketAddr::new(SERVER_V4.parse().unwrap(), 11010))
    );
    assert_eq!(
        after,
        Some(SocketAddr::new(SERVER_V6.parse().unwrap(), 11010))
    );
}
