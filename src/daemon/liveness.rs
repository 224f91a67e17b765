//! Which owners have not answered within their deadline (pure: the beats and `now` in). The
//! systemd watchdog is fed only while this is empty, and each overdue owner is a problem in
//! status until it beats again.

use std::time::Duration;

use crate::engine::Time;

/// Owner names as status, metrics and the log show them.
pub const LINK_MONITOR: &str = "link_monitor";
pub const ROUTE_WATCH: &str = "route_watch";
pub const ARC_OWNER: &str = "arc_owner";
pub const NFT_OWNER: &str = "nft_owner";
pub const ACCOUNTING: &str = "accounting";
pub const MODEM_WATCHER: &str = "modem_watcher";

/// The link monitor and the drift watch only wait on netlink round trips.
pub const NETLINK_DEADLINE: Duration = Duration::from_secs(10);
/// A tunnel start waits up to 10 s for DNS and 15 s for wireguard-go before it fails.
pub const ARC_DEADLINE: Duration = Duration::from_secs(60);
/// `nft` is given up on after 10 s; reading the counters before it is one netlink dump.
pub const NFT_DEADLINE: Duration = Duration::from_secs(30);
/// A probe round ends with its probes' timeout; the slowest kinds take a few seconds.
pub const PROBER_DEADLINE: Duration = Duration::from_secs(60);
/// A reading is a netlink dump; saving the ledger is one small fsync.
pub const ACCOUNTING_DEADLINE: Duration = Duration::from_secs(30);
/// D-Bus calls to ModemManager time out after 25 s.
pub const MODEM_DEADLINE: Duration = Duration::from_secs(60);

/// The prober of `path`, by name.
pub fn prober(path: crate::model::PathId) -> &'static str {
    match path {
        crate::model::PathId::Arc => "prober_arc",
        crate::model::PathId::Wifi => "prober_wifi",
        crate::model::PathId::Cellular => "prober_cellular",
    }
}

/// One owner's last sign of life and how long it may stay silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    pub owner: &'static str,
    pub last: Time,
    pub deadline: Duration,
}

/// An owner past its deadline, and for how long it has been silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overdue {
    pub owner: &'static str,
    pub silent: Duration,
    pub deadline: Duration,
}

impl Overdue {
    /// What status shows for it.
    pub fn message(&self) -> String {
        format!(
            "no sign of life for {}s (deadline {}s); the watchdog is not fed until it answers",
            self.silent.as_secs(),
            self.deadline.as_secs()
        )
    }
}

/// The owners silent for longer than their deadline at `now`, in the order given. A beat
/// later than `now` (read after `now` was taken) is on time.
pub fn overdue(beats: &[Beat], now: Time) -> Vec<Overdue> {
    beats
        .iter()
        .filter_map(|b| {
            let silent = now.since(b.last);
            (silent > b.deadline).then_some(Overdue {
                owner: b.owner,
                silent,
                deadline: b.deadline,
            })
        })
        .collect()
}

/// An owner that stays up this long after a restart starts over with an immediate restart
/// the next time it dies.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// When owners that died are started again: at once the first time, then with a backoff
/// doubling from 1 s to 60 s while an owner keeps dying (or failing to start) within
/// [`STABLE_AFTER`] of its last restart.
#[derive(Debug, Default)]
pub struct Restarts {
    owners: std::collections::BTreeMap<&'static str, Entry>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    last: Option<Time>,
    backoff: Duration,
    due: Option<Time>,
}

impl Restarts {
    /// `owner` was found dead at `now` (or failed to start): when it is started again. Asking
    /// again before then changes nothing.
    pub fn died(&mut self, owner: &'static str, now: Time) -> Time {
        let e = self.owners.entry(owner).or_insert(Entry {
            last: None,
            backoff: Duration::ZERO,
            due: None,
        });
        if let Some(due) = e.due {
            return due;
        }
        let recent = e.last.is_some_and(|t| now.since(t) < STABLE_AFTER);
        e.backoff = match (recent, e.backoff.is_zero()) {
            (false, _) => Duration::ZERO,
            (true, true) => BACKOFF_FIRST,
            (true, false) => (e.backoff * 2).min(BACKOFF_MAX),
        };
        let due = now + e.backoff;
        e.due = Some(due);
        due
    }

    /// Whether `owner`'s restart is due at `now`; when it is, it counts as restarted now.
    pub fn take_due(&mut self, owner: &'static str, now: Time) -> bool {
        match self.owners.get_mut(owner) {
            Some(e) if e.due.is_some_and(|d| now >= d) => {
                e.due = None;
                e.last = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Whether `owner` is dead and waits for its restart.
    pub fn waiting(&self, owner: &'static str) -> bool {
        self.owners.get(owner).is_some_and(|e| e.due.is_some())
    }

    /// Every owner that waits for its restart.
    pub fn any_waiting(&self) -> bool {
        self.owners.values().any(|e| e.due.is_some())
    }
}
