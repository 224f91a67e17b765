//! The daemon's control surface in the lab (root): a bad reload keeps the old configuration,
//! sd_notify speaks to a socket the test binds, and only the moved class's flows are evicted.

mod failover_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::thread::sleep;
use std::time::{Duration, Instant};

use arcway_lab::http::in_netns;
use arcway_lab::{Arcway, Health, Role};
use failover_support::*;

fn reload_error(a: &Arcway) -> Option<String> {
    let s = a.status().ok()?;
    s["config"]["reload_error"]["message"]
        .as_str()
        .map(str::to_owned)
}

#[test]
fn bad_reload_keeps_the_running_configuration_and_says_why() {
    let lab = lab();
    let good = lab.arcway_config(&Health::FAST);
    let arcway = start_steady(&lab, &good);
    let before = routing_text(&lab);
    let loaded = arcway.status().unwrap()["config"]["loaded_at"].clone();

    std::fs::write(arcway.config_path(), "version: 1\nclasses: [\n").unwrap();
    arcway.signal(libc::SIGHUP);
    arcway
        .wait_until(Duration::from_secs(5), |a| reload_error(a).is_some())
        .unwrap_or_else(|| panic!("no reload error in status:\n{}", arcway.log()));
    let message = reload_error(&arcway).unwrap();
    eprintln!("bad reload: status says {message:?}");
    assert!(!message.is_empty());
    assert!(
        arcway.log().contains("reload refused"),
        "the refusal is not logged:\n{}",
        arcway.log()
    );
    // Still running the old configuration: paths up, classes where they were, same kernel state.
    sleep(Duration::from_millis(500));
    assert!(steady(&arcway), "{:?}", arcway.status());
    assert_eq!(routing_text(&lab), before);
    assert_eq!(arcway.status().unwrap()["config"]["loaded_at"], loaded);
    assert!(lab.ping(Role::Lan, PLATFORM, 3, Duration::from_secs(1)));

    std::fs::write(arcway.config_path(), &good).unwrap();
    arcway.signal(libc::SIGHUP);
    arcway
        .wait_until(Duration::from_secs(5), |a| {
            a.status().is_ok_and(|s| {
                s["config"]["reload_error"].is_null() && s["config"]["loaded_at"] != loaded
            })
        })
        .unwrap_or_else(|| panic!("the good reload did not clear the error:\n{}", arcway.log()));
    assert!(steady(&arcway), "{:?}", arcway.status());
    assert_eq!(routing_text(&lab), before);
}

/// Datagrams from arcway, each with when it arrived.
struct Notifications {
    socket: UnixDatagram,
    seen: Vec<(Instant, String)>,
}

impl Notifications {
    /// Receives until a datagram has a line `line` (returning its index) or `timeout` passes.
    fn wait_for(&mut self, line: &str, timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                self.seen.push((Instant::now(), text.clone()));
                if text.lines().any(|l| l == line) {
                    return Some(self.seen.len() - 1);
                }
            }
        }
        None
    }
}

