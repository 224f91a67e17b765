//! The link monitor against real kernel events in a throwaway namespace pair:
//! gw `w0` (192.0.2.10/24) <-> ap `p0` (192.0.2.1/24).

#[path = "probe_lab.rs"]
mod lab;

use std::net::IpAddr;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use arcway::linkmon::{
    AddrScope, Family, LinkEvent, LinkMonitor, LinkMonitorConfig, LinkMonitorHandle, LinkSnapshot,
};
use lab::{Background, Lab, ip, run};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(5);

struct Watch {
    events: std_mpsc::Receiver<(Instant, LinkEvent)>,
    handle: LinkMonitorHandle,
    /// Blocks the monitor's thread for a while, as a busy daemon would.
    freeze: mpsc::UnboundedSender<Duration>,
    _task: Background,
}

impl Watch {
    fn start(ns: &str, recv_buffer: usize) -> Watch {
        let (tx, events) = std_mpsc::channel();
        let (htx, hrx) = std_mpsc::channel();
        let (freeze, mut frozen) = mpsc::unbounded_channel::<Duration>();
        let task = Background::start(ns, move || async move {
            tokio::task::spawn_local(async move {
                while let Some(d) = frozen.recv().await {
                    std::thread::sleep(d);
                }
            });
            let mut config = LinkMonitorConfig::new(["w0", "w1"]);
            config.recv_buffer = recv_buffer;
            let (etx, mut erx) = mpsc::channel(16);
            let handle = LinkMonitor::start(config, etx)
                .await
                .expect("monitor starts");
            htx.send(handle).unwrap();
            while let Some(event) = erx.recv().await {
                // Stamped on arrival, before anything else, for the latency figures.
                let _ = tx.send((Instant::now(), event));
            }
        });
        let handle = hrx.recv_timeout(WAIT).expect("monitor started");
        Watch {
            events,
            handle,
            freeze,
            _task: task,
        }
    }

    /// The first event satisfying `pred`, skipping others.
    fn wait(&self, what: &str, pred: impl Fn(&LinkEvent) -> bool) -> (Instant, LinkEvent) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((at, ev)) if pred(&ev) => return (at, ev),
                Ok(_) => continue,
                Err(_) => panic!("no event: {what}"),
            }
        }
    }

    fn changed(&self, what: &str, pred: impl Fn(&LinkSnapshot) -> bool) -> (Instant, LinkSnapshot) {
        let (at, ev) = self.wait(what, |e| matches!(e, LinkEvent::Changed(s) if pred(s)));
        let LinkEvent::Changed(s) = ev else {
            unreachable!()
        };
        (at, s)
    }

    /// Waits for all of `events`, in any order.
    fn all(&self, events: &[LinkEvent]) {
        let mut missing: Vec<&LinkEvent> = events.iter().collect();
        let deadline = Instant::now() + WAIT;
        while !missing.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let (_, ev) = self
                .events
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("missing {missing:?}"));
            missing.retain(|m| !same(m, &ev));
        }
    }

    fn gone(&self, name: &str) {
        self.wait(&format!("{name} gone"), |e| {
            *e == LinkEvent::Gone { name: name.into() }
        });
    }
}

/// Equal, or both `Changed` for the same name and index.
fn same(a: &LinkEvent, b: &LinkEvent) -> bool {
    match (a, b) {
        (LinkEvent::Changed(x), LinkEvent::Changed(y)) => x.name == y.name && x.index == y.index,
        _ => a == b,
    }
}

fn pair(lab: &mut Lab) -> (String, String) {
    let (gw, ap) = (lab.ns("gw"), lab.ns("ap"));
    // Distinct ifindexes on the two ends: the kernel's linkwatch treats a veth whose peer
    // index differs from its own as urgent, and rate-limits the others to one batch a second
    // (which is what a physical NIC gets; see the carrier test).
    run(
        "ip",
        &[
            "link", "add", "w0", "index", "10", "netns", &gw, "type", "veth", "peer", "name", "p0",
            "netns", &ap,
        ],
    );
    ip(&gw, "addr add 192.0.2.10/24 dev w0");
    ip(&gw, "link set w0 up");
    ip(&ap, "addr add 192.0.2.1/24 dev p0");
    ip(&ap, "link set p0 up");
    (gw, ap)
}

