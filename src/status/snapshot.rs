//! What `arcway status` and `arcway events` show: plain data the daemon fills in.
//!
//! The types do not borrow the engine's vocabulary on purpose: a client built from another
//! release must still read them. Every struct takes `#[serde(default)]` and unknown fields are
//! ignored, so fields can be added (modem, budget, metrics) without breaking older clients.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::clock::WallTime;
pub use crate::accounting::AccountingStatus;

/// Version of the snapshot format; bumped only when a field changes meaning.
pub const FORMAT_VERSION: u32 = 1;

/// The daemon's state at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Snapshot {
    pub version: u32,
    pub arcway_version: String,
    pub pid: Option<u32>,
    pub started_at: Option<WallTime>,
    /// When the daemon built this snapshot; the reference for every "for 12s".
    pub taken_at: WallTime,
    pub config: ConfigStatus,
    pub paths: Vec<PathStatus>,
    pub classes: Vec<ClassStatus>,
    /// The event log, oldest first; the daemon bounds its length.
    pub events: Vec<Event>,
    /// Bytes per class and path and the data budgets; absent when accounting is off.
    pub accounting: Option<AccountingStatus>,
    /// The cellular modem as ModemManager reports it; `None` without a cellular uplink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modem: Option<crate::modem::ModemStatus>,
    /// What arcway could not set up (credentials, nftables, routing, tunnel), each with the
    /// error it got, for as long as it stays broken. Empty when all is well.
    pub problems: Vec<Problem>,
}

/// One thing arcway could not set up, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Problem {
    /// `credentials`, `nftables`, `routing` or `tunnel`.
    pub object: String,
    /// Since when it has been failing (the first failure of this run of failures).
    pub since: WallTime,
    /// The latest error, with the kernel's or the file's own message.
    pub error: String,
}

impl Problem {
    /// The objects a problem may name, in the order they are shown.
    pub const OBJECTS: [&'static str; 4] = ["credentials", "nftables", "routing", "tunnel"];
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            version: FORMAT_VERSION,
            arcway_version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: None,
            started_at: None,
            taken_at: WallTime::default(),
            config: ConfigStatus::default(),
            paths: Vec::new(),
            classes: Vec::new(),
            events: Vec::new(),
            accounting: None,
            modem: None,
            problems: Vec::new(),
        }
    }
}

/// The configuration in force and the outcome of the last reload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigStatus {
    pub path: String,
    pub loaded_at: Option<WallTime>,
    /// Set when the latest reload was refused; the previous configuration keeps running.
    pub reload_error: Option<ReloadError>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReloadError {
    pub at: WallTime,
    pub message: String,
}

/// When a state began and how long it had lasted when the snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Since {
    pub at: WallTime,
    pub for_ms: u64,
}

/// One path (`arc`, `wifi`, `cellular`) and the evidence behind its state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PathStatus {
    pub name: String,
    pub interface: Option<String>,
    /// The engine's word for the state: `up`, `down`, `recovering`, `failing`, `unknown`...
    /// When the families differ, the better one's (see `families`).
    pub state: String,
    /// Each family's state, present only when they differ (each family is judged on its
    /// own probes, and a family without a default route is not judged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub families: Option<FamilyStates>,
    pub since: Option<Since>,
    /// Link carrier (or bearer connected, for cellular); `None` when not known.
    pub carrier: Option<bool>,
    /// Interface addresses with prefix length, e.g. `192.0.2.10/24`.
    pub addresses: Vec<String>,
    /// Age of the latest WireGuard handshake (Arc only); `None` when there was none.
    pub handshake_age_ms: Option<u64>,
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub probes: Vec<ProbeStatus>,
    /// What nl80211 says about a Wi-Fi uplink that is an 802.11 station; `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wifi: Option<WifiStatus>,
}

