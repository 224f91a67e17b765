//! Pure pieces: decoding, selection, event diffs, manage decisions.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;
use zbus::Variant;

use super::decode::{ip4_of, signal_of};
use super::event::ModemEvent;
use super::manage::{Action, Manager};
use super::model::{Model, ModemEntry, View, diff};
use super::props::{BearerProps, ModemProps};
use super::settings::ManageSettings;
use super::types::{IpMethod, ModemState};
use crate::config::ModemSelector;

fn dict(entries: Vec<(&str, Variant<'static>)>) -> Variant<'static> {
    let m: HashMap<String, Variant<'static>> = entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    Variant::from(m)
}

#[test]
fn ip4_config_decoding() {
    assert_eq!(ip4_of(&dict(vec![])), Ok(None));
    let ok = ip4_of(&dict(vec![
        ("method", Variant::from(2u32)),
        ("address", Variant::from("198.51.100.130")),
        ("prefix", Variant::from(26u32)),
        ("gateway", Variant::from("198.51.100.129")),
        ("mtu", Variant::from(1420u32)),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(ok.method, IpMethod::Static);
    assert_eq!(ok.prefix, Some(26));
    assert_eq!(ok.mtu, Some(1420));
    assert!(ip4_of(&dict(vec![("address", Variant::from("198.51.100.1"))])).is_err());
    assert!(ip4_of(&dict(vec![("method", Variant::from("2"))])).is_err());
    assert!(
        ip4_of(&dict(vec![
            ("method", Variant::from(2u32)),
            ("prefix", Variant::from(33u32))
        ]))
        .is_err()
    );
    assert!(ip4_of(&Variant::from(7u32)).is_err());
    assert_eq!(signal_of(&Variant::from((80u32, true))), Ok((80, true)));
    assert!(signal_of(&Variant::from(80u32)).is_err());
}

fn modem(id: &str) -> ModemEntry {
    ModemEntry {
        modem: Some(ModemProps {
            equipment_id: Some(id.to_owned()),
            state: Some(ModemState::Registered),
            ..ModemProps::default()
        }),
        ..ModemEntry::default()
    }
}

#[test]
fn selection_orders_by_number_and_sticks() {
    let mut m = Model::default();
    let p = |n: u32| format!("/org/freedesktop/ModemManager1/Modem/{n}");
    m.modems.insert(p(10), modem("a"));
    m.modems.insert(p(9), modem("b"));
    assert_eq!(m.select(&ModemSelector::First, None), Some(p(9)));
    // The current modem stays while it is there, even if a lower number appears.
    assert_eq!(m.select(&ModemSelector::First, Some(&p(10))), Some(p(10)));
    let id = ModemSelector::EquipmentId("a".into());
    assert_eq!(m.select(&id, Some(&p(9))), Some(p(10)));
    m.modems.remove(&p(10));
    assert_eq!(m.select(&id, Some(&p(10))), None);
}

#[test]
fn diff_puts_loss_first_and_gain_last() {
    let up = View {
        service: true,
        modem: Some("/m/1".into()),
        state: Some(ModemState::Connected),
        connected: true,
        interface: Some("wwan0".into()),
        ..View::default()
    };
    let first = diff(None, &up);
    assert_eq!(first.last(), Some(&ModemEvent::Bearer { connected: true }));
    assert!(!first.contains(&ModemEvent::ServiceBack));
    let gone = View {
        interface: Some("wwan0".into()),
        ..View::default()
    };
    let events = diff(Some(&up), &gone);
    assert_eq!(
        events[..3],
        [
            ModemEvent::Bearer { connected: false },
            ModemEvent::ModemGone {
                path: "/m/1".into()
            },
            ModemEvent::ServiceGone
        ]
    );
    // The interface is sticky: losing the modem does not clear it.
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ModemEvent::Interface { .. }))
    );
    assert_eq!(diff(Some(&up), &up), vec![]);
    assert_eq!(
        diff(None, &View::default())[..2],
        [
            ModemEvent::Bearer { connected: false },
            ModemEvent::ServiceGone
        ]
    );
}

#[test]
fn bearer_of_prefers_the_connected_one() {
    let mut m = Model::default();
    let props = ModemProps {
        bearers: vec!["/b/1".into(), "/b/2".into()],
        ..ModemProps::default()
    };
    m.bearers.insert("/b/1".into(), BearerProps::default());
    m.bearers.insert(
        "/b/2".into(),
        BearerProps {
            connected: true,
            ..BearerProps::default()
        },
    );
    assert_eq!(m.bearer_of(&props).map(|(p, _)| p), Some("/b/2"));
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let s = ManageSettings {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        ..ManageSettings::new("soracom.io")
    };
    let waits: Vec<u64> = (0..6).map(|a| s.backoff(a).as_millis() as u64).collect();
    assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
    assert_eq!(s.backoff(u32::MAX), Duration::from_secs(1));
}

#[test]
fn manager_waits_for_the_state_after_a_success_and_backs_off_after_a_drop() {
    let mut mgr = Manager::new(ManageSettings {
        backoff_min: Duration::from_millis(100),
        ..ManageSettings::new("soracom.io")
    });
    let t0 = Instant::now();
    let props = ModemProps {
        state: Some(ModemState::Disabled),
        ..ModemProps::default()
    };
    let m = Some(("/m/1", &props));
    let enable = mgr.decide(m, false, 1, t0);
    assert_eq!(
        enable,
        Some(Action::Enable {
            modem: "/m/1".into()
        })
    );
    assert_eq!(mgr.decide(m, false, 1, t0), None, "busy");
    // The reply came before the state signals: do not enable twice.
    mgr.done(
        &Action::Enable {
            modem: "/m/1".into(),
        },
        true,
        1,
        t0,
    );
    assert_eq!(mgr.decide(m, false, 1, t0), None);
    let registered = ModemProps {
        state: Some(ModemState::Registered),
        ..ModemProps::default()
    };
    let r = Some(("/m/1", &registered));
    assert!(matches!(
        mgr.decide(r, false, 2, t0),
        Some(Action::Connect { .. })
    ));
    mgr.done(
        &Action::Connect {
            modem: "/m/1".into(),
        },
        true,
        3,
        t0,
    );
    assert_eq!(mgr.decide(r, true, 3, t0), None);
    // Drop: nothing until the backoff has passed.
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(mgr.decide(r, false, 4, t1), None);
    assert_eq!(mgr.deadline(t1), Some(t1 + Duration::from_millis(100)));
    assert!(matches!(
        mgr.decide(r, false, 4, t1 + Duration::from_millis(100)),
        Some(Action::Connect { .. })
    ));
}

#[test]
fn a_bearer_interface_nft_would_parse_is_ignored() {
    use super::props::Props;
    let mut bearer = BearerProps::default();
    bearer.set("Interface", &Variant::from("wwan0")).unwrap();
    assert_eq!(bearer.interface.as_deref(), Some("wwan0"));
    for bad in [
        "ww\"an0",
        "wwan0;x",
        "wwan*",
        "a/b",
        "toolongforaninterface",
    ] {
        let err = bearer.set("Interface", &Variant::from(bad)).unwrap_err();
        assert_eq!(err.expected, "an interface name", "{bad}");
        assert_eq!(
            bearer.interface.as_deref(),
            Some("wwan0"),
            "{bad} was taken"
        );
    }
}

/// What ModemManager itself never sends (the lab's real daemon cannot be made to): values of
/// the wrong type are refused and the fact keeps its last good value.
#[test]
fn malformed_properties_keep_the_last_good_value() {
    use super::props::{GppProps, Props};
    let mut m = ModemProps::default();
    m.set("State", &Variant::from(11i32)).unwrap();
    m.set("SignalQuality", &Variant::from((70u32, true)))
        .unwrap();
    assert!(m.set("State", &Variant::from("connected")).is_err());
    assert!(m.set("SignalQuality", &Variant::from(70u32)).is_err());
    assert!(m.set("Bearers", &Variant::from(3u32)).is_err());
    assert_eq!(m.state, Some(ModemState::Connected));
    assert_eq!(m.signal, Some(70));
    let mut b = BearerProps::default();
    b.set("Connected", &Variant::from(true)).unwrap();
    assert!(b.set("Connected", &Variant::from(0u32)).is_err());
    assert!(
        b.set("Ip4Config", &Variant::from("198.51.100.130"))
            .is_err()
    );
    assert!(b.connected);
    let mut g = GppProps::default();
    assert!(g.set("RegistrationState", &Variant::from(-1i32)).is_err());
    assert_eq!(g.registration, None);
    // Unknown keys are not errors: newer daemons add properties.
    assert!(m.set("FutureProperty", &Variant::from(1u8)).is_ok());
}
