//! Active health probes bound to one path: ICMP echo, TCP connect, HTTP GET and DNS query,
//! run concurrently by a [`Prober`] task per path with a quorum.
//!
//! Every probe socket carries SO_BINDTODEVICE for the path's interface and SO_MARK with the
//! path's mark, so a probe can only leave by the path it tests: if that path has no route the
//! probe fails instead of succeeding over another uplink.

mod bind;
mod counters;
mod dns;
mod error;
mod http;
mod icmp;
mod prober;
mod round;
mod run;
mod target;
mod tcp;

pub use bind::Binding;
pub use counters::{ProbeCounters, ProbeCountersSnapshot};
pub use dns::{build_query, check_response};
pub use error::ProbeError;
pub use http::{build_request, parse_status_line};
pub use icmp::IcmpSocketKind;
pub use prober::{Prober, ProberConfig, ProberHandle};
pub use round::{ProbeRound, TargetResult, family_verdicts, quorum_met};
pub use run::{probe_once, probe_once_with};
pub use target::{DnsTarget, HttpTarget, Target, UrlError};
