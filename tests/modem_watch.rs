//! Observe mode against a fake ModemManager on a private bus: discovery, selection, bearer
//! loss latency, service restart, hot-plug, malformed values.

#[path = "modem_support.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arcway::config::ModemSelector;
use arcway::modem::{self, AccessTech, IpMethod, ModemEvent, ModemState, Registration};
use arcway_lab::fakemm::{Malformed, STATE_REGISTERED, modem_path};
use support::{Harness, drain, is_bearer, next, percentile, spec, wait_for};

#[tokio::test]
async fn discovery_reports_every_fact_of_a_connected_modem() {
    let h = Harness::new().await;
    // A modem unplugged before arcway starts: the one to find is not Modem/0.
    let gone = h.fake.add_modem(spec("wwan9", "100")).await.unwrap();
    h.fake.remove_modem(gone).await.unwrap();
    let n = h.fake.add_modem(spec("wwan0", "200")).await.unwrap();
    h.fake.connect_bearer(n).await.unwrap();
    assert_ne!(n, 0);

    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::First));
    let mut seen = Vec::new();
    loop {
        let e = next(&mut rx).await;
        let done = e == ModemEvent::Bearer { connected: true };
        seen.push(e);
        if done {
            break;
        }
    }
    let has = |e: &ModemEvent| seen.contains(e);
    assert!(
        has(&ModemEvent::ModemFound {
            path: modem_path(n),
            equipment_id: Some("200".into())
        }),
        "{seen:?}"
    );
    assert!(
        has(&ModemEvent::Interface {
            name: "wwan0".into()
        }),
        "{seen:?}"
    );
    assert!(
        has(&ModemEvent::State(Some(ModemState::Connected))),
        "{seen:?}"
    );
    assert!(has(&ModemEvent::SignalQuality(Some(70))), "{seen:?}");
    assert!(has(&ModemEvent::AccessTechnologies(Some(AccessTech(
        1 << 14
    )))));
    assert!(has(&ModemEvent::Registration(Some(Registration::HOME))));
    let ip4 = seen.iter().find_map(|e| match e {
        ModemEvent::Ip4Config(Some(c)) => Some(c.clone()),
        _ => None,
    });
    let ip4 = ip4.expect("Ip4Config");
    assert_eq!(ip4.method, IpMethod::Static);
    assert_eq!(ip4.address, Some("198.51.100.130".parse().unwrap()));
    assert_eq!(ip4.prefix, Some(26));
    assert_eq!(ip4.gateway, Some("198.51.100.129".parse().unwrap()));
    // A bearer found connected is reported up once, after its interface and config.
    assert!(!has(&ModemEvent::Bearer { connected: false }), "{seen:?}");
    assert!(!has(&ModemEvent::ServiceGone) && !has(&ModemEvent::ServiceBack));

    let status = watcher.status();
    assert!(status.service);
    assert_eq!(status.mode, "observe");
    assert_eq!(status.model.as_deref(), Some("LTE-1"));
    assert_eq!(status.manufacturer.as_deref(), Some("Lab"));
    assert_eq!(status.state.as_deref(), Some("connected"));
    assert_eq!(status.access_technologies, vec!["lte".to_owned()]);
    assert_eq!(status.operator_name.as_deref(), Some("SORACOM"));
    assert_eq!(status.registration.as_deref(), Some("home"));
    assert_eq!(status.address.as_deref(), Some("198.51.100.130/26"));
    assert_eq!(status.bearer_interface.as_deref(), Some("wwan0"));
    assert_eq!(status.rx_bytes, Some(1000));
    let json = serde_json::to_string(&status).unwrap();
    assert!(json.contains("\"signal_percent\":70"), "{json}");
    // Observe mode never calls anything.
    let c = h.fake.counters();
    assert_eq!((c.connect_calls, c.enable_calls), (1, 0));
    watcher.stop().await;
}

