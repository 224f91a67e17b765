//! Wi-Fi monitor: one task following the Wi-Fi uplink over nl80211 (generic netlink) when it
//! is an 802.11 station. It reports losses the moment the kernel does (deauthentication,
//! disassociation, disconnection, CQM beacon and packet loss), signal readings (CQM RSSI
//! threshold crossings and station info), and the facts status shows (SSID, BSSID,
//! frequency, bitrates). It programs the CQM RSSI threshold when one is configured.
//!
//! An interface that is not an 802.11 device is left to the link monitor (carrier), and
//! the task keeps looking in case it becomes one (a driver loaded late).

mod decode;
mod observe;
mod owner;

use std::fmt;
use std::time::Duration;

use serde::Serialize;

pub use decode::{bss_ssid, decode, station_info};
pub use observe::WifiObserved;
pub use owner::{WifiHandle, spawn};

use crate::config::{Config, Nl80211Mode};
use crate::model::PathId;

/// The monitor's settings for `cfg`: `None` without a Wi-Fi uplink or with `nl80211: off`.
pub fn settings_for(cfg: &Config) -> Option<WifiSettings> {
    let w = cfg.uplinks.wifi.as_ref()?;
    if w.nl80211 == Nl80211Mode::Off {
        return None;
    }
    let signal = cfg.health.get(&PathId::Wifi).and_then(|h| h.signal);
    Some(WifiSettings {
        cqm: signal.map(|s| (s.below_dbm, s.hysteresis_db)),
        ..WifiSettings::new(w.interface.clone())
    })
}

/// Starts, updates or stops the monitor to match `want`. Returns the handle to keep and
/// whether a running monitor was stopped (what it said no longer holds).
pub fn reconcile(
    current: Option<WifiHandle>,
    want: Option<WifiSettings>,
    events: &tokio::sync::mpsc::Sender<WifiEvent>,
) -> (Option<WifiHandle>, bool) {
    match (current, want) {
        (Some(h), Some(s)) if h.is_alive() => {
            h.set(s);
            (Some(h), false)
        }
        (_, Some(s)) => (Some(spawn(s, events.clone())), false),
        (Some(h), None) => {
            h.stop();
            (None, true)
        }
        (None, None) => (None, false),
    }
}

/// What to follow and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiSettings {
    pub interface: String,
    /// CQM RSSI threshold (dBm) and hysteresis (dB) to program; `None`: none.
    pub cqm: Option<(i32, u32)>,
    /// How often station info (signal, bitrates) is read.
    pub poll: Duration,
}

impl WifiSettings {
    pub fn new(interface: impl Into<String>) -> Self {
        WifiSettings {
            interface: interface.into(),
            cqm: None,
            poll: Duration::from_secs(1),
        }
    }
}

/// What the monitor reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WifiEvent {
    /// Whether the interface is an 802.11 device followed over nl80211 (sent on change).
    Watching { wireless: bool },
    /// The station lost its access point.
    Lost(Loss),
    /// The station is associated (after a loss, or first seen so).
    Connected,
    /// A signal reading in dBm.
    Signal { dbm: i32 },
    /// The latest station info.
    Station(StationInfo),
}

/// How the station lost its access point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    Deauthenticated,
    Disassociated,
    Disconnected,
    /// CQM: beacons from the access point stopped.
    BeaconLoss,
    /// CQM: frames to the access point stopped being acknowledged.
    PacketLoss,
}

/// A loss as nl80211 reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loss {
    pub kind: LossKind,
    /// The IEEE 802.11 reason code, when the event carries one.
    pub reason: Option<u16>,
    /// Whether this station (its supplicant or kernel) ended the association, rather than
    /// the access point.
    pub locally_generated: bool,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = if self.locally_generated {
            "locally"
        } else {
            "by the access point"
        };
        match self.kind {
            LossKind::Deauthenticated => write!(f, "deauthenticated {by}")?,
            LossKind::Disassociated => write!(f, "disassociated {by}")?,
            LossKind::Disconnected => write!(f, "disconnected {by}")?,
            LossKind::BeaconLoss => f.write_str("beacon loss")?,
            LossKind::PacketLoss => f.write_str("packet loss")?,
        }
        match self.reason {
            Some(r) => write!(f, " (reason {r})"),
            None => Ok(()),
        }
    }
}

/// What nl80211 says about the station's association.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StationInfo {
    pub ssid: Option<String>,
    /// The access point's MAC address, `aa:bb:cc:dd:ee:ff`.
    pub bssid: Option<String>,
    pub freq_mhz: Option<u32>,
    pub signal_dbm: Option<i32>,
    pub tx_bitrate_kbps: Option<u32>,
    pub rx_bitrate_kbps: Option<u32>,
}

/// `aa:bb:cc:dd:ee:ff`.
pub fn mac_text(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, g] = mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
}
