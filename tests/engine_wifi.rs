//! Wi-Fi as a Wi-Fi device: nl80211 loss evidence, the short hold after a quick
//! reassociation, and make-before-break on a weak signal.

#[path = "engine_support.rs"]
mod support;

use std::time::Duration;

use arcway::engine::{
    Action, Change, ClassRoute, ClassRoutes, Event, Evidence, Health, Settings, SignalSettings,
};
use arcway::model::Family;
use support::*;

fn lost(sim: &mut Sim, event: &str) -> Vec<Action> {
    sim.send(Event::WifiLost {
        path: WIFI,
        event: event.to_owned(),
    })
}

fn connected(sim: &mut Sim) -> Vec<Action> {
    sim.send(Event::WifiConnected { path: WIFI })
}

/// `sim` after the station was deauthenticated at 11 s and associated again at `back` ms.
fn reassociated(mut sim: Sim, back: u64) -> Sim {
    sim.at(11000);
    lost(&mut sim, "deauthenticated");
    sim.at(back);
    connected(&mut sim);
    sim
}

fn signal(sim: &mut Sim, dbm: i32) -> Vec<Action> {
    sim.send(Event::WifiSignal { path: WIFI, dbm })
}

/// The usual paths, Wi-Fi (and Arc over it) with a 500 ms reassociation hold. Tests act
/// from t = 10 s, when every path has been up for longer than `up_after`.
fn reassoc_settings() -> Settings {
    let mut s = settings();
    for p in [WIFI, ARC] {
        if let Some(ps) = s.paths.get_mut(&p) {
            ps.reassoc_up_after = Some(ms(500));
        }
    }
    s
}

fn signal_settings() -> Settings {
    let mut s = reassoc_settings();
    if let Some(ps) = s.paths.get_mut(&WIFI) {
        ps.signal = Some(SignalSettings {
            below_dbm: -75,
            hysteresis_db: 5,
            hold: Duration::from_secs(2),
        });
    }
    s
}

#[test]
fn an_nl80211_loss_takes_wifi_and_the_tunnel_down_at_once() {
    let mut sim = Sim::all_up(settings());
    sim.at(11000);
    let acts = lost(&mut sim, "deauthenticated by the access point (reason 3)");
    assert_eq!(sim.health(WIFI), Health::Down { since: t(11000) });
    assert_eq!(sim.health(ARC), Health::Down { since: t(11000) });
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    assert_eq!(sim.route("bulk"), ClassRoute::Held(CELL));
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::ClassMoved { class, to, .. }
            if class == "default" && *to == ClassRoutes::both(ClassRoute::Via(CELL))
    )));
    let wifi_entry = sim
        .engine
        .log()
        .find(|e| matches!(e.change, Change::Path { path: WIFI, .. }) && e.time == t(11000))
        .map(|e| (e.evidence.clone(), e.detail.clone()));
    let Some((text, detail)) = wifi_entry else {
        panic!("no wifi log entry")
    };
    assert_eq!(
        text,
        "wifi lost on wlan0: deauthenticated by the access point (reason 3)"
    );
    assert!(matches!(detail, Evidence::WifiLost { .. }));
}

#[test]
fn probes_passing_during_a_loss_do_not_count() {
    let mut sim = Sim::all_up(settings());
    sim.at(11000);
    lost(&mut sim, "disconnected");
    // A round that raced the loss, and more: the carrier never said anything.
    sim.at(11100).probe(WIFI, true);
    sim.at(19000).probe(WIFI, true);
    assert_eq!(sim.state(WIFI), "down");
    connected(&mut sim);
    assert_eq!(sim.state(WIFI), "down");
    sim.at(19500).probe(WIFI, true);
    assert_eq!(sim.state(WIFI), "recovering");
}

#[test]
fn carrier_coming_back_ends_the_loss_too() {
    let mut sim = Sim::all_up(settings());
    sim.at(11000);
    lost(&mut sim, "beacon loss");
    sim.carrier(WIFI, false);
    sim.at(11500).carrier(WIFI, true);
    sim.at(12000).probe(WIFI, true);
    assert_eq!(sim.state(WIFI), "recovering");
}

