//! Policy routing: the tables and rules arcway owns, computed purely and reconciled.
//!
//! # Layout
//!
//! Every path has a table holding its default route: wifi and cellular mirror what DHCP/RA
//! put in `main`, arc is `default dev arc0` plus its AllowedIPs (and extra CIDRs) `dev arc0`.
//! A path without a default route gets `unreachable default`, so traffic pinned to that path
//! (WireGuard's own UDP, probes) fails fast instead of leaking onto another path.
//!
//! Every class has a table holding ONE default route: a copy of the chosen path's default.
//! Moving a class is one `route replace` in its table; rules never churn. A class that is
//! held gets `prohibit default`, a class with no usable path `unreachable default`.
//!
//! Rules, all inside the configured priority range (`start`..=`end`):
//!
//! ```text
//! start+0  fwmark <wifi mark>/mask     lookup <wifi table>   WireGuard UDP, wifi probes
//! start+1  fwmark <arc mark>/mask      lookup <arc table>
//! start+2  fwmark <cellular mark>/mask lookup <cellular table>
//! start+3  lookup main suppress_prefixlength 0              LAN and link routes keep working
//! start+4  from <path address>         lookup <path table>  answers leave the way they came
//! start+5+i  class i: `to <cidr>` per destination, or `fwmark <class mark>/mask`
//! end      lookup <default class table>                     everything else
//! ```
//!
//! IPv4 always; IPv6 tables and rules appear when an uplink has an IPv6 default route. Then
//! the mark, suppress and default-class rules exist in both families, while destination
//! classes (platform, d2d) only get rules for the families of their CIDRs.
//!
//! Nothing outside the range and the tables is ever read for planning or changed: dumps are
//! filtered (rules by priority, routes by table on a strict-check connection).

mod convert;
mod desired;
mod kernel;
mod layout;
mod model;
mod plan;
mod reconciler;
mod render;
mod watch;

#[cfg(test)]
mod tests;

use std::io;

pub use desired::{
    ClassInput, ClassRoute, DesiredRouting, PathDefault, PathInput, RoutingInputs, Selector,
    desired,
};
pub use layout::Layout;
pub use model::{Change, Family, KernelRouting, Route, RouteKey, RouteKind, RoutingObjects, Rule};
pub use plan::{plan, simulate};
pub use reconciler::Reconciler;
pub use render::{render_changes, render_objects, route_text, rule_text};
pub use watch::spawn_drift_watch;

/// One change the kernel refused.
#[derive(Debug, thiserror::Error)]
#[error("failed to apply `{change}`")]
pub struct ChangeError {
    pub change: String,
    #[source]
    pub source: io::Error,
}

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("failed to use the routing layout: {0}")]
    Layout(String),
    #[error("failed to open a netlink connection")]
    Connect(#[source] io::Error),
    #[error("failed to dump {what}")]
    Dump {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to apply {} of {total} routing changes: {}", failed.len(), first_error(failed))]
    Apply {
        failed: Vec<ChangeError>,
        applied: Vec<Change>,
        total: usize,
    },
    #[error("failed to reach the routing reconciler: it has stopped")]
    Stopped,
}

fn first_error(failed: &[ChangeError]) -> String {
    failed
        .first()
        .map(|e| format!("{e}: {}", e.source))
        .unwrap_or_default()
}
