//! Selective conntrack eviction through ctnetlink.
//!
//! When a class moves from path A to path B, its flows that were NATed to A's address would
//! keep being rewritten to A's source and die on B. Only those entries are deleted (never a
//! global flush), so the class's clients reconnect at once over B while every other flow,
//! including the same class's flows on other paths, is untouched.

mod wire;

#[cfg(test)]
mod tests;

use std::io;
use std::net::IpAddr;

use ipnet::IpNet;
use netlink_sys::Socket;
use tracing::{debug, info, warn};

use crate::nfnetlink;
pub use wire::{DumpFilter, Flow};

#[derive(Debug, thiserror::Error)]
pub enum ConntrackError {
    #[error("failed to open a ctnetlink socket")]
    Socket(#[source] io::Error),
    #[error("failed to dump conntrack entries")]
    Dump(#[source] io::Error),
    #[error("failed to delete {failed} of {selected} conntrack entries")]
    Delete {
        failed: usize,
        selected: usize,
        #[source]
        source: io::Error,
    },
    #[error("failed to run the conntrack task")]
    Task(#[source] tokio::task::JoinError),
}

/// Which flows belong to the class that moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassFlows {
    /// A destination class: original destination inside one of these CIDRs.
    Destinations(Vec<IpNet>),
    /// A marked class: conntrack mark `& mask == value` (nftables saves the class mark).
    Mark { value: u32, mask: u32 },
    /// The default class: no class mark under `mask` and not bound for `exclude`
    /// (the destination classes' CIDRs).
    Rest { mask: u32, exclude: Vec<IpNet> },
}

/// Flows of a class NATed to (or sourced from) the old path's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eviction {
    pub class: ClassFlows,
    /// The old path's address: the reply destination of its NATed flows.
    pub old_address: IpAddr,
}

impl Eviction {
    /// Whether `flow` is to be deleted.
    pub fn selects(&self, flow: &Flow) -> bool {
        if flow.reply_dst != Some(self.old_address) {
            return false;
        }
        let Some(dst) = flow.orig_dst else {
            return false;
        };
        match &self.class {
            ClassFlows::Destinations(nets) => nets.iter().any(|n| n.contains(&dst)),
            ClassFlows::Mark { value, mask } => flow.mark & mask == *value,
            ClassFlows::Rest { mask, exclude } => {
                flow.mark & mask == 0 && !exclude.iter().any(|n| n.contains(&dst))
            }
        }
    }
}

/// What an eviction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EvictReport {
    /// Entries the kernel handed over (after its own family and mark filter).
    pub examined: usize,
    pub evicted: usize,
    /// Entries that could not be decoded, so were neither selected nor deleted.
    pub unreadable: usize,
}

/// Deletes the conntrack entries selected by any of `evictions` (every class moved in one
/// step) with a single dump, blocking work off the runtime.
///
/// The work starts on a blocking thread when this is called, not when the returned future is
/// first polled: the daemon's runtime has one thread, and a task spawned from the loop would
/// wait for the rest of the loop's turn (nftables, logging, status) while the moved flows
/// keep their old NAT.
pub fn evict(
    evictions: Vec<Eviction>,
) -> impl std::future::Future<Output = Result<EvictReport, ConntrackError>> {
    let work = (!evictions.is_empty())
        .then(|| tokio::task::spawn_blocking(move || evict_blocking(&evictions)));
    async move {
        let Some(work) = work else {
            return Ok(EvictReport::default());
        };
        let report = work.await.map_err(ConntrackError::Task)??;
        info!(
            examined = report.examined,
            evicted = report.evicted,
            unreadable = report.unreadable,
            "conntrack entries evicted"
        );
        Ok(report)
    }
}

/// Every entry in this network namespace (for status and tests).
pub fn dump_flows() -> Result<Vec<Flow>, ConntrackError> {
    let socket = nfnetlink::open().map_err(ConntrackError::Socket)?;
    dump(&socket, DumpFilter::default()).map(|(flows, _)| flows)
}

/// The narrowest dump that still holds every entry `evictions` select: one address family
/// when every old address has the same one, and the class mark when a single marked (or
/// unmarked default) class moved. The host-wide table can be large; the moved class is
/// usually a small part of it.
pub fn dump_filter(evictions: &[Eviction]) -> DumpFilter {
    let family = |e: &Eviction| match e.old_address {
        IpAddr::V4(_) => libc::AF_INET as u8,
        IpAddr::V6(_) => libc::AF_INET6 as u8,
    };
    let family = match evictions.split_first() {
        Some((first, rest)) if rest.iter().all(|e| family(e) == family(first)) => family(first),
        _ => 0,
    };
    let mark = match evictions {
        [one] => match &one.class {
            ClassFlows::Mark { value, mask } => Some((*value, *mask)),
            ClassFlows::Rest { mask, .. } => Some((0, *mask)),
            ClassFlows::Destinations(_) => None,
        },
        _ => None,
    };
    DumpFilter { family, mark }
}

fn evict_blocking(evictions: &[Eviction]) -> Result<EvictReport, ConntrackError> {
    let socket = nfnetlink::open().map_err(ConntrackError::Socket)?;
    let (flows, unreadable) = dump(&socket, dump_filter(evictions))?;
    let selected: Vec<&Flow> = flows
        .iter()
        .filter(|f| evictions.iter().any(|e| e.selects(f)))
        .collect();
    let mut failed = 0;
    let mut last_error = None;
    for (seq, flow) in selected.iter().enumerate() {
        match nfnetlink::request(&socket, &wire::delete_request(flow, seq as u32 + 2)) {
            // Already gone (timed out or closed meanwhile) is as good as deleted.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => {
                debug!(?flow, error = %e, "conntrack delete failed");
                failed += 1;
                last_error = Some(e);
            }
            Ok(()) => {}
        }
    }
    if let Some(source) = last_error {
        return Err(ConntrackError::Delete {
            failed,
            selected: selected.len(),
            source,
        });
    }
    Ok(EvictReport {
        examined: flows.len() + unreadable,
        evicted: selected.len(),
        unreadable,
    })
}

/// The entries of a dump, and how many of them could not be decoded.
fn dump(socket: &Socket, filter: DumpFilter) -> Result<(Vec<Flow>, usize), ConntrackError> {
    let messages = nfnetlink::dump_messages(socket, &wire::dump_request(1, filter))
        .map_err(ConntrackError::Dump)?;
    let mut flows = Vec::with_capacity(messages.len());
    let mut unreadable = 0;
    for message in &messages {
        match wire::parse_flow(message) {
            Some(Ok(flow)) => flows.push(flow),
            Some(Err(error)) => {
                unreadable += 1;
                warn!(%error, "skipped a conntrack entry that could not be decoded");
            }
            None => {}
        }
    }
    Ok((flows, unreadable))
}
