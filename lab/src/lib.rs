//! The arcway lab: a small world in network namespaces for tests, the demo and the benchmarks.
//!
//! ```text
//!  lan ── gw ── wlan0 ── ap (NAT) ── inet ── arcsrv (wireguard-go wg0, 203.0.113.10:11010)
//!          └─── wwan0 ── cell (Air core) ─── plat (100.127.100.127 ping + HTTP :80)
//! ```
//! `Lab::build` creates it (as root) in namespaces `<prefix>-<role>`; dropping the `Lab` ends
//! every process it started and deletes the namespaces, also while a test panics. arcway itself
//! is not started: tests run it in `lab.ns(Role::Gw)`.
//!
//! [`mm`] runs Debian's ModemManager with emulated modems (`Lab::start_modem_manager` puts it
//! in the gateway, its modem's network port being `wwan0`); every process it starts ends when
//! the value is dropped.
mod access;
pub mod arcway;
pub mod bench;
pub mod bin;
pub mod cleanup;
mod cmd;
pub mod demo;
mod describe;
pub mod dual;
pub mod error;
mod faults;
pub mod http;
pub mod inject;
mod lab;
pub mod measure;
pub mod mm;
pub mod pathtag;
pub mod pingstream;
pub mod plan;
mod probe;
pub mod process;
pub mod role;
mod services;
pub mod soracom;
pub mod state;
pub mod wg;

pub use arcway::{Arcway, Health};
pub use bin::bin_path;
pub use dual::Families;
pub use error::{LabError, Result};
pub use lab::{Lab, LabOptions};
pub use probe::LinkCounters;
pub use process::ChildGuard;
pub use role::Role;
pub use wg::{ArcCredentials, KeyPair, WgControl, WireGuardGo};
