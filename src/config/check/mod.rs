//! Semantic checks: from the as-written configuration to [`Config`], applying defaults and
//! collecting every problem (not just the first) with the key path and position of the value
//! at fault. When a value was left out, the problem points at its closest written parent.

mod cellular;
mod classes;
mod health;
mod matcher;
mod misc;
mod names;
mod paths;
mod routing;

use serde_saphyr::Spanned;

use super::error::{ConfigError, Diagnostic, Pos};
use super::raw::RawConfig;
use super::types::Config;

/// The configuration format version this arcway reads.
pub const VERSION: u32 = 1;

/// Collects diagnostics while sections are checked.
pub(crate) struct Check {
    origin: String,
    diags: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Check {
    /// Valid, but probably not what was meant: reported, and the configuration still loads.
    pub(crate) fn warn(&mut self, path: impl Into<String>, pos: Pos, message: impl Into<String>) {
        self.warnings.push(Diagnostic {
            origin: self.origin.clone(),
            pos,
            path: path.into(),
            message: message.into(),
        });
    }

    pub(crate) fn err(&mut self, path: impl Into<String>, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            origin: self.origin.clone(),
            pos,
            path: path.into(),
            message: message.into(),
        });
    }
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn idx(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// The position of an optional spanned value, or the fallback when it was not written.
pub(crate) fn pos_or<T>(value: &Option<Spanned<T>>, fallback: Pos) -> Pos {
    value.as_ref().map_or(fallback, Pos::of)
}

/// Checks the as-written configuration and builds the final one.
pub fn build(raw: RawConfig, origin: &str) -> Result<Config, ConfigError> {
    let mut c = Check {
        origin: origin.to_owned(),
        diags: Vec::new(),
        warnings: Vec::new(),
    };
    if raw.version.value != VERSION {
        c.err(
            "version",
            Pos::of(&raw.version),
            format!(
                "unsupported version {} (this arcway reads version {VERSION})",
                raw.version.value
            ),
        );
    }
    let (arc, uplinks) = paths::check(&mut c, raw.arc, raw.uplinks);
    let configured = paths::configured(&arc, &uplinks);
    let health = health::check(&mut c, raw.health, &configured);
    let budget = misc::check_budget(&mut c, raw.budget, &configured);
    let class_count = raw.classes.as_ref().map_or(0, |l| l.value.len());
    let routing = routing::check_routing(&mut c, raw.routing, class_count, &configured);
    let classes = classes::check(&mut c, raw.classes, &configured, &budget, &routing);
    let (status, metrics, logging) = misc::check_misc(&mut c, raw.status, raw.metrics, raw.logging);

    if !c.diags.is_empty() {
        let mut diags = c.diags;
        diags.sort_by_key(|d| d.pos);
        return Err(ConfigError::Invalid(diags));
    }
    let mut warnings = c.warnings;
    warnings.sort_by_key(|d| d.pos);
    Ok(Config {
        warnings,
        arc,
        uplinks,
        health,
        classes,
        budget,
        status,
        metrics,
        logging,
        routing,
    })
}
