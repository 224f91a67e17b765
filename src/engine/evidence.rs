//! Why a path or class changed: the structured evidence kept in the log, and its text.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::select::Skip;
use super::time::{human, opt_secs, secs};
use crate::model::{Family, PathId};

/// The evidence behind one change. `Display` gives the human-readable line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// The interface lost its lower layer; `on` names the interface (or the path).
    CarrierLost { on: String },
    /// The interface disappeared.
    LinkGone { on: String },
    /// ModemManager reports the bearer disconnected.
    BearerDisconnected { on: String },
    /// nl80211 reports the station lost its access point (`event` is e.g.
    /// "deauthenticated by the access point (reason 3)").
    WifiLost { on: String, event: String },
    /// The signal stayed below the threshold for the configured time.
    SignalWeak { on: String, dbm: i32, below: i32 },
    /// The signal stayed above threshold + hysteresis for `up_after`.
    SignalRecovered { on: String, dbm: i32, above: i32 },
    /// The path this one rides on lost its link.
    UnderlayLost {
        underlay: PathId,
        cause: Box<Evidence>,
    },
    /// Probe rounds failed continuously (since the last sign of life) for `over`.
    ProbesFailing {
        rounds: u32,
        #[serde(serialize_with = "secs")]
        over: Duration,
    },
    /// The tunnel's latest handshake is too old (`None`: there has been none).
    HandshakeStale {
        #[serde(serialize_with = "opt_secs")]
        age: Option<Duration>,
    },
    /// Carrier up and probe rounds passing for `over`; for a tunnel, its handshake age.
    ProbesOk {
        rounds: u32,
        #[serde(serialize_with = "secs")]
        over: Duration,
        #[serde(serialize_with = "opt_secs")]
        handshake_age: Option<Duration>,
    },
    /// Carrier up (and for a tunnel a fresh handshake) for a family the path's probes do
    /// not cover: it is judged on its link alone.
    Unprobed {
        family: Family,
        #[serde(serialize_with = "opt_secs")]
        handshake_age: Option<Duration>,
    },
    /// The path has no default route in this family any more.
    NoDefaultRoute { family: Family },
    /// Failing evidence stopped without a full set of good evidence to cite.
    FailureCleared,
    /// Good evidence stopped holding without failing evidence (e.g. no carrier report).
    Unproven,
    /// A class's route was recomputed: the preferred paths it skipped, best first.
    Route { skipped: Vec<Skip> },
    /// The configuration was reloaded and this path or class was added or removed.
    Reconfigured { what: String },
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::CarrierLost { on } => write!(f, "carrier lost on {on}"),
            Evidence::LinkGone { on } => write!(f, "interface {on} is gone"),
            Evidence::BearerDisconnected { on } => write!(f, "bearer disconnected on {on}"),
            Evidence::WifiLost { on, event } => write!(f, "wifi lost on {on}: {event}"),
            Evidence::SignalWeak { on, dbm, below } => {
                write!(f, "wifi signal weak on {on}: {dbm} dBm below {below} dBm")
            }
            Evidence::SignalRecovered { on, dbm, above } => {
                write!(
                    f,
                    "wifi signal recovered on {on}: {dbm} dBm above {above} dBm"
                )
            }
            Evidence::UnderlayLost { underlay, cause } => write!(f, "underlay {underlay}: {cause}"),
            Evidence::ProbesFailing { rounds, over } => {
                let s = if *rounds == 1 { "" } else { "s" };
                write!(f, "{rounds} failed probe round{s} over {}", human(*over))
            }
            Evidence::HandshakeStale { age: Some(age) } => {
                write!(f, "handshake {} old", human(*age))
            }
            Evidence::HandshakeStale { age: None } => f.write_str("no handshake yet"),
            Evidence::ProbesOk {
                rounds,
                over,
                handshake_age,
            } => {
                if let Some(age) = handshake_age {
                    write!(f, "handshake {} old, ", human(*age))?;
                }
                let s = if *rounds == 1 { "" } else { "s" };
                write!(f, "probes ok for {} ({rounds} round{s})", human(*over))
            }
            Evidence::Unprobed {
                family,
                handshake_age,
            } => {
                if let Some(age) = handshake_age {
                    write!(f, "handshake {} old, ", human(*age))?;
                }
                write!(f, "link up, no {family} probes")
            }
            Evidence::NoDefaultRoute { family } => write!(f, "no {family} default route"),
            Evidence::FailureCleared => f.write_str("failing evidence cleared"),
            Evidence::Unproven => f.write_str("good evidence no longer holds"),
            Evidence::Route { skipped } if skipped.is_empty() => f.write_str("first choice"),
            Evidence::Route { skipped } => {
                for (i, skip) in skipped.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{skip}")?;
                }
                Ok(())
            }
            Evidence::Reconfigured { what } => write!(f, "configuration reloaded: {what}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_like_the_log() {
        let e = Evidence::ProbesFailing {
            rounds: 3,
            over: Duration::from_secs(3),
        };
        assert_eq!(e.to_string(), "3 failed probe rounds over 3.0s");
        let e = Evidence::ProbesOk {
            rounds: 5,
            over: Duration::from_secs(5),
            handshake_age: Some(Duration::from_millis(1200)),
        };
        assert_eq!(
            e.to_string(),
            "handshake 1.2s old, probes ok for 5.0s (5 rounds)"
        );
        let e = Evidence::UnderlayLost {
            underlay: PathId::Wifi,
            cause: Box::new(Evidence::CarrierLost { on: "wlan0".into() }),
        };
        assert_eq!(e.to_string(), "underlay wifi: carrier lost on wlan0");
    }
}
