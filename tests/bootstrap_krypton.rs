//! `bootstrap krypton` in the arcway lab (root): the request leaves over the cellular path
//! even though the Krypton address is reachable (and preferred by the routing table) over
//! Wi-Fi, and fails clearly when the cellular path is down.

#[path = "bootstrap_support.rs"]
mod support;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use arcway::bootstrap::{Endpoints, HookOptions, KRYPTON_PATH, bootstrap_if_missing, run_krypton};
use arcway::credentials;
use arcway::https::{Client, ClientOptions, Method, Request, Retry, Url};
use arcway::model::PathId;
use arcway::routing::Layout;
use arcway_lab::soracom::{FakeIdentity, FakeSoracom};
use arcway_lab::{Lab, LabOptions, Role, plan};
use support::*;

/// The cell core's address on its internet side: reachable from the gateway over Wi-Fi
/// (through the AP's NAT and the internet) and over the cellular link alike.
const KRYPTON_ADDR: &str = "203.0.113.18";

fn in_ns<F, Fut, T>(ns: &str, f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    spawn_in_ns(ns, f)
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

struct World {
    lab: Lab,
    fake: FakeSoracom,
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let lab = Lab::build(LabOptions::default()).expect("lab builds");
        let addr: SocketAddr = format!("{KRYPTON_ADDR}:8036").parse().unwrap();
        let identity = FakeIdentity::for_lab(&lab).unwrap();
        let fake = FakeSoracom::start(
            addr,
            Some(&lab.ns(Role::Cell)),
            &[KRYPTON_ADDR.to_owned()],
            identity,
            false,
        )
        .expect("krypton fake in the cell namespace");
        let dir = tempfile::tempdir().unwrap();
        fake.ca().write_ca(&dir.path().join("ca.pem")).unwrap();
        World { lab, fake, dir }
    }

    fn options(&self) -> ClientOptions {
        ClientOptions {
            extra_ca: Some(self.dir.path().join("ca.pem")),
            ..fast()
        }
    }

    fn krypton(&self, output: &std::path::Path) -> Result<credentials::Credentials, String> {
        let (opts, url, output) = (self.options(), self.fake.url(), output.to_owned());
        let mark = Layout::default().path_mark(PathId::Cellular);
        in_ns(&self.lab.ns(Role::Gw), move || async move {
            run_krypton(opts, &url, plan::CELLULAR_IF, Some(mark), &output, None)
                .await
                .map(|o| o.credentials)
                .map_err(|e| chain(&e))
        })
    }

    fn last_peer(&self) -> Option<IpAddr> {
        self.fake.counters().krypton_peers.last().map(|p| p.ip())
    }
}

#[test]
fn krypton_goes_over_cellular_although_wifi_is_the_default_route() {
    let world = World::new();
    // Control: an unbound request from the gateway takes the Wi-Fi default route.
    let (opts, url) = (world.options(), world.fake.url());
    let status = in_ns(&world.lab.ns(Role::Gw), move || async move {
        let client = Client::new(opts).unwrap();
        let req = Request {
            method: Method::Post,
            url: Url::parse(&url).unwrap().with_path(KRYPTON_PATH),
            headers: vec![("Content-Type", "application/json")],
            body: b"{}".to_vec(),
            retry: Retry::Idempotent,
        };
        client.send(&req).await.map(|r| r.status)
    });
    assert_eq!(status.expect("unbound request"), 200);
    assert_eq!(
        world.last_peer(),
        Some("203.0.113.2".parse().unwrap()),
        "Wi-Fi NAT address"
    );

    let output = world.dir.path().join("arc.json");
    let creds = world.krypton(&output).expect("krypton over cellular");
    assert_eq!(
        world.last_peer(),
        Some(plan::GW_CELLULAR_ADDR.parse().unwrap()),
        "Krypton saw the cellular address"
    );
    assert_eq!(world.fake.counters().krypton, 2);
    let lab_creds = world.lab.arc_credentials();
    assert_eq!(
        creds.public_key.to_base64(),
        lab_creds.arc_client_peer_public_key
    );
    assert_eq!(credentials::load(&output).unwrap(), creds);
}

#[test]
fn krypton_fails_clearly_when_the_cellular_path_is_down() {
    let world = World::new();
    let output = world.dir.path().join("arc.json");
    std::fs::write(&output, b"{\"old\": true}\n").unwrap();
    world.lab.cellular_link(false).expect("cellular down");
    let e = world.krypton(&output).expect_err("no cellular path");
    assert_eq!(
        e,
        "failed to use the cellular path: interface wwan0 has no carrier"
    );
    world
        .lab
        .ip(Role::Gw, &["link", "set", "wwan0", "down"])
        .unwrap();
    let e = world.krypton(&output).expect_err("interface down");
    assert!(e.ends_with("interface wwan0 is down"), "{e}");
    world
        .lab
        .ip(Role::Gw, &["link", "set", "wwan0", "name", "wwan9"])
        .unwrap();
    let e = world.krypton(&output).expect_err("interface gone");
    assert!(e.ends_with("interface wwan0 does not exist"), "{e}");
    assert_eq!(
        world.fake.counters().krypton,
        0,
        "nothing went out over Wi-Fi"
    );
    assert_eq!(std::fs::read(&output).unwrap(), b"{\"old\": true}\n");
}

