//! The tunnel owner: one task owns the WireGuard device (and the userspace child, if any) and
//! takes typed commands with oneshot replies. Nothing else touches the device.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::endpoint::{HandshakeWatch, Resolver};
use super::error::Error;
use super::owner::Owner;
use super::{OnStop, WgSettings};
use crate::credentials::Credentials;
use crate::model::Family;

/// One reading of the server peer, sent every second while the device can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WgSample {
    pub at: Instant,
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// Which implementation carries the device after `auto` was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveBackend {
    Kernel,
    Userspace,
}

impl std::fmt::Display for ActiveBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ActiveBackend::Kernel => "kernel",
            ActiveBackend::Userspace => "userspace",
        })
    }
}

/// A snapshot for `arcway status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelStatus {
    pub ifname: String,
    pub backend: ActiveBackend,
    /// PID of the supervised userspace process (None for the kernel or an adopted device).
    pub child_pid: Option<u32>,
    pub restarts: u32,
    pub device_up: bool,
    pub endpoint: Option<SocketAddr>,
    pub family: Family,
    pub last_handshake: Option<SystemTime>,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// What `Tunnel::start` needs.
#[derive(Debug, Clone)]
pub struct TunnelSpec {
    pub settings: WgSettings,
    pub credentials: Credentials,
    /// The Wi-Fi path has a global IPv6 default route: use the endpoint's IPv6 address.
    pub prefer_ipv6: bool,
    pub resolver: Resolver,
}

impl TunnelSpec {
    pub fn new(settings: WgSettings, credentials: Credentials) -> Self {
        TunnelSpec {
            settings,
            credentials,
            prefer_ipv6: false,
            resolver: Resolver::System,
        }
    }
}

pub(crate) enum Command {
    Status(oneshot::Sender<TunnelStatus>),
    PreferIpv6(bool, oneshot::Sender<()>),
    Update(Box<Credentials>, oneshot::Sender<Result<(), Error>>),
    Repair(oneshot::Sender<Result<(), Error>>),
    Stop(Option<OnStop>, oneshot::Sender<Result<(), Error>>),
}

/// Handle to the tunnel owner task. Dropping it stops the tunnel with the configured `on_stop`.
pub struct Tunnel {
    tx: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

impl Tunnel {
    /// Creates and configures the device, then keeps it: supervises a userspace child,
    /// re-resolves the endpoint when handshakes stop, and sends a [`WgSample`] every second.
    /// Returns once the device is configured (the handshake itself comes later).
    pub async fn start(spec: TunnelSpec, samples: mpsc::Sender<WgSample>) -> Result<Tunnel, Error> {
        let (tx, rx) = mpsc::channel(16);
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut owner = match Owner::setup(spec, samples).await {
                Ok(owner) => {
                    let _ = ready_tx.send(Ok(()));
                    owner
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            owner.run(rx).await;
        });
        ready_rx.await.map_err(|_| Error::TaskGone)??;
        Ok(Tunnel { tx, task })
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| Error::TaskGone)?;
        answer.await.map_err(|_| Error::TaskGone)
    }

    pub async fn status(&self) -> Result<TunnelStatus, Error> {
        self.ask(Command::Status).await
    }

    /// The daemon tells whether the Wi-Fi path has a global IPv6 default route.
    pub async fn set_prefer_ipv6(&self, prefer: bool) -> Result<(), Error> {
        self.ask(|r| Command::PreferIpv6(prefer, r)).await
    }

    /// New credentials (key rotation, new session): re-applied in full.
    pub async fn update_credentials(&self, credentials: Credentials) -> Result<(), Error> {
        self.ask(|r| Command::Update(Box::new(credentials), r))
            .await?
    }

    /// Re-applies address, MTU, link state, WireGuard settings and routes without resetting the
    /// session (for drift found by the reconciler).
    pub async fn repair(&self) -> Result<(), Error> {
        self.ask(Command::Repair).await?
    }

    /// Stops with the configured `on_stop`.
    pub async fn stop(self) -> Result<(), Error> {
        self.stop_with(None).await
    }

    /// Stops with an explicit keep/remove (None = configured). Collects every teardown error.
    pub async fn stop_with(self, how: Option<OnStop>) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        let result = match self.tx.send(Command::Stop(how, reply)).await {
            Ok(()) => answer.await.map_err(|_| Error::TaskGone)?,
            Err(_) => Err(Error::TaskGone),
        };
        let _ = self.task.await;
        result
    }
}

/// How long the first start of a userspace child may take before setup gives up.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) fn new_watch(settings: &WgSettings) -> HandshakeWatch {
    HandshakeWatch::new(settings.handshake_timeout, Instant::now())
}
