//! Shared pieces of the Arc end-to-end tests: configurations, nftables counters in lab
//! namespaces, the Arc server's view of the peer, arcway's rules, and its WireGuard child.
#![allow(dead_code)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arcway_lab::{Arcway, Health, Lab, LabOptions, Role};

pub const PLATFORM: &str = "100.127.100.127";
pub const ARC_SERVER: &str = "203.0.113.10";

pub fn lab() -> Lab {
    lab_with(LabOptions::default())
}

pub fn lab_with(opts: LabOptions) -> Lab {
    Lab::build(opts).expect("lab builds")
}

/// The lab's standard configuration with extra lines in the `arc:` section.
pub fn config_with_arc(lab: &Lab, extra: &str) -> String {
    let base = lab.arcway_config(&Health::FAST);
    let anchor = "  handshake_timeout: 5s\n";
    assert!(base.contains(anchor), "lab config changed shape:\n{base}");
    base.replacen(anchor, &format!("{anchor}{extra}"), 1)
}

/// The lab's standard configuration with the `classes:` section replaced.
pub fn config_with_classes(lab: &Lab, classes: &str) -> String {
    let base = lab.arcway_config(&Health::FAST);
    let start = base.find("classes:\n").expect("classes section");
    let end = base.find("status:").expect("status section");
    format!("{}classes:\n{classes}{}", &base[..start], &base[end..])
}

/// Arc over Wi-Fi and nothing else: what soratun does, with arcway's routing around it.
pub fn arc_only_config(lab: &Lab) -> String {
    format!(
        "version: 1\n\
         arc:\n  credentials: {creds}\n  interface: arc0\n  handshake_timeout: 5s\n\
         uplinks:\n  wifi: {{interface: wlan0}}\n\
         health:\n  arc: {arc}\n  wifi: {wifi}\n\
         classes:\n\
         \x20 - name: platform\n    match: {{destinations: [100.127.0.0/16]}}\n    paths: [arc]\n\
         \x20 - name: default\n    paths: [wifi]\n\
         status: {{socket: {socket}}}\n\
         logging: {{level: debug, format: plain}}\n",
        creds = lab.credentials_path().display(),
        arc = Health::FAST.arc,
        wifi = Health::FAST.wifi,
        socket = lab.arcway_socket().display(),
    )
}

pub fn start(lab: &Lab, config: &str) -> Arcway {
    lab.start_arcway(config).expect("arcway starts")
}

/// Waits until the Arc path is up and the platform class uses it; returns how long it took.
pub fn wait_arc_up(arcway: &Arcway, timeout: Duration) -> Duration {
    arcway
        .wait_until(timeout, |a| {
            a.path_state("arc").as_deref() == Some("up")
                && a.class_route("platform").as_deref() == Some("via arc")
        })
        .unwrap_or_else(|| {
            panic!(
                "arc not up within {timeout:?}: status {:?}\n{}",
                arcway.status().ok(),
                tail(&arcway.log(), 60)
            )
        })
}

/// The last `n` lines of a log, for failure messages.
pub fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A field of one path in `arcway status --json`.
pub fn path_field(arcway: &Arcway, path: &str, field: &str) -> Option<serde_json::Value> {
    let s = arcway.status().ok()?;
    s["paths"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == path)
        .map(|p| p[field].clone())
}

/// Age of the tunnel's latest handshake as arcway reports it.
pub fn handshake_age(arcway: &Arcway) -> Option<Duration> {
    path_field(arcway, "arc", "handshake_age_ms")?
        .as_u64()
        .map(Duration::from_millis)
}

/// When the tunnel's latest handshake happened (unix ms), from one status snapshot: its
/// `taken_at` minus the age it reports. A snapshot may be up to half a second old, which this
/// cancels out, unlike comparing the age with a clock of our own.
pub fn handshake_unix_ms(arcway: &Arcway) -> Option<i64> {
    let s = arcway.status().ok()?;
    let taken = arcway::status::WallTime::parse_rfc3339(s["taken_at"].as_str()?)?;
    let age =
        s["paths"].as_array()?.iter().find(|p| p["name"] == "arc")?["handshake_age_ms"].as_i64()?;
    Some(taken.unix_ms() - age)
}

pub fn unix_ms() -> i64 {
    arcway::status::WallTime::now().unix_ms()
}

/// The userspace WireGuard process arcway supervises: a child of arcway named wireguard-go.
pub fn wg_child(arcway_pid: i32) -> Option<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let mut rest = stat[close + 2..].split(' ');
        let state = rest.next().unwrap_or("");
        let ppid: i32 = rest.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if comm == "wireguard-go" && ppid == arcway_pid && state != "Z" {
            found.push(pid);
        }
    }
    assert!(found.len() <= 1, "several wireguard-go children: {found:?}");
    found.first().copied()
}

pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rfind(')').is_some_and(|i| !s[i + 2..].starts_with('Z')))
}

/// The Arc server's latest handshake with our peer (seconds since the epoch; 0 = never).
pub fn server_handshake(lab: &Lab) -> u64 {
    let text = lab
        .arc_server()
        .wg(&["show", "wg0", "latest-handshakes"])
        .expect("wg show on the arc server");
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|n| n.parse().ok())
        .max()
        .unwrap_or(0)
}

/// The address the Arc server sees our peer's UDP coming from, if any.
pub fn server_peer_endpoint(lab: &Lab) -> Option<String> {
    let text = lab
        .arc_server()
        .wg(&["show", "wg0", "endpoints"])
        .expect("wg show on the arc server");
    text.lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .find(|e| *e != "(none)")
        .map(str::to_owned)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Named nftables counters in one namespace of the lab (table `inet awcount`).
pub struct Counters<'a> {
    lab: &'a Lab,
    role: Role,
}

impl<'a> Counters<'a> {
    /// Installs counters, each `(name, match)`, e.g. `("wifi", "iifname \"wifi0\" udp dport
    /// 11010")`, on prerouting and output so forwarded and local packets both count.
    pub fn install(lab: &'a Lab, role: Role, counters: &[(&str, &str)]) -> Counters<'a> {
        let mut script = String::from(
            "add table inet awcount\ndelete table inet awcount\ntable inet awcount {\n",
        );
        for (name, _) in counters {
            script.push_str(&format!("  counter {name} {{}}\n"));
        }
        script.push_str("  chain pre {\n    type filter hook prerouting priority -300;\n");
        for (name, rule) in counters {
            script.push_str(&format!("    {rule} counter name {name}\n"));
        }
        script.push_str("  }\n}\n");
        lab.nft(role, &script).expect("counters install");
        Counters { lab, role }
    }

    pub fn packets(&self, name: &str) -> u64 {
        let out = self
            .lab
            .exec_ok(
                self.role,
                &["nft", "list", "counter", "inet", "awcount", name],
            )
            .expect("nft list counter");
        out.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no packet count in {out}"))
    }
}

/// arcway's policy rules (priorities 7100-7199) of one family, as `ip rule` prints them.
pub fn arcway_rules(lab: &Lab, family: &str) -> Vec<String> {
    let text = lab
        .ip(Role::Gw, &[family, "rule", "show"])
        .expect("ip rule");
    let mut rules: Vec<String> = text
        .lines()
        .filter(|l| {
            l.split(':')
                .next()
                .and_then(|p| p.trim().parse::<u32>().ok())
                .is_some_and(|p| (7100..=7199).contains(&p))
        })
        .map(|l| l.trim().to_owned())
        .collect();
    rules.sort();
    rules
}

/// Routes in arcway's tables (7100-7199) of one family.
pub fn arcway_routes(lab: &Lab, family: &str) -> Vec<String> {
    let text = lab
        .ip(Role::Gw, &[family, "route", "show", "table", "all"])
        .expect("ip route");
    text.lines()
        .filter(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "table")
                .nth(1)
                .and_then(|t| t.parse::<u32>().ok())
                .is_some_and(|t| (7100..=7199).contains(&t))
        })
        .map(str::to_owned)
        .collect()
}

pub fn link_exists(lab: &Lab, ifname: &str) -> bool {
    lab.ip(Role::Gw, &["link", "show", "dev", ifname]).is_ok()
}

/// Log lines arcway wrote, and how many of them are above debug level.
pub fn log_lines(arcway: &Arcway) -> (usize, usize) {
    let log = arcway.log();
    let all = log.lines().count();
    let loud = log
        .lines()
        .filter(|l| !l.trim_start().starts_with("DEBUG"))
        .count();
    (all, loud)
}

/// Polls `check` every 50 ms for up to `timeout`; returns how long it took.
pub fn poll(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// `arcway status --json` against a socket, for an arcway not started through the lab.
pub fn status_at(socket: &std::path::Path) -> Option<serde_json::Value> {
    let bin = arcway_lab::bin_path("arcway").ok()?;
    let out = std::process::Command::new(bin)
        .args(["status", "--json", "--socket"])
        .arg(socket)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// The state of a path in a status document.
pub fn state_in(status: &serde_json::Value, path: &str) -> Option<String> {
    status["paths"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == path)?["state"]
        .as_str()
        .map(str::to_owned)
}

/// The interface index of a link in the gateway.
pub fn ifindex(lab: &Lab, ifname: &str) -> Option<u64> {
    let text = lab
        .ip(Role::Gw, &["-j", "link", "show", "dev", ifname])
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v[0]["ifindex"].as_u64()
}
