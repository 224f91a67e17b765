//! From text to the as-written configuration, with hard limits so that a hostile or broken
//! file (alias bombs, deep nesting, huge scalars) costs little memory and time.

use serde_saphyr::{
    DuplicateKeyPolicy, Error as YamlError, MessageFormatter, Options, UserMessageFormatter,
};

use super::error::{ConfigError, Diagnostic, Pos};
use super::keypath::{self, Anchor, Shape};
use super::raw::RawConfig;

/// Files larger than this are refused before parsing; real configurations are a few KiB.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

fn options() -> Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(MAX_FILE_BYTES as usize);
    budget.max_events = 200_000;
    budget.max_nodes = 100_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_depth = 32;
    // One more than allowed, so that a second document gets its own clear message.
    budget.max_documents = 2;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES as usize;
    budget.max_merge_keys = 1_000;
    budget.max_recorded_anchor_events = 100_000;
    budget.max_recorded_anchor_bytes = MAX_FILE_BYTES as usize;

    let mut options = Options::default();
    options.budget = Some(budget);
    // Aliases are replayed during deserialization: cap the total work, not just the input.
    options.alias_limits.max_total_replayed_events = 100_000;
    options.alias_limits.max_replay_stack_depth = 16;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    // `manage: no` silently meaning false is the kind of surprise a strict file avoids.
    options.strict_booleans = true;
    options.reject_unsupported_tags = true;
    options.with_snippet = false;
    options
}

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
    serde_saphyr::from_str_with_options::<RawConfig>(text, options())
        .map_err(|e| ConfigError::Invalid(vec![diagnostic(&e, text, origin)]))
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

/// The innermost error (alias and snippet wrappers carry no message of their own).
fn innermost(mut e: &YamlError) -> &YamlError {
    while let YamlError::AliasError { error, .. } | YamlError::WithSnippet { error, .. } = e {
        e = error;
    }
    e
}

fn diagnostic(e: &YamlError, text: &str, origin: &str) -> Diagnostic {
    let inner = innermost(e);
    let pos = e
        .location()
        .and_then(Pos::from_location)
        .unwrap_or(Pos::START);
    let (anchor, message) = match inner {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => (
            Anchor::Key,
            format!(
                "unknown key `{field}` (expected one of: {})",
                expected.join(", ")
            ),
        ),
        YamlError::SerdeMissingField { field, .. } => {
            (Anchor::MissingKey(field), "missing required key".to_owned())
        }
        YamlError::DuplicateMappingKey { key, .. } => {
            let key = key.as_deref().unwrap_or("?");
            (Anchor::Key, format!("duplicate key `{key}`"))
        }
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => (
            Anchor::Value,
            format!(
                "unknown value `{variant}` (expected one of: {})",
                expected.join(", ")
            ),
        ),
        YamlError::MultipleDocuments { .. } => {
            return Diagnostic {
                origin: origin.to_owned(),
                pos,
                path: "(top level)".to_owned(),
                message: "only one YAML document is allowed".to_owned(),
            };
        }
        YamlError::InvalidScalar { ty, .. } => (
            Anchor::Value,
            keypath::shape_at(text, pos)
                .and_then(|shape| scalar_message(ty, &shape))
                .unwrap_or_else(|| UserMessageFormatter.format_message(inner).into_owned()),
        ),
        YamlError::InvalidBooleanStrict { .. } => (
            Anchor::Value,
            keypath::shape_at(text, pos)
                .and_then(|shape| scalar_message("bool", &shape))
                .unwrap_or_else(|| UserMessageFormatter.format_message(inner).into_owned()),
        ),
        // A list or mapping where one value belongs.
        YamlError::Unexpected { expected, .. } if expected.ends_with("scalar") => (
            Anchor::Value,
            match keypath::shape_at(text, pos) {
                Some(Shape::List) => "expected a single value, found a list".to_owned(),
                Some(Shape::Mapping) => "expected a single value, found a mapping".to_owned(),
                _ => UserMessageFormatter.format_message(inner).into_owned(),
            },
        ),
        other => (
            Anchor::Value,
            UserMessageFormatter.format_message(other).into_owned(),
        ),
    };
    let path = keypath::path_at(text, pos, anchor);
    Diagnostic {
        origin: origin.to_owned(),
        pos,
        path: if path.is_empty() {
            "(top level)".to_owned()
        } else {
            path
        },
        message,
    }
}

/// A message naming the value that did not fit a number or boolean, instead of the parser's
/// bare "invalid u32".
fn scalar_message(ty: &str, shape: &Shape) -> Option<String> {
    let what = match ty {
        "bool" => "true or false",
        _ if int_range(ty).is_some() => "a whole number",
        _ => return None,
    };
    let (text, tag) = match shape {
        Shape::Scalar { text, tag } => (text, tag),
        Shape::List => return Some(format!("expected {what}, found a list")),
        Shape::Mapping => return Some(format!("expected {what}, found a mapping")),
        Shape::Alias => return None,
    };
    if let Some(tag) = tag {
        return Some(format!("expected {what}, found a value tagged `{tag}`"));
    }
    if ty == "bool" {
        return Some(format!("invalid boolean `{text}` (expected true or false)"));
    }
    let (min, max) = int_range(ty)?;
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Some(format!(
            "invalid number `{text}` (a leading zero is not allowed: neither decimal nor octal)"
        ));
    }
    Some(match int_value(text) {
        Some(_) => format!("number `{text}` is out of range ({min} to {max})"),
        None => format!("invalid number `{text}` (expected a whole number)"),
    })
}

fn int_range(ty: &str) -> Option<(i128, i128)> {
    Some(match ty {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// A YAML integer as the parser reads it (sign, `0x`/`0o`/`0b`, `_` separators), whatever
/// its size.
fn int_value(text: &str) -> Option<i128> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = [("0x", 16), ("0o", 8), ("0b", 2)]
        .iter()
        .find_map(|(p, r)| rest.strip_prefix(p).map(|d| (*r, d)))
        .unwrap_or((10, rest));
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    // Too long for i128 is still a whole number, just far out of range.
    let value = i128::from_str_radix(&digits, radix).unwrap_or(i128::MAX);
    Some(if negative { -value } else { value })
}