/// The 802.11 facts of a Wi-Fi uplink.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WifiStatus {
    pub ssid: Option<String>,
    pub bssid: Option<String>,
    pub freq_mhz: Option<u32>,
    pub signal_dbm: Option<i32>,
    pub tx_bitrate_kbps: Option<u32>,
    pub rx_bitrate_kbps: Option<u32>,
    pub last_disconnect: Option<WifiDisconnect>,
    /// The signal is weak (below the configured threshold for long enough): classes with
    /// another way out avoid the path.
    pub degraded: bool,
}

/// The latest loss of the access point.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WifiDisconnect {
    /// What happened, e.g. `deauthenticated by the access point (reason 3)`.
    pub reason: String,
    /// The IEEE 802.11 reason code, when there was one.
    pub reason_code: Option<u16>,
    pub locally_generated: bool,
    pub at: WallTime,
}

/// A path's state per address family.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyStates {
    pub ipv4: String,
    pub ipv6: String,
}

impl PathStatus {
    /// `up`, or `IPv4 down, IPv6 up` when the families differ.
    pub fn state_text(&self) -> String {
        match &self.families {
            Some(f) if f.ipv4 != f.ipv6 => format!("IPv4 {}, IPv6 {}", f.ipv4, f.ipv6),
            _ => self.state.clone(),
        }
    }
}

/// One probe target of a path.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProbeStatus {
    /// What is probed, e.g. `icmp 100.127.100.127` or `tcp 203.0.113.100:443`.
    pub target: String,
    /// Round trip of the latest probe; `None` when it failed or none ran yet.
    pub last_latency_ms: Option<f64>,
    /// Share of failed probes in the window, 0 to 100; `None` before the first probe.
    pub loss_percent: Option<f64>,
    /// Number of probes the loss is computed over so far (at most the window's size).
    pub window: u32,
    /// Why the latest probe failed, if it did.
    pub last_error: Option<String>,
}

/// One traffic class and where it goes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClassStatus {
    pub name: String,
    /// The IPv4 route, and the IPv6 one too unless `route_ipv6` says otherwise.
    pub route: Route,
    /// The IPv6 route when it differs from the IPv4 one: each family takes the first
    /// path that is usable in it and has a default route in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_ipv6: Option<Route>,
    pub since: Option<Since>,
}

impl ClassStatus {
    /// `via wifi`, or `IPv4 via cellular, IPv6 via wifi` when the families differ.
    pub fn route_text(&self) -> String {
        match &self.route_ipv6 {
            Some(v6) if *v6 != self.route => format!("IPv4 {}, IPv6 {v6}", self.route),
            _ => self.route.to_string(),
        }
    }
}

/// Where a class's traffic goes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum Route {
    /// Sent over this path.
    Via(String),
    /// Refused while only this path is left (hold policy or spent budget).
    HeldOn(String),
    /// No path is usable.
    #[default]
    Unreachable,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Route::Via(p) => write!(f, "via {p}"),
            Route::HeldOn(p) => write!(f, "held on {p}"),
            Route::Unreachable => f.write_str("unreachable"),
        }
    }
}

/// A change of state (path up/down, class switched) with the evidence that caused it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    pub at: WallTime,
    /// What changed: `path wifi`, `class platform`, `config`.
    pub subject: String,
    pub from: String,
    pub to: String,
    /// Facts behind the change, e.g. `carrier lost on wlan0`, `3/3 probes failed for 3.0s`.
    pub evidence: Vec<String>,
}

/// The reply to `events`: the whole event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EventLog {
    pub version: u32,
    pub taken_at: WallTime,
    pub events: Vec<Event>,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            version: FORMAT_VERSION,
            taken_at: WallTime::default(),
            events: Vec::new(),
        }
    }
}

impl From<&Snapshot> for EventLog {
    fn from(s: &Snapshot) -> Self {
        EventLog {
            version: s.version,
            taken_at: s.taken_at,
            events: s.events.clone(),
        }
    }
}
