//! The checked configuration with every default applied: what the rest of arcway reads.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

pub use super::kinds::{
    Backend, HoldAction, LogFormat, LogLevel, Nl80211Mode, OnStop, Period, Protocol,
};
pub use super::values::{Mark, PortRange};
use crate::model::{PathId, Policy};

/// A checked arcway configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Present when the Arc path is configured.
    pub arc: Option<ArcConfig>,
    pub uplinks: Uplinks,
    /// Health checking of each configured path (and only those).
    pub health: BTreeMap<PathId, HealthConfig>,
    /// Traffic classes in match order; a default class (no match) is last if present.
    pub classes: Vec<ClassConfig>,
    pub budget: Budgets,
    pub status: StatusConfig,
    pub metrics: MetricsConfig,
    pub logging: LoggingConfig,
    pub routing: RoutingConfig,
    /// What check-config and the daemon report without refusing the file.
    pub warnings: Vec<super::error::Diagnostic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcConfig {
    pub credentials: PathBuf,
    pub interface: String,
    pub mtu: u16,
    /// WireGuard persistent keepalive; zero turns it off.
    pub keepalive: Duration,
    /// None: a random port.
    pub listen_port: Option<u16>,
    pub extra_allowed_ips: Vec<IpNet>,
    pub backend: Backend,
    /// The userspace WireGuard command; the interface name is appended.
    pub userspace_command: Vec<String>,
    /// Overrides the endpoint from the credentials.
    pub endpoint: Option<Endpoint>,
    pub handshake_timeout: Duration,
    pub on_stop: OnStop,
    /// How arcway gets credentials when the credentials file is missing; `None`: it does not.
    pub bootstrap: Option<BootstrapMethod>,
    /// Bootstrap again (with backoff, never creating a SIM) when the Arc server stops
    /// accepting the device's key.
    pub rebootstrap_on_auth_failure: bool,
    /// The SORACOM coverage the Arc SIM lives in (`arc.coverage`); `None` when not written,
    /// so the coverage stored with the credentials or the saved AuthKey applies (else Japan).
    pub coverage: Option<Coverage>,
}

