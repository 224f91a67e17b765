//! Byte counters in `table inet arcway`: per class and path, and per path in total.
//!
//! Named counters, so one netlink dump of the table's counter objects reads them all. Packets
//! are counted by interface: going out in postrouting (after NAT decisions, with the class
//! mark on the packet) and coming in in prerouting (by the connection's class mark, which
//! replies carry too). Bytes are IP packet lengths (headers included, no link layer).
//! Traffic without a class mark counts for the default class; packets arcway's own
//! sockets send with a path mark (WireGuard transport, probes) count only in the line
//! totals, their replies also in the default class. Replacing the table resets every
//! counter to zero: readers must treat a smaller value as a restart (see `accounting`).

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use serde::{Deserialize, Serialize};

use super::quote::{Kind, Unsafe, token};
use super::{NftInputs, TableExtras};
use crate::model::PathId;

/// A path whose interface is counted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CountedPath {
    pub path: PathId,
    pub ifname: String,
}

/// Into the gateway from the path (`rx`) or out of it (`tx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Rx,
    Tx,
}

impl Direction {
    pub const BOTH: [Direction; 2] = [Direction::Rx, Direction::Tx];

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Rx => "rx",
            Direction::Tx => "tx",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one named counter counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CounterKey {
    /// One class's traffic on one path.
    Class {
        class: String,
        path: PathId,
        dir: Direction,
    },
    /// Everything on a path's interface.
    Line { path: PathId, dir: Direction },
}

impl CounterKey {
    /// The counter's name in the table: `class.<class>.<path>.<dir>` or `line.<path>.<dir>`
    /// (class names never hold a dot).
    pub fn name(&self) -> String {
        match self {
            CounterKey::Class { class, path, dir } => format!("class.{class}.{path}.{dir}"),
            CounterKey::Line { path, dir } => format!("line.{path}.{dir}"),
        }
    }

    /// The key of a counter name; None for names arcway does not make.
    pub fn parse(name: &str) -> Option<CounterKey> {
        let parts: Vec<&str> = name.split('.').collect();
        let dir = match *parts.last()? {
            "rx" => Direction::Rx,
            "tx" => Direction::Tx,
            _ => return None,
        };
        match parts.as_slice() {
            ["class", class, path, _] if !class.is_empty() => Some(CounterKey::Class {
                class: (*class).to_owned(),
                path: path.parse().ok()?,
                dir,
            }),
            ["line", path, _] => Some(CounterKey::Line {
                path: path.parse().ok()?,
                dir,
            }),
            _ => None,
        }
    }
}

/// Counted paths by interface (one path per interface, the first one named).
fn by_ifname(extras: &TableExtras) -> BTreeMap<&str, PathId> {
    let mut out = BTreeMap::new();
    for c in &extras.counted {
        out.entry(c.ifname.as_str()).or_insert(c.path);
    }
    out
}

/// Classes counted on every path: the marked ones, then the default class (mark 0).
fn counted_classes<'a>(inputs: &'a NftInputs, extras: &'a TableExtras) -> Vec<(&'a str, u32)> {
    let mut out: Vec<(&str, u32)> = inputs
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c.mark))
        .collect();
    if let Some(name) = &extras.default_class {
        out.push((name.as_str(), 0));
    }
    out
}

/// Every counter the table declares, in declaration order.
pub fn counter_keys(inputs: &NftInputs, extras: &TableExtras) -> Vec<CounterKey> {
    let mut keys = Vec::new();
    for path in by_ifname(extras).into_values() {
        for dir in Direction::BOTH {
            keys.push(CounterKey::Line { path, dir });
            for (class, _) in counted_classes(inputs, extras) {
                keys.push(CounterKey::Class {
                    class: class.to_owned(),
                    path,
                    dir,
                });
            }
        }
    }
    keys
}

pub(super) fn counter_objects(
    out: &mut String,
    inputs: &NftInputs,
    extras: &TableExtras,
) -> Result<(), Unsafe> {
    for key in counter_keys(inputs, extras) {
        writeln!(
            out,
            "\tcounter {} {{\n\t}}",
            token(Kind::Word, &key.name())?
        )
        .ok();
    }
    Ok(())
}

/// A counter's name where a rule refers to it (a quoted string there).
fn counter_ref(key: &CounterKey) -> Result<String, Unsafe> {
    Ok(format!("\"{}\"", token(Kind::Word, &key.name())?))
}

pub(super) fn account_chains(
    out: &mut String,
    inputs: &NftInputs,
    extras: &TableExtras,
) -> Result<(), Unsafe> {
    let paths = by_ifname(extras);
    if paths.is_empty() {
        return Ok(());
    }
    let mask = inputs.fwmark_mask;
    for dir in Direction::BOTH {
        let (name, hook, dev, mark) = match dir {
            Direction::Rx => ("account_in", "prerouting", "iifname", "ct mark"),
            Direction::Tx => ("account_out", "postrouting", "oifname", "meta mark"),
        };
        let jumps = paths
            .iter()
            .map(|(ifname, path)| {
                Ok(format!(
                    "{} : jump {}",
                    token(Kind::Ifname, ifname)?,
                    token(Kind::Word, &format!("{name}_{path}"))?
                ))
            })
            .collect::<Result<Vec<String>, Unsafe>>()?;
        writeln!(
            out,
            "\tchain {name} {{\n\t\ttype filter hook {hook} priority filter; policy accept;\n\t\t{dev} vmap {{ {} }}\n\t}}",
            jumps.join(", ")
        )
        .ok();
        for path in paths.values() {
            writeln!(
                out,
                "\tchain {} {{",
                token(Kind::Word, &format!("{name}_{path}"))?
            )
            .ok();
            let line = CounterKey::Line { path: *path, dir };
            writeln!(out, "\t\tcounter name {}", counter_ref(&line)?).ok();
            for (class, value) in counted_classes(inputs, extras) {
                let key = CounterKey::Class {
                    class: class.to_owned(),
                    path: *path,
                    dir,
                };
                writeln!(
                    out,
                    "\t\t{mark} & {mask:#010x} == {value:#010x} counter name {} return",
                    counter_ref(&key)?
                )
                .ok();
            }
            writeln!(out, "\t}}").ok();
        }
    }
    Ok(())
}
