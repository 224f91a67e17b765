//! The owner task: bus connection, mirror, selection, events, status, manage mode.

use std::collections::BTreeSet;
use std::net::IpAddr;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tracing::{debug, info, warn};
use zbus::Connection;
use zbus::fdo::{DBusProxy, ObjectManagerProxy, PropertiesProxy};
use zbus::names::{BusName, InterfaceName};
use zbus::proxy::CacheProperties;

use crate::config::ModemSelector;
use crate::liveness::{self, Heartbeat};
use crate::routing::PathDefault;

use super::decode::PropMap;
use super::event::ModemEvent;
use super::manage::{Action, Manager};
use super::model::{Model, View, diff};
use super::netcfg::{self, Applied};
use super::props::{IFACE_3GPP, IFACE_BEARER, IFACE_MODEM, IFACE_SIM, Props};
use super::proxies::{ROOT_PATH, SERVICE};
use super::settings::{Bus, WatcherSettings};
use super::signals::{self, Signal};
use super::status::ModemStatus;
use super::types::{IpMethod, ModemState};
use super::{ModemError, ops};

/// Events wait here if the daemon is busy; the watcher waits rather than drop one.
const EVENT_QUEUE: usize = 256;

/// The running watcher. Dropping it (or [`ModemWatcher::stop`]) ends the task; a managed
/// bearer and its address are left as they are.
pub struct ModemWatcher {
    status: watch::Receiver<ModemStatus>,
    heartbeat: Heartbeat,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Starts the watcher on the current tokio runtime. Events come on the returned receiver,
/// starting with the current facts (at least `Bearer { connected }`).
pub fn spawn(settings: WatcherSettings) -> (ModemWatcher, mpsc::Receiver<ModemEvent>) {
    let (events, rx) = mpsc::channel(EVENT_QUEUE);
    let managed = settings.manage.is_some();
    let (status_tx, status_rx) = watch::channel(ModemStatus::of(
        &Model::default(),
        &View::default(),
        managed,
        None,
    ));
    let (stop_tx, stop_rx) = oneshot::channel();
    let (op_tx, op_rx) = mpsc::unbounded_channel();
    let heartbeat = Heartbeat::new();
    let watcher = Watcher {
        heartbeat: heartbeat.clone(),
        manager: settings.manage.clone().map(Manager::new),
        settings,
        events,
        status: status_tx,
        conn: None,
        owner: None,
        service: false,
        resync_at: None,
        model: Model::default(),
        selected: None,
        last: None,
        generation: 0,
        fetch_failed: BTreeSet::new(),
        op_tx,
        netlink: None,
        applied: None,
        failed_apply: None,
        last_error: None,
        dhcp_noted: None,
    };
    let task = tokio::spawn(watcher.run(stop_rx, op_rx));
    (
        ModemWatcher {
            status: status_rx,
            heartbeat,
            stop: Some(stop_tx),
            task: Some(task),
        },
        rx,
    )
}

impl ModemWatcher {
    /// The latest status (for the status snapshot).
    pub fn status(&self) -> ModemStatus {
        self.status.borrow().clone()
    }

    /// Beats every turn of the watcher's loop.
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    /// The task ended (it only does when told to stop, or when it panicked).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// A receiver that wakes on every status change.
    pub fn status_receiver(&self) -> watch::Receiver<ModemStatus> {
        self.status.clone()
    }

