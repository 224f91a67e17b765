//! Everything the engine is told. Each I/O owner of the daemon produces a subset.

use std::time::Duration;

use serde::Serialize;

use crate::model::{Family, PathId, PerFamily};

/// One input to the engine. The daemon passes `now` alongside; events carry no time of
/// their own except where a fact is older than its report (the handshake age).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Link monitor (netlink): the path's interface has (`up`) or lacks its lower layer
    /// (IFF_LOWER_UP / operstate). Send the current state once at startup for every path;
    /// a path never reported up never comes up. Loss takes the path down at once.
    Carrier { path: PathId, up: bool },
    /// Link monitor: the interface disappeared (RTM_DELLINK). Down at once; a later
    /// `Carrier { up: true }` means it is back.
    LinkGone { path: PathId },
    /// Modem watcher (ModemManager): the data bearer is `Connected` or not. Disconnection
    /// takes the path down at once. Paths that never get this event do not need it.
    Bearer { path: PathId, connected: bool },
    /// Modem watcher stopped (a reload turned ModemManager off for the path): what it said
    /// about the bearer no longer holds, and the path is judged as one that never had it.
    BearerUnwatched { path: PathId },
    /// Prober: one round finished, with the quorum already applied to give `ok`.
    /// `targets` is kept for status output only; decisions never look at it.
    ProbeRound {
        path: PathId,
        /// The family of the round's targets: a round to IPv4 targets judges the path's
        /// IPv4 only. `None`: evidence for both (a round resting on real traffic).
        family: Option<Family>,
        ok: bool,
        latency: Option<Duration>,
        targets: Vec<ProbeTarget>,
        /// How long before the event the round's probes were sent. A failure began no
        /// later than that, so `down_after` is counted from then, not from when the
        /// timeout ran out.
        started_ago: Duration,
    },
    /// Link monitor: the families the path has a default route in (DHCP, RA, the bearer's
    /// configuration; Arc has IPv4). Until this is sent the path counts as having both.
    /// A family without one carries no class, and its health is not judged (`Unknown`).
    DefaultRoutes {
        path: PathId,
        routes: PerFamily<bool>,
    },
    /// WireGuard monitor: the latest handshake happened `age` ago (measured by the daemon
    /// against the wall clock at `now`); `None` means no handshake yet (or the device was
    /// recreated). Only tunnel paths (Arc) use it.
    Handshake { path: PathId, age: Option<Duration> },
    /// WireGuard or cellular monitor: the receive counter rose since the last look. Traffic
    /// coming back is evidence of life that keeps failing probes from taking the path down.
    /// Only send it for counters that rise on end-to-end replies (the WireGuard interface,
    /// the cellular bearer), not for a Wi-Fi interface where ARP and broadcasts arrive anyway.
    RxProgress { path: PathId },
    /// Budget accountant: the data budget of `path` is spent (`exhausted`) or renewed.
    /// `class: None` is the line's total; `Some(name)` is that class's own budget.
    /// Either being spent stops `budget` policy entries from using the path.
    BudgetExhausted {
        path: PathId,
        class: Option<String>,
        exhausted: bool,
    },
    /// Wi-Fi monitor (nl80211): the station lost its access point (deauthentication,
    /// disassociation, disconnection, beacon loss; `event` says which, for the log). Down
    /// at once, like carrier loss, until `WifiConnected` or the carrier coming back.
    WifiLost { path: PathId, event: String },
    /// Wi-Fi monitor: the station is associated again (or is no longer watched over
    /// nl80211, so what it said about a loss no longer holds).
    WifiConnected { path: PathId },
    /// Wi-Fi monitor: a signal reading in dBm (a CQM threshold crossing or station info).
    WifiSignal { path: PathId, dbm: i32 },
    /// Timer: send when `Engine::poll_timeout` says so. Late or extra ticks are harmless.
    Tick,
}

impl Event {
    /// The path the event is about, if any.
    pub fn path(&self) -> Option<PathId> {
        match self {
            Event::Carrier { path, .. }
            | Event::LinkGone { path }
            | Event::Bearer { path, .. }
            | Event::BearerUnwatched { path }
            | Event::ProbeRound { path, .. }
            | Event::DefaultRoutes { path, .. }
            | Event::Handshake { path, .. }
            | Event::RxProgress { path }
            | Event::WifiLost { path, .. }
            | Event::WifiConnected { path }
            | Event::WifiSignal { path, .. }
            | Event::BudgetExhausted { path, .. } => Some(*path),
            Event::Tick => None,
        }
    }
}

/// One probe target's result within a round, as the prober saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeTarget {
    /// What was probed, e.g. "icmp 100.127.100.127" or "tcp 203.0.113.100:443".
    pub target: String,
    pub ok: bool,
    #[serde(serialize_with = "super::time::opt_secs")]
    pub latency: Option<Duration>,
}
