//! The metrics page, a pure function of the status snapshot, the accounting status and the
//! number of class switches. Families and samples come in a fixed order (paths and classes
//! as the snapshot lists them), so two scrapes of the same state are identical.

use super::text::Exposition;
use crate::accounting::AccountingStatus;
use crate::status::{Problem, Route, Snapshot};

/// Path states the engine knows; each path reports all of them, 1 for the current one.
const STATES: [&str; 5] = ["unknown", "up", "failing", "down", "recovering"];

/// Everything on the page.
pub struct MetricsInput<'a> {
    pub snapshot: &'a Snapshot,
    pub accounting: Option<&'a AccountingStatus>,
    /// Class switches since the daemon started (see `SwitchCounter`).
    pub switches_total: u64,
}

pub fn render(input: &MetricsInput<'_>) -> String {
    let s = input.snapshot;
    let mut x = Exposition::default();
    x.family("arcway_info", "gauge", "arcway's version (always 1).")
        .sample(&[("version", &s.arcway_version)], 1.0);
    let mut f = x.family(
        "arcway_path_state",
        "gauge",
        "Health state of each path: 1 for the current state, 0 for the others.",
    );
    for p in &s.paths {
        for state in STATES {
            f.sample(
                &[("path", &p.name), ("state", state)],
                f64::from(p.state == state),
            );
        }
        if !STATES.contains(&p.state.as_str()) {
            f.sample(&[("path", &p.name), ("state", &p.state)], 1.0);
        }
    }
    let mut f = x.family(
        "arcway_path_handshake_age_seconds",
        "gauge",
        "Age of the latest WireGuard handshake (tunnel paths that had one).",
    );
    for p in &s.paths {
        if let Some(ms) = p.handshake_age_ms {
            f.sample(&[("path", &p.name)], ms as f64 / 1000.0);
        }
    }
    let mut f = x.family(
        "arcway_probe_latency_seconds",
        "gauge",
        "Round trip of the latest successful probe per target.",
    );
    for p in &s.paths {
        for probe in &p.probes {
            if let Some(ms) = probe.last_latency_ms {
                f.sample(&[("path", &p.name), ("target", &probe.target)], ms / 1000.0);
            }
        }
    }
    let mut f = x.family(
        "arcway_probe_loss_ratio",
        "gauge",
        "Share of failed probes per target over the recent window (0 to 1).",
    );
    for p in &s.paths {
        for probe in &p.probes {
            if let Some(loss) = probe.loss_percent {
                f.sample(
                    &[("path", &p.name), ("target", &probe.target)],
                    loss / 100.0,
                );
            }
        }
    }
    wifi(&mut x, s);
    x.family(
        "arcway_switches_total",
        "counter",
        "Class route changes since the daemon started.",
    )
    .sample(&[], input.switches_total as f64);
    let mut f = x.family(
        "arcway_class_route",
        "gauge",
        "Where each class goes: route is via, held or unreachable (then path is empty).",
    );
    for c in &s.classes {
        let (route, path) = match &c.route {
            Route::Via(p) => ("via", p.as_str()),
            Route::HeldOn(p) => ("held", p.as_str()),
            Route::Unreachable => ("unreachable", ""),
        };
        f.sample(&[("class", &c.name), ("route", route), ("path", path)], 1.0);
    }
    let mut f = x.family(
        "arcway_problem",
        "gauge",
        "1 while arcway cannot set up an object (credentials, nftables, routing, tunnel) or \
         one of its owner tasks is dead or late (named after it); `arcway status` shows the error.",
    );
    for object in Problem::OBJECTS {
        let failing = s.problems.iter().any(|p| p.object == object);
        f.sample(&[("object", object)], f64::from(failing));
    }
    for p in &s.problems {
        if !Problem::OBJECTS.contains(&p.object.as_str()) {
            f.sample(&[("object", &p.object)], 1.0);
        }
    }
    if let Some(a) = input.accounting {
        accounting(&mut x, a);
    }
    x.finish()
}

fn accounting(x: &mut Exposition, a: &AccountingStatus) {
    let mut f = x.family(
        "arcway_class_bytes_total",
        "counter",
        "Bytes of each class per path and direction in the current budget period.",
    );
    for c in &a.classes {
        f.sample(
            &[("class", &c.class), ("path", &c.path), ("direction", "rx")],
            c.rx as f64,
        );
        f.sample(
            &[("class", &c.class), ("path", &c.path), ("direction", "tx")],
            c.tx as f64,
        );
    }
    let mut f = x.family(
        "arcway_line_bytes_total",
        "counter",
        "All bytes on each path's interface per direction in the current budget period.",
    );
    for l in &a.lines {
        f.sample(&[("path", &l.path), ("direction", "rx")], l.rx as f64);
        f.sample(&[("path", &l.path), ("direction", "tx")], l.tx as f64);
    }
    let budgets = [
        (
            "arcway_budget_limit_bytes",
            "Data budget per period (class empty: the line's).",
        ),
        (
            "arcway_budget_used_bytes",
            "Bytes used of the data budget this period.",
        ),
        (
            "arcway_budget_remaining_bytes",
            "Bytes left of the data budget this period.",
        ),
        (
            "arcway_budget_exhausted",
            "1 when the data budget is spent.",
        ),
    ];
    for (i, (name, help)) in budgets.into_iter().enumerate() {
        let mut f = x.family(name, "gauge", help);
        for b in &a.budgets {
            let value = match i {
                0 => b.limit as f64,
                1 => b.used as f64,
                2 => b.remaining as f64,
                _ => f64::from(b.exhausted),
            };
            let class = b.class.as_deref().unwrap_or("");
            f.sample(&[("path", &b.path), ("class", class)], value);
        }
    }
    let mut f = x.family(
        "arcway_probe_bytes_total",
        "counter",
        "Bytes the health probes sent (tx) and received (rx) per path.",
    );
    for p in &a.probes {
        f.sample(&[("path", &p.path), ("direction", "rx")], p.received as f64);
        f.sample(&[("path", &p.path), ("direction", "tx")], p.sent as f64);
    }
}

/// The 802.11 facts of Wi-Fi uplinks followed over nl80211.
fn wifi(x: &mut Exposition, s: &Snapshot) {
    type Get = fn(&crate::status::WifiStatus) -> Option<f64>;
    let families: [(&'static str, &str, Get); 5] = [
        (
            "arcway_wifi_signal_dbm",
            "Signal of the access point, dBm.",
            |w| w.signal_dbm.map(f64::from),
        ),
        (
            "arcway_wifi_frequency_mhz",
            "Frequency of the association, MHz.",
            |w| w.freq_mhz.map(f64::from),
        ),
        (
            "arcway_wifi_tx_bitrate_bps",
            "Transmit bitrate to the access point, bit/s.",
            |w| w.tx_bitrate_kbps.map(|k| f64::from(k) * 1000.0),
        ),
        (
            "arcway_wifi_rx_bitrate_bps",
            "Receive bitrate from the access point, bit/s.",
            |w| w.rx_bitrate_kbps.map(|k| f64::from(k) * 1000.0),
        ),
        (
            "arcway_wifi_degraded",
            "1 while the signal is weak and classes avoid the path.",
            |w| Some(f64::from(w.degraded)),
        ),
    ];
    for (name, help, get) in families {
        let mut f = x.family(name, "gauge", help);
        for p in &s.paths {
            if let Some(v) = p.wifi.as_ref().and_then(get) {
                f.sample(&[("path", &p.name)], v);
            }
        }
    }
}