fn has(s: &LinkSnapshot, addr: &str) -> bool {
    let a: IpAddr = addr.parse().unwrap();
    s.addresses.iter().any(|x| x.addr == a)
}

fn gateway(s: &LinkSnapshot, family: Family) -> Option<(String, u32)> {
    s.default_route(family).map(|r| {
        (
            r.gateway.map(|g| g.to_string()).unwrap_or_default(),
            r.metric,
        )
    })
}

#[test]
fn carrier_addresses_and_default_routes() {
    let mut lab = Lab::new();
    let (gw, ap) = pair(&mut lab);
    let w = Watch::start(&gw, 1 << 20);
    let (_, first) = w.changed("initial w0", |s| s.name == "w0");
    assert!(first.admin_up && first.carrier && has(&first, "192.0.2.10"));
    assert!(first.global(Family::V4).any(|a| a.prefix_len == 24));
    w.gone("w1");

    // Carrier loss from the peer going down, several times for a latency figure.
    let mut down = Vec::new();
    let mut up = Vec::new();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        ip(&ap, "link set p0 down");
        let t1 = Instant::now();
        let (at, s) = w.changed("carrier down", |s| !s.carrier);
        assert!(s.admin_up && !s.is_up());
        down.push(at.duration_since(t0));
        println!(
            "carrier down: event {:?} after `ip` exited ({:?} before it exited)",
            at.saturating_duration_since(t1),
            t1.saturating_duration_since(at)
        );
        let t0 = Instant::now();
        ip(&ap, "link set p0 up");
        let (at, s) = w.changed("carrier up", |s| s.carrier);
        assert!(s.is_up());
        up.push(at.duration_since(t0));
    }
    down.sort();
    up.sort();
    println!("carrier down: `ip link set` spawn to event, sorted: {down:?}");
    println!("carrier up:   `ip link set` spawn to event, sorted: {up:?}");
    assert!(
        down[2] < Duration::from_millis(50),
        "median carrier-down latency {:?}",
        down[2]
    );

    // Addresses, IPv4 and IPv6, global and link-local.
    ip(&gw, "addr add 2001:db8:1::10/64 dev w0 nodad");
    let (_, s) = w.changed("v6 address", |s| has(s, "2001:db8:1::10"));
    assert!(s.global(Family::V6).count() == 1);
    assert!(s.addresses.iter().any(|a| a.scope == AddrScope::Link));
    ip(&gw, "addr add 192.0.2.11/24 dev w0");
    w.changed("second v4 address", |s| has(s, "192.0.2.11"));
    ip(&gw, "addr del 192.0.2.11/24 dev w0");
    w.changed("v4 address removed", |s| !has(s, "192.0.2.11"));

    // Default routes in main, not in other tables.
    ip(&gw, "route add default via 192.0.2.1 dev w0 table 7102");
    ip(&gw, "route add default via 192.0.2.1 dev w0 metric 600");
    let (_, s) = w.changed("v4 default", |s| s.default_route(Family::V4).is_some());
    assert_eq!(gateway(&s, Family::V4), Some(("192.0.2.1".into(), 600)));
    assert_eq!(s.default_routes.len(), 1, "{:?}", s.default_routes);
    ip(
        &gw,
        "-6 route add default via 2001:db8:1::1 dev w0 metric 1024",
    );
    let (_, s) = w.changed("v6 default", |s| s.default_route(Family::V6).is_some());
    assert_eq!(
        gateway(&s, Family::V6),
        Some(("2001:db8:1::1".into(), 1024))
    );
    ip(
        &gw,
        "-6 route del default via 2001:db8:1::1 dev w0 metric 1024",
    );
    w.changed("v6 default removed", |s| {
        s.default_route(Family::V6).is_none()
    });

    // Administratively down: the kernel drops the IPv4 routes without a message; the
    // monitor re-reads and reports them gone.
    let before = w.handle.stats().resyncs;
    ip(&gw, "link set w0 down");
    w.changed("admin down", |s| !s.admin_up);
    w.changed("routes gone after re-read", |s| {
        !s.admin_up && s.default_routes.is_empty()
    });
    assert!(w.handle.stats().resyncs > before);
}

