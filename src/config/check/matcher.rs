//! `classes[].match`: the selectors of a class.

use super::{Check, idx, key, names};
use crate::config::error::Pos;
use crate::config::raw::{RawMatch, S};
use crate::config::types::{Match, RoutingConfig};

pub fn check(c: &mut Check, base: &str, raw: S<RawMatch>, routing: &RoutingConfig) -> Match {
    let here = Pos::of(&raw);
    let m = raw.value;
    let p = |k| key(base, k);
    let empty = m.destinations.is_empty()
        && m.protocols.is_empty()
        && m.ports.is_empty()
        && m.dscp.is_empty()
        && m.sources.is_empty()
        && m.interfaces.is_empty()
        && m.uids.is_empty()
        && m.cgroups.is_empty()
        && m.fwmarks.is_empty();
    if empty {
        c.err(
            base,
            here,
            "match has no criteria (leave match: out for the default class)",
        );
    }
    if !m.ports.is_empty()
        && !m.protocols.is_empty()
        && !m.protocols.iter().any(|p| p.value.has_ports())
    {
        c.err(
            p("ports"),
            Pos::of(&m.ports[0]),
            "ports need protocol tcp or udp in protocols",
        );
    }
    for (i, d) in m.dscp.iter().enumerate() {
        if d.value > 63 {
            c.err(
                idx(&p("dscp"), i),
                Pos::of(d),
                format!("dscp {} is out of range 0..=63", d.value),
            );
        }
    }
    for (i, name) in m.interfaces.iter().enumerate() {
        if let Err(msg) = names::interface_name(&name.value) {
            c.err(idx(&p("interfaces"), i), Pos::of(name), msg);
        }
    }
    for (i, cg) in m.cgroups.iter().enumerate() {
        if let Err(msg) = names::cgroup_path(&cg.value) {
            c.err(idx(&p("cgroups"), i), Pos::of(cg), msg);
        }
    }
    for (i, mark) in m.fwmarks.iter().enumerate() {
        let (at, pos, mk) = (idx(&p("fwmarks"), i), Pos::of(mark), mark.value);
        if mk.mask == 0 {
            c.err(at, pos, format!("mark {mk} has an empty mask"));
        } else if mk.value & !mk.mask != 0 {
            c.err(
                at,
                pos,
                format!("mark {mk} has value bits outside its mask"),
            );
        } else if mk.mask & routing.fwmark_mask != 0 {
            c.err(at, pos, format!("mark {mk} overlaps routing.fwmark_mask {:#010x}, whose bits arcway sets itself", routing.fwmark_mask));
        }
    }
    Match {
        destinations: m.destinations.iter().map(|d| d.value.0).collect(),
        protocols: m.protocols.iter().map(|p| p.value).collect(),
        ports: m.ports.iter().map(|p| p.value).collect(),
        dscp: m
            .dscp
            .iter()
            .map(|d| u8::try_from(d.value).unwrap_or(u8::MAX))
            .collect(),
        sources: m.sources.iter().map(|s| s.value.0).collect(),
        interfaces: m.interfaces.into_iter().map(|s| s.value).collect(),
        uids: m.uids.iter().map(|u| u.value).collect(),
        cgroups: m.cgroups.into_iter().map(|s| s.value).collect(),
        fwmarks: m.fwmarks.iter().map(|f| f.value).collect(),
    }
}
