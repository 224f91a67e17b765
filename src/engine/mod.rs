//! The pure decision core: events and `now` in, desired state and actions out.
//!
//! No I/O, no clocks, no randomness: the daemon feeds [`Event`]s with the current [`Time`],
//! acts on the returned [`Action`]s, sends [`Event::Tick`] at [`Engine::poll_timeout`], and
//! reads [`Engine::desired`] and [`Engine::log`] for the reconciler and status output.

pub mod desired;
mod evaluate;
pub mod event;
pub mod evidence;
mod facts;
pub mod health;
pub mod log;
mod machine;
mod reload;
pub mod select;
pub mod settings;
mod signal;
pub mod time;

pub use desired::{Action, ClassStatus, Desired, PathStatus};
pub use event::{Event, ProbeTarget};
pub use evidence::Evidence;
pub use facts::ProbeReport;
pub use health::Health;
pub use log::{Change, LogEntry};
pub use machine::Engine;
pub use select::{ClassRoute, ClassRoutes, Skip, SkipReason};
pub use settings::{
    ClassPath, ClassSettings, DEFAULT_LOG_CAPACITY, PathSettings, Settings, SignalSettings,
};
pub use time::Time;
