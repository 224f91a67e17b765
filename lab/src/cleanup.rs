//! Removing labs: by prefix (`down`, Drop) or every lab whose owner died (`cleanup`).
use std::fs;
use std::path::Path;

use crate::cmd::{netns_list, netns_pids, run_input};
use crate::error::{LabError, Result};
use crate::process::{PidRecord, terminate};
use crate::role::Role;
use crate::state::LabState;

/// Where `ip netns exec` finds per-namespace files such as `hosts`.
pub(crate) fn etc_netns(ns: &str) -> std::path::PathBuf {
    Path::new("/etc/netns").join(ns)
}

/// Namespaces of the lab with `prefix` that exist now.
fn lab_namespaces(prefix: &str, all: &[String]) -> Vec<String> {
    Role::ALL
        .iter()
        .map(|r| r.ns(prefix))
        .filter(|ns| all.contains(ns))
        .collect()
}

/// Ends the lab's processes by PID (recorded ones and any found inside its namespaces), then
/// deletes its namespaces, its /etc/netns directories and its state. Collects every error.
pub fn remove_lab(prefix: &str) -> Result<()> {
    let mut errors = Vec::new();
    let namespaces = match netns_list() {
        Ok(all) => lab_namespaces(prefix, &all),
        Err(e) => {
            errors.push(e.to_string());
            Vec::new()
        }
    };
    let mut victims: Vec<PidRecord> = LabState::load(prefix).map(|s| s.pids).unwrap_or_default();
    for ns in &namespaces {
        victims.extend(netns_pids(ns).into_iter().map(|pid| PidRecord::of(pid, ns)));
    }
    victims.retain(PidRecord::is_alive);
    terminate(&mut victims, |r| r.pid, |r| r.is_alive());
    if let Some(r) = victims.iter().find(|r| r.is_alive()) {
        errors.push(format!("failed to end pid {} ({})", r.pid, r.what));
    }
    let lines: Vec<String> = namespaces
        .iter()
        .map(|ns| format!("netns del {ns}"))
        .collect();
    if !lines.is_empty() {
        let mut cmd = std::process::Command::new("ip");
        cmd.args(["-force", "-batch", "-"]);
        if let Err(e) = run_input(&mut cmd, Some(&(lines.join("\n") + "\n"))) {
            errors.push(e.to_string());
        }
    }
    for role in Role::ALL {
        let dir = etc_netns(&role.ns(prefix));
        if dir.exists()
            && let Err(e) = fs::remove_dir_all(&dir)
        {
            errors.push(format!("failed to remove {}: {e}", dir.display()));
        }
    }
    let dir = LabState::dir(prefix);
    if dir.exists()
        && let Err(e) = fs::remove_dir_all(&dir)
    {
        errors.push(format!("failed to remove {}: {e}", dir.display()));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LabError::Cleanup(errors))
    }
}

/// Labs whose owner process is gone (a test killed before its Drop ran). Namespaces without a
/// state file are left alone: other tests on this machine may own them.
pub fn stale_prefixes() -> Vec<String> {
    LabState::prefixes()
        .into_iter()
        .filter(|p| LabState::load(p).is_ok_and(|s| s.is_stale()))
        .collect()
}

/// `arcway-lab cleanup`: one prefix, or every stale lab. Returns the prefixes removed.
pub fn cleanup(prefix: Option<&str>) -> Result<Vec<String>> {
    let prefixes = match prefix {
        Some(p) => vec![p.to_owned()],
        None => stale_prefixes(),
    };
    let mut errors = Vec::new();
    for p in &prefixes {
        if let Err(e) = remove_lab(p) {
            errors.push(format!("{p}: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(prefixes)
    } else {
        Err(LabError::Cleanup(errors))
    }
}
