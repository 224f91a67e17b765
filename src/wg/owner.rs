//! The state and event loop of the tunnel owner task.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::device::{self, DeviceUpdate, PeerReading};
use super::endpoint::{HandshakeWatch, Resolver, choose, preferred_family};
use super::error::Error;
use super::supervisor::{ChildEvent, Supervisor, connectable, socket_path};
use super::tunnel::{ActiveBackend, Command, START_TIMEOUT, TunnelSpec, WgSample, new_watch};
use super::{Backend, OnStop, WgSettings, link};
use crate::credentials::{Credentials, Endpoint};
use crate::model::Family;
use crate::netlink::Handle;

/// How long a userspace child gets between SIGTERM and SIGKILL.
pub(super) const STOP_GRACE: Duration = Duration::from_secs(3);
/// Reads in a row without an answer (each waits up to 2 s on the socket) after which a live
/// userspace process is taken for stuck and killed. One slow answer on a busy router is not.
pub(super) const UNANSWERED_LIMIT: u32 = 3;
/// Bound on one resolution (getaddrinfo can hang on a dead uplink).
pub(super) const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

type Resolving = JoinHandle<std::io::Result<Vec<SocketAddr>>>;

pub(crate) struct Owner {
    pub(super) settings: WgSettings,
    pub(super) credentials: Credentials,
    pub(super) resolver: Resolver,
    pub(super) handle: Handle,
    pub(super) backend: ActiveBackend,
    pub(super) sup: Supervisor,
    pub(super) prefer: Family,
    pub(super) want: Family,
    pub(super) endpoint: Option<SocketAddr>,
    pub(super) watch: HandshakeWatch,
    pub(super) resolving: Option<Resolving>,
    pub(super) next_resolve: Option<Instant>,
    pub(super) needs_apply: bool,
    /// Reads in a row that the device did not answer in time.
    pub(super) unanswered: u32,
    pub(super) last: Option<PeerReading>,
    pub(super) samples: mpsc::Sender<WgSample>,
}

enum Event {
    Command(Option<Command>),
    Child(ChildEvent),
    Tick,
    Resolved(std::io::Result<Vec<SocketAddr>>),
}

async fn poll_resolving(slot: &mut Option<Resolving>) -> std::io::Result<Vec<SocketAddr>> {
    let Some(task) = slot.as_mut() else {
        return std::future::pending().await;
    };
    let result = task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
    *slot = None;
    result
}

impl Owner {
    pub(crate) async fn setup(
        spec: TunnelSpec,
        samples: mpsc::Sender<WgSample>,
    ) -> Result<Owner, Error> {
        let handle = Handle::new().map_err(Error::NetlinkSocket)?;
        let settings = spec.settings;
        let prefer = preferred_family(spec.prefer_ipv6);
        let mut owner = Owner {
            sup: Supervisor::new(settings.userspace_command.clone(), &settings.ifname),
            watch: new_watch(&settings),
            settings,
            credentials: spec.credentials,
            resolver: spec.resolver,
            handle,
            backend: ActiveBackend::Userspace,
            prefer,
            want: prefer,
            endpoint: None,
            resolving: None,
            next_resolve: None,
            needs_apply: false,
            unanswered: 0,
            last: None,
            samples,
        };
        if let Err(e) = owner.create_and_configure().await {
            // Roll back a half-done setup; the original error is what matters to the caller.
            if let Err(teardown) = owner.teardown(OnStop::Remove).await {
                tracing::warn!(ifname = %owner.settings.ifname, error = %teardown, "failed to roll back WireGuard setup");
            }
            return Err(e);
        }
        Ok(owner)
    }

    pub(super) fn target(&self) -> &Endpoint {
        self.settings
            .endpoint
            .as_ref()
            .unwrap_or(&self.credentials.server_endpoint)
    }

    pub(super) async fn create_and_configure(&mut self) -> Result<(), Error> {
        let ifname = self.settings.ifname.clone();
        let adoptable = connectable(&socket_path(&ifname)).await;
        let kernel = match self.settings.backend {
            Backend::Userspace => false,
            // A userspace device left running by an earlier arcway is adopted, not doubled.
            Backend::Auto if adoptable => false,
            Backend::Auto => match link::create_kernel(&self.handle, &ifname).await {
                Ok(()) => true,
                Err(Error::KernelUnsupported { .. }) => {
                    tracing::info!(%ifname, "kernel has no WireGuard; using the userspace implementation");
                    false
                }
                Err(e) => return Err(e),
            },
            Backend::Kernel => link::create_kernel(&self.handle, &ifname)
                .await
                .map(|()| true)?,
        };
        if kernel {
            self.backend = ActiveBackend::Kernel;
        } else if adoptable {
            tracing::info!(%ifname, "adopting the running userspace WireGuard device");
            self.sup.adopt();
        } else {
            self.start_child().await?;
        }
        // The first resolution happens inline: the device is useless without an endpoint, and
        // nothing else waits on the loop yet. A failure is retried from the loop.
        let target = self.target().clone();
        match tokio::time::timeout(RESOLVE_TIMEOUT, self.resolver.resolve(&target)).await {
            Ok(Ok(addrs)) => self.endpoint = self.pick(&addrs),
            Ok(Err(e)) => self.resolve_failed(&e.to_string()),
            Err(_) => self.resolve_failed("timed out"),
        }
        self.apply_full().await
    }

