//! The text of `table inet arcway`, rendered purely from its inputs.
//!
//! Marking keeps every bit outside arcway's mask: marks are combined with constant
//! `& ~mask | value` operations (one rule per class), which every nftables version supports.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::net::Ipv4Addr;

use ipnet::IpNet;

use super::TableExtras;
use super::account::{account_chains, counter_objects};
use super::hold::{hold_chain, hold_chains};
use super::quote::{Kind, Unsafe, token};
use crate::model::PathId;

/// How traffic leaving by one path's interface is source-NATed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatPath {
    pub path: PathId,
    pub ifname: String,
    /// `Some(address)`: SNAT to it, IPv4 only (Arc: the platform knows only the client IP).
    /// `None`: masquerade to whatever the interface has, both families.
    pub snat_to: Option<Ipv4Addr>,
}

/// The traffic of one fwmark-selected class; empty lists match anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarkClass {
    pub name: String,
    /// Mark inside the mask that the class's `fwmark` rule looks for.
    pub mark: u32,
    pub destinations: Vec<IpNet>,
    /// Protocol names as nftables knows them (`tcp`, `udp`, `icmp`...).
    pub protocols: Vec<String>,
    /// Destination ports or ranges (`443`, `8000-9000`).
    pub ports: Vec<String>,
    pub dscp: Vec<u8>,
    pub sources: Vec<IpNet>,
    /// Input interfaces (forwarded LAN traffic only).
    pub interfaces: Vec<String>,
    /// Socket owners (locally generated traffic only).
    pub uids: Vec<u32>,
    /// cgroup v2 paths (locally generated traffic only; must exist when the table is loaded).
    pub cgroups: Vec<String>,
    /// Marks set by someone else, `(value, mask)`.
    pub fwmarks: Vec<(u32, u32)>,
}

/// Everything the table is rendered from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NftInputs {
    pub fwmark_mask: u32,
    pub nat: Vec<NatPath>,
    /// In class order: the first class that matches wins.
    pub classes: Vec<MarkClass>,
}

/// Which hook a classification chain serves: some criteria only exist in one of them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Hook {
    Forward,
    Local,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fam {
    Any,
    V4,
    V6,
}

/// An anonymous set of typed values (addresses, numbers), whose Display nft reads as is.
fn set<T: std::fmt::Display>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    format!("{{ {} }}", items.join(", "))
}

