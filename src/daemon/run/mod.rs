//! The event loop: messages from the owners go to the controller, and once per turn its
//! intents go to the owners (see `controller`). Start-up and shutdown are in `lifecycle`,
//! supervision of the owners in `supervise`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::accounting::{self, AccountingHandle, AccountingSettings, BudgetTransition, Limits};
use crate::config::{self, Config};
use crate::credentials::{self, Credentials};
use crate::engine::{self, Event, Health, Time};
use crate::linkmon::{LinkEvent, LinkMonitor, LinkMonitorConfig, LinkMonitorHandle};
use crate::model::{Family, PathId};
use crate::modem::{self, ModemEvent, ModemWatcher};
use crate::nft::owner::NftHandle;
use crate::notify::{Notifier, Watchdog};
use crate::probe::{ProbeRound, Prober, ProberHandle};
use crate::routing::{self, Reconciler};
use crate::status::{self, WallTime};
use crate::wg::{TunnelSpec, TunnelStatus, WgSample};
use crate::wifi;
use crate::{bootstrap, conntrack, logging, metrics, nft};

mod arc_session;
mod kernel;
mod lifecycle;
mod owners;
mod publishing;
mod reloading;
mod supervise;

use arc_session::{load_credentials, rebootstrap_on};
use lifecycle::interfaces;

use super::arc::{self, ArcCommand, ArcHandle, ArcReport};
use super::controller::{Controller, Moved};
use super::inputs::World;
use super::observe::{self, Observed};
use super::reload::{self, ReloadPlan};
use super::{Options, dual, error_chain, exit, setup, snapshot};
use reloading::{PendingReload, log_style, log_warnings};

/// How often status is republished, owners checked and the watchdog fed.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How often the tunnel's own status (backend, child PID, byte counters) is asked for; every
/// question costs the userspace implementation a UAPI round trip.
const TUNNEL_STATUS_EVERY: Duration = Duration::from_secs(5);

/// Runs the daemon until SIGTERM or SIGINT. Loads the configuration first: a bad one is
/// exit 2 before anything is touched.
pub fn run(opts: Options) -> ExitCode {
    let cfg = match config::load(&opts.config_path) {
        Ok(cfg) => cfg,
        Err(err) => {
            logging::report_error(&err.to_string());
            return ExitCode::from(exit::BAD_INPUT);
        }
    };
    logging::init(cfg.logging.level.as_str(), log_style(&cfg.logging));
    log_warnings(&cfg);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            error!(error = %err, "failed to start the async runtime");
            return ExitCode::from(exit::FAILURE);
        }
    };
    runtime.block_on(async move {
        match Daemon::start(opts, cfg).await {
            Ok((daemon, channels)) => match daemon.run(channels).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    error!(error = format!("{err:#}"), "arcway stopped with an error");
                    ExitCode::from(exit::FAILURE)
                }
            },
            Err(StartError::Failed(err)) => {
                error!(error = format!("{err:#}"), "arcway failed to start");
                ExitCode::from(exit::FAILURE)
            }
        }
    })
}

enum StartError {
    Failed(anyhow::Error),
}

/// Names of the objects a problem is shown for (`status::Problem::OBJECTS`, and the owners).
const CREDENTIALS: &str = "credentials";
const NFTABLES: &str = "nftables";
const ROUTING: &str = "routing";
const TUNNEL: &str = "tunnel";
const CONFIG: &str = "config";

/// The receivers the loop waits on. Owners restarted by the loop hand in new ones.
struct Channels {
    creds: mpsc::Receiver<Credentials>,
    modem: Option<mpsc::Receiver<ModemEvent>>,
    links: Option<mpsc::Receiver<LinkEvent>>,
    wifi: mpsc::Receiver<wifi::WifiEvent>,
    probes: mpsc::Receiver<ProbeRound>,
    wg: mpsc::Receiver<WgSample>,
    arc: mpsc::Receiver<ArcReport>,
    nft: mpsc::UnboundedReceiver<nft::owner::NftReport>,
    budgets: mpsc::UnboundedReceiver<BudgetTransition>,
    /// Reloads asked for on the status socket (`arcway reload`), each waiting for its answer.
    reloads: mpsc::Receiver<status::ReloadAnswer>,
}

/// Where the tunnel is, as far as the loop knows (the Arc owner does the work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TunnelState {
    Off,
    /// Asked for; the owner starts it, or retries a failed start.
    Starting,
    Running,
}