    pub(super) async fn start_child(&mut self) -> Result<(), Error> {
        self.sup.start_now()?;
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        match tokio::time::timeout_at(deadline, self.sup.next_event()).await {
            Ok(ChildEvent::Ready { .. }) => Ok(()),
            Ok(ChildEvent::Exited { status, .. }) => Err(Error::Exited {
                command: self.settings.userspace_command.join(" "),
                status,
            }),
            Ok(ChildEvent::Lost) | Err(_) => Err(Error::NotReady {
                socket: socket_path(&self.settings.ifname),
                after: START_TIMEOUT,
            }),
        }
    }

    pub(super) fn resolve_failed(&mut self, why: &str) {
        let retry = self.settings.handshake_timeout.min(Duration::from_secs(10));
        tracing::warn!(ifname = %self.settings.ifname, endpoint = %self.target(), error = why, retry_in = ?retry, "failed to resolve the Arc endpoint");
        self.next_resolve = Some(Instant::now() + retry);
    }

    pub(super) fn pick(&mut self, addrs: &[SocketAddr]) -> Option<SocketAddr> {
        let chosen = choose(addrs, self.want)?;
        if Family::of(chosen.ip()) != self.want {
            tracing::info!(ifname = %self.settings.ifname, endpoint = %self.target(), wanted = %self.want, using = %chosen, "endpoint has no address of the wanted family");
        }
        self.next_resolve = None;
        Some(chosen)
    }

    /// Sets the device; one that does not answer in time is killed (see `kill_stuck`).
    pub(super) async fn apply_device(&mut self, update: DeviceUpdate) -> Result<(), Error> {
        let result = device::apply(self.backend, &self.settings.ifname, update).await;
        if let Err(e) = &result
            && e.is_no_answer()
        {
            self.kill_stuck(e);
        }
        result
    }

    /// A userspace process that is alive but does not answer on its socket (stopped,
    /// deadlocked) cannot be asked to end and keeps the tunnel down: it is killed, and the
    /// supervisor restarts it as after any exit; the configuration is applied once it is back.
    pub(super) fn kill_stuck(&mut self, why: &Error) {
        self.unanswered = 0;
        if self.backend == ActiveBackend::Userspace {
            self.sup.kill_stuck(why);
        }
    }

    pub(super) fn device_present(&self) -> bool {
        self.backend == ActiveBackend::Kernel || self.sup.is_up()
    }

    /// Link settings, then WireGuard settings (fresh peer): the link must be up before the
    /// keepalive starts the first handshake. The AllowedIPs routes are the routing
    /// reconciler's, which adds them once the link monitor reports the device.
    pub(super) async fn apply_full(&mut self) -> Result<(), Error> {
        let update = device::full_update(&self.credentials, &self.settings, self.endpoint);
        self.apply_with(update).await
    }

    pub(super) async fn apply_with(&mut self, update: DeviceUpdate) -> Result<(), Error> {
        let ifname = self.settings.ifname.clone();
        let index = link::index(&self.handle, &ifname)
            .await?
            .ok_or(Error::LinkMissing {
                ifname: ifname.clone(),
            })?;
        link::configure(
            &self.handle,
            &ifname,
            index,
            self.credentials.ip_address,
            self.settings.mtu,
        )
        .await?;
        self.apply_device(update).await?;
        self.needs_apply = false;
        self.watch.restart(Instant::now());
        tracing::info!(%ifname, backend = %self.backend, endpoint = ?self.endpoint, "WireGuard device configured");
        Ok(())
    }

    pub(crate) async fn run(&mut self, mut rx: mpsc::Receiver<Command>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                cmd = rx.recv() => Event::Command(cmd),
                ev = self.sup.next_event() => Event::Child(ev),
                _ = tick.tick() => Event::Tick,
                res = poll_resolving(&mut self.resolving) => Event::Resolved(res),
            };
            match event {
                Event::Command(None) => {
                    let how = self.settings.on_stop;
                    if let Err(e) = self.teardown(how).await {
                        tracing::warn!(ifname = %self.settings.ifname, error = %e, "WireGuard teardown incomplete");
                    }
                    return;
                }
                Event::Command(Some(Command::Stop(how, reply))) => {
                    let how = how.unwrap_or(self.settings.on_stop);
                    let _ = reply.send(self.teardown(how).await);
                    return;
                }
                Event::Command(Some(cmd)) => self.command(cmd).await,
                Event::Child(ev) => self.child_event(ev).await,
                Event::Tick => self.tick().await,
                Event::Resolved(res) => self.resolved(res).await,
            }
        }
    }
}