#[tokio::test]
async fn selection_by_each_key_among_two_modems() {
    let h = Harness::new().await;
    let a = h.fake.add_modem(spec("wwan0", "311")).await.unwrap();
    let b = h.fake.add_modem(spec("wwan1", "322")).await.unwrap();
    let second = spec("wwan1", "322");
    let cases = [
        (ModemSelector::First, a),
        (ModemSelector::EquipmentId("322".into()), b),
        (ModemSelector::Iccid(second.iccid.clone()), b),
        (ModemSelector::Imsi(second.imsi.clone()), b),
        (ModemSelector::Device(second.device.clone()), b),
        (ModemSelector::Imsi(spec("wwan0", "311").imsi), a),
    ];
    for (selector, want) in cases {
        let (watcher, mut rx) = modem::spawn(h.settings(selector.clone()));
        let (found, _) = wait_for(&mut rx, "ModemFound", |e| {
            matches!(e, ModemEvent::ModemFound { .. })
        })
        .await;
        match found {
            ModemEvent::ModemFound { path, .. } => {
                assert_eq!(path, modem_path(want), "selector {selector:?}")
            }
            _ => unreachable!(),
        }
        watcher.stop().await;
    }
    // Nothing matches: no modem, bearer down, service up.
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::EquipmentId("999".into())));
    let events = drain(&mut rx, Duration::from_millis(500)).await;
    assert!(events.contains(&ModemEvent::Bearer { connected: false }));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ModemEvent::ModemFound { .. }))
    );
    assert!(watcher.status().service);
    assert_eq!(watcher.status().path, None);
    watcher.stop().await;
}

#[tokio::test]
async fn bearer_drop_is_delivered_at_once() {
    let h = Harness::new().await;
    let n = h.fake.add_modem(spec("wwan0", "400")).await.unwrap();
    h.fake.connect_bearer(n).await.unwrap();
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::First));
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    let mut latencies = Vec::new();
    for _ in 0..50 {
        let sent = h.fake.drop_bearer(n).await.unwrap();
        let (_, skipped) = wait_for(&mut rx, "bearer down", is_bearer(false)).await;
        latencies.push(sent.elapsed());
        // Loss comes before anything else the same drop changed.
        assert!(skipped.is_empty(), "{skipped:?}");
        h.fake.restore_bearer(n).await.unwrap();
        wait_for(&mut rx, "bearer up", is_bearer(true)).await;
        wait_for(&mut rx, "connected", |e| {
            *e == ModemEvent::State(Some(ModemState::Connected))
        })
        .await;
    }
    latencies.sort();
    let (p50, max) = (percentile(&latencies, 0.5), latencies[latencies.len() - 1]);
    eprintln!("bearer drop: D-Bus signal -> ModemEvent p50 {p50:?} max {max:?} (n=50)");
    assert!(max < Duration::from_millis(100), "max {max:?}");
    watcher.stop().await;
}

#[tokio::test]
async fn modemmanager_restart_reports_service_gone_then_recovers() {
    let mut h = Harness::new().await;
    let n = h.fake.add_modem(spec("wwan0", "500")).await.unwrap();
    h.fake.connect_bearer(n).await.unwrap();
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::First));
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;

    h.fake.stop().await.unwrap();
    let (e, _) = wait_for(&mut rx, "bearer down", |e| {
        matches!(e, ModemEvent::Bearer { .. } | ModemEvent::ServiceGone)
    })
    .await;
    assert_eq!(e, ModemEvent::Bearer { connected: false }, "loss first");
    let (_, between) = wait_for(&mut rx, "ServiceGone", |e| *e == ModemEvent::ServiceGone).await;
    assert!(
        between.contains(&ModemEvent::ModemGone {
            path: modem_path(n)
        }),
        "{between:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!watcher.status().service);
    assert_eq!(watcher.status().state, None);

    let renumbered = h.fake.start_again().await.unwrap();
    let m = renumbered[0];
    assert_ne!(m, n);
    wait_for(&mut rx, "ServiceBack", |e| *e == ModemEvent::ServiceBack).await;
    let (found, _) = wait_for(&mut rx, "ModemFound", |e| {
        matches!(e, ModemEvent::ModemFound { .. })
    })
    .await;
    assert_eq!(
        found,
        ModemEvent::ModemFound {
            path: modem_path(m),
            equipment_id: Some("500".into())
        }
    );
    // The new instance's bearer is seen without restarting the watcher.
    h.fake.connect_bearer(m).await.unwrap();
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    assert!(watcher.status().service);

    // The bus itself dying is the same: path down, service gone.
    h.bus.kill();
    let (e, _) = wait_for(&mut rx, "bearer down", |e| {
        matches!(e, ModemEvent::Bearer { .. } | ModemEvent::ServiceGone)
    })
    .await;
    assert_eq!(e, ModemEvent::Bearer { connected: false });
    wait_for(&mut rx, "ServiceGone", |e| *e == ModemEvent::ServiceGone).await;
    watcher.stop().await;
}

