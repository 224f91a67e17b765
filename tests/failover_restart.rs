//! Restarts and hand edits through the real daemon in the lab (root): SIGTERM and kill -9
//! during steady state, drift repair, and rules and tables arcway does not own.

mod failover_support;

use std::thread::sleep;
use std::time::{Duration, Instant};

use arcway_lab::{Health, Role};
use failover_support::*;

const STREAM: Duration = Duration::from_millis(20);

/// One restart under a LAN ping stream: stop (`kill` or SIGTERM), start again, wait for the
/// steady state; the routing must read the same as before and nothing may be doubled.
fn restart(
    lab: &arcway_lab::Lab,
    arcway: &mut arcway_lab::Arcway,
    config: &str,
    how: &str,
) -> (arcway_lab::Arcway, PingFigures, Duration) {
    let before = routing_text(lab);
    let stream = PingStream::start(lab, Role::Lan, PLATFORM, STREAM);
    sleep(Duration::from_millis(500));
    let start = Instant::now();
    let code = match how {
        "SIGKILL" => arcway.kill(Duration::from_secs(5)),
        _ => arcway.terminate(Duration::from_secs(10)),
    };
    assert!(
        code.is_some(),
        "{how}: arcway did not exit:\n{}",
        arcway.log()
    );
    let next = lab.start_arcway(config).expect("arcway starts again");
    let steady = wait_steady(&next, how);
    let took = start.elapsed();
    sleep(Duration::from_millis(500));
    let figures = stream.stop();
    let after = routing_text(lab);
    eprintln!(
        "{how} restart: exit {code:?}, steady {} ms after the stop ({} ms after the start); lan -> platform {figures}",
        ms(took),
        ms(steady)
    );
    let doubled = duplicates(&after);
    assert!(
        doubled.is_empty(),
        "{how}: doubled entries {doubled:?}\n{after}"
    );
    assert_eq!(before, after, "{how}: routing differs after the restart");
    (next, figures, took)
}

#[test]
fn restarts_keep_routing_identical_and_loss_bounded() {
    let lab = lab();
    // The default (on_stop: remove) tears everything down and the next start builds it
    // again: loss is measured and bounded by the time to a new steady state.
    let remove = lab.arcway_config(&Health::FAST);
    let mut arcway = start_steady(&lab, &remove);
    // on_stop: keep is the setting for restarts (upgrades): the tunnel and the routes stay
    // and the next arcway adopts them.
    let keep = config_with_arc(&lab, &Health::FAST, "  on_stop: keep\n");
    let (mut arcway, removed, took) = restart(&lab, &mut arcway, &keep, "SIGTERM (on_stop remove)");
    assert!(
        removed.outage() <= took + Duration::from_millis(500),
        "restart with on_stop remove: {removed}"
    );
    let (mut arcway, term, _) = restart(&lab, &mut arcway, &keep, "SIGTERM (on_stop keep)");
    assert!(
        term.outage() <= Duration::from_millis(500),
        "SIGTERM restart with on_stop keep interrupted platform traffic: {term}"
    );
    let (_arcway, kill, _) = restart(&lab, &mut arcway, &keep, "SIGKILL");
    assert!(
        kill.outage() <= Duration::from_millis(500),
        "kill -9 restart interrupted platform traffic: {kill}"
    );
}

#[test]
fn hand_edits_are_repaired_and_foreign_rules_and_tables_are_left_alone() {
    let lab = lab();
    let ip = |args: &[&str]| lab.ip(Role::Gw, args).expect("ip in gw");
    // Someone else's policy routing, there before arcway starts.
    ip(&[
        "rule",
        "add",
        "pref",
        "5000",
        "from",
        "192.0.2.99",
        "lookup",
        "100",
    ]);
    ip(&[
        "route",
        "add",
        "203.0.113.128/25",
        "via",
        "192.0.2.1",
        "table",
        "100",
    ]);
    let foreign = |lab: &arcway_lab::Lab| {
        let rules = lab.ip(Role::Gw, &["rule"]).unwrap();
        let table = lab
            .ip(Role::Gw, &["route", "show", "table", "100"])
            .unwrap();
        (
            rules
                .lines()
                .any(|l| l.starts_with("5000:") && l.contains("192.0.2.99")),
            table.contains("203.0.113.128/25 via 192.0.2.1"),
        )
    };
    let mut arcway = start_steady(&lab, &lab.arcway_config(&Health::FAST));
    let steady_text = routing_text(&lab);

    // A class rule deleted by hand comes back.
    let rule = [
        "rule",
        "del",
        "pref",
        "7105",
        "to",
        "100.127.0.0/16",
        "lookup",
        "7110",
    ];
    ip(&rule);
    let back = poll(Duration::from_secs(5), || routing_text(&lab) == steady_text)
        .unwrap_or_else(|| panic!("rule not restored:\n{}", routing_text(&lab)));
    eprintln!("deleted class rule restored after {} ms", ms(back));

    // A class-table route changed by hand (platform sent to cellular) is put back.
    ip(&[
        "route",
        "replace",
        "default",
        "via",
        "198.51.100.129",
        "dev",
        "wwan0",
        "table",
        "7110",
    ]);
    let back = poll(Duration::from_secs(5), || routing_text(&lab) == steady_text)
        .unwrap_or_else(|| panic!("route not restored:\n{}", routing_text(&lab)));
    eprintln!("changed class route restored after {} ms", ms(back));

    // A class-table route deleted by hand comes back too.
    ip(&["route", "del", "default", "table", "7111"]);
    let back = poll(Duration::from_secs(5), || routing_text(&lab) == steady_text)
        .unwrap_or_else(|| panic!("route not restored:\n{}", routing_text(&lab)));
    eprintln!("deleted class route restored after {} ms", ms(back));
    assert_eq!(arcway.class_route("platform").as_deref(), Some("via arc"));

    assert_eq!(
        foreign(&lab),
        (true, true),
        "foreign rule or table touched while running"
    );
    // Teardown (on_stop: remove) takes arcway's own entries only.
    assert_eq!(
        arcway.terminate(Duration::from_secs(10)),
        Some(0),
        "{}",
        arcway.log()
    );
    assert_eq!(
        foreign(&lab),
        (true, true),
        "foreign rule or table touched by the teardown"
    );
    let left = routing_text(&lab);
    assert!(
        !left.contains("lookup 71") && !left.contains("table 71"),
        "arcway left entries behind:\n{left}"
    );
}