#[test]
fn sd_notify_ready_watchdog_reloading_and_stopping() {
    let lab = lab();
    let path = lab.state_dir().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut n = Notifications {
        socket,
        seen: Vec::new(),
    };
    let watchdog = Duration::from_secs(1);
    let usec = watchdog.as_micros().to_string();
    let mut arcway = lab
        .start_arcway_with(
            &lab.arcway_config(&Health::FAST),
            &[
                ("NOTIFY_SOCKET", path.to_str().unwrap()),
                ("WATCHDOG_USEC", &usec),
            ],
        )
        .unwrap();
    n.wait_for("READY=1", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no READY=1: {:?}\n{}", n.seen, arcway.log()));
    assert!(
        arcway.status().is_ok(),
        "READY=1 before the status socket answers"
    );

    // Watch the watchdog for a while: pings must come well within the timeout.
    let start = n.seen.len();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        n.wait_for("WATCHDOG=1", until - Instant::now());
    }
    let pings: Vec<Instant> = n.seen[start..]
        .iter()
        .filter(|(_, t)| t.lines().any(|l| l == "WATCHDOG=1"))
        .map(|(at, _)| *at)
        .collect();
    let gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    let longest = gaps.iter().max().copied().unwrap_or(Duration::MAX);
    eprintln!(
        "watchdog {} ms: {} pings in 3 s, longest gap {} ms",
        ms(watchdog),
        pings.len(),
        ms(longest)
    );
    assert!(pings.len() >= 3, "too few watchdog pings: {:?}", n.seen);
    // systemd recommends pinging at half the timeout; a gap near the timeout means a kill.
    assert!(
        longest <= watchdog * 3 / 4,
        "watchdog pings {longest:?} apart with a {watchdog:?} timeout"
    );

    arcway.signal(libc::SIGHUP);
    let reloading = n
        .wait_for("RELOADING=1", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no RELOADING=1: {:?}", n.seen));
    assert!(
        n.seen[reloading].1.contains("MONOTONIC_USEC="),
        "RELOADING=1 without MONOTONIC_USEC: {:?}",
        n.seen[reloading]
    );
    let ready = n
        .wait_for("READY=1", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no READY=1 after the reload: {:?}", n.seen));
    assert!(ready > reloading);

    arcway.signal(libc::SIGTERM);
    n.wait_for("STOPPING=1", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no STOPPING=1: {:?}", n.seen));
    assert_eq!(
        arcway.wait_exit(Duration::from_secs(10)),
        Some(0),
        "{}",
        arcway.log()
    );
}

/// conntrack entries in the gateway, one line each, with their conntrack ids (`-o id`).
fn conntrack(lab: &arcway_lab::Lab) -> Vec<String> {
    lab.exec_ok(Role::Gw, &["conntrack", "-L", "-o", "id"])
        .expect("conntrack -L")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The conntrack id: the last `id=` of a line (ICMP entries have their echo id earlier).
fn ct_id(line: &str) -> String {
    line.split_whitespace()
        .rfind(|w| w.starts_with("id="))
        .unwrap_or_default()
        .to_owned()
}

const ECHO: &str = "203.0.113.100:7777";

#[test]
fn only_the_moved_class_flows_nated_to_the_old_path_are_evicted() {
    let lab = lab();
    let arcway = start_steady(&lab, &lab.arcway_config(&Health::FAST));
    // A long-running TCP flow of the default class (over Wi-Fi) to an echo server.
    let addr: SocketAddr = ECHO.parse().unwrap();
    let listener = in_netns(&lab.ns(Role::Inet), move || TcpListener::bind(addr))
        .unwrap()
        .unwrap();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    let mut flow = in_netns(&lab.ns(Role::Lan), move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    })
    .unwrap()
    .expect("connect to the echo server");
    flow.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut echo = |what: &[u8]| {
        flow.write_all(what).unwrap();
        let mut buf = vec![0u8; what.len()];
        flow.read_exact(&mut buf)
            .map(|_| buf == what)
            .unwrap_or(false)
    };
    assert!(echo(b"before"));
    // Platform traffic from the LAN, NATed to the Arc address.
    let stream = PingStream::start(&lab, Role::Lan, PLATFORM, Duration::from_millis(50));
    sleep(Duration::from_millis(300));

    let before = conntrack(&lab);
    let tcp = before
        .iter()
        .find(|l| l.starts_with("tcp") && l.contains("dport=7777"))
        .cloned()
        .unwrap_or_else(|| panic!("no entry for the TCP flow: {before:#?}"));
    assert!(
        tcp.contains("dst=192.0.2.10"),
        "TCP flow not NATed to Wi-Fi: {tcp}"
    );
    let platform_to_arc = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| {
                l.contains("src=198.51.100.10 dst=100.127.100.127")
                    && l.contains("dst=100.127.201.2")
            })
            .count()
    };
    assert_eq!(platform_to_arc(&before), 1, "{before:#?}");

    // The Arc server goes dark: platform moves to cellular, default stays on Wi-Fi.
    lab.arc_server_blackhole(true).unwrap();
    arcway
        .wait_until(Duration::from_secs(10), |a| {
            a.class_route("platform").as_deref() == Some("via cellular")
        })
        .unwrap_or_else(|| panic!("platform did not move:\n{}", arcway.log()));
    assert_eq!(arcway.class_route("default").as_deref(), Some("via wifi"));
    sleep(Duration::from_millis(500));
    let after = conntrack(&lab);
    let figures = stream.stop();

    let tcp_after = after
        .iter()
        .find(|l| l.starts_with("tcp") && l.contains("dport=7777"))
        .unwrap_or_else(|| panic!("the TCP flow's entry is gone: {after:#?}"));
    assert_eq!(
        ct_id(tcp_after),
        ct_id(&tcp),
        "the TCP flow's entry was replaced"
    );
    assert!(echo(b"after"), "the TCP flow broke");
    assert_eq!(
        platform_to_arc(&after),
        0,
        "platform flow still NATed to Arc: {after:#?}"
    );
    assert!(
        after
            .iter()
            .any(|l| l.contains("src=198.51.100.10 dst=100.127.100.127")
                && l.contains("dst=198.51.100.130")),
        "platform flow not NATed to cellular now: {after:#?}"
    );
    eprintln!(
        "eviction: TCP flow kept ({}), platform flow re-NATed to cellular; lan -> platform {figures}",
        ct_id(&tcp)
    );
}
