//! Startup, the event loop and shutdown.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::accounting::{self, AccountingHandle, AccountingSettings, BudgetTransition, Limits};
use crate::config::{self, Config};
use crate::credentials::{self, Credentials};
use crate::engine::{self, Action, Engine, Event, Health, Time};
use crate::linkmon::{Family, LinkEvent, LinkMonitor, LinkMonitorConfig, LinkMonitorHandle};
use crate::model::PathId;
use crate::modem::{self, ModemEvent, ModemWatcher};
use crate::notify::{Notifier, Watchdog};
use crate::probe::{ProbeRound, Prober, ProberHandle};
use crate::routing::{self, Reconciler};
use crate::status::{self, WallTime};
use crate::wg::{OnStop, Tunnel, TunnelSpec, TunnelStatus, WgSample};
use crate::{bootstrap, conntrack, logging, metrics, nft};

use super::inputs::World;
use super::observe::{self, Observed};
use super::{Options, dual, exit, setup, snapshot};

/// How long class routes wait for every path's first evidence before they are applied
/// anyway (a restart must not replace working routes with "unreachable" meanwhile).
const SETTLE: Duration = Duration::from_secs(3);
/// How often status is republished and the watchdog fed when nothing else happens.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How often the tunnel's own status (backend, child PID, byte counters) is asked for; every
/// question costs the userspace implementation a UAPI round trip.
const TUNNEL_STATUS_EVERY: Duration = Duration::from_secs(5);
/// No handshake for this long while Wi-Fi works counts as an authentication failure.
const REBOOTSTRAP_AFTER: Duration = Duration::from_secs(300);
/// The shortest time between two forced WireGuard session renewals.
const RENEW_MIN_INTERVAL: Duration = Duration::from_secs(2);
/// How long a new or renewed peer may go without a handshake before that counts against the
/// tunnel: WireGuard retries a lost initiation after 5 s (REKEY_TIMEOUT), and readings come
/// once a second, so "no handshake yet" right after a (re)start says nothing about the path.
const HANDSHAKE_GRACE: Duration = Duration::from_secs(5);

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
            Ok(daemon) => match daemon.run().await {
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

/// Names of the objects a problem is shown for (`status::Problem::OBJECTS`).
const CREDENTIALS: &str = "credentials";
const NFTABLES: &str = "nftables";
const ROUTING: &str = "routing";
const TUNNEL: &str = "tunnel";

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

/// An error and its sources on one line: the kernel's or the file's own words included.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

struct Channels {
    creds: mpsc::Receiver<Credentials>,
    modem: Option<mpsc::Receiver<ModemEvent>>,
    links: mpsc::Receiver<LinkEvent>,
    probes: mpsc::Receiver<ProbeRound>,
    wg: mpsc::Receiver<WgSample>,
    budgets: mpsc::UnboundedReceiver<BudgetTransition>,
    /// Reloads asked for on the status socket (`arcway reload`), each waiting for its answer.
    reloads: mpsc::Receiver<status::ReloadAnswer>,
}

struct Daemon {
    opts: Options,
    cfg: Config,
    origin: Instant,
    started_at: WallTime,
    loaded_at: WallTime,
    reload_error: Option<status::ReloadError>,
    /// Objects arcway could not set up, by name (see `status::Problem::OBJECTS`).
    problems: BTreeMap<&'static str, status::Problem>,
    /// The latest STATUS= sent to the service manager.
    status_line: String,
    engine: Engine,
    logged_seq: u64,
    observed: Observed,
    interfaces: BTreeMap<PathId, String>,
    creds: Option<Credentials>,
    tunnel: Option<Tunnel>,
    tunnel_status: Option<TunnelStatus>,
    tunnel_status_at: Option<Instant>,
    tunnel_retry: Option<(Instant, Duration)>,
    arc_starting: bool,
    last_renew: Option<Instant>,
    /// A renewal asked for within RENEW_MIN_INTERVAL of the previous one, done later.
    renew_pending: bool,
    /// When the peer was last replaced (monotonic and wall clock).
    renewed: Option<(Instant, SystemTime)>,
    /// Until when "no handshake yet" readings are not passed on (see HANDSHAKE_GRACE).
    handshake_grace: Option<Instant>,
    prefer_ipv6: bool,
    probers: BTreeMap<PathId, ProberHandle>,
    probe_tx: mpsc::Sender<ProbeRound>,
    wg_tx: mpsc::Sender<WgSample>,
    linkmon: LinkMonitorHandle,
    reconciler: Reconciler,
    nft_applied: Option<(nft::NftInputs, nft::TableExtras)>,
    nft_retry: Option<Instant>,
    modem: Option<ModemWatcher>,
    /// What the running modem watcher was started with; a reload that changes it restarts it.
    modem_settings: Option<modem::WatcherSettings>,
    /// A reload's new modem event receiver (`Some(None)`: no watcher any more), for the main
    /// loop, which owns the receivers, to take.
    modem_rx_swap: Option<Option<mpsc::Receiver<ModemEvent>>>,
    cellular_route: Option<routing::DefaultRoute>,
    accounting: Option<AccountingHandle>,
    budget_tx: mpsc::UnboundedSender<BudgetTransition>,
    creds_tx: mpsc::Sender<Credentials>,
    rebootstrap: Arc<tokio::sync::Mutex<bootstrap::Rebootstrapper>>,
    no_handshake_since: Option<Instant>,
    settled: bool,
    /// Set while the link monitor's first reports are taken (see `start`).
    initial_links: bool,
    class_since: BTreeMap<String, Instant>,
    publisher: status::Publisher,
    server_stop: Option<oneshot::Sender<()>>,
    notifier: Notifier,
    watchdog: Option<Watchdog>,
    last_watchdog: Instant,
    channels: Option<Channels>,
}

impl Daemon {
    async fn start(opts: Options, cfg: Config) -> Result<Daemon, StartError> {
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
        let publisher_for_metrics = publisher.clone();
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
        if let Err(err) = routing::spawn_drift_watch(
            reconciler.clone(),
            Duration::from_millis(50),
            Duration::from_secs(30),
        ) {
            warn!(error = %err, "failed to watch for changes to arcway's rules; repairing on events only");
        }

        let (link_tx, link_rx) = mpsc::channel(256);
        let linkmon = LinkMonitor::start(
            LinkMonitorConfig::new(setup::watched_interfaces(&cfg)),
            link_tx,
        )
        .await
        .context("failed to start the link monitor")
        .map_err(failed)?;

        let (probe_tx, probe_rx) = mpsc::channel(64);
        let (wg_tx, wg_rx) = mpsc::channel(16);
        let (budget_tx, budget_rx) = mpsc::unbounded_channel();
        let (creds_tx, creds_rx) = mpsc::channel(1);
        let rebootstrap = Arc::new(tokio::sync::Mutex::new(bootstrap::Rebootstrapper::new(
            bootstrap::RebootstrapPolicy::from_config(&cfg),
        )));
        let engine = Engine::new(cfg.engine_settings(), Time::ZERO);
        let interfaces = interfaces(&cfg);
        let now_wall = WallTime::now();
        let mut daemon = Daemon {
            opts,
            cfg,
            origin,
            started_at: now_wall,
            loaded_at: now_wall,
            reload_error: None,
            problems: BTreeMap::new(),
            status_line: String::new(),
            engine,
            logged_seq: 0,
            observed: Observed::default(),
            interfaces,
            creds,
            tunnel: None,
            tunnel_status: None,
            tunnel_status_at: None,
            tunnel_retry: None,
            arc_starting: true,
            last_renew: None,
            renew_pending: false,
            renewed: None,
            handshake_grace: None,
            prefer_ipv6: false,
            probers: BTreeMap::new(),
            probe_tx,
            wg_tx,
            linkmon,
            reconciler,
            nft_applied: None,
            nft_retry: None,
            modem: None,
            modem_settings: None,
            modem_rx_swap: None,
            cellular_route: None,
            accounting: None,
            budget_tx,
            creds_tx,
            rebootstrap,
            no_handshake_since: None,
            settled: false,
            initial_links: false,
            class_since: BTreeMap::new(),
            publisher,
            server_stop: Some(server_stop),
            notifier,
            watchdog: Watchdog::from_env(),
            last_watchdog: Instant::now(),
            channels: Some(Channels {
                links: link_rx,
                probes: probe_rx,
                wg: wg_rx,
                budgets: budget_rx,
                reloads: reload_rx,
                creds: creds_rx,
                modem: None,
            }),
        };
        if let Some(message) = creds_problem {
            daemon.set_problem(CREDENTIALS, Err(message));
        }
        let modem_rx = daemon.start_modem();
        if let Some(channels) = daemon.channels.as_mut() {
            channels.modem = modem_rx;
        }
        // Probers first: accounting reports what their probes cost.
        daemon.start_probers();
        daemon.start_accounting();
        daemon.apply_nft().await;
        daemon.start_metrics(&publisher_for_metrics).await;
        // The Wi-Fi table and the tunnel's mark rule must exist before the first handshake
        // goes out, or it is lost and WireGuard waits 5 s to retry.
        // The link monitor reported every watched interface while it started; take those
        // reports now, before the tunnel's own device appears and makes them stale.
        // They come one interface at a time: routing computed after the first alone would
        // delete what an earlier arcway left for the others (on_stop: keep, or a crash) and
        // add it back a moment later, dropping the tunnel's mark rule and the path tables
        // meanwhile. So routing waits until all of them are in.
        if let Some(mut channels) = daemon.channels.take() {
            daemon.initial_links = true;
            while let Ok(event) = channels.links.try_recv() {
                daemon.on_link(event).await;
            }
            daemon.initial_links = false;
            daemon.channels = Some(channels);
        }
        daemon.sync_routing().await;
        daemon.start_tunnel().await;
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
        Ok(daemon)
    }

    async fn run(mut self) -> anyhow::Result<()> {
        let mut channels = self
            .channels
            .take()
            .context("event channels already taken")?;
        let mut hup = signal(SignalKind::hangup()).context("failed to catch SIGHUP")?;
        let mut term = signal(SignalKind::terminate()).context("failed to catch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("failed to catch SIGINT")?;
        // The watchdog is fed from housekeeping: a tick as long as the ping interval would
        // see "not yet" just before it and feed a whole tick late, close to the timeout.
        // Half the ping interval keeps every ping within 3/4 of the timeout.
        let period = self
            .watchdog
            .map_or(HOUSEKEEPING, |w| HOUSEKEEPING.min(w.ping_interval() / 2))
            .max(Duration::from_millis(10));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self
                .engine
                .poll_timeout()
                .map(|t| tokio::time::Instant::from_std(self.origin + t.as_duration()));
            tokio::select! {
                // Link events first: carrier loss is the fastest failover there is.
                biased;
                Some(event) = channels.links.recv() => self.on_link(event).await,
                Some(round) = channels.probes.recv() => self.on_probe(round).await,
                Some(sample) = channels.wg.recv() => self.on_wg(sample).await,
                Some(creds) = channels.creds.recv() => self.new_credentials(creds).await,
                Some(event) = recv_opt(&mut channels.modem) => self.on_modem(event).await,
                Some(t) = channels.budgets.recv() => {
                    info!(path = %t.path, class = ?t.class, exhausted = t.exhausted, "data budget");
                    self.feed(t.event()).await;
                }
                () = sleep_until(deadline) => self.feed(Event::Tick).await,
                _ = hup.recv() => {
                    let _ = self.reload().await;
                    if let Some(events) = self.modem_rx_swap.take() {
                        channels.modem = events;
                    }
                }
                Some(answer) = channels.reloads.recv() => {
                    let _ = answer.send(self.reload().await);
                    if let Some(events) = self.modem_rx_swap.take() {
                        channels.modem = events;
                    }
                }
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = tick.tick() => self.housekeeping().await,
            }
        }
        self.shutdown().await
    }

    fn now(&self) -> Time {
        Time::from_duration(self.origin.elapsed())
    }

    fn world(&self) -> World<'_> {
        World {
            cfg: &self.cfg,
            links: &self.observed.links,
            arc: self
                .creds
                .as_ref()
                .map(|c| (c.ip_address, setup::arc_routes(&self.cfg, c))),
            interfaces: &self.interfaces,
            cellular_route: self.cellular_route,
        }
    }

    fn watcher_settings(&self) -> Option<modem::WatcherSettings> {
        let cell = self.cfg.uplinks.cellular.as_ref()?;
        cell.modemmanager
            .then(|| modem::WatcherSettings::from_config(cell))
    }

    fn start_modem(&mut self) -> Option<mpsc::Receiver<ModemEvent>> {
        let settings = self.watcher_settings()?;
        let (watcher, events) = modem::spawn(settings.clone());
        self.modem = Some(watcher);
        self.modem_settings = Some(settings);
        Some(events)
    }

    /// After a reload: restarts the modem watcher if what it selects or how it manages the
    /// bearer changed (a new APN is used at once), starts or stops it if ModemManager was
    /// turned on or off. True when a watcher was stopped and none replaces it.
    async fn sync_modem(&mut self) -> bool {
        if self.watcher_settings() == self.modem_settings {
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

    async fn on_modem(&mut self, event: ModemEvent) {
        debug!(?event, "modem event");
        match event {
            ModemEvent::Bearer { connected } => {
                self.feed(Event::Bearer {
                    path: PathId::Cellular,
                    connected,
                })
                .await;
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
                self.apply_nft().await;
                self.sync_routing().await;
            }
            ModemEvent::DefaultRoute { route, .. } => {
                self.cellular_route = route;
                for e in dual::default_route_events(&self.world()) {
                    self.feed(e).await;
                }
                self.sync_routing().await;
            }
            _ => {}
        }
        self.publish();
    }

    async fn on_link(&mut self, event: LinkEvent) {
        debug!(?event, "link event");
        // Names from netlink reach routes and the nftables table only through the paths'
        // interfaces, which passed the same check; anything else is not arcway's.
        if let Err(why) = nft::check_ifname(event.name()) {
            debug!(reason = %why, "ignoring a link event");
            return;
        }
        self.observed.record_link(&event);
        let mut events = observe::link_events(&self.interfaces, &event);
        if self.arc_starting {
            // While the tunnel brings its device up, the device is first missing, then
            // down: that is not an outage, and counting it as one would make the first
            // handshake look older than the outage it is supposed to end.
            let arc_up = events.contains(&Event::Carrier {
                path: PathId::Arc,
                up: true,
            });
            self.arc_starting = !arc_up;
            events.retain(|e| arc_up || e.path() != Some(PathId::Arc));
        }
        events.extend(dual::default_route_events(&self.world()));
        for e in events {
            self.feed(e).await;
        }
        // Addresses and default routes feed the path tables even when health did not move.
        self.sync_routing().await;
        self.follow_wifi_ipv6().await;
    }

    async fn on_probe(&mut self, round: ProbeRound) {
        self.observed.record_round(&round);
        for event in observe::probe_events(&round) {
            self.feed(event).await;
        }
    }

    async fn on_wg(&mut self, sample: WgSample) {
        let renewed = self
            .renewed
            .filter(|(at, _)| sample.at > *at)
            .map(|(_, wall)| wall);
        let passive = !self.probers.contains_key(&PathId::Arc);
        let mut events = observe::wg_events(
            self.observed.wg.as_ref(),
            &sample,
            SystemTime::now(),
            passive,
            renewed,
        );
        if self.handshake_grace.is_some_and(|until| sample.at < until) {
            events.retain(|e| !matches!(e, Event::Handshake { age: None, .. }));
        }
        self.observed.wg = Some(sample);
        for e in events {
            self.feed(e).await;
        }
    }

    /// One engine step and whatever it decided.
    async fn feed(&mut self, event: Event) {
        let actions = self.engine.handle(event, self.now());
        self.act(actions).await;
    }

    async fn act(&mut self, actions: Vec<Action>) {
        if actions.is_empty() {
            return;
        }
        let mut moved = Vec::new();
        let mut renew = false;
        for action in &actions {
            match action {
                Action::ClassMoved { class, from, to } => {
                    self.class_since.insert(class.clone(), Instant::now());
                    moved.push((class.clone(), *from, *to));
                }
                Action::RenewHandshake { path: PathId::Arc } => renew = true,
                _ => {}
            }
        }
        if !self.settled && self.all_paths_known() {
            self.settled = true;
        }
        // The route switch first: everything else can wait a few milliseconds.
        self.sync_routing().await;
        self.log_engine_entries();
        // Held classes are refused in nftables (routing's `prohibit` is the backstop).
        self.apply_nft().await;
        self.evict(&moved);
        if renew {
            self.renew_handshake().await;
        }
        self.publish();
    }

    fn all_paths_known(&self) -> bool {
        self.cfg
            .paths()
            .into_iter()
            .all(|p| !matches!(self.engine.health(p), Some(Health::Unknown) | None))
    }

    async fn sync_routing(&mut self) {
        if self.initial_links {
            return;
        }
        let desired = self.engine.desired();
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
        if !self.settled {
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
    /// that moved. Every class moved in one step shares one conntrack dump.
    fn evict(&self, moved: &[(String, engine::ClassRoutes, engine::ClassRoutes)]) {
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

    fn log_engine_entries(&mut self) {
        for entry in self.engine.log().filter(|e| e.seq >= self.logged_seq) {
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
        self.logged_seq = self.engine.log_next_seq();
    }

    async fn renew_handshake(&mut self) {
        let (Some(tunnel), Some(creds)) = (&self.tunnel, &self.creds) else {
            return;
        };
        // A second initiation within WireGuard's timestamp granularity is dropped by the
        // server as a replay, which then costs a 5 s retry: never renew twice in a row. The
        // engine asks once per outage, so a request that comes too soon is done later
        // (housekeeping), not dropped: dropped, the tunnel would wait for WireGuard's own
        // rekey (up to two minutes) before it could prove itself again.
        if self
            .last_renew
            .is_some_and(|t| t.elapsed() < RENEW_MIN_INTERVAL)
        {
            self.renew_pending = true;
            return;
        }
        self.renew_pending = false;
        self.last_renew = Some(Instant::now());
        // Re-setting the peer drops the old session, so the next packet (a probe) makes a
        // new handshake: failback waits for proof that the tunnel works now.
        match tunnel.update_credentials(creds.clone()).await {
            Ok(()) => {
                let now = Instant::now();
                self.renewed = Some((now, SystemTime::now()));
                self.handshake_grace = Some(now + HANDSHAKE_GRACE);
                info!("Arc: renewing the WireGuard session before failback");
            }
            Err(err) => warn!(error = %err, "failed to renew the WireGuard session"),
        }
    }

    async fn follow_wifi_ipv6(&mut self) {
        let Some(tunnel) = &self.tunnel else { return };
        let prefer = self
            .interfaces
            .get(&PathId::Wifi)
            .and_then(|name| self.observed.links.get(name))
            .is_some_and(|l| {
                l.default_route(Family::V6).is_some() && l.global(Family::V6).next().is_some()
            });
        if prefer != self.prefer_ipv6 {
            self.prefer_ipv6 = prefer;
            if let Err(err) = tunnel.set_prefer_ipv6(prefer).await {
                warn!(error = %err, "failed to change the Arc endpoint's address family");
            }
        }
    }

    fn nft_wanted(&self) -> (nft::NftInputs, nft::TableExtras) {
        let world = self.world();
        let mut inputs = world.nft();
        // Every class with a matcher gets a mark, so its bytes are counted per path; only
        // the non-destination ones need it for routing.
        inputs.classes = nft::mark_classes(&self.cfg);
        let routes = self.engine.desired();
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

    /// Replaces `table inet arcway` when what it should hold changed (configuration, held
    /// classes), or to retry cgroups that did not exist yet.
    async fn apply_nft(&mut self) {
        let wanted = self.nft_wanted();
        let retry_due = self.nft_retry.is_some_and(|t| Instant::now() >= t);
        if self.nft_applied.as_ref() == Some(&wanted) && !retry_due {
            return;
        }
        // Replacing the table resets its counters: count what they hold first.
        if let Some(acct) = &self.accounting
            && let Err(err) = acct.read_now().await
        {
            warn!(error = %err, "failed to read the byte counters before replacing the table");
        }
        match nft::apply_with(&wanted.0, &wanted.1).await {
            Ok(report) => {
                self.nft_retry = (!report.missing_cgroups.is_empty())
                    .then(|| Instant::now() + Duration::from_secs(30));
                self.nft_applied = Some(wanted);
                self.set_problem(NFTABLES, Ok(()));
            }
            Err(err) => {
                let message = error_chain(&err);
                error!(error = %message, "failed to load table inet arcway");
                self.nft_retry = Some(Instant::now() + Duration::from_secs(10));
                self.set_problem(NFTABLES, Err(message));
            }
        }
    }

    fn start_accounting(&mut self) {
        let mut settings = AccountingSettings::new(Limits::from_config(&self.cfg));
        settings.probe_counters = self
            .probers
            .iter()
            .map(|(p, h)| (*p, h.counters_handle()))
            .collect();
        settings.state_path = self.cfg.budget.state_file.clone();
        self.accounting = Some(accounting::spawn(settings, self.budget_tx.clone()));
    }

    async fn start_metrics(&mut self, publisher: &status::Publisher) {
        let Some(listen) = self.cfg.metrics.listen else {
            return;
        };
        let acct = self.accounting.as_ref().map(|a| a.status.clone());
        match metrics::spawn(listen, publisher.subscribe(), acct).await {
            Ok((addr, _)) => info!(%addr, "metrics listening"),
            Err(err) => error!(error = %err, "failed to serve metrics"),
        }
    }

    async fn start_tunnel(&mut self) {
        let (Some(settings), Some(creds)) = (setup::wg_settings(&self.cfg), self.creds.clone())
        else {
            return;
        };
        self.arc_starting = true;
        let mut spec = TunnelSpec::new(settings, creds);
        spec.prefer_ipv6 = self.prefer_ipv6;
        match Tunnel::start(spec, self.wg_tx.clone()).await {
            Ok(tunnel) => {
                self.tunnel = Some(tunnel);
                self.set_problem(TUNNEL, Ok(()));
                self.tunnel_retry = None;
                self.renewed = None;
                self.handshake_grace = Some(Instant::now() + HANDSHAKE_GRACE);
                self.refresh_tunnel_status().await;
            }
            Err(err) => {
                let backoff = self.tunnel_retry.map_or(Duration::from_secs(1), |(_, b)| {
                    (b * 2).min(Duration::from_secs(60))
                });
                let message = error_chain(&err);
                error!(error = %message, retry_in = ?backoff, "failed to bring up the Arc tunnel");
                self.tunnel_retry = Some((Instant::now() + backoff, backoff));
                self.set_problem(TUNNEL, Err(message));
            }
        }
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

    async fn new_credentials(&mut self, creds: Credentials) {
        info!(address = %creds.ip_address, "Arc credentials ready");
        self.set_problem(CREDENTIALS, Ok(()));
        self.creds = Some(creds.clone());
        self.no_handshake_since = None;
        match &self.tunnel {
            Some(t) => {
                if let Err(err) = t.update_credentials(creds).await {
                    warn!(
                        error = format!("{err:#}"),
                        "failed to apply the new Arc credentials"
                    );
                }
            }
            None => self.start_tunnel().await,
        }
        self.apply_nft().await;
        self.sync_routing().await;
    }

    /// With `arc.rebootstrap_on_auth_failure`, a tunnel that never handshakes while Wi-Fi
    /// works points to revoked credentials: ask for new ones (the policy backs off and never
    /// creates a SIM).
    fn check_rebootstrap(&mut self) {
        let Some(arc) = &self.cfg.arc else { return };
        if !arc.rebootstrap_on_auth_failure || self.tunnel.is_none() {
            return;
        }
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
        if !(wifi_up && stale) {
            self.no_handshake_since = None;
            return;
        }
        let since = *self.no_handshake_since.get_or_insert_with(Instant::now);
        if since.elapsed() < REBOOTSTRAP_AFTER {
            return;
        }
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

    async fn refresh_tunnel_status(&mut self) {
        self.tunnel_status_at = Some(Instant::now());
        if let Some(t) = &self.tunnel {
            self.tunnel_status = t.status().await.ok();
        }
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

    async fn housekeeping(&mut self) {
        if !self.settled && self.origin.elapsed() >= SETTLE {
            info!("not every path has reported yet; applying routes with what is known");
            self.settled = true;
            self.sync_routing().await;
        }
        if let Some((at, _)) = self.tunnel_retry
            && Instant::now() >= at
        {
            self.start_tunnel().await;
        }
        if self.renew_pending {
            // Only still worth it while Arc has not come back on its own meanwhile.
            if matches!(self.engine.health(PathId::Arc), Some(Health::Up { .. })) {
                self.renew_pending = false;
            } else {
                self.renew_handshake().await;
            }
        }
        if self
            .tunnel_status_at
            .is_none_or(|t| t.elapsed() >= TUNNEL_STATUS_EVERY)
        {
            self.refresh_tunnel_status().await;
        }
        self.check_rebootstrap();
        if self.nft_retry.is_some_and(|t| Instant::now() >= t) {
            self.apply_nft().await;
        }
        if let Some(w) = &self.watchdog
            // Half the ping interval: a tick landing just short of it must not stretch the gap
            // to one and a half intervals.
            && self.last_watchdog.elapsed() >= w.ping_interval() / 2
        {
            self.last_watchdog = Instant::now();
            if let Err(err) = self.notifier.watchdog() {
                debug!(error = %err, "failed to feed the watchdog");
            }
        }
        self.publish();
    }

    /// Reloads the configuration file: the path now in force, or why the new file was refused
    /// (the running configuration stays).
    async fn reload(&mut self) -> Result<String, String> {
        let _ = self.notifier.reloading();
        let path = self.opts.config_path.display().to_string();
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
        match &outcome {
            Ok(()) => {
                self.reload_error = None;
                self.loaded_at = WallTime::now();
                info!(config = %path, "configuration reloaded");
            }
            Err(message) => {
                error!(error = %message, "reload refused; the running configuration stays");
                self.reload_error = Some(status::ReloadError {
                    at: WallTime::now(),
                    message: message.clone(),
                });
            }
        }
        let _ = self.notifier.ready();
        self.publish();
        outcome.map(|()| path)
    }

    /// Puts a loaded configuration in force, or refuses it (bad Arc credentials) and keeps
    /// the running one.
    async fn apply_config(&mut self, cfg: Config) -> Result<(), String> {
        if cfg.status.socket != self.cfg.status.socket {
            warn!("status.socket changes take effect at the next start");
        }
        let arc_changed = cfg.arc != self.cfg.arc || cfg.routing != self.cfg.routing;
        // Without working credentials, every reload looks at the file again: SIGHUP after
        // fixing it brings Arc up.
        let retry_creds = self.creds.is_none() && cfg.arc.is_some();
        let (new_creds, creds_problem) = if arc_changed || retry_creds {
            match load_credentials(&cfg) {
                Ok(c) => (c, Ok(())),
                // A running tunnel is not given up for a broken file: refuse the reload.
                Err(message) if self.tunnel.is_some() => {
                    return Err(format!("bad Arc credentials: {message}"));
                }
                Err(message) => (None, Err(message)),
            }
        } else {
            (self.creds.clone(), Ok(()))
        };
        let start_arc = !arc_changed && self.creds.is_none() && new_creds.is_some();
        self.set_problem(CREDENTIALS, creds_problem);
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
        if arc_changed {
            if let Some(t) = self.tunnel.take()
                && let Err(err) = t.stop_with(Some(OnStop::Remove)).await
            {
                warn!(
                    error = format!("{err:#}"),
                    "failed to remove the old Arc tunnel"
                );
            }
            self.creds = new_creds;
            self.tunnel_status = None;
            if self.creds.is_none() {
                self.set_problem(TUNNEL, Ok(()));
                self.tunnel_retry = None;
            }
            self.start_tunnel().await;
        } else if start_arc {
            info!("Arc credentials loaded; bringing up the tunnel");
            self.creds = new_creds;
            self.start_tunnel().await;
        }
        self.start_probers();
        self.apply_nft().await;
        let actions = self
            .engine
            .reconfigure(self.cfg.engine_settings(), self.now());
        self.act(actions).await;
        if unwatched {
            self.feed(Event::BearerUnwatched {
                path: PathId::Cellular,
            })
            .await;
        }
        self.sync_routing().await;
        Ok(())
    }

    /// Records how setting up `object` went: a failure shows in status, metrics and the
    /// service manager's STATUS until a later attempt succeeds.
    fn set_problem(&mut self, object: &'static str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                if self.problems.remove(object).is_some() {
                    info!(object, "set up again; the problem is gone");
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
            }
        }
    }

    fn publish(&mut self) {
        let snap = snapshot::build(&snapshot::Inputs {
            cfg: &self.cfg,
            config_path: &self.opts.config_path,
            loaded_at: self.loaded_at,
            reload_error: self.reload_error.clone(),
            started_at: self.started_at,
            origin: self.origin,
            engine: &self.engine,
            observed: &self.observed,
            interfaces: &self.interfaces,
            tunnel: self.tunnel_status.as_ref(),
            class_since: &self.class_since,
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
        if let Some(acct) = self.accounting.take()
            && let Err(err) = acct.stop().await
        {
            failures.push(format!("accounting: {err}"));
        }
        if let Some(tunnel) = self.tunnel.take()
            && let Err(err) = tunnel.stop().await
        {
            failures.push(format!("tunnel: {err:#}"));
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