#[test]
fn a_carrier_report_without_a_loss_in_between_does_not_end_it() {
    let mut sim = Sim::all_up(settings());
    sim.at(11000);
    lost(&mut sim, "deauthenticated");
    // The link monitor repeats "up" (an address change): the station is still gone.
    sim.at(11100).carrier(WIFI, true);
    sim.at(11500).probe(WIFI, true);
    assert_eq!(sim.state(WIFI), "down");
}

#[test]
fn a_quick_reassociation_costs_the_short_hold_not_up_after() {
    let mut sim = reassociated(Sim::all_up(reassoc_settings()), 11300);
    sim.at(11500).probe(WIFI, true);
    assert_eq!(sim.state(WIFI), "recovering");
    assert_eq!(sim.engine.poll_timeout(), Some(t(12000)));
    sim.at(12000);
    assert_eq!(sim.health(WIFI), Health::Up { since: t(12000) });
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
    assert_eq!(sim.route("bulk"), ClassRoute::Via(WIFI));
}

#[test]
fn after_a_quick_reassociation_the_tunnel_returns_on_its_session_with_the_short_hold() {
    let mut sim = reassociated(Sim::all_up(reassoc_settings()), 11300);
    sim.at(11500).probe(WIFI, true);
    // Probes through the tunnel pass on the session from before the blip: that proves the
    // way back, so no renewal is asked for and the handshake from t = 0 (still fresh) does.
    let acts = sim.at(11500).probe(ARC, true);
    assert!(!acts.contains(&Action::RenewHandshake { path: ARC }));
    assert_eq!(sim.state(ARC), "recovering");
    sim.at(11999);
    assert_eq!(sim.state(ARC), "recovering");
    sim.at(12000);
    assert_eq!(sim.health(ARC), Health::Up { since: t(12000) });
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
}

#[test]
fn after_a_longer_outage_the_tunnel_needs_a_handshake_newer_than_it() {
    // Back after 6 s: more than up_after (5 s), so not a quick reassociation.
    let mut sim = reassociated(Sim::all_up(reassoc_settings()), 17000);
    sim.at(17500).probe(WIFI, true);
    // Probes over the tunnel pass on the old session: a new handshake is asked for.
    let acts = sim.at(17500).probe(ARC, true);
    assert!(acts.contains(&Action::RenewHandshake { path: ARC }));
    assert_eq!(sim.state(ARC), "down");
    sim.at(17600).handshake(ARC, 10);
    assert_eq!(sim.state(ARC), "recovering");
}

#[test]
fn a_long_outage_still_waits_up_after() {
    // Back after 6 s: more than up_after (5 s), so not a quick reassociation.
    let mut sim = reassociated(Sim::all_up(reassoc_settings()), 17000);
    sim.at(17500).probe(WIFI, true);
    sim.at(18000);
    assert_eq!(sim.state(WIFI), "recovering");
    sim.at(22500);
    assert_eq!(sim.health(WIFI), Health::Up { since: t(22500) });
}

#[test]
fn repeated_flaps_count_from_the_first_loss() {
    let mut sim = reassociated(Sim::all_up(reassoc_settings()), 11300);
    for k in 1..=4u64 {
        sim.at(11_300 + k * 1000);
        lost(&mut sim, "deauthenticated");
        sim.at(11_600 + k * 1000);
        connected(&mut sim);
    }
    // Link back at 5.6 s, 4.6 s after the first loss: still within up_after.
    sim.at(15700).probe(WIFI, true);
    sim.at(16200);
    assert_eq!(sim.state(WIFI), "up");
    // Once more: now the link came back 6.6 s after the outage began.
    sim.at(17000);
    lost(&mut sim, "deauthenticated");
    sim.at(17300);
    connected(&mut sim);
    sim.at(17400).probe(WIFI, true);
    sim.at(17900);
    assert_eq!(
        sim.state(WIFI),
        "recovering",
        "up for less than up_after before this loss: the full up_after"
    );
    sim.at(22_400);
    assert_eq!(sim.state(WIFI), "up");
}

