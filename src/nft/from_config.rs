//! The table's inputs taken from the configuration and the engine's decisions.

use super::{Held, MarkClass};
use crate::config::{Config, HoldAction};
use crate::engine::ClassRoute;
use crate::model::PathId;

/// Every class with a matcher, marked with its class mark. Destination-only classes are
/// routed by `to` rules and do not need the mark for routing, but they get it too so that
/// their bytes are counted and they can be held like the others.
pub fn mark_classes(config: &Config) -> Vec<MarkClass> {
    let marks = config.layout().marks.classes;
    config
        .classes
        .iter()
        .zip(marks)
        .filter_map(|(class, mark)| {
            let m = class.matcher.as_ref()?;
            Some(MarkClass {
                name: class.name.clone(),
                mark,
                destinations: m.destinations.clone(),
                protocols: m.protocols.iter().map(|p| p.as_str().to_owned()).collect(),
                ports: m
                    .ports
                    .iter()
                    .map(|p| {
                        if p.start == p.end {
                            p.start.to_string()
                        } else {
                            format!("{}-{}", p.start, p.end)
                        }
                    })
                    .collect(),
                dscp: m.dscp.clone(),
                sources: m.sources.clone(),
                interfaces: m.interfaces.clone(),
                uids: m.uids.clone(),
                cgroups: m.cgroups.clone(),
                fwmarks: m.fwmarks.iter().map(|f| (f.value, f.mask)).collect(),
            })
        })
        .collect()
}

/// The held classes among `routes` (class name and route, as the engine decided), with the
/// hold action configured for the path they are held on (`reject` when none is given) and
/// that path's interface (`ifname`). Classes without a mark (the default class) cannot be
/// held in the table; routing's `prohibit` refuses them.
pub fn held_classes<'a>(
    config: &Config,
    routes: impl IntoIterator<Item = (&'a str, ClassRoute)>,
    ifname: impl Fn(PathId) -> Option<String>,
) -> Vec<Held> {
    let marks = config.layout().marks.classes;
    let mut out = Vec::new();
    for (name, route) in routes {
        let ClassRoute::Held(path) = route else {
            continue;
        };
        let Some(i) = config.classes.iter().position(|c| c.name == name) else {
            continue;
        };
        let class = &config.classes[i];
        if class.matcher.is_none() {
            continue;
        }
        let Some(ifname) = ifname(path) else {
            continue;
        };
        let action = class
            .paths
            .iter()
            .find(|p| p.path == path)
            .and_then(|p| p.hold_action)
            .unwrap_or(HoldAction::Reject);
        out.push(Held {
            mark: marks[i],
            ifname,
            action,
        });
    }
    out.sort();
    out
}
