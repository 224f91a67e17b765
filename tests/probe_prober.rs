//! The per-path prober in a namespace: quorum, timeout, passive skip, pause and reconfigure.

#[path = "probe_lab.rs"]
mod lab;

use std::time::{Duration, Instant};

use arcway::model::PathId;
use arcway::probe::{Binding, Prober, ProberConfig, Target};
use lab::{Lab, MARK_A, two_uplinks};
use tokio::sync::mpsc;

fn config(targets: &[&str], quorum: usize) -> ProberConfig {
    ProberConfig {
        path: PathId::Wifi,
        binding: Binding::interface("a0").with_mark(MARK_A),
        targets: targets
            .iter()
            .map(|t| serde_json::from_str::<Target>(t).unwrap())
            .collect(),
        interval: Duration::from_millis(200),
        timeout: Duration::from_millis(300),
        quorum,
    }
}

const GOOD: &str = r#"{"icmp":"203.0.113.100"}"#;
const GOOD_TCP: &str = r#"{"tcp":"203.0.113.100:80"}"#;
/// Not owned by the peer: requests vanish, the probe times out.
const SILENT: &str = r#"{"icmp":"203.0.113.200"}"#;

#[test]
fn quorum_and_timeout() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    let _h = lab::http_server(
        &up.pa,
        "203.0.113.100:80",
        "HTTP/1.1 204 No Content\r\n\r\n",
    );
    lab::block_in_netns(&up.gw, || async {
        for (quorum, expect) in [(1, true), (2, true), (3, false)] {
            let (tx, mut rx) = mpsc::channel(4);
            let started = Instant::now();
            let mut cfg = config(&[GOOD, GOOD_TCP, SILENT], quorum);
            cfg.interval = Duration::from_secs(5);
            let handle = Prober::spawn(cfg, tx);
            let round = rx.recv().await.unwrap();
            let took = started.elapsed();
            assert_eq!(round.ok, expect, "quorum {quorum}: {round:?}");
            assert!(!round.passive);
            assert_eq!(round.targets.len(), 3);
            assert!(round.targets[0].ok && round.targets[1].ok);
            assert!(round.targets[0].latency.is_some());
            let silent = &round.targets[2];
            assert!(!silent.ok && silent.latency.is_none());
            assert!(silent.error.as_deref().unwrap().contains("within 300ms"));
            // Concurrent: the round lasts one timeout, not the sum of the probes.
            assert!(
                took >= Duration::from_millis(300) && took < Duration::from_millis(450),
                "{took:?}"
            );
            let c = handle.counters();
            assert_eq!((c.rounds, c.probes), (1, 3));
        }
    });
}

#[test]
fn recent_traffic_skips_a_round() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    lab::block_in_netns(&up.gw, || async {
        let (tx, mut rx) = mpsc::channel(4);
        let handle = Prober::spawn(config(&[GOOD], 1), tx);
        let first = rx.recv().await.unwrap();
        assert!(first.ok && !first.passive);
        let sent = handle.counters().bytes_sent;
        assert_eq!(sent, 64);
        handle.note_traffic(Instant::now());
        let second = rx.recv().await.unwrap();
        assert!(second.ok && second.passive && second.targets.is_empty());
        // The traffic is now older than an interval: probing resumes.
        let third = rx.recv().await.unwrap();
        assert!(third.ok && !third.passive);
        let c = handle.counters();
        assert_eq!((c.rounds, c.skipped_rounds, c.bytes_sent), (2, 1, 128));
        assert_eq!(c.bytes_received, 128);
    });
}

#[test]
fn pause_resume_and_reconfigure() {
    let mut lab = Lab::new();
    let up = two_uplinks(&mut lab);
    lab::block_in_netns(&up.gw, || async {
        let (tx, mut rx) = mpsc::channel(4);
        let handle = Prober::spawn(config(&[GOOD], 1), tx);
        assert!(rx.recv().await.unwrap().ok);
        handle.pause();
        // Drain a round that may have been queued before the pause took effect.
        let _ = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await;
        let quiet = tokio::time::timeout(Duration::from_millis(600), rx.recv()).await;
        assert!(quiet.is_err(), "a paused prober probed: {quiet:?}");
        let rounds = handle.counters().rounds;
        handle.resume();
        let resumed = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await;
        assert!(resumed.unwrap().unwrap().ok);
        assert_eq!(handle.counters().rounds, rounds + 1);
        // New targets and binding: B's device without a mark reaches the target via B.
        let mut next = config(&[SILENT], 1);
        next.path = PathId::Cellular;
        next.binding = Binding::interface("b0");
        next.timeout = Duration::from_millis(100);
        handle.reconfigure(next);
        let round = loop {
            let r = rx.recv().await.unwrap();
            if r.path == PathId::Cellular {
                break r;
            }
        };
        assert!(!round.ok);
        assert_eq!(round.targets[0].target.to_string(), "icmp 203.0.113.200");
        assert!(round.targets[0].error.as_deref().unwrap().contains("100ms"));
    });
}
