//! Start-up, the event loop and shutdown: messages from the owners go to the controller, and
//! once per turn its intents go to the owners (see `controller`).

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
use crate::linkmon::{Family, LinkEvent, LinkMonitor, LinkMonitorConfig, LinkMonitorHandle};
use crate::model::PathId;
use crate::modem::{self, ModemEvent, ModemWatcher};
use crate::nft::owner::NftHandle;
use crate::notify::{Notifier, Watchdog};
use crate::probe::{ProbeRound, Prober, ProberHandle};
use crate::routing::{self, Reconciler};
use crate::status::{self, WallTime};
use crate::wg::{TunnelSpec, TunnelStatus, WgSample};
use crate::wifi;
use crate::{bootstrap, conntrack, logging, metrics, nft};

mod owners;
mod reloading;

use super::arc::{self, ArcCommand, ArcHandle, ArcReport};
use super::controller::{Controller, Moved};
use super::inputs::World;
use super::observe::{self, Observed};
use super::reload::{self, ReloadPlan};
use super::{Options, dual, error_chain, exit, setup, snapshot};
use owners::Restart;
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
const LINK_MONITOR: &str = "link_monitor";
const ROUTE_WATCH: &str = "route_watch";

/// The Arc credentials, when Arc is configured. A missing file that `arc.bootstrap` will
/// fetch is not an error; any other failure is, with the file's name and the field at fault.
fn load_credentials(cfg: &Config) -> Result<Option<Credentials>, String> {
    let Some(arc) = &cfg.arc else {
        return Ok(None);
    };
    match credentials::load(&arc.credentials) {
        Ok(creds) => Ok(Some(creds)),
        Err(credentials::Error::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && arc.bootstrap.is_some() =>
        {
            Ok(None)
        }
        Err(err) => {
            let message = error_chain(&err);
            error!(error = %message, "Arc is off until the credentials file is fixed (then SIGHUP); Wi-Fi and cellular keep working");
            Err(message)
        }
    }
}

fn rebootstrap_on(cfg: &Config) -> bool {
    cfg.arc
        .as_ref()
        .is_some_and(|a| a.rebootstrap_on_auth_failure)
}

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
    linkmon_restart: Option<Restart>,
    reconciler: Reconciler,
    drift_watch: Option<JoinHandle<()>>,
    drift_restart: Option<Restart>,
    nft: NftHandle,
    modem: Option<ModemWatcher>,
    /// What the running modem watcher was started with; a reload that changes it restarts it.
    modem_settings: Option<modem::WatcherSettings>,
    /// A reload's new modem event receiver (`Some(None)`: no watcher any more), for the loop.
    modem_rx_swap: Option<Option<mpsc::Receiver<ModemEvent>>>,
    cellular_route: Option<routing::DefaultRoute>,
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
    async fn start(opts: Options, cfg: Config) -> Result<(Daemon, Channels), StartError> {
        let failed = |e: anyhow::Error| StartError::Failed(e);
        let origin = Instant::now();
        // Bad credentials disable Arc, not the gateway: Wi-Fi and cellular need none.
        let (creds, creds_problem) = match load_credentials(&cfg) {
            Ok(creds) => (creds, None),
            Err(message) => (None, Some(message)),
        };
        let notifier = Notifier::from_env().unwrap_or_else(|err| {
            warn!(error = %err, "NOTIFY_SOCKET is unusable; not talking to the service manager");
            Notifier::disabled()
        });

        let (publisher, subscriber) = status::channel(status::Snapshot::default());
        let server = status::Server::bind(&cfg.status.socket, subscriber)
            .await
            .with_context(|| {
                format!(
                    "failed to open the status socket {}",
                    cfg.status.socket.display()
                )
            })
            .map_err(failed)?;
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let server = server.accept_reloads(reload_tx);
        let (server_stop, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stop_rx.await;
        }));

        let reconciler = Reconciler::spawn(cfg.routing_layout())
            .context("failed to start the routing reconciler")
            .map_err(failed)?;
        let (link_tx, link_rx) = mpsc::channel(256);
        let watched = setup::watched_interfaces(&cfg);
        let linkmon = LinkMonitor::start(LinkMonitorConfig::new(watched.clone()), link_tx)
            .await
            .context("failed to start the link monitor")
            .map_err(failed)?;

        let (wifi_tx, wifi_rx) = mpsc::channel(64);
        let (wifi, _) = wifi::reconcile(None, wifi::settings_for(&cfg), &wifi_tx);
        let (probe_tx, probe_rx) = mpsc::channel(64);
        let (wg_tx, wg_rx) = mpsc::channel(16);
        let (arc_tx, arc_rx) = mpsc::channel(16);
        let (nft_tx, nft_rx) = mpsc::unbounded_channel();
        let (budget_tx, budget_rx) = mpsc::unbounded_channel();
        let (creds_tx, creds_rx) = mpsc::channel(1);
        let rebootstrap = Arc::new(tokio::sync::Mutex::new(bootstrap::Rebootstrapper::new(
            bootstrap::RebootstrapPolicy::from_config(&cfg),
        )));
        // Routing waits for the link monitor's first report of each of these (see FIRST_LINKS).
        let ctl = Controller::new(cfg.engine_settings(), watched, rebootstrap_on(&cfg));
        let interfaces = interfaces(&cfg);
        let now_wall = WallTime::now();
        let arc = arc::spawn(wg_tx.clone(), arc_tx.clone());
        let mut daemon = Daemon {
            opts,
            cfg,
            origin,
            started_at: now_wall,
            loaded_at: now_wall,
            reload_error: None,
            pending_reload: None,
            problems: BTreeMap::new(),
            status_line: String::new(),
            ctl,
            observed: Observed::default(),
            interfaces,
            creds,
            arc,
            tunnel: TunnelState::Off,
            tunnel_deferred: true,
            tunnel_status: None,
            tunnel_status_asked: None,
            renewed: None,
            prefer_ipv6: false,
            probers: BTreeMap::new(),
            probe_tx,
            wg_tx,
            arc_tx,
            nft_tx: nft_tx.clone(),
            linkmon,
            wifi,
            wifi_tx,
            wifi_seen: wifi::WifiObserved::default(),
            links_swap: None,
            linkmon_restart: None,
            reconciler,
            drift_watch: None,
            drift_restart: None,
            // Replaced once accounting runs (it reads the counters before every replace).
            nft: nft::owner::spawn(None, nft_tx),
            modem: None,
            modem_settings: None,
            modem_rx_swap: None,
            cellular_route: None,
            accounting: None,
            budget_tx,
            creds_tx,
            rebootstrap,
            publisher,
            metrics: None,
            server_stop: Some(server_stop),
            notifier,
            watchdog: Watchdog::from_env(),
            last_watchdog: Instant::now(),
        };
        daemon.start_drift_watch();
        if let Some(message) = creds_problem {
            daemon.set_problem(CREDENTIALS, Err(message));
        }
        let modem_rx = daemon.start_modem();
        // Probers first: accounting reports what their probes cost.
        daemon.start_probers();
        daemon.start_accounting();
        daemon.start_metrics().await;
        // A missing file that `arc.bootstrap` fetches; a broken one waits for a fix and SIGHUP.
        let fetch = daemon
            .cfg
            .arc
            .as_ref()
            .is_some_and(|a| a.bootstrap.is_some());
        if daemon.creds.is_none() && fetch && !daemon.problems.contains_key(CREDENTIALS) {
            daemon.spawn_bootstrap();
        }
        daemon.publish();
        info!(
            config = %daemon.opts.config_path.display(),
            paths = ?daemon.cfg.paths(),
            classes = daemon.cfg.classes.len(),
            "arcway started"
        );
        if let Err(err) = daemon.notifier.ready() {
            warn!(error = %err, "failed to tell the service manager we are ready");
        }
        let channels = Channels {
            links: Some(link_rx),
            wifi: wifi_rx,
            probes: probe_rx,
            wg: wg_rx,
            arc: arc_rx,
            nft: nft_rx,
            budgets: budget_rx,
            reloads: reload_rx,
            creds: creds_rx,
            modem: modem_rx,
        };
        Ok((daemon, channels))
    }

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
                _ = tick.tick() => self.housekeeping().await,
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

    fn world(&self) -> World<'_> {
        // Routes into the tunnel need its device up: while a new tunnel starts, the kernel
        // refuses them (ENETDOWN). A device left up by an earlier arcway is adopted at once.
        let arc_routable = self.tunnel == TunnelState::Running
            || self
                .interfaces
                .get(&PathId::Arc)
                .and_then(|name| self.observed.links.get(name))
                .is_some_and(|l| l.is_up());
        World {
            cfg: &self.cfg,
            links: &self.observed.links,
            arc: self
                .creds
                .as_ref()
                .map(|c| (c.ip_address, setup::arc_routes(&self.cfg, c))),
            arc_routable,
            interfaces: &self.interfaces,
            cellular_route: self.cellular_route,
        }
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

    /// The probed Wi-Fi path and the tunnel over it, when their link is down. (Cellular is
    /// left to its interval: there a probe costs money, and a bearer comes back seldom.)
    fn links_down(&self) -> Vec<PathId> {
        let engine = self.ctl.engine();
        self.probers
            .keys()
            .copied()
            .filter(|p| matches!(p, PathId::Wifi | PathId::Arc))
            .filter(|&p| engine.link_down(p).is_some())
            .collect()
    }

    /// Paths of `down` whose link is back are probed at once, not at their next interval:
    /// after a quick reassociation the first passing round is what ends the outage.
    fn probe_returned(&self, down: &[PathId]) {
        let engine = self.ctl.engine();
        for path in down {
            if engine.link_down(*path).is_none()
                && let Some(prober) = self.probers.get(path)
            {
                debug!(path = %path, "link back: probing at once");
                prober.resume();
            }
        }
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

    fn on_arc(&mut self, report: ArcReport) {
        match report {
            ArcReport::Started => {
                self.tunnel = TunnelState::Running;
                self.renewed = None;
                self.ctl.tunnel_started(self.now());
                self.ctl.routing_changed();
                self.ctl.nft_changed();
                self.set_problem(TUNNEL, Ok(()));
                self.ask_tunnel_status();
                self.finish_reload(Ok(()));
            }
            ArcReport::Failed { error, retry_in } => {
                error!(error = %error, retry_in = ?retry_in, "failed to bring up the Arc tunnel");
                self.tunnel = TunnelState::Starting;
                self.ctl.tunnel_starting();
                self.finish_reload(Err(format!(
                    "the new configuration is in force, but the Arc tunnel did not start (retried in {retry_in:?}): {error}"
                )));
                self.set_problem(TUNNEL, Err(error));
            }
            ArcReport::Removed => {
                self.tunnel = TunnelState::Off;
                self.tunnel_status = None;
                self.ctl.tunnel_stopped();
                self.ctl.routing_changed();
            }
            ArcReport::Renewed { at, wall } => {
                self.renewed = Some((at, wall));
                self.ctl.renewed(self.time_of(at));
                // The next packet makes the new handshake: a probe now rather than at the
                // next interval.
                if let Some(prober) = self.probers.get(&PathId::Arc) {
                    prober.resume();
                }
            }
            ArcReport::Status(status) => {
                self.tunnel_status = status.map(|s| *s);
                self.ctl.publish();
            }
        }
    }

    fn log_engine_entries(&mut self) {
        for entry in self.ctl.take_log() {
            // A path lost is what an operator filtering for warnings wants to see.
            let lost = matches!(
                entry.change,
                engine::Change::Path {
                    to: Health::Down { .. },
                    ..
                }
            );
            if lost {
                warn!(seq = entry.seq, "{}", entry.summary());
            } else {
                info!(seq = entry.seq, "{}", entry.summary());
            }
        }
    }

    async fn sync_routing(&mut self) {
        if !self.ctl.links_known() {
            return;
        }
        let desired = self.ctl.engine().desired();
        let routes = desired
            .classes
            .iter()
            .map(|c| (c.name.clone(), c.route))
            .collect();
        let inputs = self.world().routing(&routes);
        let mut desired = match routing::desired(&inputs) {
            Ok(d) => d,
            Err(err) => {
                let message = error_chain(&err);
                warn!(error = %message, "failed to compute the routing state");
                self.set_problem(ROUTING, Err(message));
                return;
            }
        };
        if self.ctl.adopting() {
            // Until every path has reported, class tables keep what the kernel has (a
            // restart adopts working routes); path tables and rules are set at once so the
            // tunnel and the probes can work.
            match self.reconciler.current().await {
                Ok(current) => keep_class_routes(&mut desired, &current, &inputs),
                Err(err) => {
                    warn!(error = %err, "failed to read arcway's routes");
                    return;
                }
            }
        }
        let links = desired.links.clone();
        match self.reconciler.set(desired).await {
            Ok(changes) => {
                if !changes.is_empty() {
                    debug!(changes = %routing::render_changes(&changes, &links), "routing updated");
                }
                self.set_problem(ROUTING, Ok(()));
            }
            Err(err) => {
                let message = error_chain(&err);
                warn!(error = %message, "failed to update routing");
                self.set_problem(ROUTING, Err(message));
            }
        }
    }

    /// Flows of a moved class that were NATed to the old path would keep that address on
    /// the new path and be dropped by the far end: delete them, and only them, per family
    /// that moved. Every class moved in one turn shares one conntrack dump.
    fn evict(&self, moved: &[Moved]) {
        let (classes, evictions) = dual::evictions(&self.world(), moved);
        if evictions.is_empty() {
            return;
        }
        tokio::spawn(async move {
            let classes = classes.join(", ");
            match conntrack::evict(evictions).await {
                Ok(report) => debug!(
                    classes = %classes,
                    evicted = report.evicted,
                    examined = report.examined,
                    "conntrack entries of the moved classes removed"
                ),
                Err(err) => {
                    warn!(classes = %classes, error = %err, "failed to remove conntrack entries")
                }
            }
        });
    }

    fn follow_wifi_ipv6(&mut self) {
        let prefer = self
            .interfaces
            .get(&PathId::Wifi)
            .and_then(|name| self.observed.links.get(name))
            .is_some_and(|l| {
                l.default_route(Family::V6).is_some() && l.global(Family::V6).next().is_some()
            });
        if prefer != self.prefer_ipv6 {
            self.prefer_ipv6 = prefer;
            self.arc.set(ArcCommand::PreferIpv6(prefer));
        }
    }

    fn nft_wanted(&self) -> nft::owner::Wanted {
        let inputs = self.world().nft();
        let routes = self.ctl.engine().desired();
        let ifname = |p: PathId| self.interfaces.get(&p).cloned();
        let extras = nft::TableExtras {
            counted: self
                .interfaces
                .iter()
                .map(|(p, i)| nft::CountedPath {
                    path: *p,
                    ifname: i.clone(),
                })
                .collect(),
            default_class: self
                .cfg
                .classes
                .iter()
                .find(|c| c.matcher.is_none())
                .map(|c| c.name.clone()),
            held: nft::held_classes(
                &self.cfg,
                routes
                    .classes
                    .iter()
                    .map(|c| (c.name.as_str(), dual::held(c.route))),
                ifname,
            ),
            missing_cgroups: Default::default(),
        };
        (inputs, extras)
    }

    fn new_credentials(&mut self, creds: Credentials) {
        info!(address = %creds.ip_address, "Arc credentials ready");
        self.set_problem(CREDENTIALS, Ok(()));
        self.creds = Some(creds.clone());
        self.ctl.new_credentials();
        if self.tunnel == TunnelState::Off {
            self.start_tunnel(false);
        } else {
            self.arc.set(ArcCommand::Update(Box::new(creds)));
        }
    }

    /// Records how setting up `object` went: a failure shows in status, metrics and the
    /// service manager's STATUS until a later attempt succeeds.
    fn set_problem(&mut self, object: &'static str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                if self.problems.remove(object).is_some() {
                    info!(object, "set up again; the problem is gone");
                    self.ctl.publish();
                }
            }
            Err(error) => {
                let problem = self
                    .problems
                    .entry(object)
                    .or_insert_with(|| status::Problem {
                        object: object.to_owned(),
                        since: WallTime::now(),
                        error: String::new(),
                    });
                problem.error = error;
                self.ctl.publish();
            }
        }
    }

    fn publish(&mut self) {
        let class_since: BTreeMap<String, Instant> = self
            .ctl
            .class_since()
            .iter()
            .map(|(c, t)| (c.clone(), self.origin + t.as_duration()))
            .collect();
        let snap = snapshot::build(&snapshot::Inputs {
            cfg: &self.cfg,
            config_path: &self.opts.config_path,
            loaded_at: self.loaded_at,
            reload_error: self.reload_error.clone(),
            started_at: self.started_at,
            origin: self.origin,
            engine: self.ctl.engine(),
            observed: &self.observed,
            interfaces: &self.interfaces,
            tunnel: self.tunnel_status.as_ref(),
            class_since: &class_since,
        });
        let snap = status::Snapshot {
            accounting: self.accounting.as_ref().map(|a| a.status.borrow().clone()),
            modem: self.modem.as_ref().map(ModemWatcher::status),
            problems: self.problems.values().cloned().collect(),
            ..snap
        };
        let mut snap = snap;
        let degraded = self
            .ctl
            .engine()
            .desired()
            .paths
            .get(&PathId::Wifi)
            .is_some_and(|p| p.degraded);
        for p in snap
            .paths
            .iter_mut()
            .filter(|p| p.name == PathId::Wifi.as_str())
        {
            p.wifi = self.wifi_seen.status(degraded);
        }
        let line = status::status_line(&snap);
        if line != self.status_line {
            if let Err(err) = self.notifier.status(&line) {
                debug!(error = %err, "failed to send STATUS to the service manager");
            }
            self.status_line = line;
        }
        self.publisher.send_replace(Arc::new(snap));
    }

    async fn shutdown(mut self) -> anyhow::Result<()> {
        info!("stopping");
        let _ = self.notifier.stopping();
        self.finish_reload(Err("arcway is stopping".into()));
        if let Some(w) = self.wifi.take() {
            w.stop();
        }
        self.probers.clear();
        let on_stop = self
            .cfg
            .arc
            .as_ref()
            .map_or(config::OnStop::Remove, |a| a.on_stop);
        let mut failures = Vec::new();
        if let Some(watcher) = self.modem.take() {
            watcher.stop().await;
        }
        // The table stays as it is until removed below: the owner's last load is the last.
        self.nft.stop().await;
        if let Some(acct) = self.accounting.take()
            && let Err(err) = acct.stop().await
        {
            failures.push(format!("accounting: {err}"));
        }
        if let Err(err) = self.arc.stop().await {
            failures.push(format!("tunnel: {err}"));
        }
        if on_stop == config::OnStop::Remove {
            if let Err(err) = self.reconciler.teardown().await {
                failures.push(format!("routing: {err}"));
            }
            if let Err(err) = nft::remove().await {
                failures.push(format!("nftables: {err}"));
            }
        }
        if let Some(stop) = self.server_stop.take() {
            let _ = stop.send(());
        }
        // Give the status server a moment to remove its socket.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if failures.is_empty() {
            info!("stopped");
            Ok(())
        } else {
            anyhow::bail!("teardown was incomplete: {}", failures.join("; "))
        }
    }
}

fn keep_class_routes(
    desired: &mut routing::DesiredRouting,
    current: &routing::KernelRouting,
    inputs: &routing::RoutingInputs,
) {
    let class_tables: std::collections::BTreeSet<u32> =
        inputs.classes.iter().map(|c| c.table).collect();
    desired
        .objects
        .routes
        .retain(|key, _| !class_tables.contains(&key.table));
    for (key, kind) in &current.routes {
        if class_tables.contains(&key.table) {
            desired.objects.routes.insert(*key, kind.clone());
        }
    }
}

fn interfaces(cfg: &Config) -> BTreeMap<PathId, String> {
    PathId::ALL
        .into_iter()
        .filter_map(|p| Some((p, setup::interface(cfg, p)?)))
        .collect()
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
