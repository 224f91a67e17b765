//! The YAML configuration (`/etc/arcway/arcway.yaml`): strict parsing, every default, and
//! semantic checks that report all problems at once as `FILE:LINE:COL: key.path: message`.
//!
//! [`load`] reads a file, [`parse_str`] parses text (tests, reloads). The result is a checked
//! [`Config`]; [`Config::layout`] derives tables, rule priorities and marks from it.
//! docs/config.md documents every key.

mod check;
mod error;
mod keypath;
mod kinds;
mod layout;
mod parse;
mod raw;
pub(crate) mod summary;
mod types;
mod values;

#[cfg(test)]
pub(crate) mod tests;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use check::VERSION;
pub use error::{ConfigError, Diagnostic, Pos};
pub use layout::{Layout, MARK_FIRST_CLASS, Marks, RULES_FIXED, RulePriorities};
pub use parse::MAX_FILE_BYTES;
pub use types::*;

/// The default location of the configuration file.
pub const DEFAULT_PATH: &str = "/etc/arcway/arcway.yaml";

/// Reads, parses and checks a configuration file.
///
/// Problems with the file itself (missing, unreadable, a directory, empty, binary, larger than
/// [`MAX_FILE_BYTES`]) are one error; problems in its content are all reported together.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let bytes = read_limited(path, &origin)?;
    let raw = parse::parse_bytes(&bytes, &origin)?;
    check::build(raw, &origin)
}

/// Parses and checks configuration text; `origin` names it in messages (e.g. the file name).
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let raw = parse::parse_text(text, origin)?;
    check::build(raw, origin)
}

/// Reads at most one byte more than the limit, so a huge file or an endless device is never
/// read in full.
fn read_limited(path: &Path, origin: &str) -> Result<Vec<u8>, ConfigError> {
    let file = File::open(path).map_err(|e| ConfigError::read(origin, e))?;
    let meta = file.metadata().map_err(|e| ConfigError::read(origin, e))?;
    if meta.is_dir() {
        return Err(ConfigError::Directory {
            origin: origin.to_owned(),
        });
    }
    if !meta.is_file() {
        return Err(ConfigError::NotRegular {
            origin: origin.to_owned(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            origin: origin.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ConfigError::read(origin, e))?;
    Ok(bytes)
}
