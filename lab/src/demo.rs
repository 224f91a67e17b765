//! Measured steps on a lab left running by `arcway-lab up` (the demo drives them one at a
//! time from a shell script): inject one fault while the LAN host streams echoes to the
//! platform, and time the move to the expected path.
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{LabError, Result};
use crate::inject::{LinkSwitch, wifi_blackhole};
use crate::measure::{Step, settle_on, step};
use crate::pathtag::{self, PLATFORM_V4, Via};
use crate::pingstream::PingStream;
use crate::role::Role;

/// The faults a step can inject or lift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    CarrierDown,
    CarrierUp,
    BlackholeOn,
    BlackholeOff,
}

impl Fault {
    /// The path platform traffic is expected to use before and after the step.
    pub fn paths(self) -> (Via, Via) {
        match self {
            Fault::CarrierDown | Fault::BlackholeOn => (Via::Arc, Via::Cellular),
            Fault::CarrierUp | Fault::BlackholeOff => (Via::Cellular, Via::Arc),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "carrier-down" => Fault::CarrierDown,
            "carrier-up" => Fault::CarrierUp,
            "blackhole-on" => Fault::BlackholeOn,
            "blackhole-off" => Fault::BlackholeOff,
            _ => {
                return Err(format!(
                    "unknown fault {s:?} (carrier-down, carrier-up, blackhole-on, blackhole-off)"
                ));
            }
        })
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::CarrierDown => "Wi-Fi carrier lost",
            Fault::CarrierUp => "Wi-Fi carrier back",
            Fault::BlackholeOn => "Wi-Fi silently dropping everything",
            Fault::BlackholeOff => "Wi-Fi passing traffic again",
        })
    }
}

/// Streams echoes from the LAN host, waits until they come via the expected starting path,
/// injects `fault` and times the first reply via the other path.
pub fn measure(prefix: &str, fault: Fault, timeout: Duration) -> Result<Step> {
    pathtag::install(prefix)?;
    let stream = PingStream::start(&Role::Lan.ns(prefix), PLATFORM_V4, Duration::from_millis(1))?;
    let (from, to) = fault.paths();
    if !settle_on(&stream, from, Duration::from_secs(30)) {
        return Err(LabError::Timeout {
            what: format!("platform replies via {from} before the step"),
        });
    }
    let wifi = LinkSwitch::wifi(prefix)?;
    step(&stream, to, timeout, || match fault {
        Fault::CarrierDown => wifi.set(false),
        Fault::CarrierUp => wifi.set(true),
        Fault::BlackholeOn => wifi_blackhole(prefix, true),
        Fault::BlackholeOff => wifi_blackhole(prefix, false),
    })
}

/// One line for people: what happened and how long the move took.
pub fn describe(fault: Fault, s: &Step) -> String {
    let (_, to) = fault.paths();
    match s.ms() {
        Some(ms) => format!(
            "{fault}: first platform reply via {to} after {ms:.1} ms; {} of {} echoes (1 per ms) lost",
            s.lost, s.sent
        ),
        None => format!(
            "{fault}: no platform reply via {to} in time; {} echoes lost",
            s.lost
        ),
    }
}
