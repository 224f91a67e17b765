//! Reading and atomically writing arcway's credentials file.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::validate::{self, ARCWAY, Names};
use super::{Credentials, Error, FieldError};

/// Reads and validates a JSON object from `path` using the field names in `names`.
pub(crate) fn read_with(path: &Path, names: &Names) -> Result<Credentials, Error> {
    validate_map(path, &read_json(path)?, names)
}

/// The JSON object in `path`.
pub(crate) fn read_json(path: &Path) -> Result<Map<String, Value>, Error> {
    let text = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|source| Error::Parse {
        path: path.into(),
        source,
    })?;
    let Value::Object(root) = value else {
        let source = FieldError {
            field: "(top level)".into(),
            problem: "not a JSON object".into(),
        };
        return Err(Error::Invalid {
            path: path.into(),
            source,
        });
    };
    Ok(root)
}

pub(crate) fn validate_map(
    path: &Path,
    root: &Map<String, Value>,
    names: &Names,
) -> Result<Credentials, Error> {
    validate::credentials(root, names).map_err(|source| Error::Invalid {
        path: path.into(),
        source,
    })
}

/// Loads arcway's credentials file (SORACOM field names).
pub fn load(path: impl AsRef<Path>) -> Result<Credentials, Error> {
    read_with(path.as_ref(), &ARCWAY)
}

impl Credentials {
    /// Parses credentials from JSON text in arcway's format (for API responses and tests).
    pub fn from_json_str(text: &str) -> Result<Credentials, Error> {
        let path = PathBuf::from("<json>");
        let value: Value = serde_json::from_str(text).map_err(|source| Error::Parse {
            path: path.clone(),
            source,
        })?;
        match value {
            Value::Object(root) => validate_map(&path, &root, &ARCWAY),
            _ => Err(Error::Invalid {
                path,
                source: FieldError {
                    field: "(top level)".into(),
                    problem: "not a JSON object".into(),
                },
            }),
        }
    }

    /// The file contents arcway writes (contains the private key: never log it).
    pub fn to_json_string(&self) -> String {
        let mut text = serde_json::to_string_pretty(&validate::to_json(self)).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Writes `credentials` to `path` so that a reader sees either the old file or the new one,
/// never a torn mix, and the new file is never readable by others, not even for an instant:
/// temp file in the same directory created with mode 0600, write, fsync, rename, fsync the dir.
pub fn save_atomic(path: impl AsRef<Path>, credentials: &Credentials) -> Result<(), Error> {
    let path = path.as_ref();
    let wrap = |source| Error::Write {
        path: path.into(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| wrap(std::io::ErrorKind::InvalidInput.into()))?;
    let tmp = dir.join(format!(
        ".{}.tmp.{}.{}",
        name.to_string_lossy(),
        std::process::id(),
        unique_suffix()
    ));
    let result = write_and_rename(&tmp, path, &dir, credentials.to_json_string().as_bytes());
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(wrap)
}

fn write_and_rename(tmp: &Path, path: &Path, dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, path)?;
    // The rename is durable only once the directory entry is on disk.
    File::open(dir)?.sync_all()
}

fn unique_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}
