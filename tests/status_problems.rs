//! A kernel object arcway cannot install is shown, with the kernel's error, in `arcway
//! status` (human and JSON), the metrics and sd_notify STATUS until it is fixed (root, lab).
//!
//! The failure is a real conflict: another process owns `table inet arcway` (nftables'
//! `flags owner`), so the kernel refuses arcway's replace with EPERM. When that process exits,
//! the kernel drops its table and arcway's next attempt succeeds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use arcway_lab::http::in_netns;
use arcway_lab::{Arcway, Health, Lab, LabOptions, Role};
use serde_json::Value;

const METRICS: &str = "127.0.0.1:19786";

fn problem(status: &Value, object: &str) -> Option<String> {
    status["problems"]
        .as_array()?
        .iter()
        .find(|p| p["object"] == object)
        .and_then(|p| p["error"].as_str().map(str::to_owned))
}

fn metrics(lab: &Lab) -> String {
    in_netns(&lab.ns(Role::Gw), || {
        let mut s = TcpStream::connect(METRICS).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        Some(text)
    })
    .expect("namespace thread")
    .unwrap_or_default()
}

/// STATUS= lines the daemon sent so far.
fn statuses(socket: &UnixDatagram, seen: &mut Vec<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        seen.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("STATUS="))
                .map(str::to_owned),
        );
    }
}

/// `nft -i` in the gateway holding an owned, empty `table inet arcway` while it runs.
struct Owner(Child);

impl Owner {
    fn take(lab: &Lab) -> Owner {
        let mut child = lab
            .command(Role::Gw, &["nft", "-i"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nft -i");
        let stdin = child.stdin.as_mut().unwrap();
        stdin
            .write_all(b"add table inet arcway { flags owner; }\n")
            .unwrap();
        stdin.flush().unwrap();
        let owner = Owner(child);
        let start = Instant::now();
        while !table(lab).contains("flags owner") {
            assert!(start.elapsed() < Duration::from_secs(5), "no owned table");
            std::thread::sleep(Duration::from_millis(20));
        }
        owner
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn table(lab: &Lab) -> String {
    lab.exec(Role::Gw, &["nft", "list", "table", "inet", "arcway"])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

fn wait(arcway: &Arcway, what: &str, check: impl Fn(&Value) -> bool) {
    let ok = arcway.wait_until(Duration::from_secs(15), |a| {
        a.status().is_ok_and(|s| check(&s))
    });
    assert!(
        ok.is_some(),
        "{what}: status {:?}\n{}",
        arcway.status().ok(),
        arcway.log()
    );
}

#[test]
fn an_nft_table_the_kernel_refuses_shows_until_it_loads() {
    let lab = Lab::build(LabOptions::default()).expect("lab");
    let owner = Owner::take(&lab);
    let notify_path = lab.state_dir().join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_nonblocking(true).unwrap();
    let config = format!(
        "{}metrics: {{listen: \"{METRICS}\"}}\n",
        lab.arcway_config(&Health::FAST)
    );
    let arcway = lab
        .start_arcway_with(&config, &[("NOTIFY_SOCKET", notify_path.to_str().unwrap())])
        .expect("arcway starts");

    // Everything else keeps working meanwhile: the default class still gets its route.
    let shown = arcway.wait_until(Duration::from_secs(15), |a| {
        a.status().is_ok_and(|s| problem(&s, "nftables").is_some())
            && a.class_route("default").as_deref() == Some("via wifi")
    });
    assert!(
        shown.is_some(),
        "status {:?}\n{}",
        arcway.status().ok(),
        arcway.log()
    );
    let status = arcway.status().unwrap();
    let error = problem(&status, "nftables").unwrap();
    eprintln!("status shows: {error}");
    assert!(error.contains("Operation not permitted"), "{error}");
    let human = lab
        .exec(
            Role::Gw,
            &[
                arcway_lab::bin_path("arcway").unwrap().to_str().unwrap(),
                "status",
                "--socket",
                lab.arcway_socket().to_str().unwrap(),
            ],
        )
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("PROBLEM nftables since") && human.contains("Operation not permitted"),
        "{human}"
    );
    let page = metrics(&lab);
    assert!(
        page.contains("arcway_problem{object=\"nftables\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("arcway_problem{object=\"routing\"} 0"),
        "{page}"
    );
    let mut seen = Vec::new();
    let start = Instant::now();
    while !seen
        .iter()
        .any(|s: &String| s.starts_with("degraded: nftables: "))
    {
        assert!(start.elapsed() < Duration::from_secs(5), "STATUS {seen:?}");
        statuses(&notify, &mut seen);
        std::thread::sleep(Duration::from_millis(20));
    }

    // The owner goes, its table with it: the retry (SIGHUP makes it come at once) loads.
    drop(owner);
    arcway.signal(libc::SIGHUP);
    wait(&arcway, "the problem clears", |s| {
        s["problems"] == serde_json::json!([])
    });
    let listing = table(&lab);
    assert!(
        listing.contains("chain postrouting") && !listing.contains("flags owner"),
        "{listing}"
    );
    let page = metrics(&lab);
    assert!(
        page.contains("arcway_problem{object=\"nftables\"} 0"),
        "{page}"
    );
    let start = Instant::now();
    while !seen.last().is_some_and(|s| s.starts_with("running")) {
        assert!(start.elapsed() < Duration::from_secs(5), "STATUS {seen:?}");
        statuses(&notify, &mut seen);
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("STATUS lines: {seen:?}");
}