#[tokio::test]
async fn hot_plug_follows_the_modem_to_its_new_number() {
    let h = Harness::new().await;
    let n = h.fake.add_modem(spec("wwan0", "600")).await.unwrap();
    h.fake.connect_bearer(n).await.unwrap();
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::EquipmentId("600".into())));
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;

    h.fake.remove_modem(n).await.unwrap();
    let (first, _) = wait_for(&mut rx, "bearer or gone", |e| {
        matches!(e, ModemEvent::Bearer { .. } | ModemEvent::ModemGone { .. })
    })
    .await;
    assert_eq!(first, ModemEvent::Bearer { connected: false });
    wait_for(&mut rx, "ModemGone", |e| {
        *e == ModemEvent::ModemGone {
            path: modem_path(n),
        }
    })
    .await;
    let later = drain(&mut rx, Duration::from_millis(200)).await;
    assert!(later.contains(&ModemEvent::State(None)), "{later:?}");

    // Another modem that does not match is ignored; the same one back under a new number is found.
    h.fake.add_modem(spec("wwan1", "601")).await.unwrap();
    let m = h.fake.add_modem(spec("wwan0", "600")).await.unwrap();
    let (found, skipped) = wait_for(&mut rx, "ModemFound", |e| {
        matches!(e, ModemEvent::ModemFound { .. })
    })
    .await;
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(
        found,
        ModemEvent::ModemFound {
            path: modem_path(m),
            equipment_id: Some("600".into())
        }
    );
    wait_for(&mut rx, "state", |e| {
        *e == ModemEvent::State(Some(ModemState::from_raw(STATE_REGISTERED)))
    })
    .await;
    h.fake.connect_bearer(m).await.unwrap();
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    watcher.stop().await;
}

/// Log lines written by the watcher, for checking that bad input is reported.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn count(&self, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .matches(needle)
            .count()
    }
}

#[tokio::test]
async fn malformed_values_are_logged_and_ignored() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    // The watcher runs on this test's single thread, so a thread default catches its logs.
    let _guard = tracing::subscriber::set_default(subscriber);
    let h = Harness::new().await;
    let n = h.fake.add_modem(spec("wwan0", "700")).await.unwrap();
    h.fake.connect_bearer(n).await.unwrap();
    let (watcher, mut rx) = modem::spawn(h.settings(ModemSelector::First));
    wait_for(&mut rx, "bearer up", is_bearer(true)).await;
    drain(&mut rx, Duration::from_millis(100)).await;

    for kind in Malformed::ALL {
        h.fake.publish_malformed(n, kind).await.unwrap();
    }
    // Still alive and reading: a good value after the bad ones comes through.
    h.fake.set_signal(n, 33).await.unwrap();
    let (_, skipped) = wait_for(&mut rx, "signal", |e| {
        *e == ModemEvent::SignalQuality(Some(33))
    })
    .await;
    // None of the bad values changed a fact (the bearer is still up, the state unchanged).
    assert!(skipped.is_empty(), "{skipped:?}");
    let status = watcher.status();
    assert!(status.bearer_connected);
    assert_eq!(status.state.as_deref(), Some("connected"));
    assert_eq!(status.address.as_deref(), Some("198.51.100.130/26"));

    assert_eq!(logs.count("malformed ModemManager property"), 6);
    assert_eq!(logs.count("malformed D-Bus signal"), 2);

    h.fake.drop_bearer(n).await.unwrap();
    wait_for(&mut rx, "bearer down", is_bearer(false)).await;
    watcher.stop().await;
}
