//! Classification, counters and held classes with arcway's table in the lab gateway (root).

#[path = "classify_support.rs"]
mod support;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

use arcway::config::HoldAction;
use arcway::nft::{self, Held, MarkClass, TableExtras};
use arcway_lab::Role;
use support::*;

fn apply(lab: &arcway_lab::Lab, extras: TableExtras) -> nft::ApplyReport {
    run_in(lab, Role::Gw, move || async move {
        nft::apply_with(&inputs(), &extras).await.expect("apply")
    })
}

fn within_headers(counted: u64, sent: u64) {
    assert!(
        counted >= sent && counted <= sent + sent / 12 + 4096,
        "counted {counted} for {sent} bytes sent"
    );
}

#[test]
fn lan_and_local_traffic_is_marked_and_counted_per_class_and_path() {
    let lab = lab();
    let sink = Sink::start(&lab, SINK_PORT);
    let owner_sink = Sink::start(&lab, OWNER_PORT);
    apply(&lab, counted());

    // A LAN host and a local process (any uid) alike land in bulk, over Wi-Fi.
    send(&lab, Role::Lan, None, sink.addr, 1 << 20).unwrap();
    send(&lab, Role::Gw, None, sink.addr, 256 << 10).unwrap();
    wait_received(&sink, (1 << 20) + (256 << 10));
    let c = counters(&lab);
    within_headers(c["class.bulk.wifi.tx"], (1 << 20) + (256 << 10));
    assert!(c["class.bulk.wifi.rx"] > 0, "{c:?}");
    assert!(c["line.wifi.tx"] >= c["class.bulk.wifi.tx"], "{c:?}");
    assert_eq!(c["class.bulk.cellular.tx"], 0, "{c:?}");

    // The uid matcher: nobody's traffic to 7000 is `owner`, root's is the default class.
    send(&lab, Role::Gw, Some(NOBODY), owner_sink.addr, 128 << 10).unwrap();
    wait_received(&owner_sink, 128 << 10);
    let before_default = counters(&lab)["class.default.wifi.tx"];
    send(&lab, Role::Gw, None, owner_sink.addr, 64 << 10).unwrap();
    wait_received(&owner_sink, 192 << 10);
    let c = counters(&lab);
    within_headers(c["class.owner.wifi.tx"], 128 << 10);
    within_headers(c["class.default.wifi.tx"] - before_default, 64 << 10);

    // Routed over cellular by its class table: counted there, and in the line's total.
    route_bulk(&lab, "default via 198.51.100.129 dev wwan0");
    send(&lab, Role::Lan, None, sink.addr, 512 << 10).unwrap();
    wait_received(&sink, (1 << 20) + (768 << 10));
    let c = counters(&lab);
    within_headers(c["class.bulk.cellular.tx"], 512 << 10);
    assert!(
        c["line.cellular.tx"] >= c["class.bulk.cellular.tx"],
        "{c:?}"
    );
    assert!(
        c["line.cellular.rx"] >= c["class.bulk.cellular.rx"] && c["class.bulk.cellular.rx"] > 0,
        "{c:?}"
    );
}

fn refused(lab: &arcway_lab::Lab, role: Role, action: HoldAction) {
    let addr = format!("203.0.113.100:{SINK_PORT}").parse().unwrap();
    let (result, took) = connect(lab, role, addr);
    let err = result.expect_err("a held class must be refused");
    match action {
        HoldAction::TcpReset => {
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{role}: {err}")
        }
        HoldAction::Reject => assert_eq!(
            err.raw_os_error(),
            Some(libc::EHOSTUNREACH),
            "{role}: {err}"
        ),
    }
    assert!(
        took < Duration::from_millis(250),
        "{role}: refused after {took:?}"
    );
    eprintln!("{role} {action}: {err} after {took:?}");
}

#[test]
fn held_classes_are_refused_at_once_with_their_action() {
    let lab = lab();
    let _sink = Sink::start(&lab, SINK_PORT);
    let addr = format!("203.0.113.100:{SINK_PORT}").parse().unwrap();
    for action in [HoldAction::TcpReset, HoldAction::Reject] {
        let held = TableExtras {
            held: vec![Held {
                mark: BULK_MARK,
                ifname: "wwan0".into(),
                action,
            }],
            ..counted()
        };
        // As routing holds a class: `prohibit default` in its table.
        route_bulk(&lab, "prohibit default");
        apply(&lab, held.clone());
        refused(&lab, Role::Lan, action);
        refused(&lab, Role::Gw, action);
        // Routed out of the held path's interface (a table not updated yet): refused too.
        route_bulk(&lab, "default via 198.51.100.129 dev wwan0");
        refused(&lab, Role::Lan, action);
        // Released: the class flows again.
        apply(&lab, counted());
        let (result, _) = connect(&lab, Role::Lan, addr);
        result.expect("released class connects");
    }
    // Other classes are never touched while one is held.
    let held = TableExtras {
        held: vec![Held {
            mark: OWNER_MARK,
            ifname: "wwan0".into(),
            action: HoldAction::Reject,
        }],
        ..counted()
    };
    apply(&lab, held);
    connect(&lab, Role::Lan, addr).0.expect("bulk is not held");

    // Holding and releasing is a table replace: how long does it take?
    let times = run_in(&lab, Role::Gw, || async {
        let mut times = Vec::new();
        for i in 0..20 {
            let mut extras = counted();
            if i % 2 == 0 {
                extras.held = vec![Held {
                    mark: BULK_MARK,
                    ifname: "wwan0".into(),
                    action: HoldAction::TcpReset,
                }];
            }
            let start = Instant::now();
            nft::apply_with(&inputs(), &extras).await.unwrap();
            times.push(start.elapsed());
        }
        times
    });
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let max = times.iter().max().unwrap();
    eprintln!("table replace with counters and holds: mean {mean:?}, max {max:?} over 20");
    assert!(mean < Duration::from_millis(300), "mean {mean:?}");
}

#[test]
fn a_missing_cgroup_is_left_out_instead_of_failing_the_table() {
    let lab = lab();
    let name = format!("unified/{}", lab.prefix());
    let dir = std::path::Path::new(nft::CGROUP_ROOT).join(&name);
    std::fs::create_dir(&dir).expect("create a cgroup");
    struct Rmdir(std::path::PathBuf);
    impl Drop for Rmdir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _guard = Rmdir(dir);
    let missing = format!("{}-absent.slice/x.service", lab.prefix());
    let mut inputs = inputs();
    inputs.classes.push(MarkClass {
        name: "svc".into(),
        mark: 0x0012_0000,
        cgroups: vec![missing.clone(), name.clone()],
        ..MarkClass::default()
    });
    let only_missing = MarkClass {
        name: "gone".into(),
        mark: 0x0013_0000,
        cgroups: vec![missing.clone()],
        ..MarkClass::default()
    };
    inputs.classes.push(only_missing);
    let (report, listing) = run_in(&lab, Role::Gw, move || async move {
        let report = nft::apply_with(&inputs, &TableExtras::default())
            .await
            .expect("apply");
        let out = tokio::process::Command::new("nft")
            .args(["list", "table", "inet", "arcway"])
            .output()
            .await
            .unwrap();
        (report, String::from_utf8_lossy(&out.stdout).into_owned())
    });
    assert_eq!(report.missing_cgroups, BTreeSet::from([missing.clone()]));
    assert!(listing.contains(&format!("\"{name}\"")), "{listing}");
    assert!(!listing.contains(&missing), "{listing}");
    assert!(!listing.contains("comment \"gone\""), "{listing}");
}
