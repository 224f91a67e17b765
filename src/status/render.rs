//! Human views of a snapshot and of the event log. Pure: the snapshot's `taken_at` is "now".

use super::clock::WallTime;
use super::format::{bytes, clean, duration, duration_ms, latency, percent, table};
use super::{AccountingStatus, Event, EventLog, PathStatus, Since, Snapshot};
use crate::modem::ModemStatus;

/// Switches shown at the bottom of `arcway status`; `arcway events` shows them all.
pub const LATEST_SWITCHES: usize = 5;

/// `arcway status`: header, paths, probes, classes and the latest switches.
pub fn render_status(s: &Snapshot) -> String {
    let mut out = header(s);
    out.push('\n');
    if s.paths.is_empty() {
        out.push_str("no paths configured\n");
    } else {
        out.push_str(&paths(s));
        for p in &s.paths {
            if let Some(w) = &p.wifi {
                out.push_str(&wifi_line(&p.name, w, s.taken_at));
            }
        }
        let probes = probes(s);
        if !probes.is_empty() {
            out.push('\n');
            out.push_str(&probes);
        }
    }
    if let Some(m) = &s.modem {
        out.push('\n');
        out.push_str(&modem(m));
    }
    if !s.classes.is_empty() {
        out.push('\n');
        let mut rows = vec![cells(["CLASS", "ROUTE", "SINCE"])];
        for c in &s.classes {
            rows.push(vec![
                clean(&c.name),
                clean(&c.route_text()),
                since(c.since, s.taken_at),
            ]);
        }
        out.push_str(&table(&rows));
    }
    if let Some(a) = &s.accounting {
        out.push('\n');
        out.push_str(&accounting(a));
    }
    out.push_str("\nLATEST SWITCHES\n");
    let skip = s.events.len().saturating_sub(LATEST_SWITCHES);
    let latest = &s.events[skip..];
    if latest.is_empty() {
        out.push_str("none yet\n");
    } else {
        let rows: Vec<_> = latest
            .iter()
            .map(|e| event_row(e, e.at.human_near(s.taken_at)))
            .collect();
        out.push_str(&table(&rows));
    }
    out
}

/// `arcway events`: every event in the log with its evidence, oldest first.
pub fn render_events(log: &EventLog) -> String {
    if log.events.is_empty() {
        return "no events yet\n".to_owned();
    }
    let mut rows = vec![cells(["TIME", "SUBJECT", "CHANGE", "EVIDENCE"])];
    rows.extend(log.events.iter().map(|e| event_row(e, e.at.rfc3339())));
    table(&rows)
}

fn header(s: &Snapshot) -> String {
    let mut out = format!("arcway {}", clean(&s.arcway_version));
    if let Some(pid) = s.pid {
        out += &format!(" (pid {pid})");
    }
    if let Some(started) = s.started_at {
        out += &format!(
            ", up {} since {}",
            duration(s.taken_at.since(started)),
            started.human()
        );
    }
    out += &format!(
        "\nconfig {}",
        if s.config.path.is_empty() {
            "-"
        } else {
            &s.config.path
        }
    );
    if let Some(loaded) = s.config.loaded_at {
        out += &format!(", loaded {}", loaded.human());
    }
    out.push('\n');
    if let Some(e) = &s.config.reload_error {
        out += &format!(
            "reload FAILED {}: {} (the previous config keeps running)\n",
            e.at.human(),
            clean(&e.message)
        );
    }
    for p in &s.problems {
        out += &format!(
            "PROBLEM {} since {}: {}\n",
            clean(&p.object),
            p.since.human_near(s.taken_at),
            clean(&p.error)
        );
    }
    out
}

