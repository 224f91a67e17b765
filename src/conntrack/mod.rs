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
use rtnetlink::sys::{Socket, SocketAddr, protocols::NETLINK_NETFILTER};
use tracing::{debug, info};

pub use wire::Flow;

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
    pub examined: usize,
    pub evicted: usize,
}

/// Deletes the conntrack entries selected by `eviction` (blocking work off the runtime).
pub async fn evict(eviction: Eviction) -> Result<EvictReport, ConntrackError> {
    let report = tokio::task::spawn_blocking(move || evict_blocking(&eviction))
        .await
        .map_err(ConntrackError::Task)??;
    info!(
        examined = report.examined,
        evicted = report.evicted,
        "conntrack entries evicted"
    );
    Ok(report)
}

/// Every entry in this network namespace (for status and tests).
pub fn dump_flows() -> Result<Vec<Flow>, ConntrackError> {
    let socket = open()?;
    dump(&socket)
}

fn open() -> Result<Socket, ConntrackError> {
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(ConntrackError::Socket)?;
    socket.bind_auto().map_err(ConntrackError::Socket)?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(ConntrackError::Socket)?;
    Ok(socket)
}

fn evict_blocking(eviction: &Eviction) -> Result<EvictReport, ConntrackError> {
    let socket = open()?;
    let flows = dump(&socket)?;
    let selected: Vec<&Flow> = flows.iter().filter(|f| eviction.selects(f)).collect();
    let mut failed = 0;
    let mut last_error = None;
    for (seq, flow) in selected.iter().enumerate() {
        match delete(&socket, flow, seq as u32 + 2) {
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
        examined: flows.len(),
        evicted: selected.len(),
    })
}

fn dump(socket: &Socket) -> Result<Vec<Flow>, ConntrackError> {
    socket
        .send(&wire::dump_request(1), 0)
        .map_err(ConntrackError::Dump)?;
    let mut flows = Vec::new();
    loop {
        let (data, _) = socket.recv_from_full().map_err(ConntrackError::Dump)?;
        for msg in wire::messages(&data) {
            match msg.kind {
                wire::NLMSG_DONE => return Ok(flows),
                wire::NLMSG_ERROR => match wire::error_code(msg.payload) {
                    0 => return Ok(flows),
                    code => return Err(ConntrackError::Dump(io::Error::from_raw_os_error(-code))),
                },
                kind if wire::ct_message(kind) == Some(wire::IPCTNL_MSG_CT_NEW) => {
                    flows.extend(wire::parse_flow(msg.payload));
                }
                _ => {}
            }
        }
    }
}

fn delete(socket: &Socket, flow: &Flow, seq: u32) -> Result<(), io::Error> {
    socket.send(&wire::delete_request(flow, seq), 0)?;
    loop {
        let (data, _) = socket.recv_from_full()?;
        for msg in wire::messages(&data) {
            if msg.kind == wire::NLMSG_ERROR {
                return match wire::error_code(msg.payload) {
                    0 => Ok(()),
                    code => Err(io::Error::from_raw_os_error(-code)),
                };
            }
        }
    }
}
