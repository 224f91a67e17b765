//! The daemon's pure controller: the engine plus the policy around it that is not about path
//! health (start-up settle and adoption, the Arc session's renewal limits, handshake grace and
//! re-bootstrap deadline), with events and `now` in and [`Intents`] out.
//!
//! The I/O loop feeds it what the owners report, asks [`Controller::poll_timeout`] when to
//! call [`Controller::tick`], and after every turn takes the intents and reconciles once, in
//! the order the first packet on a new path needs: routing, conntrack eviction, nftables,
//! status. Nothing here reads a clock or touches the kernel, so it is tested with the engine's
//! simulated clock (tests/daemon_controller.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::engine::{Action, ClassRoutes, Engine, Event, Health, LogEntry, Settings, Time};
use crate::model::PathId;

/// How long class routes wait for every path's first evidence before they are applied
/// anyway (a restart must not replace working routes with "unreachable" meanwhile).
pub const SETTLE: Duration = Duration::from_secs(3);
/// How long routing waits for the link monitor's first report of every watched interface.
/// The reports come one interface at a time: routing computed after the first alone would
/// delete what an earlier arcway left for the others and add it back a moment later.
pub const FIRST_LINKS: Duration = Duration::from_secs(1);
/// No handshake for this long while Wi-Fi works counts as an authentication failure.
pub const REBOOTSTRAP_AFTER: Duration = Duration::from_secs(300);
/// How often a due re-bootstrap is asked for again (the re-bootstrap policy backs off itself).
pub const REBOOTSTRAP_AGAIN: Duration = Duration::from_secs(1);
/// The shortest time between two forced WireGuard session renewals: a second initiation within
/// WireGuard's timestamp granularity is dropped by the server as a replay, costing a 5 s retry.
pub const RENEW_MIN_INTERVAL: Duration = Duration::from_secs(2);
/// How long a new or renewed peer may go without a handshake before that counts against the
/// tunnel: WireGuard retries a lost initiation after 5 s (REKEY_TIMEOUT), and readings come
/// once a second, so "no handshake yet" right after a (re)start says nothing about the path.
pub const HANDSHAKE_GRACE: Duration = Duration::from_secs(5);

/// A class that changed route in this turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub class: String,
    /// Per family: a family that kept its route leaves its flows alone.
    pub from: ClassRoutes,
    pub to: ClassRoutes,
}

/// What the loop does at the end of a turn, in this order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intents {
    /// Recompute the routing state and hand it to the reconciler.
    pub routing: bool,
    /// Flows of these classes NATed to the old path are evicted, after the route switch.
    pub evict: Vec<Moved>,
    /// Recompute what `table inet arcway` holds and hand it to its owner.
    pub nft: bool,
    /// Replace the Arc peer so the next packet makes a new handshake.
    pub renew: bool,
    /// Ask the re-bootstrap policy for new credentials.
    pub rebootstrap: bool,
    /// Class routes were applied before every path reported (the settle time ran out).
    pub settled_by_timeout: bool,
    /// Republish status.
    pub publish: bool,
}

impl Intents {
    pub fn is_empty(&self) -> bool {
        *self == Intents::default()
    }
}

/// The Arc session policy's state.
#[derive(Debug, Default)]
struct ArcSession {
    /// `arc.rebootstrap_on_auth_failure`.
    rebootstrap: bool,
    /// A tunnel is running (started and not stopped).
    running: bool,
    /// The tunnel brings its device up: missing and down reports are not an outage.
    starting: bool,
    last_renew: Option<Time>,
    /// A renewal asked for within RENEW_MIN_INTERVAL of the previous one, done later.
    renew_pending: bool,
    /// Until when "no handshake yet" readings are not passed on.
    grace_until: Option<Time>,
    /// Since when Wi-Fi worked while the tunnel had no recent handshake.
    no_handshake_since: Option<Time>,
    /// When a due re-bootstrap is asked for again.
    rebootstrap_next: Option<Time>,
}

pub struct Controller {
    engine: Engine,
    /// Interfaces whose first link report has not come yet.
    first_links: BTreeSet<String>,
    /// Whether class routes follow the engine (else they keep what the kernel has).
    settled: bool,
    arc: ArcSession,
    class_since: BTreeMap<String, Time>,
    logged_seq: u64,
    intents: Intents,
}

