//! What a reload changes, one key group at a time, against arcway in the lab (root): the
//! metrics listener moves, the log level changes, budgets follow, keys that need a restart
//! are named, and a reload whose new tunnel does not start is reported as failed.

mod failover_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use arcway_lab::http::in_netns;
use arcway_lab::{Arcway, Health, Lab, Role};
use failover_support::*;

fn scrape(lab: &Lab, addr: &str) -> Option<String> {
    let addr: SocketAddr = addr.parse().unwrap();
    in_netns(&lab.ns(Role::Gw), move || {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        Some(text)
    })
    .ok()
    .flatten()
}

/// `arcway reload` against the running daemon: its exit status and what it printed.
fn reload(lab: &Lab, arcway: &Arcway, config: &str) -> (i32, String) {
    std::fs::write(arcway.config_path(), config).unwrap();
    let out = Command::new(arcway_lab::bin::bin_path("arcway").unwrap())
        .args(["reload", "--socket"])
        .arg(lab.arcway_socket())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn with(config: &str, extra: &str) -> String {
    format!("{config}{extra}")
}

#[test]
fn every_key_group_takes_effect_on_reload_or_is_named() {
    let lab = lab();
    let base = lab
        .arcway_config(&Health::FAST)
        .replace("logging: {level: debug, format: plain}\n", "");
    let first = with(
        &base,
        "metrics: {listen: \"127.0.0.1:19101\"}\nlogging: {level: info, format: plain}\n",
    );
    let arcway = start_steady(&lab, &first);
    assert!(scrape(&lab, "127.0.0.1:19101").is_some_and(|t| t.contains("arcway_")));

    // metrics.listen: the listener moves.
    let moved = with(
        &base,
        "metrics: {listen: \"127.0.0.1:19102\"}\nlogging: {level: info, format: plain}\n",
    );
    let (code, text) = reload(&lab, &arcway, &moved);
    assert_eq!(code, 0, "{text}");
    assert!(scrape(&lab, "127.0.0.1:19102").is_some_and(|t| t.contains("arcway_")));
    assert!(
        scrape(&lab, "127.0.0.1:19101").is_none(),
        "the old listener is still open"
    );

    // logging: debug lines appear after a reload to debug.
    let debug = with(
        &base,
        "metrics: {listen: \"127.0.0.1:19102\"}\nlogging: {level: debug, format: plain}\n",
    );
    let lines_before = arcway.log().matches("DEBUG").count();
    let (code, text) = reload(&lab, &arcway, &debug);
    assert_eq!(code, 0, "{text}");
    poll(Duration::from_secs(5), || {
        arcway.log().matches("DEBUG").count() > lines_before
    })
    .unwrap_or_else(|| panic!("no debug line after the reload:\n{}", arcway.log()));

    // budgets: a budget that did not exist shows in status.
    let budget = with(
        &debug,
        "budget: {cellular: {bytes: 5000000, period: monthly}, state_file: STATE}\n",
    )
    .replace(
        "STATE",
        &lab.state_dir()
            .join("accounting.json")
            .display()
            .to_string(),
    );
    let budget = budget.replace(
        &format!(
            "budget: {{state_file: {}}}\n",
            lab.state_dir().join("accounting.json").display()
        ),
        "",
    );
    let (code, text) = reload(&lab, &arcway, &budget);
    assert_eq!(code, 0, "{text}");
    poll(Duration::from_secs(15), || {
        arcway.status().is_ok_and(|s| {
            s["accounting"]["budgets"]
                .as_array()
                .is_some_and(|b| b.iter().any(|b| b["limit"] == 5_000_000))
        })
    })
    .unwrap_or_else(|| panic!("the new budget is not in status: {:?}", arcway.status()));

    // status.socket needs a restart: named in the log and as a problem, the old socket stays.
    let socket = budget.replace(
        &lab.arcway_socket().display().to_string(),
        &lab.state_dir().join("other.sock").display().to_string(),
    );
    let (code, text) = reload(&lab, &arcway, &socket);
    assert_eq!(code, 0, "{text}");
    let status = arcway.status().unwrap();
    let problems = status["problems"].to_string();
    assert!(
        problems.contains("config") && problems.contains("status.socket"),
        "{problems}"
    );
    assert!(arcway.log().contains("take effect at the next start"));

    // arc: a new tunnel that cannot start fails the reload.
    let broken = socket.replace(
        "  interface: arc0\n",
        "  interface: arc0\n  backend: userspace\n  userspace_command: [/nonexistent/wireguard-go]\n",
    );
    let (code, text) = reload(&lab, &arcway, &broken);
    eprintln!("reload with a tunnel that cannot start: exit {code}: {text}");
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("tunnel"), "{text}");
    let status = arcway.status().unwrap();
    assert!(
        status["config"]["reload_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("tunnel")),
        "{status}"
    );
    // Failover keeps working without Arc: platform traffic is on cellular.
    poll(Duration::from_secs(10), || {
        arcway.class_route("platform").as_deref() == Some("via cellular")
    })
    .unwrap_or_else(|| panic!("platform not on cellular: {:?}", arcway.status()));
}
