//! Held classes: refused at once with the configured action instead of timing out.
//!
//! A class is held when its only usable path is one its policy refuses (hold, or a spent
//! budget). Routing then puts `prohibit default` in the class table, which is the backstop:
//! the kernel answers with ICMP "administratively prohibited", rate limited per host, and
//! local sockets get EACCES. The rules here answer first and with the chosen action: a TCP
//! reset never hits the ICMP rate limit, so applications see ECONNREFUSED every time.
//!
//! They sit right after classification, before the routing decision: with `prohibit` in the
//! class table a held packet never reaches a forward or output filter hook. Forwarded packets
//! are refused when the route their mark selects is missing (prohibit, unreachable) or leads
//! out of the held path's interface, so LAN-to-LAN and gateway-bound traffic of the class
//! still passes. Locally generated packets are refused unless they are for a local address
//! (the oif a route lookup with the mark would give is not available in the output hook).
//! Rejecting in prerouting needs a kernel that allows it there (Linux 5.x and later do).

use std::collections::BTreeSet;
use std::fmt::Write;

use super::quote::{Kind, Unsafe, token};
use super::render::Hook;
use super::{NftInputs, TableExtras};
use crate::config::HoldAction;

/// One held class: its mark, the interface of the path it is held on, and how to refuse.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Held {
    pub mark: u32,
    pub ifname: String,
    pub action: HoldAction,
}

const CHAIN_FORWARD: &str = "hold_prerouting";
const CHAIN_LOCAL: &str = "hold_output";

/// The chain a marking rule continues in, when some class is held.
pub(super) fn hold_chain(extras: &TableExtras, hook: Hook) -> Option<&'static str> {
    if extras.held.is_empty() {
        return None;
    }
    Some(match hook {
        Hook::Forward => CHAIN_FORWARD,
        Hook::Local => CHAIN_LOCAL,
    })
}

fn rejects(action: HoldAction) -> &'static [&'static str] {
    match action {
        HoldAction::Reject => &["reject with icmpx admin-prohibited"],
        HoldAction::TcpReset => &[
            "meta l4proto tcp reject with tcp reset",
            "reject with icmpx admin-prohibited",
        ],
    }
}

/// A held class's packets in the original direction only: the resets and ICMP errors the
/// rules send belong to the same connection (reply direction) and must pass.
fn held_match(mask: u32, mark: u32) -> String {
    format!("meta mark & {mask:#010x} == {mark:#010x} ct direction original")
}

/// The two chains the marking rules `goto` (no rules at all when nothing is held).
pub(super) fn hold_chains(
    out: &mut String,
    inputs: &NftInputs,
    extras: &TableExtras,
) -> Result<(), Unsafe> {
    if extras.held.is_empty() {
        return Ok(());
    }
    let mask = inputs.fwmark_mask;
    let held: BTreeSet<&Held> = extras.held.iter().collect();
    writeln!(out, "\tchain {CHAIN_FORWARD} {{").ok();
    for h in &held {
        let class = held_match(mask, h.mark);
        let routes = [
            "fib daddr . mark oif missing".to_owned(),
            format!(
                "fib daddr . mark oifname {}",
                token(Kind::Ifname, &h.ifname)?
            ),
        ];
        for route in routes {
            for reject in rejects(h.action) {
                writeln!(out, "\t\t{class} {route} {reject}").ok();
            }
        }
    }
    writeln!(out, "\t}}").ok();
    writeln!(out, "\tchain {CHAIN_LOCAL} {{").ok();
    for h in &held {
        let class = held_match(mask, h.mark);
        for reject in rejects(h.action) {
            writeln!(out, "\t\t{class} fib daddr type != local {reject}").ok();
        }
    }
    writeln!(out, "\t}}").ok();
    Ok(())
}
