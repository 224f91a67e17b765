//! Manage mode: arcway unlocks, enables, connects, configures a STATIC bearer's interface in
//! a throwaway namespace, and reconnects with backoff. Needs root (namespaces, netlink).

#[path = "modem_support.rs"]
mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use arcway::config::ModemSelector;
use arcway::modem::{self, ManageSettings, ModemEvent};
use arcway::routing::DefaultRoute;
use arcway_lab::fakemm::{Ip4Spec, METHOD_DHCP, STATE_DISABLED};
use support::{Harness, Netns, drain, is_bearer, spec, wait_for};

fn manage(min_ms: u64, max_ms: u64) -> ManageSettings {
    ManageSettings {
        backoff_min: Duration::from_millis(min_ms),
        backoff_max: Duration::from_millis(max_ms),
        stable_after: Duration::from_secs(600),
        ..ManageSettings::new("soracom.io")
    }
}

fn default_via(gw: &str) -> impl Fn(&ModemEvent) -> bool {
    let want = ModemEvent::DefaultRoute {
        interface: "wwan0".into(),
        route: Some(DefaultRoute {
            gateway: Some(gw.parse::<IpAddr>().unwrap()),
        }),
    };
    move |e| *e == want
}

fn no_default(e: &ModemEvent) -> bool {
    *e == ModemEvent::DefaultRoute {
        interface: "wwan0".into(),
        route: None,
    }
}

#[test]
fn manage_connects_configures_and_reconnects_with_backoff() {
    let ns = Netns::with_veth("wwan0");
    let name = ns.name.clone();
    let ip = move |args: &[&str]| {
        let mut all = vec!["-n", name.as_str()];
        all.extend_from_slice(args);
        let out = std::process::Command::new("ip")
            .args(&all)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ns.run(move || async move {
        let h = Harness::new().await;
        let mut s = spec("wwan0", "800");
        s.ip4 = Ip4Spec {
            mtu: Some(1420),
            ..Ip4Spec::default()
        };
        let n = h.fake.add_modem(s).await.unwrap();
        let mut settings = h.settings(ModemSelector::First);
        settings.manage = Some(manage(200, 1000));
        let (watcher, mut rx) = modem::spawn(settings);

        // Connect, then the interface gets address, MTU, up, and the gateway is reported.
        wait_for(&mut rx, "bearer up", is_bearer(true)).await;
        wait_for(&mut rx, "default route", default_via("198.51.100.129")).await;
        let addr = ip(&["-4", "-o", "addr", "show", "dev", "wwan0"]);
        assert!(addr.contains("inet 198.51.100.130/26"), "{addr}");
        let link = ip(&["-o", "link", "show", "wwan0"]);
        assert!(link.contains("mtu 1420") && link.contains(",UP"), "{link}");
        assert_eq!(h.fake.counters().connect_calls, 1);
        let status = watcher.status();
        assert_eq!(status.mode, "manage");
        assert_eq!(status.gateway.as_deref(), Some("198.51.100.129"));

        // The network drops the bearer: loss at once, address removed, reconnect after the
        // first backoff step.
        let dropped = Instant::now();
        h.fake.drop_bearer(n).await.unwrap();
        wait_for(&mut rx, "bearer down", is_bearer(false)).await;
        wait_for(&mut rx, "route removed", no_default).await;
        let addr = ip(&["-4", "-o", "addr", "show", "dev", "wwan0"]);
        assert!(!addr.contains("198.51.100.130"), "{addr}");
        wait_for(&mut rx, "bearer up again", is_bearer(true)).await;
        let first_wait = dropped.elapsed();
        wait_for(&mut rx, "route back", default_via("198.51.100.129")).await;
        assert!(first_wait >= Duration::from_millis(200), "{first_wait:?}");
        assert_eq!(h.fake.counters().connect_calls, 2);

        // A new address on the next session replaces the old one; two connects fail first, so
        // the waits grow: 400 ms (second drop), 800 ms, then 1000 ms (the cap).
        h.fake.set_ip4(
            n,
            Ip4Spec {
                address: "198.51.100.140".parse().unwrap(),
                prefix: 26,
                gateway: Some("198.51.100.129".parse().unwrap()),
                mtu: Some(1400),
                ..Ip4Spec::default()
            },
        );
        h.fake.fail_next_connects(2);
        let dropped = Instant::now();
        h.fake.drop_bearer(n).await.unwrap();
        wait_for(&mut rx, "bearer down", is_bearer(false)).await;
        let deadline = Instant::now() + Duration::from_secs(6);
        loop {
            match tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                Ok(Some(e)) if is_bearer(true)(&e) => break,
                Ok(Some(_)) | Err(_) => assert!(Instant::now() < deadline, "no reconnect"),
                Ok(None) => panic!("watcher ended"),
            }
        }
        let waited = dropped.elapsed();
        eprintln!("reconnect after two failed connects: {waited:?} (backoff 400+800+1000 ms)");
        assert!(waited >= Duration::from_millis(2000), "{waited:?}");
        assert_eq!(h.fake.counters().connect_calls, 5);
        wait_for(&mut rx, "route back", default_via("198.51.100.129")).await;
        // The connect's reply comes after its signals; the error clears once it is read.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(watcher.status().last_error.is_none());
        let addr = ip(&["-4", "-o", "addr", "show", "dev", "wwan0"]);
        assert!(addr.contains("inet 198.51.100.140/26"), "{addr}");
        assert!(!addr.contains("198.51.100.130"), "{addr}");
        assert!(ip(&["-o", "link", "show", "wwan0"]).contains("mtu 1400"));
        watcher.stop().await;
    });
}