#[test]
fn a_probe_failure_outage_is_not_a_reassociation() {
    let mut sim = Sim::all_up(reassoc_settings());
    sim.at(11000).probe(WIFI, false);
    sim.at(14000);
    assert_eq!(sim.state(WIFI), "down");
    sim.at(14500).probe(WIFI, true);
    sim.at(15000);
    assert_eq!(sim.state(WIFI), "recovering");
    sim.at(19500);
    assert_eq!(sim.state(WIFI), "up");
}

#[test]
fn without_the_setting_a_flap_waits_up_after() {
    let mut sim = reassociated(Sim::all_up(settings()), 11300);
    sim.at(11500).probe(WIFI, true);
    sim.at(12000);
    assert_eq!(sim.state(WIFI), "recovering");
    sim.at(16500);
    assert_eq!(sim.state(WIFI), "up");
}

#[test]
fn a_weak_signal_moves_classes_with_another_way_out_before_the_link_fails() {
    let mut sim = Sim::all_up(signal_settings());
    sim.at(11000);
    signal(&mut sim, -60);
    sim.at(12000);
    signal(&mut sim, -80);
    sim.at(13000);
    signal(&mut sim, -81);
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
    assert_eq!(sim.engine.poll_timeout(), Some(t(14000)));
    sim.at(14000);
    // Degraded, not down: Wi-Fi still carries what has nowhere else to go.
    assert_eq!(sim.state(WIFI), "up");
    assert_eq!(sim.state(ARC), "up");
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    assert_eq!(sim.route("default"), ClassRoute::Via(CELL));
    assert_eq!(sim.route("bulk"), ClassRoute::Via(WIFI));
    assert_eq!(sim.route("metered"), ClassRoute::Via(CELL));
    let desired = sim.engine.desired();
    assert!(desired.paths[&WIFI].degraded && desired.paths[&ARC].degraded);
    let texts: Vec<String> = sim.engine.log().map(|e| e.summary()).collect();
    assert!(
        texts.contains(&"wifi: degraded (wifi signal weak on wlan0: -81 dBm below -75 dBm)".into()),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("class platform: via arc -> via cellular (arc degraded")),
        "{texts:#?}"
    );
}

#[test]
fn a_short_dip_does_not_move_anything() {
    let mut sim = Sim::all_up(signal_settings());
    sim.at(11000);
    signal(&mut sim, -80);
    sim.at(12500);
    signal(&mut sim, -74);
    sim.at(13100);
    signal(&mut sim, -80);
    sim.at(15000);
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
    assert!(!sim.engine.desired().paths[&WIFI].degraded);
    sim.at(15100);
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
}

#[test]
fn failback_needs_the_signal_above_hysteresis_for_up_after_and_a_new_handshake() {
    let mut sim = Sim::all_up(signal_settings());
    sim.at(11000);
    signal(&mut sim, -80);
    sim.at(13000);
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    // Above the threshold but within the hysteresis: not recovered.
    sim.at(14000);
    signal(&mut sim, -72);
    sim.at(20000);
    assert!(sim.engine.desired().paths[&WIFI].degraded);
    sim.at(20000);
    signal(&mut sim, -65);
    sim.at(24999);
    assert!(sim.engine.desired().paths[&WIFI].degraded);
    sim.at(25000);
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
    // The tunnel waits for a handshake made after the signal recovered.
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    assert!(
        sim.tick_actions
            .contains(&Action::RenewHandshake { path: ARC })
    );
    sim.at(25100).handshake(ARC, 500);
    assert_eq!(sim.route("platform"), ClassRoute::Via(CELL));
    sim.at(25200).handshake(ARC, 50);
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
    assert!(!sim.engine.desired().paths[&ARC].degraded);
}