struct Daemon {
    opts: Options,
    cfg: Config,
    origin: Instant,
    started_at: WallTime,
    loaded_at: WallTime,
    reload_error: Option<status::ReloadError>,
    pending_reload: Option<PendingReload>,
    /// Objects arcway could not set up, by name (see `status::Problem::OBJECTS`).
    problems: BTreeMap<&'static str, status::Problem>,
    /// The latest STATUS= sent to the service manager.
    status_line: String,
    ctl: Controller,
    observed: Observed,
    interfaces: BTreeMap<PathId, String>,
    creds: Option<Credentials>,
    arc: ArcHandle,
    tunnel: TunnelState,
    /// The tunnel is started once routing has been set up the first time.
    tunnel_deferred: bool,
    tunnel_status: Option<TunnelStatus>,
    tunnel_status_asked: Option<Instant>,
    /// When the peer was last replaced (monotonic and wall clock).
    renewed: Option<(Instant, SystemTime)>,
    prefer_ipv6: bool,
    probers: BTreeMap<PathId, ProberHandle>,
    probe_tx: mpsc::Sender<ProbeRound>,
    wg_tx: mpsc::Sender<WgSample>,
    arc_tx: mpsc::Sender<ArcReport>,
    nft_tx: mpsc::UnboundedSender<nft::owner::NftReport>,
    linkmon: LinkMonitorHandle,
    wifi: Option<wifi::WifiHandle>,
    wifi_tx: mpsc::Sender<wifi::WifiEvent>,
    wifi_seen: wifi::WifiObserved,
    /// A replaced link monitor's events, for the loop to take.
    links_swap: Option<mpsc::Receiver<LinkEvent>>,
    reconciler: Reconciler,
    drift_watch: Option<JoinHandle<()>>,
    /// What the drift watch beats on (it is a bare task).
    drift_beat: crate::liveness::Heartbeat,
    /// Owners that died and when they are started again.
    restarts: super::liveness::Restarts,
    /// Owners past their deadline at the last check.
    overdue: std::collections::BTreeSet<&'static str>,
    nft: NftHandle,
    modem: Option<ModemWatcher>,
    /// What the running modem watcher was started with; a reload that changes it restarts it.
    modem_settings: Option<modem::WatcherSettings>,
    /// A reload's new modem event receiver (`Some(None)`: no watcher any more), for the loop.
    modem_rx_swap: Option<Option<mpsc::Receiver<ModemEvent>>>,
    cellular_route: Option<routing::PathDefault>,
    accounting: Option<AccountingHandle>,
    budget_tx: mpsc::UnboundedSender<BudgetTransition>,
    creds_tx: mpsc::Sender<Credentials>,
    rebootstrap: Arc<tokio::sync::Mutex<bootstrap::Rebootstrapper>>,
    publisher: status::Publisher,
    metrics: Option<JoinHandle<()>>,
    server_stop: Option<oneshot::Sender<()>>,
    notifier: Notifier,
    watchdog: Option<Watchdog>,
    last_watchdog: Instant,
}