    /// Ends the task and waits for it.
    pub async fn stop(mut self) {
        self.stop.take();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

type OpResult = (Action, Result<Option<String>, String>);

struct Watcher {
    heartbeat: Heartbeat,
    settings: WatcherSettings,
    events: mpsc::Sender<ModemEvent>,
    status: watch::Sender<ModemStatus>,
    conn: Option<Connection>,
    /// Unique bus name of ModemManager; signals from anyone else are ignored.
    owner: Option<String>,
    /// ModemManager answered GetManagedObjects on this connection.
    service: bool,
    resync_at: Option<Instant>,
    model: Model,
    selected: Option<String>,
    last: Option<View>,
    /// Counts changes of the watched modem's state or bearer (manage mode waits on it).
    generation: u64,
    /// Objects whose GetAll failed since the last resync; not asked again until then.
    fetch_failed: BTreeSet<String>,
    manager: Option<Manager>,
    op_tx: mpsc::UnboundedSender<OpResult>,
    netlink: Option<crate::netlink::Handle>,
    applied: Option<Applied>,
    failed_apply: Option<Applied>,
    last_error: Option<String>,
    dhcp_noted: Option<String>,
}

impl Watcher {
    async fn run(
        mut self,
        mut stop: oneshot::Receiver<()>,
        mut ops: mpsc::UnboundedReceiver<OpResult>,
    ) {
        loop {
            self.heartbeat.beat();
            let opened = tokio::select! {
                _ = &mut stop => return,
                r = self.open() => r,
            };
            let (mut signals, pump) = match opened {
                Ok(x) => x,
                Err(e) => {
                    warn!(error = %ops::chain(&e), "failed to watch ModemManager, retrying");
                    self.lost().await;
                    tokio::select! {
                        _ = &mut stop => return,
                        _ = sleep(self.settings.retry) => continue,
                    }
                }
            };
            self.find_owner().await;
            self.settle().await;
            loop {
                self.heartbeat.beat();
                let deadline = self.deadline();
                tokio::select! {
                    _ = &mut stop => {
                        pump.abort();
                        return;
                    }
                    sig = signals.recv() => match sig {
                        Some(s) => self.on_signal(s).await,
                        None => break,
                    },
                    Some((action, result)) = ops.recv() => self.on_done(action, result),
                    _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                        if self.resync_at.is_some_and(|t| t <= Instant::now()) {
                            self.resync().await;
                        }
                    }
                    // Only to beat: nothing changed, so nothing to settle.
                    () = liveness::pause() => continue,
                }
                self.settle().await;
            }
            pump.abort();
            warn!("lost the D-Bus connection, reconnecting");
            self.lost().await;
            tokio::select! {
                _ = &mut stop => return,
                _ = sleep(self.settings.retry) => {}
            }
        }
    }

    async fn open(
        &mut self,
    ) -> Result<(mpsc::UnboundedReceiver<Signal>, JoinHandle<()>), ModemError> {
        let conn = match &self.settings.bus {
            Bus::System => Connection::system().await,
            Bus::Address(a) => zbus::connection::Builder::address(a.as_str()).build().await,
        }
        .map_err(ModemError::Bus)?;
        let (rx, pump) = signals::start(&conn).await.map_err(ModemError::Bus)?;
        self.conn = Some(conn);
        Ok((rx, pump))
    }

    /// Forgets everything ModemManager said: the path is down until it answers again.
    async fn lost(&mut self) {
        self.conn = None;
        self.owner = None;
        self.service = false;
        self.resync_at = None;
        self.model.clear();
        self.settle().await;
    }

    async fn find_owner(&mut self) {
        let Some(conn) = self.conn.clone() else {
            return;
        };
        let owner = match DBusProxy::builder(&conn)
            .cache_properties(CacheProperties::No)
            .build()
            .await
        {
            Ok(dbus) => match BusName::try_from(SERVICE) {
                Ok(name) => dbus.get_name_owner(name).await.ok(),
                Err(_) => None,
            },
            Err(e) => {
                warn!(error = %e, "failed to ask the bus who owns ModemManager's name");
                None
            }
        };
        self.owner = owner.map(|o| o.to_string());
        match self.owner {
            Some(_) => self.resync().await,
            None => info!("ModemManager is not on the bus"),
        }
    }

    /// Rebuilds the mirror from GetManagedObjects.
    async fn resync(&mut self) {
        let Some(conn) = self.conn.clone() else {
            return;
        };
        self.model.clear();
        self.fetch_failed.clear();
        self.resync_at = None;
        let got = async {
            let om = ObjectManagerProxy::builder(&conn)
                .destination(SERVICE)
                .path(ROOT_PATH)
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            om.get_managed_objects().await
        };
        match timeout(self.settings.call_timeout, got).await {
            Ok(Ok(objects)) => {
                for (path, ifaces) in objects {
                    for (iface, props) in ifaces {
                        self.apply_iface(path.as_str(), iface.as_str(), &props);
                    }
                }
                self.service = true;
                info!(modems = self.model.present().len(), "ModemManager answered");
            }
            Ok(Err(e)) => self.not_answering(&e.to_string()),
            Err(_) => self.not_answering("no answer in time"),
        }
    }

    fn not_answering(&mut self, error: &str) {
        warn!(
            error,
            "ModemManager did not answer GetManagedObjects, retrying"
        );
        self.service = false;
        self.resync_at = Some(Instant::now() + self.settings.retry);
    }

    fn apply_iface(&mut self, path: &str, iface: &str, props: &PropMap) {
        let m = &mut self.model;
        match iface {
            IFACE_MODEM => m
                .modems
                .entry(path.to_owned())
                .or_default()
                .modem
                .get_or_insert_with(Default::default)
                .update(path, props),
            IFACE_3GPP => m
                .modems
                .entry(path.to_owned())
                .or_default()
                .gpp
                .update(path, props),
            IFACE_BEARER => m
                .bearers
                .entry(path.to_owned())
                .or_default()
                .update(path, props),
            IFACE_SIM => m
                .sims
                .entry(path.to_owned())
                .or_default()
                .update(path, props),
            _ => {}
        }
    }

    async fn on_signal(&mut self, sig: Signal) {
        let (sender, path) = match &sig {
            Signal::Owner(new) => {
                if new.is_some() && *new == self.owner {
                    return;
                }
                self.owner = new.clone();
                self.service = false;
                self.resync_at = None;
                self.model.clear();
                match new {
                    Some(name) => {
                        info!(owner = %name, "ModemManager appeared on the bus");
                        self.resync().await;
                    }
                    None => warn!("ModemManager left the bus"),
                }
                return;
            }
            Signal::Added { sender, path, .. }
            | Signal::Removed { sender, path, .. }
            | Signal::Changed { sender, path, .. }
            | Signal::State { sender, path, .. } => (sender, path),
        };
        if self.owner.is_none() || *sender != self.owner {
            debug!(?sender, %path, "ignoring a signal from another sender");
            return;
        }
        match sig {
            Signal::Added { path, ifaces, .. } => {
                for (iface, props) in &ifaces {
                    self.apply_iface(&path, iface, props);
                }
            }
            Signal::Removed { path, ifaces, .. } => self.remove_ifaces(&path, &ifaces),
            Signal::Changed {
                path, iface, props, ..
            } => self.changed(&path, &iface, &props),
            Signal::State { path, new, .. } => {
                if let Some(m) = self
                    .model
                    .modems
                    .get_mut(&path)
                    .and_then(|e| e.modem.as_mut())
                {
                    m.state = Some(ModemState::from_raw(new));
                }
            }
            Signal::Owner(_) => {}
        }
    }

    fn remove_ifaces(&mut self, path: &str, ifaces: &[String]) {
        let m = &mut self.model;
        for iface in ifaces {
            match iface.as_str() {
                IFACE_MODEM => {
                    m.modems.remove(path);
                    // Bearers nobody lists any more went with the modem.
                    let listed: BTreeSet<&String> = m
                        .modems
                        .values()
                        .filter_map(|e| e.modem.as_ref())
                        .flat_map(|p| p.bearers.iter())
                        .collect();
                    let orphans: Vec<String> = m
                        .bearers
                        .keys()
                        .filter(|b| !listed.contains(b))
                        .cloned()
                        .collect();
                    for b in orphans {
                        m.bearers.remove(&b);
                    }
                }
                IFACE_3GPP => {
                    if let Some(e) = m.modems.get_mut(path) {
                        e.gpp = Default::default();
                    }
                }
                IFACE_BEARER => {
                    m.bearers.remove(path);
                }
                IFACE_SIM => {
                    m.sims.remove(path);
                }
                _ => {}
            }
        }
    }

    /// PropertiesChanged: only objects already known are updated (an unknown bearer or
    /// SIM is fetched whole when it matters).
    fn changed(&mut self, path: &str, iface: &str, props: &PropMap) {
        let m = &mut self.model;
        match iface {
            IFACE_MODEM => {
                if let Some(modem) = m.modems.get_mut(path).and_then(|e| e.modem.as_mut()) {
                    let before = modem.bearers.clone();
                    modem.update(path, props);
                    for gone in before.iter().filter(|b| !modem.bearers.contains(b)) {
                        m.bearers.remove(gone);
                    }
                }
            }
            IFACE_3GPP => {
                if let Some(e) = m.modems.get_mut(path) {
                    e.gpp.update(path, props);
                }
            }
            IFACE_BEARER => {
                if let Some(b) = m.bearers.get_mut(path) {
                    b.update(path, props);
                }
            }
            IFACE_SIM => {
                if let Some(s) = m.sims.get_mut(path) {
                    s.update(path, props);
                }
            }
            _ => {}
        }
    }

    async fn fetch(&mut self, path: &str, iface: &'static str) -> Option<PropMap> {
        if self.fetch_failed.contains(path) {
            return None;
        }
        let conn = self.conn.clone()?;
        let got = async {
            let p = PropertiesProxy::builder(&conn)
                .destination(SERVICE)
                .path(path)
                .cache_properties(CacheProperties::No)
                .build()
                .await?;
            p.get_all(InterfaceName::try_from(iface)?).await
        };
        let err = match timeout(self.settings.call_timeout, got).await {
            Ok(Ok(map)) => return Some(map),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer in time".to_owned(),
        };
        warn!(path, interface = iface, error = %err, "failed to read ModemManager properties");
        self.fetch_failed.insert(path.to_owned());
        None
    }

    /// Fetches what selection and the view need, then selects.
    async fn ensure(&mut self) {
        if !self.service {
            self.selected = None;
            return;
        }
        if matches!(
            self.settings.selector,
            ModemSelector::Iccid(_) | ModemSelector::Imsi(_)
        ) {
            let missing: Vec<String> = self
                .model
                .present()
                .iter()
                .filter_map(|(_, m)| m.sim.clone())
                .filter(|s| !self.model.sims.contains_key(s))
                .collect();
            for sim in missing {
                if let Some(map) = self.fetch(&sim, IFACE_SIM).await {
                    self.apply_iface(&sim, IFACE_SIM, &map);
                }
            }
        }
        let selected = self
            .model
            .select(&self.settings.selector, self.selected.as_deref());
        if selected != self.selected {
            match &selected {
                Some(p) => info!(modem = %p, "watching modem"),
                None => info!("no modem matches the selection"),
            }
            self.selected = selected;
        }
        let Some(modem) = self.selected.as_deref().and_then(|p| self.model.modem(p)) else {
            return;
        };
        let missing: Vec<String> = modem
            .bearers
            .iter()
            .filter(|b| !self.model.bearers.contains_key(*b))
            .cloned()
            .collect();
        for bearer in missing {
            if let Some(map) = self.fetch(&bearer, IFACE_BEARER).await {
                self.apply_iface(&bearer, IFACE_BEARER, &map);
            }
        }
    }

    /// After every input: fetch what is missing, tell the daemon, drive the modem.
    async fn settle(&mut self) {
        self.ensure().await;
        self.publish().await;
        self.manage().await;
        self.publish_status();
    }

    async fn publish(&mut self) {
        let prev = self.last.clone().unwrap_or_default();
        let view = View::of(&self.model, self.service, self.selected.as_deref(), &prev);
        if self.last.as_ref() == Some(&view) {
            return;
        }
        let prev = self.last.as_ref();
        if prev.is_none_or(|p| p.state != view.state || p.connected != view.connected) {
            self.generation += 1;
        }
        for event in diff(prev, &view) {
            debug!(?event, "modem event");
            self.send(event).await;
        }
        self.last = Some(view);
    }

    async fn send(&self, event: ModemEvent) {
        // A closed receiver means the daemon is stopping; nothing to do about it here.
        let _ = self.events.send(event).await;
    }

    fn publish_status(&self) {
        let view = self.last.clone().unwrap_or_default();
        let status = ModemStatus::of(
            &self.model,
            &view,
            self.manager.is_some(),
            self.last_error.clone(),
        );
        self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
    }

    fn deadline(&self) -> Option<Instant> {
        let now = Instant::now();
        let manage = self.manager.as_ref().and_then(|m| m.deadline(now));
        self.resync_at.into_iter().chain(manage).min()
    }

    fn on_done(&mut self, action: Action, result: Result<Option<String>, String>) {
        let now = Instant::now();
        if let Some(m) = self.manager.as_mut() {
            m.done(&action, result.is_ok(), self.generation, now);
        }
        match result {
            Ok(bearer) => {
                info!(action = action.name(), ?bearer, "manage action done");
                if matches!(action, Action::Connect { .. }) {
                    self.last_error = None;
                }
            }
            Err(e) => self.last_error = Some(format!("failed to {}: {e}", action.name())),
        }
    }

    async fn manage(&mut self) {
        let Some(manager) = self.manager.as_mut() else {
            return;
        };
        let view = self.last.clone().unwrap_or_default();
        let modem = self
            .selected
            .as_deref()
            .filter(|_| self.service)
            .and_then(|p| self.model.modem(p).map(|m| (p, m)));
        if let Some(action) = manager.decide(modem, view.connected, self.generation, Instant::now())
            && let Some(conn) = self.conn.clone()
        {
            info!(action = action.name(), "manage mode");
            let tx = self.op_tx.clone();
            let settings = manager.settings.clone();
            tokio::spawn(async move {
                let result = ops::run(&conn, &action, &settings)
                    .await
                    .map_err(|e| ops::chain(&e));
                let _ = tx.send((action, result));
            });
        }
        self.reconcile_address(&view).await;
    }

    /// Manage mode, STATIC bearers: the interface carries the bearer's address while it is
    /// connected, and nothing of arcway's otherwise.
    async fn reconcile_address(&mut self, view: &View) {
        let ip4 = view.ip4.as_ref().filter(|_| view.connected);
        let ifname = view
            .interface
            .clone()
            .or_else(|| self.settings.fallback_interface.clone());
        if let (Some(c), Some(ifname)) = (ip4, &ifname)
            && c.method == IpMethod::Dhcp
            && self.dhcp_noted != view.bearer
        {
            info!(interface = %ifname, "bearer uses DHCP: a DHCP client must configure the interface");
            self.dhcp_noted = view.bearer.clone();
        }
        let desired = ip4.filter(|c| c.method == IpMethod::Static).and_then(|c| {
            let net = ipnet::Ipv4Net::new(c.address?, c.prefix.unwrap_or(32)).ok()?;
            Some(Applied {
                ifname: ifname.clone()?,
                address: net,
                gateway: c.gateway,
                mtu: c.mtu,
            })
        });
        if desired == self.applied || (desired.is_some() && desired == self.failed_apply) {
            return;
        }
        if self.netlink.is_none() {
            match netcfg::open() {
                Ok(h) => self.netlink = Some(h),
                Err(e) => {
                    warn!(error = %ops::chain(&e), "failed to configure the bearer interface");
                    self.last_error = Some(ops::chain(&e));
                    return;
                }
            }
        }
        let Some(handle) = self.netlink.clone() else {
            return;
        };
        if let Some(old) = self.applied.take()
            && desired.as_ref().map(|d| &d.ifname) != Some(&old.ifname)
        {
            if let Err(e) = netcfg::remove(&handle, &old).await {
                warn!(error = %ops::chain(&e), "failed to remove the bearer address");
            }
            info!(interface = %old.ifname, address = %old.address, "bearer address removed");
            self.send(ModemEvent::DefaultRoute {
                interface: old.ifname.clone(),
                route: None,
            })
            .await;
        }
        let Some(cfg) = desired else {
            return;
        };
        match netcfg::apply(&handle, &cfg).await {
            Ok(()) => {
                info!(interface = %cfg.ifname, address = %cfg.address, gateway = ?cfg.gateway,
                    mtu = ?cfg.mtu, "bearer interface configured");
                self.send(ModemEvent::DefaultRoute {
                    interface: cfg.ifname.clone(),
                    route: Some(PathDefault {
                        gateway: cfg.gateway.map(IpAddr::V4),
                    }),
                })
                .await;
                self.failed_apply = None;
                self.applied = Some(cfg);
            }
            Err(e) => {
                warn!(error = %ops::chain(&e), "failed to configure the bearer interface");
                self.last_error = Some(ops::chain(&e));
                self.failed_apply = Some(cfg);
            }
        }
    }
}