#[test]
fn krypton_with_carrier_but_no_address_is_refused() {
    let world = World::new();
    world
        .lab
        .ip(Role::Gw, &["addr", "flush", "dev", "wwan0"])
        .unwrap();
    let e = world
        .krypton(&world.dir.path().join("arc.json"))
        .expect_err("no address");
    assert!(e.ends_with("interface wwan0 has no IPv4 address"), "{e}");
    assert_eq!(world.fake.counters().krypton, 0);
}

fn hook_config(credentials: &std::path::Path) -> arcway::config::Config {
    let text = format!(
        "version: 1\narc:\n  credentials: {}\n  bootstrap: krypton\nuplinks:\n  wifi: {{interface: wlan0}}\n  \
         cellular: {{interface: wwan0}}\nclasses:\n  - name: default\n    paths: [wifi, cellular]\n",
        credentials.display()
    );
    arcway::config::parse_str(&text, "test.yaml").expect("config")
}

#[test]
fn the_daemon_hook_waits_for_the_cellular_path_then_asks_krypton() {
    let world = World::new();
    let output = world.dir.path().join("arc.json");
    let cfg = hook_config(&output);
    let opts = HookOptions {
        krypton: Endpoints {
            jp: world.fake.url(),
            global: world.fake.url(),
        },
        ca_file: Some(world.dir.path().join("ca.pem")),
        cellular_wait: Some(Duration::from_millis(300)),
        cellular_poll: Duration::from_millis(20),
        client: fast(),
        ..HookOptions::default()
    };
    world.lab.cellular_link(false).expect("cellular down");
    let (c, o) = (cfg.clone(), opts.clone());
    let e = in_ns(&world.lab.ns(Role::Gw), move || async move {
        bootstrap_if_missing(&c, &o)
            .await
            .map_err(|e| e.to_string())
    })
    .expect_err("no cellular within 300 ms");
    assert!(
        e.contains("failed to see the cellular path (wwan0) come up within 300ms: has no carrier"),
        "{e}"
    );

    let opts = HookOptions {
        cellular_wait: Some(Duration::from_secs(20)),
        ..opts
    };
    let waiting = spawn_in_ns(&world.lab.ns(Role::Gw), move || async move {
        bootstrap_if_missing(&cfg, &opts)
            .await
            .map_err(|e| e.to_string())
    });
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(world.fake.counters().krypton, 0);
    world.lab.cellular_link(true).expect("cellular up");
    let creds = waiting
        .join()
        .unwrap()
        .expect("bootstrapped once the path came up");
    assert_eq!(
        world.last_peer(),
        Some(plan::GW_CELLULAR_ADDR.parse().unwrap())
    );
    assert_eq!(credentials::load(&output).unwrap(), creds);
}

#[test]
fn the_hook_asks_the_krypton_of_the_configured_coverage_and_records_it() {
    let world = World::new();
    let output = world.dir.path().join("arc.json");
    let text = format!(
        "version: 1\narc:\n  credentials: {}\n  bootstrap: krypton\n  coverage: global\nuplinks:\n  \
         wifi: {{interface: wlan0}}\n  cellular: {{interface: wwan0}}\nclasses:\n  - name: default\n    \
         paths: [wifi, cellular]\n",
        output.display()
    );
    let cfg = arcway::config::parse_str(&text, "test.yaml").expect("config");
    let opts = HookOptions {
        // Nothing listens there: asking the Japan entry fails the test at once.
        krypton: Endpoints {
            jp: "https://127.0.0.1:1".to_owned(),
            global: world.fake.url(),
        },
        ca_file: Some(world.dir.path().join("ca.pem")),
        cellular_wait: Some(Duration::from_secs(5)),
        cellular_poll: Duration::from_millis(20),
        client: fast(),
        ..HookOptions::default()
    };
    let creds = in_ns(&world.lab.ns(Role::Gw), move || async move {
        bootstrap_if_missing(&cfg, &opts)
            .await
            .map_err(|e| chain(&e))
    })
    .expect("bootstrapped from the Global entry");
    assert_eq!(world.fake.counters().krypton, 1);
    assert_eq!(creds.coverage, Some(arcway::config::Coverage::Global));
    assert_eq!(
        credentials::load(&output).unwrap().coverage,
        Some(arcway::config::Coverage::Global)
    );
}
