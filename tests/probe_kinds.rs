//! Each probe kind against responders in a peer namespace, bound to one of two uplinks.
//! Root only: the tests build namespaces and must be able to fail.

#[path = "probe_lab.rs"]
mod lab;

use std::time::{Duration, Instant};

use arcway::probe::{Binding, IcmpSocketKind, ProbeCounters, Target, probe_once, probe_once_with};
use lab::{Lab, MARK_A, drop_all, nft_counter, two_uplinks};

const OK_RESPONSE: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
const ERR_RESPONSE: &str = "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const TIMEOUT: Duration = Duration::from_secs(2);

fn binding_a() -> Binding {
    Binding::interface("a0").with_mark(MARK_A)
}

fn targets(list: &[&str]) -> Vec<Target> {
    list.iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect()
}

/// Probes each target once from gw over `binding`, one after another.
fn probe_all(
    gw: &str,
    binding: Binding,
    list: Vec<Target>,
) -> Vec<(Target, bool, Option<String>, Duration)> {
    block_in(gw, async move {
        let counters = ProbeCounters::default();
        let mut out = Vec::new();
        for t in list {
            let start = Instant::now();
            let r = probe_once(&binding, &t, TIMEOUT, &counters).await;
            out.push((t, r.ok, r.error, start.elapsed()));
        }
        out
    })
}

fn block_in<T: Send + 'static>(
    ns: &str,
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    lab::block_in_netns(ns, move || fut)
}

#[test]
fn every_kind_answers_over_its_path() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    // B drops everything: only a probe that really leaves by A can succeed.
    drop_all(&up.pb);
    let _h4 = lab::http_server(&up.pa, "203.0.113.100:80", OK_RESPONSE);
    let _h6 = lab::http_server(&up.pa, "[2001:db8:ff::100]:80", OK_RESPONSE);
    let _d4 = lab::dns_server(&up.pa, "203.0.113.100:53", 0);
    let _d6 = lab::dns_server(&up.pa, "[2001:db8:ff::100]:53", 0);
    let list = targets(&[
        r#"{"icmp":"203.0.113.100"}"#,
        r#"{"icmp":"2001:db8:ff::100"}"#,
        r#"{"tcp":"203.0.113.100:80"}"#,
        r#"{"tcp":"[2001:db8:ff::100]:80"}"#,
        r#"{"http":"http://203.0.113.100/"}"#,
        r#"{"http":"http://[2001:db8:ff::100]/health"}"#,
        r#"{"dns":{"server":"203.0.113.100","name":"example.com"}}"#,
        r#"{"dns":{"server":"2001:db8:ff::100","name":"example.com"}}"#,
    ]);
    let (before, _) = nft_counter(&up.pa, "in");
    for (t, ok, err, took) in probe_all(&up.gw, binding_a(), list) {
        assert!(ok, "{t} failed: {err:?}");
        println!("{t}: ok in {took:?}");
    }
    assert!(nft_counter(&up.pa, "in").0 > before);
}

#[test]
fn failures_are_reported_with_their_reason() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    let _h = lab::http_server(&up.pa, "203.0.113.100:81", ERR_RESPONSE);
    let _d = lab::dns_server(&up.pa, "203.0.113.100:5353", 2);
    let list = targets(&[
        r#"{"http":"http://203.0.113.100:81/"}"#,
        r#"{"dns":{"server":"203.0.113.100","port":5353,"name":"example.com"}}"#,
        r#"{"tcp":"203.0.113.100:9"}"#,
    ]);
    let results = probe_all(&up.gw, binding_a(), list);
    let reasons: Vec<String> = results
        .iter()
        .map(|r| r.2.clone().unwrap_or_default())
        .collect();
    assert!(results.iter().all(|r| !r.1), "{reasons:?}");
    assert!(reasons[0].contains("status 500"), "{}", reasons[0]);
    assert!(reasons[1].contains("rcode 2"), "{}", reasons[1]);
    assert!(reasons[2].contains("refused"), "{}", reasons[2]);
    assert!(
        results[2].3 < Duration::from_millis(500),
        "refusal took {:?}",
        results[2].3
    );
}

