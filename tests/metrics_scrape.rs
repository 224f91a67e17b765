//! The metrics endpoint scraped over HTTP on loopback and checked by `promtool check metrics`
//! (Debian's `prometheus` package).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use arcway::accounting::{AccountingStatus, BudgetStatus, ClassBytes, LineBytes, ProbeBytes};
use arcway::metrics;
use arcway::status::{
    self, ClassStatus, Event, PathStatus, ProbeStatus, Route, Snapshot, WallTime,
};

fn snapshot(switches: i64) -> Snapshot {
    Snapshot {
        paths: vec![
            PathStatus {
                name: "arc".into(),
                state: "up".into(),
                handshake_age_ms: Some(4_000),
                probes: vec![ProbeStatus {
                    target: "icmp 100.127.100.127".into(),
                    last_latency_ms: Some(21.0),
                    loss_percent: Some(0.0),
                    window: 10,
                    last_error: None,
                }],
                ..PathStatus::default()
            },
            PathStatus {
                name: "wifi".into(),
                state: "failing".into(),
                probes: vec![ProbeStatus {
                    target: "http \"http://203.0.113.100/\"\n".into(),
                    loss_percent: Some(40.0),
                    window: 10,
                    ..ProbeStatus::default()
                }],
                ..PathStatus::default()
            },
        ],
        classes: vec![
            ClassStatus {
                name: "platform".into(),
                route: Route::Via("arc".into()),
                route_ipv6: None,
                since: None,
            },
            ClassStatus {
                name: "bulk".into(),
                route: Route::HeldOn("cellular".into()),
                route_ipv6: None,
                since: None,
            },
            ClassStatus {
                name: "default".into(),
                route: Route::Unreachable,
                route_ipv6: None,
                since: None,
            },
        ],
        events: (0..switches)
            .map(|i| Event {
                at: WallTime::from_unix_ms(1_700_000_000_000 + i),
                subject: "class bulk".into(),
                ..Event::default()
            })
            .collect(),
        ..Snapshot::default()
    }
}

fn accounting() -> AccountingStatus {
    AccountingStatus {
        period_start: "2025-01-01".into(),
        period_end: "2025-02-01".into(),
        lines: vec![LineBytes {
            path: "cellular".into(),
            rx: 123_456,
            tx: 7_890,
        }],
        classes: vec![ClassBytes {
            class: "bulk".into(),
            path: "cellular".into(),
            rx: 100_000,
            tx: 5_000,
        }],
        budgets: vec![
            BudgetStatus {
                path: "cellular".into(),
                class: None,
                limit: 1 << 30,
                used: 131_346,
                remaining: (1 << 30) - 131_346,
                exhausted: false,
            },
            BudgetStatus {
                path: "cellular".into(),
                class: Some("bulk".into()),
                limit: 100_000,
                used: 105_000,
                remaining: 0,
                exhausted: true,
            },
        ],
        probes: vec![ProbeBytes {
            path: "cellular".into(),
            sent: 640,
            received: 640,
        }],
    }
}

fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.to_owned(), body.to_owned())
}

fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus) must be installed");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), msg)
}

#[test]
fn scraped_page_passes_promtool_and_counts_switches() {
    let (publisher, subscriber) = status::channel(snapshot(2));
    let (_acc_tx, acc_rx) = tokio::sync::watch::channel(accounting());
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // The server runs on its own thread's runtime while this thread scrapes.
    let server = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (addr, task) =
                metrics::spawn("127.0.0.1:0".parse().unwrap(), subscriber, Some(acc_rx))
                    .await
                    .unwrap();
            addr_tx.send(addr).unwrap();
            let _ = stop_rx.await;
            task.abort();
        });
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(5)).unwrap();

    let (head, body) = get(addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Type: {}", metrics::CONTENT_TYPE)),
        "{head}"
    );
    let (ok, msg) = promtool(&body);
    assert!(ok, "promtool: {msg}\n{body}");
    assert!(msg.trim().is_empty(), "promtool lint: {msg}");
    assert!(body.contains("arcway_switches_total 2\n"), "{body}");
    assert!(
        body.contains("arcway_budget_exhausted{path=\"cellular\",class=\"bulk\"} 1\n"),
        "{body}"
    );

    // Two more switches are published, then the log forgets its oldest ones.
    publisher.send(Arc::new(snapshot(4))).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let mut shorter = snapshot(4);
    shorter.events.drain(..3);
    publisher.send(Arc::new(shorter)).unwrap();
    let (_, body) = get(addr, "/metrics");
    assert!(body.contains("arcway_switches_total 4\n"), "{body}");

    let (head, _) = get(addr, "/");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    stop_tx.send(()).unwrap();
    server.join().unwrap();
}
