//! A fake ModemManager for tests and the demo: a zbus service owning
//! `org.freedesktop.ModemManager1` on a private dbus-daemon ([`PrivateBus`]).
//!
//! It serves the ObjectManager at `/org/freedesktop/ModemManager1`, modems at `Modem/N`
//! (Modem, Modem.Simple, Modem.Modem3gpp), their SIMs at `SIM/N` and bearers at `Bearer/N`.
//! As with ModemManager, only modems are listed and announced by the ObjectManager; SIMs and
//! bearers are read with GetAll.
//! `Simple.Connect` creates (once) and connects the modem's bearer, bound to the modem's
//! interface name, with the STATIC (or DHCP) `Ip4Config` the test chose in [`ModemSpec`].
//! Tests drive it through [`FakeModemManager`] in-process, or run `arcway-lab fake-mm` and
//! write commands to its standard input (see [`cli`]).
//!
//! Modem and bearer numbers only grow, across unplugging and service restarts, as
//! ModemManager's do within one run: clients must never assume `Modem/0`.
mod actions;
mod bus;
pub mod cli;
mod manager;
mod objects;
mod service;
mod values;
mod world;

pub use bus::PrivateBus;
pub use service::{FakeModemManager, Malformed};
pub use world::{
    Counters, Ip4Spec, METHOD_DHCP, METHOD_STATIC, ModemSpec, STATE_CONNECTED, STATE_DISABLED,
    STATE_LOCKED, STATE_REGISTERED, TECH_LTE, bearer_path, modem_path, sim_path,
};
