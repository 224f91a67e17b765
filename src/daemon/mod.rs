//! `arcway run`: the I/O owners around the pure engine.
//!
//! One task owns each kernel or process resource (link monitor, probers, WireGuard tunnel,
//! routing reconciler, status server); this loop is the only place their events meet the
//! engine, and the only place the engine's decisions turn into kernel changes. Carrier loss
//! goes link monitor -> engine -> one route replace per class without waiting on anything
//! else; conntrack eviction and status publishing follow.

mod arc;
pub mod controller;
mod dual;
#[cfg(test)]
mod fixtures;
mod inputs;
pub mod liveness;
mod observe;
pub mod reload;
mod run;
mod setup;
mod snapshot;

use std::path::PathBuf;

pub use run::run;

/// Exit codes of `arcway run`.
pub mod exit {
    /// Configuration or credentials are invalid: restarting will not help.
    pub const BAD_INPUT: u8 = 2;
    /// A runtime failure (netlink, status socket, ...).
    pub const FAILURE: u8 = 1;
}

/// How the daemon was started.
#[derive(Debug, Clone)]
pub struct Options {
    pub config_path: PathBuf,
}

/// An error and its sources on one line: the kernel's or the file's own words included.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
