//! Prometheus metrics: the text exposition of the status snapshot and the accounting
//! status, served on `metrics.listen` (off unless configured; meant for a loopback
//! address) by a tiny HTTP/1.1 server answering `GET /metrics`.
//!
//! The page is a pure function ([`render`]) of a [`crate::status::Snapshot`], an optional
//! [`crate::accounting::AccountingStatus`] and the switch count, written by hand in
//! Prometheus text format 0.0.4: HELP and TYPE for every family, escaped label values, a
//! fixed order. No metrics crate: the format is small and the binary must stay small.

mod render;
mod server;
mod switches;
mod text;

#[cfg(test)]
mod tests;

use std::io;
use std::net::SocketAddr;

pub use render::{MetricsInput, render};
pub use server::{CONTENT_TYPE, parse_request_line, spawn};
pub use switches::SwitchCounter;
pub use text::{escape_help, escape_label, number};

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("failed to listen for metrics on {listen}")]
    Bind {
        listen: SocketAddr,
        #[source]
        source: io::Error,
    },
}
