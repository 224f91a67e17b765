//! Accounting: bytes per class and per path from the counters in `table inet arcway`, and
//! the cellular data budgets built on them.
//!
//! The pieces, from pure to I/O:
//! - [`calendar`]: local dates and budget periods (daily, or monthly from a reset day).
//! - [`Accountant`]: counter readings and today's date in, [`BudgetTransition`]s out; it
//!   turns readings into deltas that survive counter resets (table replaced) and keeps the
//!   period's [`Ledger`].
//! - [`store`]: the ledger as JSON in the state directory, replaced atomically, so a
//!   restart or a reboot continues the period instead of renewing the budget.
//! - [`spawn`]: the task reading the counters every few seconds (one netlink dump of the
//!   table's counter objects, see `nft::read_counters`), publishing an [`AccountingStatus`] and
//!   sending transitions the daemon turns into `engine::Event::BudgetExhausted`.
//!
//! What counts: the line budget is everything on the cellular interface in both directions
//! (probes and arcway's own traffic included, as the operator bills it); a class budget is
//! the class's bytes on that path in both directions.

mod accountant;
pub mod calendar;
mod delta;
mod ledger;
mod limits;
mod status;
pub mod store;
mod task;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

pub use accountant::{Accountant, BudgetTransition};
pub use calendar::{Date, local_today, period_bounds};
pub use delta::CounterDeltas;
pub use ledger::{Bytes, LEDGER_VERSION, Ledger};
pub use limits::Limits;
pub use status::{AccountingStatus, BudgetStatus, ClassBytes, LineBytes, ProbeBytes};
pub use store::DEFAULT_STATE_PATH;
pub use task::{AccountingHandle, AccountingSettings, CounterReader, ReadNow, spawn, spawn_with};

#[derive(Debug, thiserror::Error)]
pub enum AccountingError {
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to parse {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to use {}: unknown format version {version}", path.display())]
    Version { path: PathBuf, version: u32 },
    #[error("failed to write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to reach the accounting task: it has stopped")]
    Stopped,
}