/// An anonymous set of strings, each through [`token`].
fn tokens(kind: Kind, items: &[String]) -> Result<String, Unsafe> {
    let items = items
        .iter()
        .map(|i| token(kind, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!("{{ {} }}", items.join(", ")))
}

fn nets_of(nets: &[IpNet], fam: Fam) -> Vec<IpNet> {
    nets.iter()
        .filter(|n| match fam {
            Fam::Any => true,
            Fam::V4 => matches!(n, IpNet::V4(_)),
            Fam::V6 => matches!(n, IpNet::V6(_)),
        })
        .map(|n| n.trunc())
        .collect()
}

/// Sets `value` under `mask` in a mark, keeping the other bits.
fn set_mark(target: &str, mask: u32, value: u32) -> String {
    format!("{target} set {target} & {:#010x} | {value:#010x}", !mask)
}

/// The match parts of a class's rules in one hook (empty when it cannot match there).
/// cgroups in `missing` are left out; a class whose cgroups are all missing matches nothing
/// locally (leaving the criterion out would make it match every local socket).
fn class_matches(
    class: &MarkClass,
    hook: Hook,
    missing: &BTreeSet<String>,
) -> Result<Vec<String>, Unsafe> {
    if hook == Hook::Forward && (!class.uids.is_empty() || !class.cgroups.is_empty()) {
        return Ok(Vec::new());
    }
    if hook == Hook::Local && !class.interfaces.is_empty() {
        return Ok(Vec::new());
    }
    let address_lists = !class.destinations.is_empty() || !class.sources.is_empty();
    let families = if address_lists || !class.dscp.is_empty() {
        vec![Fam::V4, Fam::V6]
    } else {
        vec![Fam::Any]
    };
    let mut out = Vec::new();
    for fam in families {
        let (ip, dsts, srcs) = match fam {
            Fam::V4 => (
                "ip",
                nets_of(&class.destinations, fam),
                nets_of(&class.sources, fam),
            ),
            Fam::V6 => (
                "ip6",
                nets_of(&class.destinations, fam),
                nets_of(&class.sources, fam),
            ),
            Fam::Any => ("", Vec::new(), Vec::new()),
        };
        // A class listing only addresses of the other family has nothing to match here.
        if (!class.destinations.is_empty() && dsts.is_empty())
            || (!class.sources.is_empty() && srcs.is_empty())
        {
            continue;
        }
        let mut m = String::new();
        if fam != Fam::Any && !address_lists {
            write!(
                m,
                "meta nfproto {} ",
                if fam == Fam::V4 { "ipv4" } else { "ipv6" }
            )
            .ok();
        }
        if !dsts.is_empty() {
            write!(m, "{ip} daddr {} ", set(&dsts)).ok();
        }
        if !srcs.is_empty() {
            write!(m, "{ip} saddr {} ", set(&srcs)).ok();
        }
        if !class.dscp.is_empty() {
            write!(m, "{ip} dscp {} ", set(&class.dscp)).ok();
        }
        if !class.protocols.is_empty() {
            write!(m, "meta l4proto {} ", tokens(Kind::Word, &class.protocols)?).ok();
        }
        if !class.ports.is_empty() {
            write!(m, "th dport {} ", tokens(Kind::Word, &class.ports)?).ok();
        }
        if hook == Hook::Forward && !class.interfaces.is_empty() {
            write!(m, "iifname {} ", tokens(Kind::Ifname, &class.interfaces)?).ok();
        }
        if hook == Hook::Local && !class.uids.is_empty() {
            write!(m, "meta skuid {} ", set(&class.uids)).ok();
        }
        out.push(m);
    }
    let cgroups: Vec<String> = class
        .cgroups
        .iter()
        .filter(|c| !missing.contains(*c))
        .cloned()
        .collect();
    if !class.cgroups.is_empty() && cgroups.is_empty() {
        return Ok(Vec::new());
    }
    let cgroups = cgroups
        .iter()
        .map(|c| {
            let level = c.split('/').filter(|s| !s.is_empty()).count();
            Ok(format!(
                "socket cgroupv2 level {level} {} ",
                token(Kind::Cgroup, c)?
            ))
        })
        .collect::<Result<Vec<_>, Unsafe>>()?;
    Ok(expand(out, &cgroups, Clone::clone)
        .into_iter()
        .flat_map(|m| {
            expand(vec![m], &class.fwmarks, |(v, k)| {
                format!("meta mark & {k:#x} == {v:#x} ")
            })
        })
        .collect())
}

/// One rule per alternative when a criterion lists values that cannot share one set.
fn expand<T>(rules: Vec<String>, alternatives: &[T], render: impl Fn(&T) -> String) -> Vec<String> {
    if alternatives.is_empty() {
        return rules;
    }
    let mut out = Vec::new();
    for rule in &rules {
        for alternative in alternatives {
            out.push(format!("{rule}{}", render(alternative)));
        }
    }
    out
}

fn classify_chain(
    out: &mut String,
    inputs: &NftInputs,
    extras: &TableExtras,
    hook: Hook,
) -> Result<(), Unsafe> {
    let mask = inputs.fwmark_mask;
    // Held classes are refused right after they are marked, before routing: a held class's
    // table says `prohibit`, so the packet would never reach a forward or output filter.
    let verdict = match hold_chain(extras, hook) {
        Some(chain) => format!("goto {chain}"),
        None => "return".to_owned(),
    };
    let (name, header) = match hook {
        Hook::Forward => (
            "prerouting",
            "type filter hook prerouting priority mangle; policy accept;",
        ),
        Hook::Local => (
            "output",
            "type route hook output priority mangle; policy accept;",
        ),
    };
    writeln!(out, "\tchain {name} {{\n\t\t{header}").ok();
    // A mark of ours already there (WireGuard's socket, a probe bound to a path) wins.
    writeln!(out, "\t\tmeta mark & {mask:#010x} != 0 return").ok();
    // A flow keeps the class it was given on its first packet.
    for class in &inputs.classes {
        let restore = set_mark("meta mark", mask, class.mark);
        writeln!(
            out,
            "\t\tct mark & {mask:#010x} == {:#010x} {restore} {verdict}",
            class.mark
        )
        .ok();
    }
    for class in &inputs.classes {
        let mark = format!(
            "{} {}",
            set_mark("meta mark", mask, class.mark),
            set_mark("ct mark", mask, class.mark)
        );
        let comment = token(Kind::Comment, &class.name)?;
        for m in class_matches(class, hook, &extras.missing_cgroups)? {
            writeln!(out, "\t\t{m}{mark} {verdict} comment {comment}").ok();
        }
    }
    writeln!(out, "\t}}").ok();
    Ok(())
}

fn nat_chain(out: &mut String, inputs: &NftInputs) -> Result<(), Unsafe> {
    writeln!(
        out,
        "\tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;"
    )
    .ok();
    for nat in &inputs.nat {
        // Only forwarded traffic: local sockets already chose their source address.
        let m = format!(
            "oifname {} fib saddr type != local",
            token(Kind::Ifname, &nat.ifname)?
        );
        let comment = token(Kind::Comment, nat.path.as_str())?;
        match nat.snat_to {
            Some(addr) => writeln!(
                out,
                "\t\t{m} meta nfproto ipv4 snat ip to {addr} comment {comment}"
            ),
            None => writeln!(out, "\t\t{m} masquerade comment {comment}"),
        }
        .ok();
    }
    writeln!(out, "\t}}").ok();
    Ok(())
}

/// The full definition of `table inet arcway` (marks and NAT only).
pub fn render_table(inputs: &NftInputs) -> Result<String, Unsafe> {
    render_table_with(inputs, &TableExtras::default())
}

/// The full definition of `table inet arcway` with counters, held classes and cgroup gaps.
/// A string that could change the table's structure is refused, and nothing is rendered.
pub fn render_table_with(inputs: &NftInputs, extras: &TableExtras) -> Result<String, Unsafe> {
    let mut out = String::from("table inet arcway {\n");
    counter_objects(&mut out, inputs, extras)?;
    classify_chain(&mut out, inputs, extras, Hook::Forward)?;
    classify_chain(&mut out, inputs, extras, Hook::Local)?;
    hold_chains(&mut out, inputs, extras)?;
    nat_chain(&mut out, inputs)?;
    account_chains(&mut out, inputs, extras)?;
    out.push_str("}\n");
    Ok(out)
}

/// A file for `nft -f -` that replaces the table in one transaction: declaring it first
/// makes the delete valid when it does not exist yet.
pub fn render_replace(inputs: &NftInputs) -> Result<String, Unsafe> {
    render_replace_with(inputs, &TableExtras::default())
}

/// [`render_replace`] with counters, held classes and cgroup gaps.
pub fn render_replace_with(inputs: &NftInputs, extras: &TableExtras) -> Result<String, Unsafe> {
    Ok(format!(
        "table inet arcway {{}}\ndelete table inet arcway\n{}",
        render_table_with(inputs, extras)?
    ))
}