/// The one line the service manager shows (sd_notify `STATUS=`, `systemctl status`): the
/// problems first, then where each class goes, each path's state and a refused reload.
pub fn status_line(s: &Snapshot) -> String {
    let classes: Vec<String> = s
        .classes
        .iter()
        .map(|c| format!("{} {}", clean(&c.name), clean(&c.route_text())))
        .collect();
    let mut parts = Vec::new();
    if !classes.is_empty() {
        parts.push(classes.join(", "));
    }
    if !s.paths.is_empty() {
        let paths: Vec<String> = s
            .paths
            .iter()
            .map(|p| format!("{} {}", clean(&p.name), clean(&p.state_text())))
            .collect();
        parts.push(format!("paths: {}", paths.join(", ")));
    }
    if s.config.reload_error.is_some() {
        parts.push("last reload refused".to_owned());
    }
    let head = if s.problems.is_empty() {
        "running".to_owned()
    } else {
        let problems: Vec<String> = s
            .problems
            .iter()
            .map(|p| format!("{}: {}", clean(&p.object), clean(&p.error)))
            .collect();
        format!("degraded: {}", problems.join("; "))
    };
    if parts.is_empty() {
        head
    } else if s.problems.is_empty() {
        format!("{head}: {}", parts.join("; "))
    } else {
        format!("{head}; {}", parts.join("; "))
    }
}

fn paths(s: &Snapshot) -> String {
    let mut rows = vec![cells([
        "PATH",
        "INTERFACE",
        "STATE",
        "SINCE",
        "CARRIER",
        "HANDSHAKE",
        "RX",
        "TX",
        "ADDRESSES",
    ])];
    for p in &s.paths {
        rows.push(path_row(p, s.taken_at));
    }
    table(&rows)
}

