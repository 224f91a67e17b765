//! Unit tests of the configuration module. Every check has a test asserting the message and
//! the line:column it points at.

mod classes;
mod example;
mod fuzz;
mod health;
mod layout;
mod paths;
mod routing;
mod syntax;
mod values;

use super::{Config, ConfigError, parse_str};

/// Seven lines: a valid configuration with wifi, cellular and one default class.
pub const BASE: &str = "version: 1
uplinks:
  wifi: {interface: wlan0}
  cellular: {interface: wwan0}
classes:
  - name: default
    paths: [wifi, cellular]
";

/// BASE followed by `extra`, which therefore starts on line 8.
pub fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

pub fn ok(text: &str) -> Config {
    match parse_str(text, "t.yaml") {
        Ok(c) => c,
        Err(e) => panic!("expected a valid configuration, got:\n{e}"),
    }
}

/// Every rendered diagnostic line.
pub fn errors(text: &str) -> Vec<String> {
    match parse_str(text, "t.yaml") {
        Ok(_) => panic!("expected errors, the configuration is valid:\n{text}"),
        Err(ConfigError::Invalid(d)) => d.iter().map(ToString::to_string).collect(),
        Err(e) => vec![e.to_string()],
    }
}

/// Asserts that one of the errors is exactly at `line:col`, names `path`, and that its message
/// contains `message`.
#[track_caller]
pub fn expect(text: &str, line: u32, col: u32, path: &str, message: &str) {
    let errs = errors(text);
    let prefix = format!("t.yaml:{line}:{col}: {path}: ");
    let found = errs
        .iter()
        .any(|e| e.starts_with(&prefix) && e[prefix.len()..].contains(message));
    assert!(
        found,
        "no error `{prefix}...{message}...` among:\n{}",
        errs.join("\n")
    );
}

/// Asserts that there is exactly one error and it is the one described.
#[track_caller]
pub fn expect_only(text: &str, line: u32, col: u32, path: &str, message: &str) {
    let errs = errors(text);
    assert_eq!(
        errs.len(),
        1,
        "expected one error, got:\n{}",
        errs.join("\n")
    );
    expect(text, line, col, path, message);
}
