//! Errors of the WireGuard device owner.

use std::path::PathBuf;
use std::time::Duration;

/// Errors of the `wg` module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to open a netlink socket")]
    NetlinkSocket(#[source] std::io::Error),
    #[error("failed to {op} for {ifname}")]
    Netlink {
        op: &'static str,
        ifname: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "failed to create kernel WireGuard device {ifname}: the kernel has no WireGuard support"
    )]
    KernelUnsupported { ifname: String },
    #[error("failed to find link {ifname}")]
    LinkMissing { ifname: String },
    #[error("failed to use interface name {ifname:?}")]
    InvalidName { ifname: String },
    #[error("failed to start the userspace WireGuard command: it is empty")]
    EmptyCommand,
    #[error("failed to start {command}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to keep {command} running: it exited ({status})")]
    Exited { command: String, status: String },
    #[error("failed to see the userspace WireGuard socket {} within {after:?}", socket.display())]
    NotReady { socket: PathBuf, after: Duration },
    #[error("failed to configure WireGuard device {ifname}")]
    Configure {
        ifname: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to end the userspace WireGuard process for {ifname}")]
    Stop {
        ifname: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to read WireGuard device {ifname}")]
    Read {
        ifname: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to get an answer from WireGuard device {ifname} within {after:?}")]
    Unresponsive { ifname: String, after: Duration },
    #[error("failed to run a blocking WireGuard call")]
    Join(#[source] tokio::task::JoinError),
    #[error("failed to reach the WireGuard task: it has stopped")]
    TaskGone,
    #[error("failed to tear down cleanly ({} errors): {}", .0.len(), join_errors(.0))]
    Teardown(Vec<Error>),
}

fn join_errors(errors: &[Error]) -> String {
    let mut text = String::new();
    for (i, e) in errors.iter().enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        // Include each error's causes: teardown errors are reported once, at the end.
        let mut cur: Option<&dyn std::error::Error> = Some(e);
        let mut first = true;
        while let Some(err) = cur {
            if !first {
                text.push_str(": ");
            }
            text.push_str(&err.to_string());
            first = false;
            cur = err.source();
        }
    }
    text
}

impl Error {
    pub(crate) fn netlink(op: &'static str, ifname: &str) -> impl FnOnce(std::io::Error) -> Error {
        let ifname = ifname.to_string();
        move |source| Error::Netlink { op, ifname, source }
    }

    /// True when the device was there but did not answer in time: a userspace process that is
    /// alive yet stopped or stuck, which only killing it can mend.
    pub(crate) fn is_no_answer(&self) -> bool {
        match self {
            Error::Unresponsive { .. } => true,
            // SO_RCVTIMEO and SO_SNDTIMEO expiring read as EAGAIN.
            Error::Read { source, .. } | Error::Configure { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }
}

/// The errno inside a netlink error, if the kernel sent one.
pub(crate) fn errno(e: &std::io::Error) -> Option<i32> {
    e.raw_os_error()
}