fn path_row(p: &PathStatus, now: WallTime) -> Vec<String> {
    let carrier = match p.carrier {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let addresses = if p.addresses.is_empty() {
        "-".to_owned()
    } else {
        clean(&p.addresses.join(", "))
    };
    vec![
        clean(&p.name),
        p.interface.as_deref().map_or_else(|| "-".to_owned(), clean),
        clean(&p.state_text()),
        since(p.since, now),
        carrier.to_owned(),
        p.handshake_age_ms
            .map_or_else(|| "-".to_owned(), |ms| duration_ms(ms) + " ago"),
        p.rx_bytes.map_or_else(|| "-".to_owned(), bytes),
        p.tx_bytes.map_or_else(|| "-".to_owned(), bytes),
        addresses,
    ]
}

/// "wifi: ssid lab, bssid 02:00:00:00:00:01, 2412 MHz, -30 dBm, tx 54.0 Mbit/s, rx 1.0
/// Mbit/s; last lost 12s ago: deauthenticated by the access point (reason 3)".
fn wifi_line(path: &str, w: &crate::status::WifiStatus, now: WallTime) -> String {
    let mut parts = Vec::new();
    match &w.ssid {
        Some(ssid) => parts.push(format!("ssid {}", clean(ssid))),
        None => parts.push("not associated".to_owned()),
    }
    if let Some(b) = &w.bssid {
        parts.push(format!("bssid {}", clean(b)));
    }
    if let Some(f) = w.freq_mhz {
        parts.push(format!("{f} MHz"));
    }
    if let Some(d) = w.signal_dbm {
        parts.push(format!("{d} dBm"));
    }
    let mbit = |kbps: u32| format!("{:.1} Mbit/s", f64::from(kbps) / 1000.0);
    if let Some(r) = w.tx_bitrate_kbps {
        parts.push(format!("tx {}", mbit(r)));
    }
    if let Some(r) = w.rx_bitrate_kbps {
        parts.push(format!("rx {}", mbit(r)));
    }
    if w.degraded {
        parts.push("DEGRADED (weak signal)".to_owned());
    }
    let mut line = format!("{}: {}", clean(path), parts.join(", "));
    if let Some(d) = &w.last_disconnect {
        let at = d.at.human_near(now);
        line.push_str(&format!("; last lost {at}: {}", clean(&d.reason)));
    }
    line.push('\n');
    line
}

fn probes(s: &Snapshot) -> String {
    let mut rows = vec![cells(["PROBE", "TARGET", "LAST", "LOSS", "ERROR"])];
    for p in &s.paths {
        for probe in &p.probes {
            let last = match (probe.last_latency_ms, probe.loss_percent) {
                (Some(ms), _) => latency(ms),
                (None, Some(_)) => "failed".to_owned(),
                (None, None) => "-".to_owned(),
            };
            let loss = probe.loss_percent.map_or_else(
                || "-".to_owned(),
                |l| format!("{} of {}", percent(l), probe.window),
            );
            let error = probe.last_error.as_deref().map(clean).unwrap_or_default();
            rows.push(vec![
                clean(&p.name),
                clean(&probe.target),
                last,
                loss,
                error,
            ]);
        }
    }
    if rows.len() == 1 {
        String::new()
    } else {
        table(&rows)
    }
}

/// The modem table: one row, or a line saying ModemManager is not answering.
fn modem(m: &ModemStatus) -> String {
    let dash = |v: Option<String>| v.map_or_else(|| "-".to_owned(), |v| clean(&v));
    if !m.service {
        return format!(
            "modem ({}): ModemManager is not answering\n",
            clean(&m.mode)
        );
    }
    let Some(path) = &m.path else {
        return format!(
            "modem ({}): no modem matches the selection\n",
            clean(&m.mode)
        );
    };
    let name = [m.manufacturer.as_deref(), m.model.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() { path.clone() } else { name };
    let operator = match (&m.operator_name, &m.operator_code) {
        (Some(n), Some(c)) => Some(format!("{n} ({c})")),
        (n, c) => n.clone().or_else(|| c.clone()),
    };
    let bearer = format!(
        "{} {}",
        m.bearer_interface.as_deref().unwrap_or("-"),
        if m.bearer_connected { "up" } else { "down" }
    );
    let tech = (!m.access_technologies.is_empty()).then(|| m.access_technologies.join(","));
    let mut rows = vec![cells([
        "MODEM", "MODE", "STATE", "SIGNAL", "TECH", "OPERATOR", "REG", "BEARER", "ADDRESS", "RX",
        "TX",
    ])];
    rows.push(vec![
        clean(&name),
        clean(&m.mode),
        dash(m.state.clone()),
        m.signal_percent
            .map_or_else(|| "-".to_owned(), |p| percent(f64::from(p))),
        dash(tech),
        dash(operator),
        dash(m.registration.clone()),
        clean(&bearer),
        dash(m.address.clone()),
        m.rx_bytes.map_or_else(|| "-".to_owned(), bytes),
        m.tx_bytes.map_or_else(|| "-".to_owned(), bytes),
    ]);
    let mut out = table(&rows);
    if let Some(e) = &m.last_error {
        out += &format!("modem error: {}\n", clean(e));
    }
    out
}

/// Period, budgets, then bytes per path and per class.
fn accounting(a: &AccountingStatus) -> String {
    let mut out = format!(
        "accounting period {} to {}\n",
        clean(&a.period_start),
        clean(&a.period_end)
    );
    if !a.budgets.is_empty() {
        let mut rows = vec![cells(["BUDGET", "USED", "LIMIT", "LEFT", "STATE"])];
        for b in &a.budgets {
            let name = match &b.class {
                Some(c) => format!("{} {}", clean(&b.path), clean(c)),
                None => format!("{} line", clean(&b.path)),
            };
            let state = if b.exhausted { "SPENT" } else { "ok" };
            rows.push(vec![
                name,
                bytes(b.used),
                bytes(b.limit),
                bytes(b.remaining),
                state.to_owned(),
            ]);
        }
        out.push_str(&table(&rows));
    }
    let mut rows = vec![cells(["TRAFFIC", "PATH", "RX", "TX"])];
    for l in &a.lines {
        rows.push(vec![
            "(line)".to_owned(),
            clean(&l.path),
            bytes(l.rx),
            bytes(l.tx),
        ]);
    }
    for c in &a.classes {
        rows.push(vec![
            clean(&c.class),
            clean(&c.path),
            bytes(c.rx),
            bytes(c.tx),
        ]);
    }
    if rows.len() > 1 {
        out.push_str(&table(&rows));
    }
    out
}

fn since(since: Option<Since>, now: WallTime) -> String {
    since.map_or_else(
        || "-".to_owned(),
        |s| format!("{} for {}", s.at.human_near(now), duration_ms(s.for_ms)),
    )
}

fn event_row(e: &Event, time: String) -> Vec<String> {
    let evidence = if e.evidence.is_empty() {
        "-".to_owned()
    } else {
        e.evidence.join("; ")
    };
    vec![
        time,
        clean(&e.subject),
        format!("{} -> {}", clean(&e.from), clean(&e.to)),
        clean(&evidence),
    ]
}

fn cells<const N: usize>(words: [&str; N]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}