/// A SORACOM coverage: each is its own API, and a SIM of one is unknown to the other.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Deserialize,
    clap::ValueEnum,
)]
pub enum Coverage {
    /// Japan coverage (api.soracom.io).
    #[default]
    #[serde(rename = "jp")]
    Jp,
    /// Global coverage (g.api.soracom.io).
    #[serde(rename = "global")]
    Global,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Jp => "jp",
            Coverage::Global => "global",
        }
    }

    /// `jp` or `global` (also soratun's and the console's `g`).
    pub fn parse(text: &str) -> Option<Coverage> {
        match text.trim().to_ascii_lowercase().as_str() {
            "jp" | "japan" => Some(Coverage::Jp),
            "global" | "g" => Some(Coverage::Global),
            _ => None,
        }
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where missing Arc credentials come from (`arc.bootstrap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
pub enum BootstrapMethod {
    /// SORACOM Krypton over the cellular (Air) path: no secret on the device.
    #[serde(rename = "krypton")]
    Krypton,
    /// The SORACOM API with an AuthKey (from the environment or the saved AuthKey file).
    #[serde(rename = "authkey")]
    AuthKey,
}

impl BootstrapMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            BootstrapMethod::Krypton => "krypton",
            BootstrapMethod::AuthKey => "authkey",
        }
    }
}

impl fmt::Display for BootstrapMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Arc server endpoint `arc.endpoint` overrides: the same value as the credentials' one.
pub use crate::credentials::Endpoint;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Uplinks {
    pub wifi: Option<WifiConfig>,
    pub cellular: Option<CellularConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiConfig {
    pub interface: String,
    /// Whether arcway follows the uplink over nl80211 (when it is an 802.11 device).
    pub nl80211: Nl80211Mode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellularConfig {
    /// The bearer interface to use when ModemManager does not name one.
    pub interface: Option<String>,
    pub modem: ModemSelector,
    /// Whether ModemManager is asked about the modem and its bearer (a `modem` selection or
    /// `manage: true`); otherwise the cellular path is the interface alone.
    pub modemmanager: bool,
    /// Whether arcway connects the bearer itself (otherwise it only watches it).
    pub manage: bool,
    pub apn: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub pin_file: Option<PathBuf>,
}

/// Which modem ModemManager should give us.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ModemSelector {
    /// The first modem found.
    #[default]
    First,
    EquipmentId(String),
    Iccid(String),
    Imsi(String),
    /// The sysfs device path.
    Device(String),
}

/// A string that never appears in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthConfig {
    pub probes: Vec<Probe>,
    pub interval: Duration,
    pub timeout: Duration,
    /// How many probes of a round must succeed for the round to count as good.
    pub quorum: u32,
    pub down_after: Duration,
    pub up_after: Duration,
    /// Arc only: a handshake older than this is failing evidence.
    pub handshake_max_age: Option<Duration>,
    /// Wi-Fi only: the hold that replaces `up_after` after a quick reassociation.
    pub reassoc_up_after: Option<Duration>,
    /// Wi-Fi only: move traffic off a weak signal before the link fails; `None`: off.
    pub signal: Option<SignalConfig>,
}

/// `health.wifi.signal`: the CQM RSSI threshold and how long the signal must stay below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalConfig {
    /// The threshold in dBm.
    pub below_dbm: i32,
    /// The signal must be above `below_dbm + hysteresis_db` to count as recovered.
    pub hysteresis_db: u32,
    /// How long the signal stays below the threshold before classes move (`for`).
    pub hold: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Icmp(IpAddr),
    Tcp(SocketAddr),
    /// An `http://` URL; any HTTP response counts as success.
    Http(String),
    Dns {
        server: IpAddr,
        name: String,
    },
}

impl Probe {
    /// The family of the address the probe goes to (`None`: an HTTP URL the prober would
    /// not parse, which the checks refuse).
    pub fn family(&self) -> Option<crate::model::Family> {
        let addr = match self {
            Probe::Icmp(a) => *a,
            Probe::Tcp(a) => a.ip(),
            Probe::Http(u) => u.parse::<crate::probe::HttpTarget>().ok()?.addr.ip(),
            Probe::Dns { server, .. } => *server,
        };
        Some(crate::model::Family::of(addr))
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Icmp(a) => write!(f, "icmp {a}"),
            Probe::Tcp(a) => write!(f, "tcp {a}"),
            Probe::Http(u) => write!(f, "http {u}"),
            Probe::Dns { server, name } => write!(f, "dns {name}@{server}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassConfig {
    pub name: String,
    /// None: the default class, matching everything the other classes did not.
    pub matcher: Option<Match>,
    /// Preferred paths, best first.
    pub paths: Vec<ClassPathConfig>,
}

/// Traffic selectors of a class. Within a list any entry matches; across lists all must.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Match {
    pub destinations: Vec<IpNet>,
    pub protocols: Vec<Protocol>,
    pub ports: Vec<PortRange>,
    pub dscp: Vec<u8>,
    pub sources: Vec<IpNet>,
    pub interfaces: Vec<String>,
    pub uids: Vec<u32>,
    pub cgroups: Vec<String>,
    pub fwmarks: Vec<Mark>,
}

impl Match {
    /// A class that selects by destination only is routed by `ip rule to`; anything else
    /// needs an nftables mark.
    pub fn destinations_only(&self) -> bool {
        let Match {
            destinations,
            protocols,
            ports,
            dscp,
            sources,
            interfaces,
            uids,
            cgroups,
            fwmarks,
        } = self;
        !destinations.is_empty()
            && protocols.is_empty()
            && ports.is_empty()
            && dscp.is_empty()
            && sources.is_empty()
            && interfaces.is_empty()
            && uids.is_empty()
            && cgroups.is_empty()
            && fwmarks.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassPathConfig {
    pub path: PathId,
    pub policy: Policy,
    /// Set exactly when the policy is hold or budget (held once the budget is spent).
    pub hold_action: Option<HoldAction>,
    /// A per-class budget in bytes (policy budget only); None uses `budget.<path>`.
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budgets {
    pub cellular: Option<BudgetConfig>,
    /// Where byte counts and budgets are kept across restarts.
    pub state_file: PathBuf,
}

/// The accounting state file when the configuration names none.
pub const DEFAULT_ACCOUNTING_STATE: &str = "/var/lib/arcway/accounting.json";

impl Default for Budgets {
    fn default() -> Self {
        Budgets {
            cellular: None,
            state_file: PathBuf::from(DEFAULT_ACCOUNTING_STATE),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetConfig {
    pub bytes: u64,
    pub period: Period,
    /// Day of the month the monthly period starts (1..=28).
    pub reset_day: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusConfig {
    pub socket: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    pub level: LogLevel,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingConfig {
    pub tables: Tables,
    pub rule_priority: RulePriorityRange,
    /// arcway's marks only use the bits of this (contiguous, non-zero) mask.
    pub fwmark_mask: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tables {
    pub arc: u32,
    pub wifi: u32,
    pub cellular: u32,
    /// The first class table; class `i` (0-based, in order) uses `classes_start + i`.
    pub classes_start: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RulePriorityRange {
    pub start: u32,
    pub end: u32,
}
