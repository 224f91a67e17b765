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
use crate::{bootstrap, conntrack, logging, metrics, nft};

use super::arc::{self, ArcCommand, ArcHandle, ArcReport};
use super::controller::{Controller, Moved};
use super::inputs::World;
use super::observe::{self, Observed};
use super::reload::{self, ReloadPlan};
use super::{Options, error_chain, exit, setup, snapshot};

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

/// What check-config would warn about, in the log.
fn log_warnings(cfg: &Config) {
    for warning in &cfg.warnings {
        warn!(%warning, "configuration warning");
    }
}

fn reconfigure_logging(settings: &config::LoggingConfig) {
    if let Err(err) = logging::reconfigure(settings.level.as_str(), log_style(settings)) {
        warn!(error = %err, "the log settings stay as they were");
    }
}

fn log_style(settings: &config::LoggingConfig) -> logging::Style {
    match settings.format {
        config::LogFormat::Auto => logging::Style::Auto,
        config::LogFormat::Plain => logging::Style::Plain,
        config::LogFormat::Json => logging::Style::Json,
    }
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

/// A reload that waits for the tunnel's restart before it can say whether it worked.
struct PendingReload {
    answer: Option<status::ReloadAnswer>,
    path: String,
}

/// An owner restarted after it died: when to try again and the backoff.
#[derive(Debug, Clone, Copy)]
struct Restart {
    at: Instant,
    backoff: Duration,
}

impl Restart {
    fn after(previous: Option<Restart>) -> Restart {
        let backoff = previous.map_or(Duration::from_secs(1), |r| {
            (r.backoff * 2).min(Duration::from_secs(60))
        });
        Restart {
            at: Instant::now() + backoff,
            backoff,
        }
    }
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

    fn start_modem(&mut self) -> Option<mpsc::Receiver<ModemEvent>> {
        let settings = reload::watcher_settings(&self.cfg)?;
        let (watcher, events) = modem::spawn(settings.clone());
        self.modem = Some(watcher);
        self.modem_settings = Some(settings);
        Some(events)
    }

    /// After a reload: restarts the modem watcher if what it selects or how it manages the
    /// bearer changed (a new APN is used at once), starts or stops it if ModemManager was
    /// turned on or off. True when a watcher was stopped and none replaces it.
    async fn sync_modem(&mut self) -> bool {
        if reload::watcher_settings(&self.cfg) == self.modem_settings {
            return false;
        }
        if let Some(old) = self.modem.take() {
            old.stop().await;
        }
        let had = self.modem_settings.take().is_some();
        let events = self.start_modem();
        let stopped = had && events.is_none();
        match (had, events.is_some()) {
            (true, true) => info!("modem watcher restarted with the new settings"),
            (true, false) => info!("modem watcher stopped: ModemManager is no longer used"),
            (false, _) => info!("modem watcher started"),
        }
        self.modem_rx_swap = Some(events);
        stopped
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
        self.ctl.link(event.name(), events, self.now());
        self.follow_wifi_ipv6();
    }

    /// The link monitor's task ended (its netlink socket failed): without it no carrier loss
    /// is seen, so it is started again at once, then with backoff.
    fn link_monitor_died(&mut self, ch: &mut Channels) {
        ch.links = None;
        error!("the link monitor stopped; starting it again");
        self.set_problem(
            LINK_MONITOR,
            Err(
                "the link monitor stopped; carrier changes are not seen until it runs again".into(),
            ),
        );
        self.linkmon_restart = Some(Restart {
            at: Instant::now(),
            backoff: Duration::ZERO,
        });
        self.ctl.publish();
    }

    fn on_probe(&mut self, round: ProbeRound) {
        self.observed.record_round(&round);
        self.ctl.event(observe::probe_event(&round), self.now());
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
                self.finish_reload(Err(format!("the Arc tunnel did not start: {error}")));
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
            }
            ArcReport::Status(status) => {
                self.tunnel_status = status.map(|s| *s);
                self.ctl.publish();
            }
        }
    }

    fn ask_tunnel_status(&mut self) {
        self.tunnel_status_asked = Some(Instant::now());
        if self.tunnel == TunnelState::Running {
            self.arc.set(ArcCommand::Status);
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
    /// the new path and be dropped by the far end: delete them, and only them. Every class
    /// moved in one turn shares one conntrack dump.
    fn evict(&self, moved: &[Moved]) {
        let world = self.world();
        let mut classes = Vec::new();
        let mut evictions = Vec::new();
        for m in moved {
            let engine::ClassRoute::Via(old) = m.from else {
                continue;
            };
            if m.to == m.from {
                continue;
            }
            let (Some(flows), Some(old_address)) =
                (world.class_flows(&m.class), world.nat_address(old))
            else {
                continue;
            };
            classes.push(format!("{} from {old}", m.class));
            evictions.push(conntrack::Eviction {
                class: flows,
                old_address,
            });
        }
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
                routes.classes.iter().map(|c| (c.name.as_str(), c.route)),
                ifname,
            ),
            missing_cgroups: Default::default(),
        };
        (inputs, extras)
    }

    fn start_probers(&mut self) {
        for path in self.cfg.paths() {
            let Some(mut config) = setup::prober_config(&self.cfg, path) else {
                self.probers.remove(&path);
                continue;
            };
            // The bearer's interface, once ModemManager names it, wins over the configured one.
            if let Some(ifname) = self.interfaces.get(&path) {
                config.binding.interface = ifname.clone();
            }
            match self.probers.get(&path) {
                Some(handle) => {
                    handle.reconfigure(config);
                }
                None => {
                    self.probers
                        .insert(path, Prober::spawn(config, self.probe_tx.clone()));
                }
            }
        }
        self.probers.retain(|p, _| self.cfg.has_path(*p));
    }

    fn start_accounting(&mut self) {
        let mut settings = AccountingSettings::new(Limits::from_config(&self.cfg));
        settings.probe_counters = self
            .probers
            .iter()
            .map(|(p, h)| (*p, h.counters_handle()))
            .collect();
        settings.state_path = self.cfg.budget.state_file.clone();
        let acct = accounting::spawn(settings, self.budget_tx.clone());
        // The nftables owner reads the counters before every replace from now on.
        let old = std::mem::replace(
            &mut self.nft,
            nft::owner::spawn(Some(acct.reader()), self.nft_tx.clone()),
        );
        drop(old);
        self.accounting = Some(acct);
        self.ctl.nft_changed();
    }

    async fn start_metrics(&mut self) {
        if let Some(old) = self.metrics.take() {
            old.abort();
        }
        let Some(listen) = self.cfg.metrics.listen else {
            return;
        };
        let acct = self.accounting.as_ref().map(|a| a.status.clone());
        match metrics::spawn(listen, self.publisher.subscribe(), acct).await {
            Ok((addr, task)) => {
                info!(%addr, "metrics listening");
                self.metrics = Some(task);
            }
            Err(err) => error!(error = %err, "failed to serve metrics"),
        }
    }

    fn start_drift_watch(&mut self) {
        match routing::spawn_drift_watch(
            self.reconciler.clone(),
            Duration::from_millis(50),
            Duration::from_secs(30),
        ) {
            Ok(task) => {
                self.drift_watch = Some(task);
                self.drift_restart = None;
                self.set_problem(ROUTE_WATCH, Ok(()));
            }
            Err(err) => {
                let restart = Restart::after(self.drift_restart);
                warn!(error = %err, retry_in = ?restart.backoff, "failed to watch for changes to arcway's rules; repairing on events only");
                self.drift_restart = Some(restart);
                self.set_problem(ROUTE_WATCH, Err(error_chain(&err)));
            }
        }
    }

    /// Asks the Arc owner for a tunnel (`replace`: remove a running one first).
    fn start_tunnel(&mut self, replace: bool) -> bool {
        let (Some(settings), Some(creds)) = (setup::wg_settings(&self.cfg), self.creds.clone())
        else {
            return false;
        };
        if self.tunnel != TunnelState::Off && !replace {
            return false;
        }
        let mut spec = TunnelSpec::new(settings, creds);
        spec.prefer_ipv6 = self.prefer_ipv6;
        self.tunnel = TunnelState::Starting;
        self.ctl.tunnel_starting();
        self.arc.set(ArcCommand::Start {
            spec: Box::new(spec),
            replace,
        });
        true
    }

    fn hook_options(&self) -> bootstrap::HookOptions {
        bootstrap::HookOptions {
            cellular_interface: self.interfaces.get(&PathId::Cellular).cloned(),
            ..bootstrap::HookOptions::default()
        }
    }

    /// First start without credentials: fetch them (Krypton waits for the cellular path)
    /// without holding up the rest of the daemon; retried with a pause when it fails.
    fn spawn_bootstrap(&self) {
        let cfg = self.cfg.clone();
        let opts = self.hook_options();
        let tx = self.creds_tx.clone();
        tokio::spawn(async move {
            loop {
                match bootstrap::bootstrap_if_missing(&cfg, &opts).await {
                    Ok(creds) => {
                        let _ = tx.send(creds).await;
                        return;
                    }
                    // A SIM is only ever created when no simId is known, so trying again
                    // cannot buy a second one.
                    Err(err) => error!(
                        error = format!("{err:#}"),
                        "failed to bootstrap Arc credentials; trying again in 60s"
                    ),
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
    }

    /// The controller saw no handshake for too long while Wi-Fi works: ask the policy for
    /// new credentials (it backs off, and never creates a SIM).
    fn spawn_rebootstrap(&self) {
        let Ok(mut guard) = self.rebootstrap.clone().try_lock_owned() else {
            return;
        };
        let cfg = self.cfg.clone();
        let opts = self.hook_options();
        let tx = self.creds_tx.clone();
        tokio::spawn(async move {
            if let Some(Ok(creds)) = guard.on_auth_failure(&cfg, &opts, Instant::now()).await {
                let _ = tx.send(creds).await;
            }
        });
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

    /// Timers of the loop itself: owners to restart, the tunnel's status, the watchdog.
    async fn housekeeping(&mut self) {
        let now = Instant::now();
        if let Some(r) = self.linkmon_restart
            && now >= r.at
        {
            self.restart_link_monitor(r).await;
        }
        let drift_dead = self
            .drift_watch
            .as_ref()
            .is_some_and(JoinHandle::is_finished);
        if drift_dead {
            self.drift_watch = None;
            error!("the watch for changes to arcway's rules stopped; starting it again");
            self.drift_restart = Some(Restart {
                at: now,
                backoff: Duration::ZERO,
            });
            self.set_problem(
                ROUTE_WATCH,
                Err("the watch for changes to arcway's rules stopped".into()),
            );
        }
        if let Some(r) = self.drift_restart
            && now >= r.at
            && self.drift_watch.is_none()
        {
            self.start_drift_watch();
        }
        if self.arc.is_finished() {
            error!("the Arc owner stopped; starting it again");
            self.arc = arc::spawn(self.wg_tx.clone(), self.arc_tx.clone());
            self.tunnel = TunnelState::Off;
            self.ctl.tunnel_stopped();
            self.start_tunnel(false);
        }
        if self.nft.is_finished() {
            error!("the nftables owner stopped; starting it again");
            let counts = self.accounting.as_ref().map(AccountingHandle::reader);
            self.nft = nft::owner::spawn(counts, self.nft_tx.clone());
            self.ctl.nft_changed();
        }
        if self
            .tunnel_status_asked
            .is_none_or(|t| t.elapsed() >= TUNNEL_STATUS_EVERY)
        {
            self.ask_tunnel_status();
        }
        self.ctl.tick(self.now());
        self.feed_watchdog();
    }

    /// Fed only while every owner the loop depends on runs: a daemon that no longer sees
    /// carrier changes must be restarted by systemd, not kept alive.
    fn feed_watchdog(&mut self) {
        let Some(w) = &self.watchdog else { return };
        let healthy = self.linkmon_restart.is_none()
            && self.drift_watch.is_some()
            && !self.arc.is_finished()
            && !self.nft.is_finished();
        // Half the ping interval: a tick landing just short of it must not stretch the gap
        // to one and a half intervals.
        if !healthy || self.last_watchdog.elapsed() < w.ping_interval() / 2 {
            return;
        }
        self.last_watchdog = Instant::now();
        if let Err(err) = self.notifier.watchdog() {
            debug!(error = %err, "failed to feed the watchdog");
        }
    }

    async fn restart_link_monitor(&mut self, previous: Restart) {
        let (tx, rx) = mpsc::channel(256);
        let names: std::collections::BTreeSet<String> = self.interfaces.values().cloned().collect();
        let config = LinkMonitorConfig::new(names);
        // Starting subscribes and dumps: netlink round trips, not a wait on anything remote.
        match LinkMonitor::start(config, tx).await {
            Ok(handle) => {
                info!("link monitor running again");
                self.linkmon = handle;
                self.links_swap = Some(rx);
                self.linkmon_restart = None;
                self.set_problem(LINK_MONITOR, Ok(()));
            }
            Err(err) => {
                let restart = Restart::after(Some(previous));
                error!(error = %err, retry_in = ?restart.backoff, "failed to start the link monitor again");
                self.linkmon_restart = Some(restart);
                self.set_problem(LINK_MONITOR, Err(error_chain(&err)));
            }
        }
    }

    /// Reloads the configuration file. The answer (for `arcway reload`) waits for the tunnel
    /// when the reload restarts it: a reload whose tunnel did not start has failed.
    async fn reload(&mut self, answer: Option<status::ReloadAnswer>) {
        let _ = self.notifier.reloading();
        let path = self.opts.config_path.display().to_string();
        // A reload still waiting for its tunnel is answered by this one.
        self.finish_reload(Err("superseded by a newer reload".into()));
        let outcome = match config::load(&self.opts.config_path) {
            Ok(cfg) => {
                // The new log settings apply to the reload's own lines; a refusal restores the old.
                let old = self.cfg.logging.clone();
                reconfigure_logging(&cfg.logging);
                log_warnings(&cfg);
                let applied = self.apply_config(cfg).await;
                if applied.is_err() {
                    reconfigure_logging(&old);
                }
                applied
            }
            Err(err) => Err(err.to_string()),
        };
        match outcome {
            Ok(true) => {
                info!(config = %path, "configuration loaded; waiting for the Arc tunnel");
                self.pending_reload = Some(PendingReload { answer, path });
            }
            Ok(false) => {
                self.pending_reload = Some(PendingReload { answer, path });
                self.finish_reload(Ok(()));
            }
            Err(message) => {
                error!(error = %message, "reload refused; the running configuration stays");
                self.pending_reload = Some(PendingReload { answer, path });
                self.finish_reload(Err(message));
            }
        }
        let _ = self.notifier.ready();
        self.ctl.publish();
    }

    /// Answers the pending reload, if any, and records the outcome for status.
    fn finish_reload(&mut self, outcome: Result<(), String>) {
        let Some(pending) = self.pending_reload.take() else {
            return;
        };
        match &outcome {
            Ok(()) => {
                self.reload_error = None;
                self.loaded_at = WallTime::now();
                info!(config = %pending.path, "configuration reloaded");
            }
            Err(message) => {
                warn!(error = %message, "the reload did not take full effect");
                self.reload_error = Some(status::ReloadError {
                    at: WallTime::now(),
                    message: message.clone(),
                });
            }
        }
        if let Some(answer) = pending.answer {
            let _ = answer.send(outcome.map(|()| pending.path));
        }
        self.ctl.publish();
    }

    /// Puts a loaded configuration in force, or refuses it (bad Arc credentials) and keeps
    /// the running one. True when the outcome waits for a tunnel (re)start.
    async fn apply_config(&mut self, cfg: Config) -> Result<bool, String> {
        let plan = ReloadPlan::new(&self.cfg, &cfg);
        // Without working credentials, every reload looks at the file again: SIGHUP after
        // fixing it brings Arc up.
        let retry_creds = self.creds.is_none() && cfg.arc.is_some();
        let (new_creds, creds_problem) = if plan.tunnel || retry_creds {
            match load_credentials(&cfg) {
                Ok(c) => (c, Ok(())),
                // A running tunnel is not given up for a broken file: refuse the reload.
                Err(message) if self.tunnel != TunnelState::Off => {
                    return Err(format!("bad Arc credentials: {message}"));
                }
                Err(message) => (None, Err(message)),
            }
        } else {
            (self.creds.clone(), Ok(()))
        };
        if plan.needs_restart.is_empty() {
            self.set_problem(CONFIG, Ok(()));
        } else {
            let keys = plan.needs_restart.join(", ");
            warn!(keys = %keys, "these keys take effect at the next start");
            self.set_problem(
                CONFIG,
                Err(format!(
                    "changed keys take effect at the next start: {keys}"
                )),
            );
        }
        let start_arc = !plan.tunnel && self.creds.is_none() && new_creds.is_some();
        self.set_problem(CREDENTIALS, creds_problem);
        // Keys that need a restart keep their running values, so that what runs and what
        // status shows agree.
        let mut cfg = cfg;
        cfg.status.socket = self.cfg.status.socket.clone();
        cfg.budget.state_file = self.cfg.budget.state_file.clone();
        cfg.routing = self.cfg.routing;
        self.cfg = cfg;
        let unwatched = self.sync_modem().await;
        // Only a watcher that still runs vouches for the bearer's interface.
        let bearer = self
            .modem
            .as_ref()
            .and_then(|_| self.interfaces.get(&PathId::Cellular).cloned());
        self.interfaces = interfaces(&self.cfg);
        // The bearer's interface as ModemManager named it outlives a reload.
        if let Some(bearer) = bearer.filter(|_| self.cfg.uplinks.cellular.is_some()) {
            self.interfaces.insert(PathId::Cellular, bearer);
        }
        self.linkmon.watch(setup::watched_interfaces(&self.cfg));
        let mut waits = false;
        if plan.tunnel {
            self.creds = new_creds;
            self.tunnel_status = None;
            if self.creds.is_none() || self.cfg.arc.is_none() {
                self.set_problem(TUNNEL, Ok(()));
                if self.tunnel != TunnelState::Off {
                    self.arc.set(ArcCommand::Remove);
                }
                self.tunnel = TunnelState::Off;
                self.ctl.tunnel_stopped();
            } else {
                waits = self.start_tunnel(true);
            }
        } else if start_arc {
            info!("Arc credentials loaded; bringing up the tunnel");
            self.creds = new_creds;
            waits = self.start_tunnel(false);
        }
        self.start_probers();
        if plan.budgets
            && let Some(acct) = &self.accounting
            && let Err(err) = acct.set_limits(Limits::from_config(&self.cfg)).await
        {
            warn!(error = %err, "failed to give the accountant the new budgets");
        }
        if plan.metrics {
            self.start_metrics().await;
        }
        self.ctl.reconfigure(
            self.cfg.engine_settings(),
            rebootstrap_on(&self.cfg),
            self.now(),
        );
        if unwatched {
            let event = Event::BearerUnwatched {
                path: PathId::Cellular,
            };
            self.ctl.event(event, self.now());
        }
        Ok(waits)
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
