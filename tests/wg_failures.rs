//! Failure handling against a real wireguard-go server: a killed userspace process, a wrong
//! server key (root, throwaway namespaces).

mod wg_support;

use std::time::{Duration, Instant, SystemTime};

use arcway::wg::{Tunnel, TunnelSpec, WgSettings};
use tokio::sync::mpsc;
use wg_support::{Lab, LogBuf, SERVER_TUN, wait_sample};

fn settings(lab: &Lab, handshake_timeout: Duration) -> WgSettings {
    WgSettings {
        ifname: lab.client_if.clone(),
        keepalive: Some(Duration::from_secs(5)),
        handshake_timeout,
        ..WgSettings::default()
    }
}

/// Bound to the device: the tunnel installs no routes (arcway's routing reconciler does).
async fn ping(client_ns: &str, ifname: &str) -> bool {
    tokio::process::Command::new("ip")
        .args([
            "netns", "exec", client_ns, "ping", "-c1", "-W", "0.3", "-I", ifname, SERVER_TUN,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success())
}

#[test]
fn killed_child_is_restarted_and_handshakes_again() {
    let lab = Lab::new();
    let (c, ifname) = (lab.client.clone(), lab.client_if.clone());
    let spec = TunnelSpec::new(
        settings(&lab, Duration::from_secs(5)),
        lab.credentials("192.0.2.1:11010", None),
    );
    let c2 = c.clone();
    let (to_ping, to_sample, status, old_pid) = lab.run_in_client(move || async move {
        let (tx, mut rx) = mpsc::channel(64);
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        let first = wait_sample(&mut rx, Duration::from_secs(10), |s| {
            s.last_handshake.is_some()
        })
        .await
        .expect("no first handshake");
        let old_handshake = first.last_handshake.unwrap();
        // Handshake times have one-second resolution: let the old one age so a new one differs.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let old_pid = tunnel.status().await.unwrap().child_pid.expect("child pid");
        let killed = Instant::now();
        // SAFETY: kill(2) has no memory-safety preconditions.
        assert_eq!(unsafe { libc::kill(old_pid as i32, libc::SIGKILL) }, 0);
        let mut to_ping = None;
        while killed.elapsed() < Duration::from_secs(15) {
            if ping(&c2, &ifname).await {
                to_ping = Some(killed.elapsed());
                break;
            }
        }
        let again = wait_sample(&mut rx, Duration::from_secs(15), |s| {
            s.last_handshake.is_some_and(|t| t > old_handshake)
        })
        .await
        .expect("no handshake after the restart");
        let to_sample = again.at.duration_since(killed);
        let status = tunnel.status().await.unwrap();
        tunnel.stop().await.expect("stop");
        (to_ping, to_sample, status, old_pid)
    });
    let to_ping = to_ping.expect("tunnel did not carry a ping within 15 s of the kill");
    eprintln!(
        "kill -9 to first ping through the tunnel: {to_ping:?}; to first handshake sample: {to_sample:?}"
    );
    assert_eq!(status.restarts, 1);
    assert_ne!(status.child_pid, Some(old_pid));
    assert!(to_ping < Duration::from_secs(5), "{to_ping:?}");
    assert!(to_sample < Duration::from_secs(6), "{to_sample:?}");
}

#[test]
fn wrong_server_key_gives_no_handshake_no_crash_loop_and_few_log_lines() {
    let lab = Lab::new();
    let wrong = arcway::credentials::PrivateKey::generate()
        .unwrap()
        .public_key()
        .to_base64();
    let spec = TunnelSpec::new(
        settings(&lab, Duration::from_secs(2)),
        lab.credentials("192.0.2.1:11010", Some(wrong)),
    );
    let logs = LogBuf::default();
    let sink = logs.clone();
    let (samples, status_before, status_after) = lab.run_in_client(move || async move {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(sink)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let (tx, mut rx) = mpsc::channel(64);
        let tunnel = Tunnel::start(spec, tx).await.expect("tunnel start");
        let status_before = tunnel.status().await.unwrap();
        let mut samples = Vec::new();
        let end = tokio::time::Instant::now() + Duration::from_secs(12);
        while let Ok(Some(s)) = tokio::time::timeout_at(end, rx.recv()).await {
            samples.push(s);
        }
        let status_after = tunnel.status().await.unwrap();
        tunnel.stop().await.expect("stop");
        (samples, status_before, status_after)
    });
    let text = logs.text();
    let lines = text.lines().count();
    eprintln!("{lines} log lines in 12 s:\n{text}");
    assert!(
        samples.len() >= 10,
        "monitor sent {} samples in 12 s",
        samples.len()
    );
    assert!(
        samples.iter().all(|s| s.last_handshake.is_none()),
        "handshake with a wrong key"
    );
    assert!(
        samples
            .iter()
            .all(|s| s.at.elapsed() < Duration::from_secs(60)
                && SystemTime::now() > SystemTime::UNIX_EPOCH)
    );
    assert_eq!(status_after.restarts, 0, "crash loop");
    assert_eq!(status_before.child_pid, status_after.child_pid);
    assert!(
        text.matches("no WireGuard handshake").count() >= 3,
        "handshake timeout never acted"
    );
    assert!(lines <= 40, "{lines} log lines");
}
