//! The state file of a lab, /run/arcway-lab/<prefix>/state.json: what `down`, `show` and
//! `cleanup` need from another process (options, owner, PIDs to end).
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{LabError, Result};
use crate::process::PidRecord;

/// Where every lab keeps its state directory.
pub const STATE_ROOT: &str = "/run/arcway-lab";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub prefix: String,
    pub ipv6: bool,
    /// The process owning the lab; `None` for a lab left running by `arcway-lab up`.
    pub owner: Option<PidRecord>,
    /// Processes started by the lab or through it.
    pub pids: Vec<PidRecord>,
}

impl LabState {
    pub fn dir(prefix: &str) -> PathBuf {
        Path::new(STATE_ROOT).join(prefix)
    }

    pub fn file(prefix: &str) -> PathBuf {
        Self::dir(prefix).join("state.json")
    }

    /// Writes the state (temp file + rename, so readers never see half a file).
    pub fn save(&self) -> Result<()> {
        let dir = Self::dir(&self.prefix);
        fs::create_dir_all(&dir).map_err(LabError::io(&dir))?;
        // The directory holds the Arc credentials and the logs: root only.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(LabError::io(&dir))?;
        let text = serde_json::to_string_pretty(self).map_err(|source| LabError::Parse {
            what: "lab state".to_owned(),
            source,
        })?;
        let tmp = dir.join("state.json.tmp");
        fs::write(&tmp, text).map_err(LabError::io(&tmp))?;
        let file = Self::file(&self.prefix);
        fs::rename(&tmp, &file).map_err(LabError::io(file))
    }

    pub fn load(prefix: &str) -> Result<LabState> {
        let file = Self::file(prefix);
        let text = fs::read_to_string(&file).map_err(LabError::io(&file))?;
        serde_json::from_str(&text).map_err(|source| LabError::Parse {
            what: file.display().to_string(),
            source,
        })
    }

    /// Prefixes with a state directory.
    pub fn prefixes() -> Vec<String> {
        let Ok(entries) = fs::read_dir(STATE_ROOT) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        out.sort();
        out
    }

    /// A lab is stale when it has an owner and that owner is gone (a test killed hard).
    pub fn is_stale(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| !o.is_alive())
    }
}