#[test]
fn a_degraded_path_is_still_used_when_nothing_else_is_allowed() {
    let mut sim = Sim::all_up(signal_settings());
    sim.at(10100).carrier(CELL, false);
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
    sim.at(11000);
    signal(&mut sim, -90);
    sim.at(13000);
    assert!(sim.engine.desired().paths[&WIFI].degraded);
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
    // Cellular back: now the classes leave the weak link.
    sim.at(13500).carrier(CELL, true);
    sim.at(13500).probe(CELL, true);
    sim.at(18500);
    assert_eq!(sim.state(CELL), "up");
    assert_eq!(sim.route("default"), ClassRoute::Via(CELL));
}

#[test]
fn signal_readings_without_the_setting_change_nothing() {
    let mut sim = Sim::all_up(reassoc_settings());
    sim.at(11000);
    signal(&mut sim, -95);
    sim.at(70000);
    assert!(!sim.engine.desired().paths[&WIFI].degraded);
    assert_eq!(sim.route("platform"), ClassRoute::Via(ARC));
    // Only the tunnel's handshake ageing is left to wait for.
    assert!(sim.engine.poll_timeout() > Some(t(170_000)));
}

#[test]
fn removing_the_threshold_by_reload_ends_the_degradation() {
    let mut sim = Sim::all_up(signal_settings());
    sim.at(11000);
    signal(&mut sim, -90);
    sim.at(13000);
    assert_eq!(sim.route("default"), ClassRoute::Via(CELL));
    sim.engine.reconfigure(reassoc_settings(), t(14000));
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
    assert_eq!(sim.last_evidence(), "first choice");
}

/// Dual stack: Wi-Fi carries both families, cellular IPv4 only.
fn dual_wifi(settings: Settings) -> Sim {
    let mut sim = Sim::all_up(settings);
    sim.defaults(WIFI, true, true);
    sim.defaults(CELL, true, false);
    sim
}

#[test]
fn an_nl80211_loss_takes_both_families_of_wifi_down() {
    let mut sim = dual_wifi(settings());
    sim.at(11000);
    lost(&mut sim, "deauthenticated");
    for family in [Family::V4, Family::V6] {
        assert_eq!(
            sim.health_in(WIFI, family),
            Health::Down { since: t(11000) }
        );
    }
    assert_eq!(
        sim.routes("default"),
        ClassRoutes {
            v4: ClassRoute::Via(CELL),
            v6: ClassRoute::Unreachable,
        }
    );
}

#[test]
fn a_weak_signal_moves_only_the_families_with_another_way_out() {
    let mut sim = dual_wifi(signal_settings());
    sim.at(12000);
    signal(&mut sim, -80);
    sim.at(14000);
    assert_eq!(sim.state(WIFI), "up");
    // IPv4 leaves the weak Wi-Fi for cellular; IPv6 has nowhere else and stays.
    assert_eq!(
        sim.routes("default"),
        ClassRoutes {
            v4: ClassRoute::Via(CELL),
            v6: ClassRoute::Via(WIFI),
        }
    );
    let texts: Vec<String> = sim.engine.log().map(|e| e.summary()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("class default:") && t.contains("wifi degraded (IPv4)")),
        "{texts:#?}"
    );
}

#[test]
fn a_quick_reassociation_holds_short_in_each_family_until_both_are_back() {
    let mut sim = reassociated(dual_wifi(reassoc_settings()), 11300);
    sim.at(11500).probe_in(WIFI, Family::V4, true);
    sim.at(11600).probe_in(WIFI, Family::V6, true);
    sim.at(12000);
    assert_eq!(
        sim.health_in(WIFI, Family::V4),
        Health::Up { since: t(12000) }
    );
    // IPv4 being back first does not end the reassociation for IPv6.
    sim.at(12100);
    assert_eq!(
        sim.health_in(WIFI, Family::V6),
        Health::Up { since: t(12100) }
    );
    assert_eq!(sim.route("default"), ClassRoute::Via(WIFI));
}
