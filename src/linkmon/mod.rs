//! Link monitor: one task owning a route netlink multicast subscription (links, IPv4/IPv6
//! addresses and routes) that reports the state of the watched uplinks by name.
//!
//! Carrier and admin changes go out as soon as the message is read; address and route
//! changes wait for a short debounce window (20 ms by default) so that a DHCP renewal
//! arrives as one event. Lost messages (ENOBUFS) or a message that does not parse trigger a
//! full re-dump, and so does an interface going administratively down or appearing, because
//! the kernel removes IPv4 routes of a downed interface without telling.

mod dump;
mod parse;
mod snapshot;
mod table;
mod task;
mod tracker;

use std::collections::BTreeSet;
use std::time::Duration;

pub use snapshot::{AddrScope, DefaultRoute, Family, IfAddr, LinkEvent, LinkSnapshot, OperState};
pub use task::{LinkMonitor, LinkMonitorHandle, LinkMonitorStats};

/// Why the monitor could not start.
#[derive(Debug, thiserror::Error)]
pub enum LinkMonError {
    #[error("failed to open the netlink socket")]
    Socket(#[source] std::io::Error),
    #[error("failed to set the netlink receive buffer")]
    RecvBuffer(#[source] std::io::Error),
    #[error("failed to dump links, addresses and routes")]
    Dump(#[source] std::io::Error),
}

/// What to watch and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMonitorConfig {
    /// Interface names (the configuration names interfaces, indexes change on re-plug).
    pub interfaces: BTreeSet<String>,
    /// How long address and route changes may wait to be reported together.
    pub debounce: Duration,
    /// Receive buffer for the multicast socket. Larger means fewer overruns during bursts
    /// (the kernel caps it at net.core.rmem_max).
    pub recv_buffer: usize,
}

impl LinkMonitorConfig {
    pub fn new<I, S>(interfaces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        LinkMonitorConfig {
            interfaces: interfaces.into_iter().map(Into::into).collect(),
            debounce: Duration::from_millis(20),
            recv_buffer: 1 << 20,
        }
    }
}