#[test]
fn manage_puts_an_off_prefix_gateway_on_link_as_peer() {
    let ns = Netns::with_veth("wwan0");
    let name = ns.name.clone();
    ns.run(move || async move {
        let h = Harness::new().await;
        let mut s = spec("wwan0", "810");
        s.ip4 = Ip4Spec {
            address: "100.127.10.20".parse().unwrap(),
            prefix: 32,
            gateway: Some("100.127.10.1".parse().unwrap()),
            ..Ip4Spec::default()
        };
        h.fake.add_modem(s).await.unwrap();
        let mut settings = h.settings(ModemSelector::First);
        settings.manage = Some(manage(200, 1000));
        let (watcher, mut rx) = modem::spawn(settings);
        wait_for(&mut rx, "default route", default_via("100.127.10.1")).await;
        let out = std::process::Command::new("ip")
            .args(["-n", &name, "-4", "-o", "addr", "show", "dev", "wwan0"])
            .output()
            .unwrap();
        let addr = String::from_utf8_lossy(&out.stdout);
        assert!(
            addr.contains("inet 100.127.10.20 peer 100.127.10.1/32"),
            "{addr}"
        );
        watcher.stop().await;
    });
}

#[tokio::test]
async fn manage_unlocks_once_enables_and_leaves_dhcp_to_a_client() {
    let h = Harness::new().await;
    let dir = tempfile::tempdir().unwrap();
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, "1234\n").unwrap();
    let mut s = spec("wwan0", "900");
    s.pin = Some("1234".into());
    s.state = STATE_DISABLED;
    s.ip4.method = METHOD_DHCP;
    let n = h.fake.add_modem(s.clone()).await.unwrap();
    let mut settings = h.settings(ModemSelector::First);
    let mut m = manage(100, 400);
    m.pin_file = Some(pin_file.clone());
    settings.manage = Some(m.clone());
    let (watcher, mut rx) = modem::spawn(settings);
    let (_, before) = wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    let c = h.fake.counters();
    assert_eq!((c.pin_calls, c.enable_calls, c.connect_calls), (1, 1, 1));
    // DHCP: arcway leaves the address to a DHCP client and reports no route of its own.
    let later = drain(&mut rx, Duration::from_millis(300)).await;
    assert!(
        !before
            .iter()
            .chain(&later)
            .any(|e| matches!(e, ModemEvent::DefaultRoute { .. })),
        "{before:?} {later:?}"
    );
    assert_eq!(watcher.status().ip_method.as_deref(), Some("dhcp"));
    watcher.stop().await;
    h.fake.remove_modem(n).await.unwrap();

    // A wrong PIN is sent once, never again (the SIM would lock up after three).
    std::fs::write(&pin_file, "0000").unwrap();
    h.fake.add_modem(s).await.unwrap();
    let mut settings = h.settings(ModemSelector::First);
    settings.manage = Some(m);
    let (watcher, mut rx) = modem::spawn(settings);
    drain(&mut rx, Duration::from_millis(1000)).await;
    assert_eq!(h.fake.counters().pin_calls, 2);
    let status = watcher.status();
    assert_eq!(status.state.as_deref(), Some("locked"));
    let error = status.last_error.unwrap_or_default();
    assert!(error.contains("unlock the SIM"), "{error}");
    watcher.stop().await;
}
