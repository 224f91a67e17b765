//! Modem watcher: one task owning arcway's view of ModemManager on the system bus.
//!
//! It mirrors ModemManager's objects (GetManagedObjects, then InterfacesAdded/Removed and
//! PropertiesChanged, all read by one pump task in bus order), picks the modem the
//! configuration selects (equipment identifier, SIM ICCID or IMSI, sysfs device, or the
//! lowest-numbered one; never a fixed `Modem/0`), and reports changes as [`ModemEvent`]s.
//! A bearer disconnect is forwarded as soon as its PropertiesChanged is read: nothing polls.
//!
//! When ModemManager leaves the bus (NameOwnerChanged to nobody) or the bus connection is
//! lost, the watcher reports the bearer down and [`ModemEvent::ServiceGone`]; when it comes
//! back, the watcher resynchronises from GetManagedObjects by itself. Modems unplugged and
//! plugged again come back under new numbers and are selected again by the same rule.
//!
//! # Manage mode
//!
//! With `uplinks.cellular.manage: true` the watcher also drives the modem: it sends the PIN
//! from `pin_file` when the SIM asks for one (once per SIM, so a wrong PIN does not burn the
//! retries), enables a disabled modem, connects with `Simple.Connect` (apn, user, password),
//! and reconnects with exponential backoff when the bearer drops or a connect fails.
//!
//! When the connected bearer's `Ip4Config` method is STATIC, the watcher sets the address,
//! prefix and MTU on the bearer's interface and brings it up (route netlink), then reports
//! [`ModemEvent::DefaultRoute`] so the cellular path table gets `default via <gateway>`. A
//! gateway outside the prefix is made reachable as the address's peer. On disconnect the
//! address is removed again.
//!
//! A DHCP bearer (method DHCP, common with MBIM/QMI modems in raw-IP or ethernet mode) is
//! not configured by arcway: a DHCP client must run on the bearer interface (for example
//! `udhcpc -i wwan0` on OpenWrt, `dhclient`/systemd-networkd on Debian). Its default route
//! in the main table is mirrored into the cellular path table like any other uplink's.
//! PPP bearers are not supported.
//!
//! In the default observe-only mode nothing is ever called on ModemManager: the watcher only
//! reads, and someone else (NetworkManager, netifd, mmcli) owns the connection.

mod decode;
mod event;
mod manage;
mod model;
mod netcfg;
mod ops;
mod props;
pub mod proxies;
mod settings;
mod signals;
mod status;
#[cfg(test)]
mod tests;
mod types;
mod watcher;

pub use decode::DecodeError;
pub use event::ModemEvent;
pub use settings::{Bus, ManageSettings, WatcherSettings};
pub use status::ModemStatus;
pub use types::{AccessTech, Ip4Config, IpMethod, ModemState, Operator, Registration};
pub use watcher::{ModemWatcher, spawn};

#[doc(hidden)]
pub mod testing {
    //! Pure pieces exposed for integration tests.
    pub use super::decode::{ip4_of, signal_of};
    pub use super::model::{Model, ModemEntry, View, diff};
    pub use super::props::{BearerProps, GppProps, ModemProps, Props, SimProps};
}

/// Why a modem operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ModemError {
    #[error("failed to connect to the D-Bus bus")]
    Bus(#[source] zbus::Error),
    #[error("failed to call {method} on {path}")]
    Call {
        method: &'static str,
        path: String,
        #[source]
        source: zbus::Error,
    },
    #[error("failed to get an answer to {method} on {path} in time")]
    Timeout { method: &'static str, path: String },
    #[error("failed to read the PIN file {path}")]
    PinFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to open a netlink socket")]
    NetlinkSocket(#[source] std::io::Error),
    #[error("failed to find the bearer interface {ifname}")]
    NoInterface { ifname: String },
    #[error("failed to {what} on {ifname}")]
    Netlink {
        what: &'static str,
        ifname: String,
        #[source]
        source: std::io::Error,
    },
}
