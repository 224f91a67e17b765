//! Krypton's name lookup goes over the cellular path (root, the arcway lab): the resolver
//! (Debian's dnsmasq, in the cell core's namespace) is reachable over Wi-Fi too, and Wi-Fi is
//! the gateway's default route, yet the question reaches it from the cellular address, like
//! the HTTPS connection after it.

#[path = "bootstrap_support.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use arcway::bootstrap::run_krypton;
use arcway::https::ClientOptions;
use arcway::model::PathId;
use arcway::routing::Layout;
use arcway_lab::soracom::{FakeIdentity, FakeSoracom};
use arcway_lab::{Lab, LabOptions, Role, plan};
use support::*;

/// The cell core's address on its internet side: reachable from the gateway over Wi-Fi
/// (through the AP's NAT) and over the cellular link alike.
const CELL_CORE: &str = "203.0.113.18";
const NAME: &str = "krypton.lab.test";
/// What the Wi-Fi path's traffic looks like to the cell core: the AP's NAT address.
const WIFI_NAT: &str = "203.0.113.2";

/// dnsmasq answering `NAME` with the cell core's address, logging every question with its
/// source; stopped when dropped.
struct Resolver {
    child: Child,
}

impl Resolver {
    fn start(ns: &str, log: &Path) -> Resolver {
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "dnsmasq", "--keep-in-foreground"])
            .args([
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
            ])
            .arg(format!("--listen-address={CELL_CORE}"))
            .arg(format!("--address=/{NAME}/{CELL_CORE}"))
            .args(["--log-queries", "--user=root", "--pid-file="])
            .arg(format!("--log-facility={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("dnsmasq (scripts/install-deps installs dnsmasq-base)");
        let resolver = Resolver { child };
        // Ready once it has written its start-up lines.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(log).is_ok_and(|t| t.contains("started")) {
            assert!(Instant::now() < deadline, "dnsmasq did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        resolver
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn krypton_asks_its_name_over_the_cellular_path() {
    let lab = Lab::build(LabOptions::default()).expect("lab builds");
    let addr: SocketAddr = format!("{CELL_CORE}:8036").parse().unwrap();
    let fake = FakeSoracom::start(
        addr,
        Some(&lab.ns(Role::Cell)),
        &[NAME.to_owned()],
        FakeIdentity::for_lab(&lab).unwrap(),
        false,
    )
    .expect("krypton fake in the cell namespace");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    fake.ca().write_ca(&ca).unwrap();
    let log = dir.path().join("dnsmasq.log");
    let _resolver = Resolver::start(&lab.ns(Role::Cell), &log);
    // A local resolver first, as on OpenWrt (dnsmasq on 127.0.0.1): it forwards over the
    // default route, so a bound lookup must skip it.
    let resolv_conf = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv_conf,
        format!("nameserver 127.0.0.1\nnameserver {CELL_CORE}\n"),
    )
    .unwrap();

    let opts = ClientOptions {
        extra_ca: Some(ca),
        resolv_conf: vec![resolv_conf],
        ..fast()
    };
    let output = dir.path().join("arc.json");
    let mark = Layout::default().path_mark(PathId::Cellular);
    let result = spawn_in_ns(&lab.ns(Role::Gw), move || async move {
        run_krypton(
            opts,
            &format!("https://{NAME}:8036"),
            plan::CELLULAR_IF,
            Some(mark),
            &output,
            None,
        )
        .await
        .map_err(|e| chain(&e))
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p));
    result.expect("krypton by name over cellular");

    let questions: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!("query[A] {NAME} from")))
        .map(str::to_owned)
        .collect();
    assert!(!questions.is_empty(), "the resolver was asked");
    for q in &questions {
        assert!(
            q.ends_with(&format!("from {}", plan::GW_CELLULAR_ADDR)),
            "asked from the cellular address: {q}"
        );
        assert!(!q.contains(WIFI_NAT), "never over Wi-Fi: {q}");
    }
    assert_eq!(
        fake.counters()
            .krypton_peers
            .last()
            .map(|p| p.ip().to_string()),
        Some(plan::GW_CELLULAR_ADDR.to_owned()),
        "and the connection went the same way"
    );
}