#[test]
fn a_bound_probe_never_leaves_by_the_other_uplink() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    drop_all(&up.pb);
    let list = targets(&[r#"{"icmp":"203.0.113.100"}"#]);
    // Bound to A: answered, seen by A's peer only.
    let (a0, b0) = (nft_counter(&up.pa, "in").0, nft_counter(&up.pb, "in").0);
    let r = probe_all(&up.gw, binding_a(), list.clone());
    assert!(r[0].1, "{:?}", r[0].2);
    assert!(nft_counter(&up.pa, "in").0 > a0);
    assert_eq!(nft_counter(&up.pb, "in").0, b0);
    // Bound to B (main table): B drops, and the probe does not escape through A.
    let a1 = nft_counter(&up.pa, "in").0;
    let binding_b = Binding::interface("b0");
    let start = Instant::now();
    let r = probe_all(&up.gw, binding_b, list.clone());
    assert!(!r[0].1);
    assert!(
        r[0].2.as_deref().unwrap().contains("within"),
        "{:?}",
        r[0].2
    );
    assert!(start.elapsed() >= TIMEOUT && start.elapsed() < TIMEOUT + Duration::from_secs(1));
    assert_eq!(nft_counter(&up.pa, "in").0, a1);
    assert!(nft_counter(&up.pb, "in").0 > b0);
    // A's device without the mark: no route through a0 in main, and the kernel then treats
    // the target as on-link on the bound device; the probe still cannot reach B.
    let b1 = nft_counter(&up.pb, "in").0;
    probe_all(
        &up.gw,
        Binding::interface("a0"),
        targets(&[r#"{"tcp":"203.0.113.100:80"}"#]),
    );
    assert_eq!(nft_counter(&up.pb, "in").0, b1);
}

#[test]
fn a_down_interface_fails_fast() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    lab::ip(&up.gw, "link set a0 down");
    let list = targets(&[
        r#"{"icmp":"203.0.113.100"}"#,
        r#"{"icmp":"2001:db8:ff::100"}"#,
        r#"{"tcp":"203.0.113.100:80"}"#,
        r#"{"http":"http://203.0.113.100/"}"#,
        r#"{"dns":{"server":"203.0.113.100","name":"example.com"}}"#,
    ]);
    for (t, ok, err, took) in probe_all(&up.gw, binding_a(), list) {
        assert!(!ok, "{t} succeeded on a down interface");
        assert!(
            took < Duration::from_millis(200),
            "{t} took {took:?}: {err:?}"
        );
        println!("{t}: failed in {took:?}: {}", err.unwrap());
    }
    // A missing interface fails at bind time.
    let r = probe_all(
        &up.gw,
        Binding::interface("nope0"),
        targets(&[r#"{"icmp":"203.0.113.100"}"#]),
    );
    assert!(r[0].2.as_deref().unwrap().contains("nope0"));
}

#[test]
fn icmp_over_ping_and_raw_sockets() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    lab::run(
        "ip",
        &[
            "netns",
            "exec",
            &up.gw,
            "sysctl",
            "-qw",
            "net.ipv4.ping_group_range=0 2147483647",
        ],
    );
    for kind in [IcmpSocketKind::Dgram, IcmpSocketKind::Raw] {
        for ip in ["203.0.113.100", "2001:db8:ff::100"] {
            let target = Target::Icmp(ip.parse().unwrap());
            let r = block_in(&up.gw, async move {
                let c = ProbeCounters::default();
                probe_once_with(&binding_a(), &target, TIMEOUT, &c, kind).await
            });
            assert!(r.ok, "{kind:?} {ip}: {:?}", r.error);
        }
    }
}

#[test]
fn probe_bytes_are_counted() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    let _h = lab::http_server(&up.pa, "203.0.113.100:80", OK_RESPONSE);
    let _d = lab::dns_server(&up.pa, "203.0.113.100:53", 0);
    // How exact the count of bytes sent is: echo and query both ways; a connect probe
    // (SYN, ACK, RST) the way out; HTTP an estimate.
    #[derive(PartialEq)]
    enum Exact {
        Both,
        Sent,
        Estimate,
    }
    for (spec, n, exact) in [
        (r#"{"icmp":"203.0.113.100"}"#, 5u64, Exact::Both),
        (
            r#"{"dns":{"server":"203.0.113.100","name":"example.com"}}"#,
            3,
            Exact::Both,
        ),
        (r#"{"tcp":"203.0.113.100:80"}"#, 3, Exact::Sent),
        (r#"{"http":"http://203.0.113.100/"}"#, 3, Exact::Estimate),
    ] {
        let target: Target = serde_json::from_str(spec).unwrap();
        let (p0, b0) = nft_counter(&up.pa, "in");
        let t = target.clone();
        let counted = block_in(&up.gw, async move {
            let c = ProbeCounters::default();
            for _ in 0..n {
                let r = probe_once(&binding_a(), &t, TIMEOUT, &c).await;
                assert!(r.ok, "{:?}", r.error);
            }
            // Let the closing segments of the last connection arrive.
            tokio::time::sleep(Duration::from_millis(200)).await;
            c.snapshot()
        });
        let (p1, b1) = nft_counter(&up.pa, "in");
        // The peer counts whole IPv4 packets: payload plus a 20-byte header each.
        let seen = b1 - b0 - 20 * (p1 - p0);
        println!(
            "{target}: counted {} sent, peer saw {seen} in {} packets",
            counted.bytes_sent,
            p1 - p0
        );
        assert_eq!(counted.probes, n);
        if exact != Exact::Estimate {
            assert_eq!(counted.bytes_sent, seen);
        }
        if exact == Exact::Sent {
            assert_eq!(p1 - p0, 3 * n, "SYN, ACK and RST per probe");
        }
        if exact == Exact::Both {
            assert_eq!(counted.bytes_received, counted.bytes_sent);
        } else if exact == Exact::Estimate {
            let ratio = counted.bytes_sent as f64 / seen as f64;
            assert!((0.7..1.3).contains(&ratio), "estimate off: {ratio}");
        }
    }
}
