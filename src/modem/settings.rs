//! How the watcher is set up, from `uplinks.cellular`.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::{CellularConfig, ModemSelector, Secret};

/// Which bus ModemManager is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bus {
    /// The system bus; `DBUS_SYSTEM_BUS_ADDRESS` overrides its address.
    System,
    /// A bus at this address (tests, the lab).
    Address(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherSettings {
    pub bus: Bus,
    pub selector: ModemSelector,
    /// The interface to configure when the bearer does not name one.
    pub fallback_interface: Option<String>,
    /// `Some` in manage mode.
    pub manage: Option<ManageSettings>,
    /// Wait before trying the bus or ModemManager again after they failed to answer.
    pub retry: Duration,
    /// Longest wait for a property read.
    pub call_timeout: Duration,
}

/// What manage mode connects with, and how it retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManageSettings {
    pub apn: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub pin_file: Option<PathBuf>,
    /// First wait after a drop or failure; doubled each time up to `backoff_max`.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A bearer connected this long resets the backoff.
    pub stable_after: Duration,
}

impl ManageSettings {
    pub fn new(apn: impl Into<String>) -> Self {
        ManageSettings {
            apn: apn.into(),
            user: None,
            password: None,
            pin_file: None,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            stable_after: Duration::from_secs(60),
        }
    }

    /// `backoff_min * 2^attempt`, at most `backoff_max`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX);
        self.backoff_min
            .checked_mul(factor)
            .unwrap_or(self.backoff_max)
            .min(self.backoff_max)
    }
}

impl WatcherSettings {
    pub fn new(bus: Bus, selector: ModemSelector) -> Self {
        WatcherSettings {
            bus,
            selector,
            fallback_interface: None,
            manage: None,
            retry: Duration::from_secs(2),
            call_timeout: Duration::from_secs(5),
        }
    }

    /// The system bus and everything else from the configuration.
    pub fn from_config(c: &CellularConfig) -> Self {
        let manage = c.manage.then(|| ManageSettings {
            user: c.user.clone(),
            password: c.password.clone(),
            pin_file: c.pin_file.clone(),
            ..ManageSettings::new(c.apn.clone())
        });
        WatcherSettings {
            fallback_interface: c.interface.clone(),
            manage,
            ..WatcherSettings::new(Bus::System, c.modem.clone())
        }
    }
}
