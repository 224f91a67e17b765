//! arcway's nftables table (`table inet arcway`): class marks, held classes, byte counters
//! and source NAT.
//!
//! The table is rendered whole and replaced atomically with `nft -f -`: one transaction,
//! so the kernel never holds half a ruleset, and a rejected file changes nothing. The `nft`
//! tool is used rather than a netlink crate on purpose: the Rust nftables netlink crates
//! are young (partial expression coverage, no batch transactions we could rely on), and
//! the tool is installed wherever nftables is, so arcway's binary stays small.
//!
//! The table changes with the configuration (classes, interfaces, the Arc address) and when
//! a class becomes held or is released (see `hold`), never on a path switch: switches
//! happen in the class routing tables. A replace takes a few milliseconds (see the
//! `classify_*` tests) and resets the byte counters (see `account`).

mod account;
mod cgroup;
mod counters;
mod from_config;
mod hold;
pub mod owner;
mod quote;
mod render;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_extras;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tracing::{info, warn};

pub use account::{CountedPath, CounterKey, Direction, counter_keys};
pub use cgroup::{CGROUP_ROOT, missing_cgroups};
pub use from_config::{held_classes, mark_classes};
pub use hold::Held;
pub use quote::{IFNAME_MAX, Kind, Unsafe, check_cgroup, check_ifname, token};
pub use render::{
    MarkClass, NatPath, NftInputs, render_replace, render_replace_with, render_table,
    render_table_with,
};

/// What the table carries beyond marks and NAT. The default is none of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableExtras {
    /// Paths whose interfaces get byte counters (per class and in total, both directions).
    pub counted: Vec<CountedPath>,
    /// The class of traffic without a class mark, counted per path like the others.
    pub default_class: Option<String>,
    /// Classes refused at once with their hold action.
    pub held: Vec<Held>,
    /// cgroups whose matchers are left out because they do not exist.
    pub missing_cgroups: BTreeSet<String>,
}

/// What a successful apply left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// cgroup matchers skipped because the cgroup does not exist (yet): apply again later.
    pub missing_cgroups: BTreeSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("failed to run nft")]
    Spawn(#[source] io::Error),
    #[error("failed to load table inet arcway: {stderr}")]
    Rejected { stderr: String },
    #[error("failed to read the counters of table inet arcway")]
    Counters(#[source] io::Error),
    #[error(transparent)]
    Unsafe(#[from] Unsafe),
}

/// Replaces `table inet arcway` with the rendering of `inputs` in one transaction.
pub async fn apply(inputs: &NftInputs) -> Result<ApplyReport, NftError> {
    apply_with(inputs, &TableExtras::default()).await
}

/// Replaces `table inet arcway` with marks, NAT, counters and held classes. cgroups that do
/// not exist are left out (and reported) instead of making the whole load fail.
pub async fn apply_with(inputs: &NftInputs, extras: &TableExtras) -> Result<ApplyReport, NftError> {
    let root = Path::new(CGROUP_ROOT);
    let mut extras = extras.clone();
    extras.missing_cgroups.extend(missing_cgroups(inputs, root));
    let mut result = run_nft(&["-f", "-"], Some(render_replace_with(inputs, &extras)?)).await;
    // A cgroup removed between the check and the load: look again once.
    if result.is_err() {
        let now_missing = missing_cgroups(inputs, root);
        if !now_missing.is_subset(&extras.missing_cgroups) {
            extras.missing_cgroups.extend(now_missing);
            result = run_nft(&["-f", "-"], Some(render_replace_with(inputs, &extras)?)).await;
        }
    }
    result?;
    for cgroup in &extras.missing_cgroups {
        warn!(%cgroup, "cgroup does not exist: its class matcher is left out until the table is applied again");
    }
    info!(
        classes = inputs.classes.len(),
        nat = inputs.nat.len(),
        counted = extras.counted.len(),
        held = extras.held.len(),
        "nftables table replaced"
    );
    Ok(ApplyReport {
        missing_cgroups: extras.missing_cgroups,
    })
}

/// Deletes `table inet arcway`; a table that is already gone is not an error.
pub async fn remove() -> Result<(), NftError> {
    // Declaring the table first makes the delete valid when it does not exist.
    let text = "table inet arcway {}\ndelete table inet arcway\n".to_string();
    run_nft(&["-f", "-"], Some(text)).await.map(|_| ())
}

/// Reads every arcway counter (byte values by key) with one netlink dump of the table's
/// counter objects. No table: no counters.
pub async fn read_counters() -> Result<BTreeMap<CounterKey, u64>, NftError> {
    // A dump of a few dozen small objects, answered by the kernel in the same call: cheaper
    // to do in place than to hand to a blocking thread.
    counters::read_blocking().map_err(NftError::Counters)
}

async fn run_nft(args: &[&str], stdin: Option<String>) -> Result<String, NftError> {
    let mut child = crate::child_env::apply(&mut Command::new("nft"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(NftError::Spawn)?;
    if let Some(text) = stdin
        && let Some(mut pipe) = child.stdin.take()
    {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(NftError::Spawn)?;
    }
    let out = child.wait_with_output().await.map_err(NftError::Spawn)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(NftError::Rejected {
            stderr: errors_of(&String::from_utf8_lossy(&out.stderr)),
        })
    }
}

/// nft's complaints, shortest form: each distinct `Error:` message once (with the line it
/// names first), without the echoed script and carets. Status and logs show this text.
fn errors_of(stderr: &str) -> String {
    const SHOWN: usize = 3;
    let mut messages: Vec<(&str, &str)> = Vec::new();
    for line in stderr.lines() {
        let Some(at) = line.find("Error: ") else {
            continue;
        };
        let (place, message) = (line[..at].trim_end_matches([' ', ':']), &line[at + 7..]);
        if !messages.iter().any(|(_, m)| *m == message) {
            messages.push((place, message));
        }
    }
    if messages.is_empty() {
        return stderr.trim().to_owned();
    }
    let mut out: Vec<String> = messages
        .iter()
        .take(SHOWN)
        .map(|(place, message)| {
            if place.is_empty() {
                (*message).to_owned()
            } else {
                format!("{message} (at {place})")
            }
        })
        .collect();
    if messages.len() > SHOWN {
        out.push(format!("and {} more", messages.len() - SHOWN));
    }
    out.join("; ")
}

#[cfg(test)]
mod error_tests {
    #[test]
    fn nft_errors_are_shown_once_each_without_the_echoed_script() {
        let stderr = "/dev/stdin:1:1-21: Error: Could not process rule: Operation not permitted\n\
                      table inet arcway {}\n^^^^^\n\
                      /dev/stdin:2:19-24: Error: Could not process rule: Operation not permitted\n\
                      delete table inet arcway\n      ^^^\n\
                      /dev/stdin:9:3-30: Error: Could not process rule: No such file or directory\n";
        assert_eq!(
            super::errors_of(stderr),
            "Could not process rule: Operation not permitted (at /dev/stdin:1:1-21); \
             Could not process rule: No such file or directory (at /dev/stdin:9:3-30)"
        );
        assert_eq!(
            super::errors_of("nft: command not found\n"),
            "nft: command not found"
        );
    }
}
