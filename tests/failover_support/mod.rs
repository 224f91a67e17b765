//! Shared pieces of the failover tests: a lab with arcway in steady state, ping streams that
//! count what they lose, the event log as values, and the gateway's routing as text.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arcway_lab::{Arcway, ChildGuard, Health, Lab, LabOptions, Role};
use serde_json::Value;

pub const PLATFORM: &str = "100.127.100.127";
pub const INTERNET: &str = "203.0.113.100";
/// arcway's tables in the lab's configuration: arc, wifi, cellular, then one per class.
pub const TABLES: [u32; 5] = [7101, 7102, 7103, 7110, 7111];

pub fn lab() -> Lab {
    Lab::build(LabOptions::default()).expect("lab builds")
}

/// The lab's configuration with `extra` lines added to the `arc:` section.
pub fn config_with_arc(lab: &Lab, health: &Health, extra: &str) -> String {
    let cfg = lab.arcway_config(health);
    let anchor = "  handshake_timeout: 5s\n";
    assert!(
        cfg.contains(anchor),
        "the lab's configuration changed:\n{cfg}"
    );
    cfg.replace(anchor, &format!("{anchor}{extra}"))
}

/// True when Arc and Wi-Fi are up and both classes use them.
pub fn steady(a: &Arcway) -> bool {
    a.path_state("arc").as_deref() == Some("up")
        && a.path_state("wifi").as_deref() == Some("up")
        && a.class_route("platform").as_deref() == Some("via arc")
        && a.class_route("default").as_deref() == Some("via wifi")
}

/// Starts arcway and waits for the steady state (Arc and Wi-Fi carry their classes).
pub fn start_steady(lab: &Lab, config: &str) -> Arcway {
    let arcway = lab.start_arcway(config).expect("arcway starts");
    wait_steady(&arcway, "first start");
    arcway
}

pub fn wait_steady(arcway: &Arcway, what: &str) -> Duration {
    match arcway.wait_until(Duration::from_secs(15), steady) {
        Some(took) => took,
        None => panic!(
            "{what}: no steady state; status {:?}\n{}",
            arcway.status().ok(),
            arcway.log()
        ),
    }
}

/// Milliseconds as a duration, for figures.
pub fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// A duration setting of the lab's `Health` flow maps, e.g. `up_after` of `Health::FAST.wifi`.
pub fn setting(flow: &str, key: &str) -> Duration {
    let start = flow
        .find(&format!("{key}: "))
        .unwrap_or_else(|| panic!("no {key} in {flow}"))
        + key.len()
        + 2;
    let value: String = flow[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    parse_duration(&value).unwrap_or_else(|| panic!("bad duration {value}"))
}

/// "250ms", "1s", "2.0s", "1m".
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (num, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// A `ping` running in a namespace every `interval`; stop it to learn what it lost.
pub struct PingStream {
    guard: ChildGuard,
    interval: Duration,
    what: String,
}

/// What a ping stream saw.
#[derive(Debug, Clone)]
pub struct PingFigures {
    pub sent: u32,
    pub received: u32,
    /// Requests without a reply (the last one, possibly in flight at the stop, excepted).
    pub lost: u32,
    /// The longest run of consecutive losses.
    pub longest_gap: u32,
    pub interval: Duration,
}

impl PingFigures {
    /// The longest outage the stream saw, at its resolution.
    pub fn outage(&self) -> Duration {
        self.interval * self.longest_gap
    }
}

impl std::fmt::Display for PingFigures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {} received {} lost {} (longest gap {} = {} ms at {} ms interval)",
            self.sent,
            self.received,
            self.lost,
            self.longest_gap,
            ms(self.outage()),
            ms(self.interval)
        )
    }
}

impl PingStream {
    pub fn start(lab: &Lab, role: Role, dst: &str, interval: Duration) -> PingStream {
        let int = format!("{:.3}", interval.as_secs_f64());
        let cmd = lab.command(role, &["ping", "-n", "-O", "-i", &int, "-W", "1", dst]);
        let guard = lab.spawn_command("ping", cmd).expect("ping starts");
        PingStream {
            guard,
            interval,
            what: format!("{role} -> {dst}"),
        }
    }

