//! Manage mode against Debian's ModemManager and an emulated u-blox modem: arcway unlocks,
//! enables, connects (APN soracom.io, sora/sora), puts the bearer's STATIC IPv4 config on the
//! interface in a throwaway namespace, and reconnects with backoff after network-side drops.
//! Needs root (namespaces, netlink, ModemManager's mount namespace).

#[path = "modem_support.rs"]
mod support;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use arcway::config::{ModemSelector, Secret};
use arcway::modem::{self, ManageSettings, ModemEvent};
use arcway::routing::PathDefault;
use arcway_lab::mm::{Reg, Sim};
use support::{Harness, Netns, drain, is_bearer, spec, wait_for};

fn manage(min_ms: u64, max_ms: u64) -> ManageSettings {
    ManageSettings {
        user: Some("sora".into()),
        password: Some(Secret("sora".into())),
        backoff_min: Duration::from_millis(min_ms),
        backoff_max: Duration::from_millis(max_ms),
        stable_after: Duration::from_secs(600),
        ..ManageSettings::new("soracom.io")
    }
}

fn default_via(gw: &str) -> impl Fn(&ModemEvent) -> bool {
    let want = ModemEvent::DefaultRoute {
        interface: "wwan0".into(),
        route: Some(PathDefault {
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
        let h = Harness::new(vec![spec(800, "wwan0")]);
        let mut settings = h.settings(ModemSelector::First);
        settings.manage = Some(manage(200, 1000));
        let (watcher, mut rx) = modem::spawn(settings);

        // ModemManager leaves the modem disabled: arcway enables it and connects; the
        // interface gets the address from +CGCONTRDP and comes up, and the gateway is reported.
        wait_for(&mut rx, "bearer up", is_bearer(true)).await;
        wait_for(&mut rx, "default route", default_via("198.51.100.129")).await;
        let addr = ip(&["-4", "-o", "addr", "show", "dev", "wwan0"]);
        assert!(addr.contains("inet 198.51.100.130/26"), "{addr}");
        let link = ip(&["-o", "link", "show", "wwan0"]);
        assert!(link.contains(",UP"), "{link}");
        let modem = h.mm().modem(0);
        assert_eq!(modem.activations(), 1);
        let at = modem.at_log();
        assert!(at.contains("> AT+CEREG=2"), "never enabled:\n{at}");
        assert!(at.contains(",\"soracom.io\""), "APN not sent:\n{at}");
        assert!(
            at.contains("\"sora\",\"sora\""),
            "credentials not sent:\n{at}"
        );
        let status = watcher.status();
        assert_eq!(status.mode, "manage");
        assert_eq!(status.ip_method.as_deref(), Some("static"));
        assert_eq!(status.gateway.as_deref(), Some("198.51.100.129"));

        // The network drops the bearer: loss at once, address removed, reconnect after the
        // first backoff step.
        let dropped = Instant::now();
        assert!(modem.drop_bearer());
        wait_for(&mut rx, "bearer down", is_bearer(false)).await;
        let lost = dropped.elapsed();
        wait_for(&mut rx, "route removed", no_default).await;
        let addr = ip(&["-4", "-o", "addr", "show", "dev", "wwan0"]);
        assert!(!addr.contains("198.51.100.130"), "{addr}");
        wait_for(&mut rx, "bearer up again", is_bearer(true)).await;
        let back = dropped.elapsed();
        wait_for(&mut rx, "route back", default_via("198.51.100.129")).await;
        eprintln!("network-side drop: path down after {lost:?}, reconnected after {back:?}");
        assert!(lost < Duration::from_millis(500), "{lost:?}");
        assert!(back >= Duration::from_millis(200), "{back:?}");
        assert_eq!(modem.activations(), 2);

        // Registration lost (the network detaches the modem): down, no connect succeeds
        // while unregistered, and the bearer is back once the modem registers again. The
        // second drop waits 400 ms before the first try.
        modem.set_registration(Reg::Searching);
        wait_for(&mut rx, "bearer down", is_bearer(false)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!watcher.status().bearer_connected);
        assert_eq!(watcher.status().registration.as_deref(), Some("searching"));
        assert!(!ip(&["-4", "-o", "addr", "show", "dev", "wwan0"]).contains("198.51.100.130"));
        modem.set_registration(Reg::Home);
        wait_for(&mut rx, "bearer up after registering", is_bearer(true)).await;
        wait_for(&mut rx, "route back", default_via("198.51.100.129")).await;
        assert!(
            ip(&["-4", "-o", "addr", "show", "dev", "wwan0"]).contains("inet 198.51.100.130/26")
        );
        assert_eq!(watcher.status().registration.as_deref(), Some("home"));
        watcher.stop().await;
    });
}

#[test]
fn manage_unlocks_with_the_pin_file_and_never_retries_a_wrong_pin() {
    let ns = Netns::with_veth("wwan0");
    ns.run(move || async move {
        let dir = tempfile::tempdir().unwrap();
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, "1234\n").unwrap();
        let mut s = spec(900, "wwan0");
        s.pin = Some("1234".into());
        let mut m = manage(100, 400);
        m.pin_file = Some(pin_file.clone());

        let h = Harness::new(vec![s.clone()]);
        let mut settings = h.settings(ModemSelector::First);
        settings.manage = Some(m.clone());
        let (watcher, mut rx) = modem::spawn(settings);
        wait_for(&mut rx, "bearer up", is_bearer(true)).await;
        assert_eq!(h.mm().modem(0).pin_attempts(), 1);
        watcher.stop().await;
        drop(h);

        // A wrong PIN is sent once, never again: three would lock the SIM into PUK.
        std::fs::write(&pin_file, "0000").unwrap();
        let h = Harness::new(vec![s]);
        let mut settings = h.settings(ModemSelector::First);
        settings.manage = Some(m);
        let (watcher, mut rx) = modem::spawn(settings);
        let deadline = Instant::now() + support::WAIT;
        while h.mm().modem(0).pin_attempts() == 0 {
            assert!(Instant::now() < deadline, "no PIN sent");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drain(&mut rx, Duration::from_secs(3)).await;
        let modem = h.mm().modem(0);
        assert_eq!(modem.pin_attempts(), 1);
        assert_eq!(modem.with(|m| (m.sim, m.pin_retries)), (Sim::Pin, 2));
        let status = watcher.status();
        assert_eq!(status.state.as_deref(), Some("locked"));
        let error = status.last_error.unwrap_or_default();
        assert!(error.contains("unlock the SIM"), "{error}");
        assert!(
            !error.contains("0000"),
            "the PIN leaked into the status: {error}"
        );
        eprintln!("wrong PIN: {error}");
        watcher.stop().await;
    });
}
