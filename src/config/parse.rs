//! From text to the as-written configuration, with hard limits so that a hostile or broken
//! file (alias bombs, deep nesting, huge scalars) costs little memory and time.

use serde::Deserialize;

use super::error::{ConfigError, Diagnostic, Pos};
use super::keypath;
use super::raw::RawConfig;
use super::yaml::{self, De};

/// Files larger than this are refused before parsing; real configurations are a few KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Checks that the bytes are text at all, then parses them.
pub fn parse_bytes(bytes: &[u8], origin: &str) -> Result<RawConfig, ConfigError> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            origin: origin.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let pos = pos_of_offset(bytes, e.valid_up_to());
            let what = "invalid UTF-8";
            return Err(ConfigError::Binary {
                origin: origin.to_owned(),
                pos,
                what,
            });
        }
    };
    parse_text(text, origin)
}

/// Parses text into the as-written configuration.
pub fn parse_text(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigError::TooLarge {
            origin: origin.to_owned(),
            limit: MAX_FILE_BYTES,
        });
    }
    if let Some(offset) = text.find('\0') {
        let pos = pos_of_offset(text.as_bytes(), offset);
        return Err(ConfigError::Binary {
            origin: origin.to_owned(),
            pos,
            what: "NUL byte",
        });
    }
    let meaningful = text.lines().any(|l| {
        let l = l.trim_start_matches('\u{feff}').trim();
        !l.is_empty() && !l.starts_with('#') && l != "---" && l != "..."
    });
    if !meaningful {
        return Err(ConfigError::Empty {
            origin: origin.to_owned(),
        });
    }
    // Within the limits (depth, nodes, aliases, anchors, alias expansion, text), with
    // duplicate keys and unsupported tags refused and merge keys resolved: see yaml::LIMITS.
    yaml::load(text, yaml::LIMITS)
        .and_then(|root| RawConfig::deserialize(De::new(&root)))
        .map_err(|e| ConfigError::Invalid(vec![diagnostic(e, text, origin)]))
}

/// Line and column (1-based, in characters) of a byte offset.
fn pos_of_offset(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
    }
}

fn diagnostic(e: yaml::Error, text: &str, origin: &str) -> Diagnostic {
    let pos = e.pos.unwrap_or(Pos::START);
    let path = keypath::path_at(text, pos, e.anchor);
    Diagnostic {
        origin: origin.to_owned(),
        pos,
        path: if path.is_empty() {
            "(top level)".to_owned()
        } else {
            path
        },
        message: e.message,
    }
}
