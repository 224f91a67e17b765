//! `routing:`, `budget:`, `status:`, `metrics:`, `logging:`.

use std::collections::BTreeSet;

use super::{Check, pos_or};
use crate::config::error::Pos;
use crate::config::layout::MARK_FIRST_CLASS;
use crate::config::raw::{RawRouting, S};
use crate::config::types::{RoutingConfig, RulePriorityRange, Tables};
use crate::model::PathId;

/// Table ids the kernel reserves: unspec, default, main, local.
const RESERVED_TABLES: [u32; 4] = [0, 253, 254, 255];
/// Priorities arcway may use: 0 is `local`, 32766 `main` and 32767 `default`.
const PRIORITY_RANGE: std::ops::RangeInclusive<u32> = 1..=32765;

pub fn check_routing(
    c: &mut Check,
    raw: Option<S<RawRouting>>,
    classes: usize,
    configured: &BTreeSet<PathId>,
) -> RoutingConfig {
    let here = raw.as_ref().map_or(Pos::START, Pos::of);
    let r = raw.map(|r| r.value);
    let (tables, prio, mask) = match r {
        Some(r) => (r.tables, r.rule_priority, r.fwmark_mask),
        None => (None, None, None),
    };
    let tables_pos = tables.as_ref().map_or(here, Pos::of);
    let t = tables.map(|t| t.value);
    let get = |v: Option<&Option<S<u32>>>, default: u32| -> (u32, Pos) {
        match v.and_then(Option::as_ref) {
            Some(s) => (s.value, Pos::of(s)),
            None => (default, tables_pos),
        }
    };
    let arc = get(t.as_ref().map(|t| &t.arc), 7101);
    let wifi = get(t.as_ref().map(|t| &t.wifi), 7102);
    let cellular = get(t.as_ref().map(|t| &t.cellular), 7103);
    let start = get(t.as_ref().map(|t| &t.classes_start), 7110);
    let tables = Tables {
        arc: arc.0,
        wifi: wifi.0,
        cellular: cellular.0,
        classes_start: start.0,
    };
    check_tables(
        c,
        [
            (PathId::Arc, arc),
            (PathId::Wifi, wifi),
            (PathId::Cellular, cellular),
        ],
        start,
        classes,
        configured,
    );

    let prio_pos = prio.as_ref().map_or(here, Pos::of);
    let p = prio.map(|p| p.value);
    let (p_start, p_end) = match &p {
        Some(p) => (p.start.as_ref(), p.end.as_ref()),
        None => (None, None),
    };
    let rule_priority = RulePriorityRange {
        start: p_start.map_or(7100, |s| s.value),
        end: p_end.map_or(7199, |s| s.value),
    };
    let start_pos = p_start.map_or(prio_pos, Pos::of);
    let end_pos = p_end.map_or(prio_pos, Pos::of);
    let mut prio_ok = true;
    for (name, value, pos) in [
        ("start", rule_priority.start, start_pos),
        ("end", rule_priority.end, end_pos),
    ] {
        if !PRIORITY_RANGE.contains(&value) {
            prio_ok = false;
            c.err(format!("routing.rule_priority.{name}"), pos, format!("rule priority {value} is out of range 1..=32765 (0, 32766 and 32767 belong to the kernel's local, main and default rules)"));
        }
    }
    let config = RoutingConfig {
        tables,
        rule_priority,
        fwmark_mask: mask.as_ref().map_or(0x00ff_0000, |m| m.value.0),
    };
    if prio_ok && rule_priority.start >= rule_priority.end {
        c.err(
            "routing.rule_priority.end",
            end_pos,
            format!(
                "end {} must be greater than start {}",
                rule_priority.end, rule_priority.start
            ),
        );
    } else if prio_ok && config.rules_available() < RoutingConfig::rules_needed(classes) {
        c.err("routing.rule_priority", prio_pos, format!(
            "{}..={} holds {} priorities but arcway needs {} (3 path mark rules + 1 suppress rule + 1 source rule + {classes} class rules + the last one for the default class)",
            rule_priority.start, rule_priority.end, config.rules_available(), RoutingConfig::rules_needed(classes)));
    }
    check_mask(c, &config, pos_or(&mask, here), classes);
    config
}

fn check_tables(
    c: &mut Check,
    paths: [(PathId, (u32, Pos)); 3],
    classes_start: (u32, Pos),
    classes: usize,
    configured: &BTreeSet<PathId>,
) {
    let reserved = |t: u32| RESERVED_TABLES.contains(&t);
    let reserved_msg =
        |t: u32| format!("table {t} is reserved (0 unspec, 253 default, 254 main, 255 local)");
    let used: Vec<(PathId, u32, Pos)> = paths
        .into_iter()
        .filter(|(p, _)| configured.contains(p))
        .map(|(p, (t, pos))| (p, t, pos))
        .collect();
    for (i, (path, table, pos)) in used.iter().enumerate() {
        let at = format!("routing.tables.{path}");
        if reserved(*table) {
            c.err(at, *pos, reserved_msg(*table));
        } else if let Some((other, ..)) = used[..i].iter().find(|(_, t, _)| t == table) {
            c.err(
                at,
                *pos,
                format!("table {table} is already used by routing.tables.{other}"),
            );
        }
    }
    let (first, pos) = classes_start;
    let count = u32::try_from(classes.max(1)).unwrap_or(u32::MAX);
    let Some(last) = first.checked_add(count - 1) else {
        c.err(
            "routing.tables.classes_start",
            pos,
            format!(
                "class tables {first}.. run past the largest table id {}",
                u32::MAX
            ),
        );
        return;
    };
    let at = "routing.tables.classes_start";
    let range = format!("class tables {first}..={last} ({classes} classes)");
    if let Some(r) = RESERVED_TABLES
        .iter()
        .find(|&&t| (first..=last).contains(&t))
    {
        c.err(
            at,
            pos,
            format!(
                "{range} include reserved table {r} (0 unspec, 253 default, 254 main, 255 local)"
            ),
        );
    }
    for (path, table, _) in &used {
        if (first..=last).contains(table) {
            c.err(
                at,
                pos,
                format!("{range} include table {table} of routing.tables.{path}"),
            );
        }
    }
}

fn check_mask(c: &mut Check, r: &RoutingConfig, pos: Pos, classes: usize) {
    let mask = r.fwmark_mask;
    let at = "routing.fwmark_mask";
    if mask == 0 {
        c.err(at, pos, "fwmark_mask must not be zero");
        return;
    }
    let run = mask >> mask.trailing_zeros();
    if run & run.wrapping_add(1) != 0 {
        c.err(
            at,
            pos,
            format!("fwmark_mask {mask:#010x} must be one contiguous run of bits"),
        );
        return;
    }
    let needed = u64::from(MARK_FIRST_CLASS) + classes as u64 - 1;
    if u64::from(r.mark_capacity()) < needed {
        c.err(at, pos, format!(
            "fwmark_mask {mask:#010x} has {} bits, room for mark numbers up to {}, but arcway needs {needed} (path marks 1-3, class marks from {MARK_FIRST_CLASS}, {classes} classes)",
            mask.count_ones(), r.mark_capacity()));
    }
}