impl Controller {
    /// Starts at `Time::ZERO`, waiting for the first report of each of `interfaces`.
    pub fn new(settings: Settings, interfaces: BTreeSet<String>, rebootstrap: bool) -> Self {
        Controller {
            engine: Engine::new(settings, Time::ZERO),
            first_links: interfaces,
            settled: false,
            // The tunnel's device does not exist before the tunnel starts: not an outage.
            arc: ArcSession {
                rebootstrap,
                starting: true,
                ..ArcSession::default()
            },
            class_since: BTreeMap::new(),
            logged_seq: 0,
            intents: Intents {
                nft: true,
                publish: true,
                ..Intents::default()
            },
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Whether routing may be computed: every watched interface reported, or FIRST_LINKS passed.
    pub fn links_known(&self) -> bool {
        self.first_links.is_empty()
    }

    /// Whether class tables keep what the kernel has (a restart adopts working routes until
    /// every path has reported or SETTLE has passed).
    pub fn adopting(&self) -> bool {
        !self.settled
    }

    /// When each class last moved.
    pub fn class_since(&self) -> &BTreeMap<String, Time> {
        &self.class_since
    }

    /// The next time [`Controller::tick`] has something to do.
    pub fn poll_timeout(&self) -> Option<Time> {
        let last_renew = self.arc.last_renew.unwrap_or(Time::ZERO);
        [
            self.engine.poll_timeout(),
            (!self.first_links.is_empty()).then_some(Time::ZERO + FIRST_LINKS),
            (!self.settled).then_some(Time::ZERO + SETTLE),
            self.arc
                .renew_pending
                .then_some(last_renew + RENEW_MIN_INTERVAL),
            self.arc
                .no_handshake_since
                .map(|t| (t + REBOOTSTRAP_AFTER).max(self.arc.rebootstrap_next.unwrap_or(t))),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Takes what the loop should do now; the next turn starts with nothing to do.
    pub fn take_intents(&mut self) -> Intents {
        std::mem::take(&mut self.intents)
    }

    /// The engine's log entries not taken before.
    pub fn take_log(&mut self) -> Vec<LogEntry> {
        let entries = self
            .engine
            .log()
            .filter(|e| e.seq >= self.logged_seq)
            .cloned()
            .collect();
        self.logged_seq = self.engine.log_next_seq();
        entries
    }

    /// Routing must be recomputed for a reason outside the engine (an address, a default
    /// route, the bearer's interface, new credentials).
    pub fn routing_changed(&mut self) {
        self.intents.routing = true;
        self.intents.publish = true;
    }

    /// The nftables table must be recomputed (interfaces, credentials, configuration).
    pub fn nft_changed(&mut self) {
        self.intents.nft = true;
        self.intents.publish = true;
    }

    /// Something shown in status changed.
    pub fn publish(&mut self) {
        self.intents.publish = true;
    }

    /// The link monitor reported `name`, as the engine events `events`.
    pub fn link(&mut self, name: &str, mut events: Vec<Event>, now: Time) {
        self.first_links.remove(name);
        if self.arc.starting {
            // While the tunnel brings its device up, the device is first missing, then down:
            // that is not an outage, and counting it as one would make the first handshake
            // look older than the outage it is supposed to end.
            let arc_up = events.contains(&Event::Carrier {
                path: PathId::Arc,
                up: true,
            });
            self.arc.starting = !arc_up;
            events.retain(|e| arc_up || e.path() != Some(PathId::Arc));
        }
        for e in events {
            self.feed(e, now);
        }
        // Addresses and default routes feed the path tables even when health did not move.
        self.routing_changed();
    }

    /// Any other engine event (probe rounds, bearer, budgets).
    pub fn event(&mut self, event: Event, now: Time) {
        self.feed(event, now);
        self.intents.publish = true;
    }

    /// A WireGuard reading taken at `sample_at`, as engine events.
    pub fn handshake(&mut self, mut events: Vec<Event>, sample_at: Time, now: Time) {
        if self.arc.grace_until.is_some_and(|until| sample_at < until) {
            events.retain(|e| !matches!(e, Event::Handshake { age: None, .. }));
        }
        for e in events {
            self.feed(e, now);
        }
    }

    /// A tunnel (re)start was asked for.
    pub fn tunnel_starting(&mut self) {
        self.arc.starting = true;
        self.arc.running = false;
    }

    /// The tunnel is configured; its first handshake comes later.
    pub fn tunnel_started(&mut self, now: Time) {
        self.arc.running = true;
        self.arc.grace_until = Some(now + HANDSHAKE_GRACE);
        self.arc.no_handshake_since = None;
        self.intents.publish = true;
    }

    /// The tunnel failed to start, or was stopped.
    pub fn tunnel_stopped(&mut self) {
        self.arc.running = false;
        self.arc.starting = false;
        self.arc.renew_pending = false;
        self.arc.no_handshake_since = None;
        self.intents.publish = true;
    }

    /// The peer was replaced at `now`.
    pub fn renewed(&mut self, now: Time) {
        self.arc.grace_until = Some(now + HANDSHAKE_GRACE);
    }

    /// New credentials: the tunnel's handshake history starts over.
    pub fn new_credentials(&mut self) {
        self.arc.no_handshake_since = None;
        self.routing_changed();
        self.nft_changed();
    }

    /// Timers: the engine's, the settle time, a deferred renewal, the re-bootstrap deadline.
    pub fn tick(&mut self, now: Time) {
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.feed(Event::Tick, now);
        }
        if !self.first_links.is_empty() && now >= Time::ZERO + FIRST_LINKS {
            self.first_links.clear();
            self.intents.routing = true;
        }
        if !self.settled && now >= Time::ZERO + SETTLE {
            self.settled = true;
            self.intents.settled_by_timeout = true;
            self.intents.routing = true;
        }
        if self.arc.renew_pending {
            // Only still worth it while Arc has not come back on its own meanwhile.
            if matches!(self.engine.health(PathId::Arc), Some(Health::Up { .. })) {
                self.arc.renew_pending = false;
            } else {
                self.renew(now);
            }
        }
        self.check_rebootstrap(now);
        self.intents.publish = true;
    }

    /// A reload's engine settings and the interfaces the link monitor now watches.
    pub fn reconfigure(&mut self, settings: Settings, rebootstrap: bool, now: Time) {
        self.arc.rebootstrap = rebootstrap;
        let actions = self.engine.reconfigure(settings, now);
        self.act(actions, now);
        self.routing_changed();
        self.nft_changed();
    }

    fn feed(&mut self, event: Event, now: Time) {
        let actions = self.engine.handle(event, now);
        self.act(actions, now);
    }

    fn act(&mut self, actions: Vec<Action>, now: Time) {
        if actions.is_empty() {
            return;
        }
        for action in actions {
            match action {
                Action::ClassMoved { class, from, to } => {
                    self.class_since.insert(class.clone(), now);
                    self.intents.evict.push(Moved { class, from, to });
                }
                Action::ClassRemoved { class, .. } => {
                    self.class_since.remove(&class);
                }
                Action::RenewHandshake { path: PathId::Arc } => self.renew(now),
                _ => {}
            }
        }
        if !self.settled && self.all_paths_known() {
            self.settled = true;
        }
        self.intents.routing = true;
        // Held classes are refused in nftables (routing's `prohibit` is the backstop).
        self.intents.nft = true;
        self.intents.publish = true;
    }

    fn all_paths_known(&self) -> bool {
        self.engine
            .settings()
            .paths
            .keys()
            .all(|p| !matches!(self.engine.health(*p), Some(Health::Unknown) | None))
    }

    /// The engine asks once per outage, so a request that comes too soon is done later, not
    /// dropped: dropped, the tunnel would wait for WireGuard's own rekey (up to two minutes)
    /// before it could prove itself again.
    fn renew(&mut self, now: Time) {
        if !self.arc.running {
            self.arc.renew_pending = false;
            return;
        }
        if self
            .arc
            .last_renew
            .is_some_and(|t| now.since(t) < RENEW_MIN_INTERVAL)
        {
            self.arc.renew_pending = true;
            return;
        }
        self.arc.renew_pending = false;
        self.arc.last_renew = Some(now);
        self.intents.renew = true;
    }

    /// With `arc.rebootstrap_on_auth_failure`, a tunnel that never handshakes while Wi-Fi
    /// works points to revoked credentials: ask for new ones.
    fn check_rebootstrap(&mut self, now: Time) {
        let wifi_up = self
            .engine
            .health(PathId::Wifi)
            .is_some_and(Health::is_usable);
        let stale = self
            .engine
            .desired()
            .paths
            .get(&PathId::Arc)
            .is_some_and(|s| s.handshake_age.is_none_or(|a| a > REBOOTSTRAP_AFTER));
        if !(self.arc.rebootstrap && self.arc.running && wifi_up && stale) {
            self.arc.no_handshake_since = None;
            self.arc.rebootstrap_next = None;
            return;
        }
        let since = *self.arc.no_handshake_since.get_or_insert(now);
        if now.since(since) < REBOOTSTRAP_AFTER
            || self.arc.rebootstrap_next.is_some_and(|t| now < t)
        {
            return;
        }
        self.arc.rebootstrap_next = Some(now + REBOOTSTRAP_AGAIN);
        self.intents.rebootstrap = true;
    }
}
