//! Observe mode against Debian's ModemManager driving emulated modems (root: ModemManager
//! runs in its own mount namespace): discovery and selection, facts that follow the modem,
//! bearer loss latency, the daemon killed and restarted, unplug and replug.

#[path = "modem_support.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arcway::config::ModemSelector;
use arcway::modem::{self, AccessTech, IpMethod, ModemEvent, ModemState, Registration};
use arcway_lab::mm::Reg;
use support::{Harness, drain, is_bearer, is_found, percentile, spec, wait_for};

fn found_path(e: &ModemEvent) -> String {
    match e {
        ModemEvent::ModemFound { path, .. } => path.clone(),
        other => panic!("not ModemFound: {other:?}"),
    }
}

#[tokio::test]
async fn selection_by_each_key_among_two_modems() {
    let h = Harness::new(vec![spec(311, "wwan0"), spec(322, "wwan1")]);
    let (a, b) = (h.mm().modem(0), h.mm().modem(1));
    let (a_imsi, b) = (a.spec.imsi.clone(), (b.spec.clone(), b.physdev.clone()));
    let (b_spec, b_dev) = b;
    let (pa, pb) = h
        .run(|mm| {
            let p = |i| {
                mm.wait_modem(i, &["disabled"], support::WAIT)
                    .expect("modem listed")
            };
            (p(0), p(1))
        })
        .await;
    let dev = |p: &PathBuf| p.display().to_string();
    let cases = [
        (ModemSelector::EquipmentId(b_spec.imei.clone()), &pb),
        (ModemSelector::Iccid(b_spec.iccid.clone()), &pb),
        (ModemSelector::Imsi(b_spec.imsi.clone()), &pb),
        (ModemSelector::Device(dev(&b_dev)), &pb),
        (ModemSelector::Imsi(a_imsi), &pa),
        (ModemSelector::First, if pa < pb { &pa } else { &pb }),
    ];
    for (selector, want) in cases {
        let (watcher, mut rx) = modem::spawn(h.settings(selector.clone()));
        let (found, _) = wait_for(&mut rx, "ModemFound", is_found).await;
        assert_eq!(&found_path(&found), want, "selector {selector:?}");
        watcher.stop().await;
    }
    // Nothing matches: no modem, bearer down, service up.
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::EquipmentId("999".into())));
    let events = drain(&mut rx, Duration::from_millis(1000)).await;
    assert!(events.contains(&ModemEvent::Bearer { connected: false }));
    assert!(!events.iter().any(is_found), "{events:?}");
    assert!(watcher.status().service);
    assert_eq!(watcher.status().path, None);
    watcher.stop().await;
}

#[tokio::test]
async fn facts_of_a_bearer_connected_by_someone_else_follow_the_modem() {
    let h = Harness::new(vec![spec(200, "wwan0")]);
    let imei = h.mm().modem(0).spec.imei.clone();
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::EquipmentId(imei.clone())));
    let (found, _) = wait_for(&mut rx, "ModemFound", is_found).await;
    assert_eq!(
        found,
        ModemEvent::ModemFound {
            path: found_path(&found),
            equipment_id: Some(imei)
        }
    );
    // Someone else (here mmcli) enables the modem and connects the bearer.
    h.run(|mm| mm.connect_with_mmcli(0))
        .await
        .expect("mmcli connects");
    let (_, seen) = wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    let has = |e: &ModemEvent| seen.contains(e);
    assert!(
        has(&ModemEvent::Interface {
            name: "wwan0".into()
        }),
        "{seen:?}"
    );
    assert!(
        has(&ModemEvent::AccessTechnologies(Some(AccessTech(1 << 14)))),
        "{seen:?}"
    );
    assert!(
        has(&ModemEvent::Registration(Some(Registration::HOME))),
        "{seen:?}"
    );
    // The bearer exists (method unknown) before it connects; the last config is the session's.
    let ip4 = seen
        .iter()
        .rev()
        .find_map(|e| match e {
            ModemEvent::Ip4Config(Some(c)) => Some(c.clone()),
            _ => None,
        })
        .expect("Ip4Config before the bearer is up");
    assert_eq!(ip4.method, IpMethod::Static);
    assert_eq!(ip4.address, Some("198.51.100.130".parse().unwrap()));
    assert_eq!(ip4.prefix, Some(26));
    assert_eq!(ip4.gateway, Some("198.51.100.129".parse().unwrap()));
    // A bearer found connected is reported up once, after its interface and config.
    assert!(!has(&ModemEvent::ServiceGone) && !has(&ModemEvent::ServiceBack));
    if !has(&ModemEvent::State(Some(ModemState::Connected))) {
        wait_for(&mut rx, "connected", |e| {
            *e == ModemEvent::State(Some(ModemState::Connected))
        })
        .await;
    }

    let status = watcher.status();
    assert!(status.service);
    assert_eq!(status.mode, "observe");
    assert_eq!(status.manufacturer.as_deref(), Some("u-blox"));
    assert_eq!(status.model.as_deref(), Some("LARA-R280"));
    assert_eq!(status.access_technologies, vec!["lte".to_owned()]);
    assert_eq!(status.operator_code.as_deref(), Some("44010"));
    assert_eq!(status.operator_name.as_deref(), Some("SORACOM"));
    assert_eq!(status.registration.as_deref(), Some("home"));
    assert_eq!(status.address.as_deref(), Some("198.51.100.130/26"));
    assert_eq!(status.gateway.as_deref(), Some("198.51.100.129"));
    assert_eq!(status.bearer_interface.as_deref(), Some("wwan0"));
    assert_eq!(status.signal_percent, Some(60));

    // The signal follows the modem's indicator at once.
    h.mm().modem(0).set_rssi(31);
    wait_for(&mut rx, "signal 100", |e| {
        *e == ModemEvent::SignalQuality(Some(100))
    })
    .await;
    h.mm().modem(0).set_rssi(7);
    wait_for(&mut rx, "signal 20", |e| {
        *e == ModemEvent::SignalQuality(Some(20))
    })
    .await;
    assert_eq!(watcher.status().signal_percent, Some(20));

    // Roaming on another operator, then home again.
    h.mm().modem(0).set_operator("44020", "SoftBank");
    h.mm().modem(0).set_registration(Reg::Roaming);
    wait_for(&mut rx, "roaming", |e| {
        *e == ModemEvent::Registration(Some(Registration::ROAMING))
    })
    .await;
    let deadline = Instant::now() + support::WAIT;
    while watcher.status().operator_code.as_deref() != Some("44020") {
        assert!(Instant::now() < deadline, "{:?}", watcher.status());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(watcher.status().registration.as_deref(), Some("roaming"));
    h.mm().modem(0).set_registration(Reg::Home);
    wait_for(&mut rx, "home", |e| {
        *e == ModemEvent::Registration(Some(Registration::HOME))
    })
    .await;

    // The network drops the bearer: down at once; observe mode never reconnects.
    let mut latencies = Vec::new();
    for round in 0..5 {
        if round > 0 {
            h.run(|mm| mm.connect_with_mmcli(0))
                .await
                .expect("reconnect");
            wait_for(&mut rx, "bearer up", is_bearer(true)).await;
        }
        let sent = Instant::now();
        assert!(h.mm().modem(0).drop_bearer());
        wait_for(&mut rx, "bearer down", is_bearer(false)).await;
        latencies.push(sent.elapsed());
    }
    latencies.sort();
    let (p50, max) = (percentile(&latencies, 0.5), latencies[latencies.len() - 1]);
    eprintln!("network-side drop -> ModemEvent: p50 {p50:?} max {max:?} (n=5, ModemManager)");
    assert!(max < Duration::from_millis(500), "max {max:?}");
    let later = drain(&mut rx, Duration::from_millis(1500)).await;
    assert!(
        !later.contains(&ModemEvent::Bearer { connected: true }),
        "{later:?}"
    );
    assert_eq!(
        h.mm().modem(0).activations(),
        5,
        "observe mode connected by itself"
    );
    watcher.stop().await;
}

