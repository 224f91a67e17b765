//! ModemManager's enumerations (ModemManager-enums.h) in arcway's words.

use std::fmt;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// `MMModemState`, the modem's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModemState {
    Failed,
    Unknown,
    Initializing,
    Locked,
    Disabled,
    Disabling,
    Enabling,
    Enabled,
    Searching,
    Registered,
    Disconnecting,
    Connecting,
    Connected,
}

const STATES: [(i32, ModemState, &str); 13] = [
    (-1, ModemState::Failed, "failed"),
    (0, ModemState::Unknown, "unknown"),
    (1, ModemState::Initializing, "initializing"),
    (2, ModemState::Locked, "locked"),
    (3, ModemState::Disabled, "disabled"),
    (4, ModemState::Disabling, "disabling"),
    (5, ModemState::Enabling, "enabling"),
    (6, ModemState::Enabled, "enabled"),
    (7, ModemState::Searching, "searching"),
    (8, ModemState::Registered, "registered"),
    (9, ModemState::Disconnecting, "disconnecting"),
    (10, ModemState::Connecting, "connecting"),
    (11, ModemState::Connected, "connected"),
];

impl ModemState {
    /// Values outside the enumeration (a newer ModemManager) read as `Unknown`.
    pub fn from_raw(raw: i32) -> ModemState {
        STATES
            .iter()
            .find(|(r, _, _)| *r == raw)
            .map_or(ModemState::Unknown, |(_, s, _)| *s)
    }

    pub fn raw(self) -> i32 {
        STATES
            .iter()
            .find(|(_, s, _)| *s == self)
            .map_or(0, |(r, _, _)| *r)
    }

    pub fn as_str(self) -> &'static str {
        STATES
            .iter()
            .find(|(_, s, _)| *s == self)
            .map_or("unknown", |(_, _, n)| n)
    }

    pub fn parse(name: &str) -> Option<ModemState> {
        STATES
            .iter()
            .find(|(_, _, n)| *n == name)
            .map(|(_, s, _)| *s)
    }

    /// Enabled and able to attempt a data connection.
    pub fn can_connect(self) -> bool {
        matches!(
            self,
            ModemState::Enabled | ModemState::Searching | ModemState::Registered
        )
    }
}

impl fmt::Display for ModemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `MMModem3gppRegistrationState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registration(pub u32);

const REGISTRATIONS: [&str; 12] = [
    "idle",
    "home",
    "searching",
    "denied",
    "unknown",
    "roaming",
    "home-sms-only",
    "roaming-sms-only",
    "emergency-only",
    "home-csfb-not-preferred",
    "roaming-csfb-not-preferred",
    "attached-rlos",
];

impl Registration {
    pub const HOME: Registration = Registration(1);
    pub const ROAMING: Registration = Registration(5);

    pub fn as_str(self) -> &'static str {
        REGISTRATIONS
            .get(self.0 as usize)
            .copied()
            .unwrap_or("unknown")
    }

    /// Registered with a network that carries data (home or roaming, CSFB variants included).
    pub fn is_registered(self) -> bool {
        matches!(self.0, 1 | 5 | 9 | 10)
    }
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `MMModemAccessTechnology`: a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccessTech(pub u32);

const TECHS: [&str; 18] = [
    "pots",
    "gsm",
    "gsm-compact",
    "gprs",
    "edge",
    "umts",
    "hsdpa",
    "hsupa",
    "hspa",
    "hspa-plus",
    "1xrtt",
    "evdo0",
    "evdoa",
    "evdob",
    "lte",
    "5gnr",
    "lte-cat-m",
    "lte-nb-iot",
];

impl AccessTech {
    /// Names of the bits set, lowest first; unknown bits are shown as hex.
    pub fn names(self) -> Vec<String> {
        if self.0 == u32::MAX {
            return vec!["any".to_owned()];
        }
        (0..32)
            .filter(|bit| self.0 & (1 << bit) != 0)
            .map(|bit| {
                TECHS
                    .get(bit)
                    .map_or_else(|| format!("0x{:x}", 1u32 << bit), |n| (*n).to_owned())
            })
            .collect()
    }
}

impl fmt::Display for AccessTech {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("unknown")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// `MMBearerIpMethod`: how the bearer interface gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpMethod {
    Unknown,
    /// A serial port that needs pppd; arcway does not run PPP.
    Ppp,
    /// The modem handed out address, prefix and gateway; arcway sets them in manage mode.
    Static,
    /// An ethernet-like interface that needs a DHCP client.
    Dhcp,
}

impl IpMethod {
    pub fn from_raw(raw: u32) -> IpMethod {
        match raw {
            1 => IpMethod::Ppp,
            2 => IpMethod::Static,
            3 => IpMethod::Dhcp,
            _ => IpMethod::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IpMethod::Unknown => "unknown",
            IpMethod::Ppp => "ppp",
            IpMethod::Static => "static",
            IpMethod::Dhcp => "dhcp",
        }
    }
}

/// The bearer's `Ip4Config`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ip4Config {
    pub method: IpMethod,
    pub address: Option<Ipv4Addr>,
    pub prefix: Option<u8>,
    pub gateway: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub mtu: Option<u32>,
}

/// The network the modem is registered with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operator {
    /// MCC-MNC, e.g. `44010`.
    pub code: String,
    pub name: String,
}

/// `MMModemLock`: the SIM asks for its PIN.
pub const LOCK_SIM_PIN: u32 = 2;
