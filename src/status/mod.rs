//! Status of the running daemon: the snapshot it publishes, the unix socket that serves it,
//! the client behind `arcway status` / `arcway events`, and the human renderings.
//!
//! The daemon fills a [`Snapshot`] and publishes it with [`channel`]'s sender; the
//! [`Server`] task answers every request from the latest value without ever blocking the
//! daemon.

pub mod client;
mod clock;
mod format;
pub mod protocol;
mod render;
mod server;
mod snapshot;

use std::sync::Arc;

use tokio::sync::watch;

pub use client::{
    ClientError, events_command, fetch, fetch_events, fetch_status, reload_command, status_command,
};
pub use clock::{Clock, WallTime};
pub use protocol::Request;
pub use render::{LATEST_SWITCHES, render_events, render_status, status_line};
pub use server::{ReloadAnswer, Server, ServerError};
pub use snapshot::{
    AccountingStatus, ClassStatus, ConfigStatus, Event, EventLog, FORMAT_VERSION, FamilyStates,
    PathStatus, ProbeStatus, Problem, ReloadError, Route, Since, Snapshot, WifiDisconnect,
    WifiStatus,
};

/// Default location of the status socket (`status.socket` in the configuration).
pub const DEFAULT_SOCKET: &str = "/run/arcway/arcway.sock";

/// The daemon's side of the snapshot channel: `send(Arc::new(snapshot))` replaces the value.
pub type Publisher = watch::Sender<Arc<Snapshot>>;
/// The server's side: it only ever reads the latest value.
pub type Subscriber = watch::Receiver<Arc<Snapshot>>;

/// A channel holding `initial` until the daemon publishes something newer.
pub fn channel(initial: Snapshot) -> (Publisher, Subscriber) {
    watch::channel(Arc::new(initial))
}
