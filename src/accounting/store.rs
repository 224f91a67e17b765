//! The ledger on disk: JSON, replaced atomically (temp file, fsync, rename, fsync of the
//! directory), so a crash or power loss leaves either the old or the new file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::AccountingError;
use super::ledger::{LEDGER_VERSION, Ledger};

/// Default location of the state file.
pub const DEFAULT_STATE_PATH: &str = "/var/lib/arcway/accounting.json";

/// Reads the ledger; a missing file is `None`.
pub fn load(path: &Path) -> Result<Option<Ledger>, AccountingError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AccountingError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let ledger: Ledger = serde_json::from_str(&text).map_err(|source| AccountingError::Parse {
        path: path.to_owned(),
        source,
    })?;
    if ledger.version != LEDGER_VERSION {
        return Err(AccountingError::Version {
            path: path.to_owned(),
            version: ledger.version,
        });
    }
    Ok(Some(ledger))
}

/// Writes the ledger atomically, creating the directory if needed.
pub fn save(path: &Path, ledger: &Ledger) -> Result<(), AccountingError> {
    let write = |source| AccountingError::Write {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(write)?;
    let mut text = serde_json::to_string_pretty(ledger).map_err(|e| write(io::Error::other(e)))?;
    text.push('\n');
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(write)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp.{}", std::process::id()));
    path.with_file_name(name)
}
