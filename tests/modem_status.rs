//! The modem part of the status snapshot: JSON compatibility and the human table.

use arcway::modem::ModemStatus;
use arcway::status::{Snapshot, render_status};

fn connected() -> ModemStatus {
    ModemStatus {
        service: true,
        mode: "manage".into(),
        path: Some("/org/freedesktop/ModemManager1/Modem/3".into()),
        manufacturer: Some("Lab".into()),
        model: Some("LTE-1".into()),
        state: Some("connected".into()),
        signal_percent: Some(70),
        access_technologies: vec!["lte".into()],
        operator_code: Some("44010".into()),
        operator_name: Some("SORACOM".into()),
        registration: Some("home".into()),
        bearer_connected: true,
        bearer_interface: Some("wwan0".into()),
        ip_method: Some("static".into()),
        address: Some("198.51.100.130/26".into()),
        gateway: Some("198.51.100.129".into()),
        rx_bytes: Some(2048),
        tx_bytes: Some(1024),
        ..ModemStatus::default()
    }
}

#[test]
fn snapshot_json_carries_the_modem_and_reads_old_snapshots() {
    let snap = Snapshot {
        modem: Some(connected()),
        ..Snapshot::default()
    };
    let json = serde_json::to_string(&snap).unwrap();
    assert!(json.contains("\"signal_percent\":70"), "{json}");
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back.modem, Some(connected()));
    // Without a modem the key is left out, and snapshots without it still read.
    let plain = serde_json::to_string(&Snapshot::default()).unwrap();
    assert!(!plain.contains("modem"), "{plain}");
    let old: Snapshot = serde_json::from_str(r#"{"version":1,"paths":[]}"#).unwrap();
    assert_eq!(old.modem, None);
    // A newer client field inside the modem is ignored.
    let newer: ModemStatus =
        serde_json::from_str(r#"{"service":true,"state":"registered","future":1}"#).unwrap();
    assert_eq!(newer.state.as_deref(), Some("registered"));
}

#[test]
fn status_shows_a_modem_row() {
    let mut snap = Snapshot {
        modem: Some(connected()),
        ..Snapshot::default()
    };
    let text = render_status(&snap);
    let header = text.lines().find(|l| l.starts_with("MODEM")).expect(&text);
    assert!(
        header.contains("SIGNAL") && header.contains("BEARER"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("Lab LTE-1"))
        .expect(&text);
    for word in [
        "manage",
        "connected",
        "70%",
        "lte",
        "SORACOM (44010)",
        "home",
        "wwan0 up",
    ] {
        assert!(row.contains(word), "{word} missing in {row:?}");
    }
    assert!(row.contains("198.51.100.130/26"), "{row}");

    let mut m = connected();
    m.last_error = Some("failed to connect the bearer: rejected".into());
    snap.modem = Some(m);
    assert!(render_status(&snap).contains("modem error: failed to connect the bearer"));

    snap.modem = Some(ModemStatus {
        mode: "observe".into(),
        ..ModemStatus::default()
    });
    assert!(render_status(&snap).contains("modem (observe): ModemManager is not answering"));
    snap.modem = None;
    assert!(!render_status(&snap).contains("modem"));
}