    /// Ends the stream (SIGINT, so ping prints its summary) and counts.
    pub fn stop(mut self) -> PingFigures {
        // SAFETY: kill(2) on the PID of a child this guard owns and has not reaped.
        unsafe {
            libc::kill(self.guard.pid(), libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.guard.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let log = self.guard.log();
        let figures = count(&log, self.interval)
            .unwrap_or_else(|| panic!("ping {} gave no summary:\n{log}", self.what));
        eprintln!("ping {}: {figures}", self.what);
        figures
    }
}

fn count(log: &str, interval: Duration) -> Option<PingFigures> {
    let sent: u32 = log
        .lines()
        .find_map(|l| l.split_once(" packets transmitted"))
        .and_then(|(n, _)| n.trim().parse().ok())?;
    let replies: BTreeSet<u32> = log
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| l.split("icmp_seq=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|n| n.parse().ok())
        .collect();
    let mut lost = 0;
    let mut gap = 0;
    let mut longest_gap = 0;
    for seq in 1..sent {
        if replies.contains(&seq) {
            gap = 0;
        } else {
            lost += 1;
            gap += 1;
            longest_gap = longest_gap.max(gap);
        }
    }
    Some(PingFigures {
        sent,
        received: replies.len() as u32,
        lost,
        longest_gap,
        interval,
    })
}

/// One entry of `arcway events --json`.
#[derive(Debug, Clone)]
pub struct Ev {
    /// Wall time in milliseconds since the epoch.
    pub at_ms: i64,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub evidence: String,
}

impl std::fmt::Display for Ev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} -> {} ({})",
            self.at_ms, self.subject, self.from, self.to, self.evidence
        )
    }
}

pub fn events(arcway: &Arcway) -> Vec<Ev> {
    let v = arcway.events().expect("arcway events --json");
    v["events"]
        .as_array()
        .expect("an events array")
        .iter()
        .map(|e| Ev {
            at_ms: wall_ms(e["at"].as_str().unwrap_or_default())
                .unwrap_or_else(|| panic!("bad time in {e}")),
            subject: e["subject"].as_str().unwrap_or_default().to_owned(),
            from: e["from"].as_str().unwrap_or_default().to_owned(),
            to: e["to"].as_str().unwrap_or_default().to_owned(),
            evidence: e["evidence"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default(),
        })
        .collect()
}

pub fn print_events(what: &str, events: &[Ev]) {
    eprintln!("{what}:");
    for e in events {
        eprintln!("  {e}");
    }
}

/// Milliseconds since the epoch of "2026-11-28T17:09:18.974Z".
pub fn wall_ms(text: &str) -> Option<i64> {
    let (date, time) = text.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let millis: i64 = format!("{frac:0<3}")[..3].parse().ok()?;
    // Days from the civil date (proleptic Gregorian), after Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + millis)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Class moves in `events`: entries whose subject is "class NAME".
pub fn class_moves<'a>(events: &'a [Ev], class: &str) -> Vec<&'a Ev> {
    let subject = format!("class {class}");
    events.iter().filter(|e| e.subject == subject).collect()
}

/// `ip rule` (both families) and every arcway table, as the gateway has them now.
pub fn routing_text(lab: &Lab) -> String {
    let mut text = String::new();
    for family in ["-4", "-6"] {
        for line in lab
            .ip(Role::Gw, &[family, "rule"])
            .expect("ip rule")
            .lines()
        {
            text.push_str(&format!("{family} rule {line}\n"));
        }
        for table in TABLES {
            let t = table.to_string();
            let routes = lab
                .ip(Role::Gw, &[family, "route", "show", "table", &t])
                .unwrap_or_default();
            for line in routes.lines() {
                text.push_str(&format!("{family} table {t}: {line}\n"));
            }
        }
    }
    text
}

/// Lines that appear more than once (arcway must never double a rule or a route).
pub fn duplicates(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !seen.insert(l.to_string()))
        .map(str::to_owned)
        .collect()
}

/// Polls `check` every 10 ms for up to `timeout`; returns how long it took to hold.
pub fn poll(timeout: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if check() {
            return Some(start.elapsed());
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
