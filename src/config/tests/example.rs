//! The shipped example and the reference documentation stay in step with the code.

use super::ok;
use crate::config::keypath;
use crate::model::PathId;

const EXAMPLE: &str = include_str!("../../../examples/arcway.yaml");
const DOCS: &str = include_str!("../../../docs/config.md");

#[test]
fn example_is_valid_and_uses_every_path() {
    let c = ok(EXAMPLE);
    assert_eq!(c.paths(), PathId::ALL);
    assert_eq!(c.uplinks.wifi.as_ref().unwrap().interface, "wlan0");
    assert_eq!(
        c.uplinks.cellular.as_ref().unwrap().interface.as_deref(),
        Some("wwan0")
    );
    assert_eq!(c.classes.last().unwrap().name, "default");
    assert!(c.classes.last().unwrap().matcher.is_none());
}

/// `classes[1].paths[0].policy` -> `classes[].paths[].policy`, `health.wifi.x` -> `health.<path>.x`.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for ch in path.chars() {
        match ch {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(ch),
        }
    }
    for p in PathId::ALL {
        if let Some(rest) = out.strip_prefix(&format!("health.{p}")) {
            return format!("health.<path>{rest}");
        }
    }
    out
}

#[test]
fn every_key_of_the_example_is_documented() {
    let mut missing = Vec::new();
    let keys: Vec<_> = keypath::index(EXAMPLE)
        .into_iter()
        .filter(|n| n.is_key)
        .collect();
    assert!(
        keys.len() > 80,
        "the example should show (nearly) every key, it has {}",
        keys.len()
    );
    for node in keys {
        let key = normalize(&node.path);
        // Section headings document the section keys (`arc`, `health`, `health.<path>`).
        let is_section = !key.contains('.')
            || key == "health.<path>"
            || key == "routing.tables"
            || key == "routing.rule_priority";
        if !is_section && !DOCS.contains(&format!("`{key}`")) {
            missing.push(format!("{} ({})", key, node.pos));
        }
    }
    assert!(
        missing.is_empty(),
        "keys of examples/arcway.yaml missing from docs/config.md: {missing:#?}"
    );
}

#[test]
fn every_section_has_a_heading() {
    for section in [
        "version", "arc", "uplinks", "health", "classes", "budget", "status", "metrics", "logging",
        "routing",
    ] {
        assert!(
            DOCS.contains(&format!("`{section}`")),
            "docs/config.md lacks `{section}`"
        );
    }
}

#[test]
fn normalize_examples() {
    assert_eq!(
        normalize("classes[12].paths[0].policy"),
        "classes[].paths[].policy"
    );
    assert_eq!(
        normalize("health.cellular.probes[0].dns.name"),
        "health.<path>.probes[].dns.name"
    );
}