/// A Wi-Fi station that is associated but has not finished its WPA handshake is DORMANT
/// with IFF_LOWER_UP set: not up. Link mode `dormant` makes the kernel put a veth there when
/// its carrier comes back, as a supplicant does with its station.
#[test]
fn dormant_is_not_up() {
    use arcway::linkmon::OperState;
    let mut lab = Lab::new();
    let (gw, ap) = pair(&mut lab);
    let w = Watch::start(&gw, 1 << 20);
    let (_, first) = w.changed("initial w0", |s| s.name == "w0");
    assert!(first.is_up(), "{first:?}");

    ip(&gw, "link set dev w0 mode dormant");
    ip(&ap, "link set p0 down");
    let (_, s) = w.changed("carrier down", |s| !s.carrier);
    assert!(!s.is_up());
    let t0 = Instant::now();
    ip(&ap, "link set p0 up");
    let (at, s) = w.changed("dormant", |s| s.oper == OperState::Dormant);
    assert!(s.admin_up && s.carrier && !s.is_up(), "{s:?}");
    println!(
        "dormant: reported {:?} after `ip` was spawned",
        at.duration_since(t0)
    );

    // Back to an Ethernet-style link: carrier alone decides again.
    ip(&gw, "link set dev w0 mode default");
    ip(&ap, "link set p0 down");
    w.changed("carrier down again", |s| !s.carrier);
    ip(&ap, "link set p0 up");
    let (_, s) = w.changed("up again", |s| s.carrier && s.oper == OperState::Up);
    assert!(s.is_up(), "{s:?}");
}

#[test]
fn deleted_recreated_and_renamed() {
    let mut lab = Lab::new();
    let (gw, ap) = pair(&mut lab);
    let w = Watch::start(&gw, 1 << 20);
    let (_, first) = w.changed("initial w0", |s| s.name == "w0");
    ip(&gw, "link del w0");
    w.gone("w0");
    run(
        "ip",
        &[
            "link", "add", "w0", "netns", &gw, "type", "veth", "peer", "name", "p0", "netns", &ap,
        ],
    );
    let (_, again) = w.changed("w0 recreated", |s| s.name == "w0");
    assert_ne!(again.index, first.index);
    assert!(!again.admin_up && again.addresses.is_empty());
    let mut as_w1 = again.clone();
    as_w1.name = "w1".into();
    ip(&gw, "link set w0 name w1");
    w.all(&[
        LinkEvent::Gone { name: "w0".into() },
        LinkEvent::Changed(as_w1),
    ]);
    ip(&gw, "link set w1 name w0");
    w.all(&[
        LinkEvent::Gone { name: "w1".into() },
        LinkEvent::Changed(again),
    ]);
}

#[test]
fn overrun_triggers_a_full_reread() {
    let mut lab = Lab::new();
    let (gw, _ap) = pair(&mut lab);
    // A tiny receive buffer: a burst of address events cannot fit.
    let w = Watch::start(&gw, 1024);
    w.changed("initial w0", |s| s.name == "w0");
    w.freeze.send(Duration::from_millis(800)).unwrap();
    let batch: String = (1..=250)
        .map(|i| format!("addr add 100.127.1.{i}/32 dev w0\n"))
        .collect();
    let file = std::env::temp_dir().join(format!("{}-batch", lab.prefix));
    std::fs::write(&file, batch).unwrap();
    ip(&gw, &format!("-batch {}", file.display()));
    let _ = std::fs::remove_file(&file);
    let (_, s) = w.changed("all 250 addresses", |s| {
        has(s, "100.127.1.1") && has(s, "100.127.1.250")
    });
    assert_eq!(s.global(Family::V4).count(), 251);
    let stats = w.handle.stats();
    println!("overrun test: {stats:?}");
    assert!(stats.overruns >= 1 && stats.resyncs >= 1, "{stats:?}");
}