#[tokio::test]
async fn modemmanager_killed_and_restarted_is_followed_without_a_restart() {
    let h = Harness::new(vec![spec(500, "wwan0")]);
    h.run(|mm| mm.connect_with_mmcli(0)).await.expect("connect");
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::First));
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;

    h.run(|mm| mm.kill_daemon()).await;
    let (e, _) = wait_for(&mut rx, "bearer down", |e| {
        matches!(e, ModemEvent::Bearer { .. } | ModemEvent::ServiceGone)
    })
    .await;
    assert_eq!(e, ModemEvent::Bearer { connected: false }, "loss first");
    wait_for(&mut rx, "ServiceGone", |e| *e == ModemEvent::ServiceGone).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!watcher.status().service);
    assert_eq!(watcher.status().state, None);

    h.run(|mm| mm.start_daemon())
        .await
        .expect("ModemManager starts again");
    wait_for(&mut rx, "ServiceBack", |e| *e == ModemEvent::ServiceBack).await;
    wait_for(&mut rx, "ModemFound", is_found).await;
    // The new instance's bearer is seen without restarting the watcher.
    h.run(|mm| mm.connect_with_mmcli(0))
        .await
        .expect("connect again");
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    assert!(watcher.status().service);
    watcher.stop().await;
}

#[tokio::test]
async fn unplug_and_replug_follow_the_modem_to_its_new_number() {
    let h = Harness::new(vec![spec(600, "wwan0")]);
    let imei = h.mm().modem(0).spec.imei.clone();
    h.run(|mm| mm.connect_with_mmcli(0)).await.expect("connect");
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::EquipmentId(imei)));
    let (found, _) = wait_for(&mut rx, "ModemFound", is_found).await;
    let first = found_path(&found);
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;

    h.run(|mm| mm.unplug(0)).await.expect("unplug");
    let (e, _) = wait_for(&mut rx, "bearer or gone", |e| {
        matches!(e, ModemEvent::Bearer { .. } | ModemEvent::ModemGone { .. })
    })
    .await;
    assert_eq!(e, ModemEvent::Bearer { connected: false });
    wait_for(&mut rx, "ModemGone", |e| {
        *e == ModemEvent::ModemGone {
            path: first.clone(),
        }
    })
    .await;
    let later = drain(&mut rx, Duration::from_millis(300)).await;
    assert!(later.contains(&ModemEvent::State(None)), "{later:?}");

    h.run(|mm| mm.plug(0)).await.expect("replug");
    let (found, _) = wait_for(&mut rx, "ModemFound", is_found).await;
    assert_ne!(
        found_path(&found),
        first,
        "ModemManager numbers a replugged modem afresh"
    );
    h.run(|mm| mm.connect_with_mmcli(0))
        .await
        .expect("connect after replug");
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    watcher.stop().await;
}
