//! Finding built binaries (arcway, arcway-lab) for tests that spawn them.
use std::env;
use std::path::{Path, PathBuf};

use crate::error::{LabError, Result};

/// Directories that may hold the workspace's binaries, most specific first: next to the
/// running executable (a test binary lives in <target>/<profile>/deps), $ARCWAY_BIN_DIR,
/// $CARGO_TARGET_DIR/<profile>, and the workspace's own target directory.
fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = env::var_os("ARCWAY_BIN_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Ok(exe) = env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.to_owned());
        if dir.file_name().is_some_and(|n| n == "deps")
            && let Some(up) = dir.parent()
        {
            dirs.push(up.to_owned());
        }
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let targets = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([workspace.join("target")]);
    for target in targets {
        dirs.push(target.join("debug"));
        dirs.push(target.join("release"));
    }
    dirs
}

/// The path of a built binary of the workspace, e.g. `bin_path("arcway")`.
pub fn bin_path(name: &str) -> Result<PathBuf> {
    let dirs = candidate_dirs();
    dirs.iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| LabError::BinaryNotFound {
            name: name.to_owned(),
            searched: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The arcway-lab binary: this process when it is arcway-lab, else a built one.
pub fn lab_bin() -> Option<PathBuf> {
    let exe = env::current_exe().ok()?;
    if exe.file_name().is_some_and(|n| n == "arcway-lab") {
        return Some(exe);
    }
    bin_path("arcway-lab").ok()
}