impl Daemon {
    /// Moves messages from the owners to the controller; after each message, one reconcile.
    async fn run(mut self, mut ch: Channels) -> anyhow::Result<()> {
        let mut hup = signal(SignalKind::hangup()).context("failed to catch SIGHUP")?;
        let mut term = signal(SignalKind::terminate()).context("failed to catch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("failed to catch SIGINT")?;
        // Half the ping interval keeps every watchdog ping within 3/4 of the timeout.
        let period = self
            .watchdog
            .map_or(HOUSEKEEPING, |w| HOUSEKEEPING.min(w.ping_interval() / 2))
            .max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self
                .ctl
                .poll_timeout()
                .map(|t| tokio::time::Instant::from_std(self.origin + t.as_duration()));
            tokio::select! {
                biased;
                // Housekeeping first: it only does cheap things and is ready once a period,
                // so a storm of events cannot starve the watchdog.
                _ = tick.tick() => self.housekeeping(&mut ch).await,
                // Then link events: carrier loss is the fastest failover there is.
                event = recv_opt(&mut ch.links) => match event {
                    Some(event) => self.on_link(event),
                    None => self.link_monitor_died(&mut ch),
                },
                Some(event) = ch.wifi.recv() => self.on_wifi(event),
                Some(round) = ch.probes.recv() => self.on_probe(round),
                Some(sample) = ch.wg.recv() => self.on_wg(sample),
                Some(report) = ch.arc.recv() => self.on_arc(report),
                Some(report) = ch.nft.recv() => self.set_problem(NFTABLES, report),
                Some(creds) = ch.creds.recv() => self.new_credentials(creds),
                Some(event) = recv_opt(&mut ch.modem) => self.on_modem(event),
                Some(t) = ch.budgets.recv() => {
                    info!(path = %t.path, class = ?t.class, exhausted = t.exhausted, "data budget");
                    self.ctl.event(t.event(), self.now());
                }
                () = sleep_until(deadline) => self.ctl.tick(self.now()),
                _ = hup.recv() => self.reload(None).await,
                Some(answer) = ch.reloads.recv() => self.reload(Some(answer)).await,
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
            self.reconcile().await;
            if let Some(events) = self.modem_rx_swap.take() {
                ch.modem = events;
            }
            if let Some(events) = self.links_swap.take() {
                ch.links = Some(events);
            }
        }
        self.shutdown().await
    }

    /// The turn's work, in the order the first packet on a new path needs it: routing (one
    /// netlink transaction), then conntrack eviction of the moved classes (spawned), then
    /// nftables (handed to its owner), then the Arc session, then status.
    async fn reconcile(&mut self) {
        let intents = self.ctl.take_intents();
        if intents.is_empty() {
            return;
        }
        if intents.settled_by_timeout {
            info!("not every path has reported yet; applying routes with what is known");
        }
        if intents.routing {
            self.sync_routing().await;
        }
        self.evict(&intents.evict);
        self.log_engine_entries();
        if intents.nft {
            self.nft.set(self.nft_wanted());
        }
        if intents.renew
            && let Some(creds) = &self.creds
        {
            self.arc.set(ArcCommand::Renew(Box::new(creds.clone())));
        }
        if intents.rebootstrap {
            self.spawn_rebootstrap();
        }
        // The tunnel's first handshake needs the Wi-Fi table and the mark rule in place, or
        // it is lost and WireGuard waits 5 s to retry.
        if self.tunnel_deferred && self.ctl.links_known() {
            self.tunnel_deferred = false;
            self.start_tunnel(false);
        }
        if intents.publish {
            self.publish();
        }
    }

    fn now(&self) -> Time {
        Time::from_duration(self.origin.elapsed())
    }

    fn time_of(&self, at: Instant) -> Time {
        Time::from_duration(at.saturating_duration_since(self.origin))
    }

    fn on_modem(&mut self, event: ModemEvent) {
        debug!(?event, "modem event");
        match event {
            ModemEvent::Bearer { connected } => {
                let event = Event::Bearer {
                    path: PathId::Cellular,
                    connected,
                };
                self.ctl.event(event, self.now());
            }
            ModemEvent::Interface { name } if nft::check_ifname(&name).is_err() => {
                warn!(interface = %name.escape_debug(), "ignoring a bearer interface name the kernel or nftables would not take");
            }
            ModemEvent::Interface { name }
                if self.interfaces.get(&PathId::Cellular) != Some(&name) =>
            {
                info!(interface = %name, "cellular path follows the bearer's interface");
                self.interfaces.insert(PathId::Cellular, name);
                self.linkmon
                    .watch(self.interfaces.values().cloned().collect());
                self.start_probers();
                self.ctl.nft_changed();
                self.ctl.routing_changed();
            }
            ModemEvent::DefaultRoute { route, .. } => {
                self.cellular_route = route;
                let now = self.now();
                for e in dual::default_route_events(&self.world()) {
                    self.ctl.event(e, now);
                }
                self.ctl.routing_changed();
            }
            _ => {}
        }
        self.ctl.publish();
    }

    fn on_link(&mut self, event: LinkEvent) {
        debug!(?event, "link event");
        // Names from netlink reach routes and the nftables table only through the paths'
        // interfaces, which passed the same check; anything else is not arcway's.
        if let Err(why) = nft::check_ifname(event.name()) {
            debug!(reason = %why, "ignoring a link event");
            return;
        }
        self.observed.record_link(&event);
        let events = observe::link_events(&self.interfaces, &event);
        let now = self.now();
        let down = self.links_down();
        self.ctl.link(event.name(), events, now);
        self.probe_returned(&down);
        // After the link events, and never dropped with a starting tunnel's: which families
        // each path has a default route in.
        for e in dual::default_route_events(&self.world()) {
            self.ctl.event(e, now);
        }
        self.follow_wifi_ipv6();
    }

    fn on_wifi(&mut self, event: wifi::WifiEvent) {
        let now = self.now();
        let down = self.links_down();
        for e in self.wifi_seen.take(event, WallTime::now()) {
            self.ctl.event(e, now);
        }
        self.probe_returned(&down);
        self.ctl.publish();
    }

    fn on_probe(&mut self, round: ProbeRound) {
        self.observed.record_round(&round);
        let now = self.now();
        for event in observe::probe_events(&round) {
            self.ctl.event(event, now);
        }
    }

    fn on_wg(&mut self, sample: WgSample) {
        let renewed = self
            .renewed
            .filter(|(at, _)| sample.at > *at)
            .map(|(_, wall)| wall);
        let passive = !self.probers.contains_key(&PathId::Arc);
        let events = observe::wg_events(
            self.observed.wg.as_ref(),
            &sample,
            SystemTime::now(),
            passive,
            renewed,
        );
        self.observed.wg = Some(sample);
        self.ctl
            .handshake(events, self.time_of(sample.at), self.now());
    }
}

async fn recv_opt<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
