//! Dumps and changes through a strict-check route netlink connection.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::rule::RuleMessage;

use super::convert::{
    address_family, parse_route, parse_rule, route_delete_message, route_dump_message,
    route_message, rule_message,
};
use super::layout::Layout;
use super::model::{Change, Family, KernelRouting, Rule};
use super::render::render_changes;
use super::{ChangeError, RoutingError};
use crate::netlink::{Handle, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};

/// A dump of arcway's objects plus the dumped rule messages, so that a rule carrying
/// attributes arcway does not model is deleted exactly as the kernel reported it.
#[derive(Debug, Default)]
pub struct Dump {
    pub objects: KernelRouting,
    raw_rules: BTreeMap<Rule, RuleMessage>,
}

fn errno_is(err: &io::Error, errno: i32) -> bool {
    err.raw_os_error() == Some(errno)
}

/// Dumps rules in any of `layouts`' priority ranges and routes of the tables arcway owns:
/// the path tables, `tables`, and class tables referenced by rules in the ranges.
pub async fn dump(
    handle: &Handle,
    layouts: &[&Layout],
    tables: &BTreeSet<u32>,
) -> Result<Dump, RoutingError> {
    let mut dump = Dump::default();
    let mut owned: BTreeSet<u32> = tables.clone();
    for family in [Family::V4, Family::V6] {
        let mut filter = RuleMessage::default();
        filter.header.family = address_family(family);
        let answers = handle
            .dump(RouteNetlinkMessage::GetRule(filter))
            .await
            .map_err(|source| RoutingError::Dump {
                what: "rules".into(),
                source,
            })?;
        for answer in answers {
            let RouteNetlinkMessage::NewRule(raw) = answer else {
                continue;
            };
            let Some(rule) = parse_rule(&raw) else {
                continue;
            };
            if !layouts.iter().any(|l| l.owns_priority(rule.priority)) {
                continue;
            }
            if layouts.iter().any(|l| l.owns_table(rule.table)) {
                owned.insert(rule.table);
            }
            dump.objects.rules.insert(rule.clone());
            dump.raw_rules.insert(rule, raw);
        }
    }
    owned.extend(layouts.iter().flat_map(|l| l.path_tables.values().copied()));
    // Only tables a layout owns are ever dumped, so `main` (which the suppress rule looks
    // up) and foreign tables can never show up in a plan.
    owned.retain(|t| layouts.iter().any(|l| l.owns_table(*t)));
    for table in owned {
        for family in [Family::V4, Family::V6] {
            dump_table(handle, family, table, &mut dump).await?;
        }
    }
    Ok(dump)
}

async fn dump_table(
    handle: &Handle,
    family: Family,
    table: u32,
    dump: &mut Dump,
) -> Result<(), RoutingError> {
    let request = RouteNetlinkMessage::GetRoute(route_dump_message(family, table));
    let answers = match handle.dump(request).await {
        // A table that holds nothing does not exist for the kernel.
        Err(e) if errno_is(&e, libc::ENOENT) => return Ok(()),
        Err(source) => {
            return Err(RoutingError::Dump {
                what: format!("routes of table {table}"),
                source,
            });
        }
        Ok(answers) => answers,
    };
    for answer in answers {
        let RouteNetlinkMessage::NewRoute(raw) = answer else {
            continue;
        };
        // Strict dumps filter by table; the check keeps a lax kernel from leaking others in.
        match parse_route(&raw) {
            Some(route) if route.key.table == table => {
                dump.objects.routes.insert(route.key, route.kind);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Applies one change. Races with another writer are absorbed: adding a rule that is
/// already there (EEXIST) or deleting something already gone (ENOENT, ESRCH) succeeds.
async fn apply_one(handle: &Handle, change: &Change, dump: &Dump) -> Result<(), io::Error> {
    let (request, flags) = match change {
        Change::AddRoute(route) | Change::ReplaceRoute(route) => (
            RouteNetlinkMessage::NewRoute(route_message(route)),
            NLM_F_CREATE | NLM_F_REPLACE,
        ),
        Change::DelRoute(route) => (
            RouteNetlinkMessage::DelRoute(route_delete_message(&route.key)),
            0,
        ),
        Change::AddRule(rule) => (
            RouteNetlinkMessage::NewRule(rule_message(rule)),
            NLM_F_CREATE | NLM_F_EXCL,
        ),
        Change::DelRule(rule) => {
            let raw = dump
                .raw_rules
                .get(rule)
                .cloned()
                .unwrap_or_else(|| rule_message(rule));
            (RouteNetlinkMessage::DelRule(raw), 0)
        }
    };
    let result = handle.request(request, flags).await;
    match (change, result) {
        (_, Ok(_)) => Ok(()),
        (Change::AddRule(_), Err(e)) if errno_is(&e, libc::EEXIST) => Ok(()),
        (Change::DelRule(_) | Change::DelRoute(_), Err(e))
            if errno_is(&e, libc::ENOENT) || errno_is(&e, libc::ESRCH) =>
        {
            Ok(())
        }
        (_, Err(e)) => Err(e),
    }
}

/// Applies every change in order and collects every failure (a failed step does not stop
/// the others: the next repair retries what is still missing).
pub async fn apply(
    handle: &Handle,
    changes: Vec<Change>,
    dump: &Dump,
    links: &BTreeMap<u32, String>,
) -> Result<Vec<Change>, RoutingError> {
    let total = changes.len();
    let mut failed = Vec::new();
    let mut applied = Vec::new();
    for change in changes {
        match apply_one(handle, &change, dump).await {
            Ok(()) => applied.push(change),
            Err(source) => {
                let text = render_changes(std::slice::from_ref(&change), links);
                failed.push(ChangeError {
                    change: text.trim_end().to_string(),
                    source,
                });
            }
        }
    }
    if failed.is_empty() {
        Ok(applied)
    } else {
        Err(RoutingError::Apply {
            failed,
            applied,
            total,
        })
    }
}
