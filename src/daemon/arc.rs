//! The Arc owner: starts, restarts, renews and stops the WireGuard tunnel in its own task, so
//! that a tunnel waiting for DNS (up to 10 s) or for wireguard-go (up to 15 s) never holds up
//! the loop that switches routes. Failed starts are retried here with backoff.

use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::credentials::Credentials;
use crate::liveness::{self, Heartbeat};
use crate::wg::{OnStop, Tunnel, TunnelSpec, TunnelStatus, WgSample};

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// What the loop asks for. Commands are queued and never answered inline.
#[derive(Debug)]
pub enum ArcCommand {
    /// Start a tunnel unless one runs; `replace` removes a running one first (a reload that
    /// changed `arc`).
    Start {
        spec: Box<TunnelSpec>,
        replace: bool,
    },
    /// Stop and remove the tunnel (Arc turned off, credentials gone).
    Remove,
    /// New credentials for the running tunnel (key rotation).
    Update(Box<Credentials>),
    /// Replace the peer so the next packet makes a new handshake.
    Renew(Box<Credentials>),
    PreferIpv6(bool),
    /// Report the tunnel's status.
    Status,
}

/// What the owner reports back.
#[derive(Debug)]
pub enum ArcReport {
    Started,
    /// A start failed; the owner retries after `retry_in` unless told otherwise.
    Failed {
        error: String,
        retry_in: Duration,
    },
    Removed,
    Renewed {
        at: Instant,
        wall: SystemTime,
    },
    Status(Option<Box<TunnelStatus>>),
}

/// The loop's side of the Arc owner.
pub struct ArcHandle {
    commands: mpsc::UnboundedSender<ArcCommand>,
    stop: Option<oneshot::Sender<oneshot::Sender<Result<(), String>>>>,
    task: JoinHandle<()>,
    heartbeat: Heartbeat,
}

impl ArcHandle {
    pub fn set(&self, command: ArcCommand) {
        let _ = self.commands.send(command);
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Beats every turn; silent while a tunnel starts or stops.
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    /// Stops the tunnel with its configured `on_stop` and ends the task.
    pub async fn stop(mut self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        if let Some(stop) = self.stop.take()
            && stop.send(tx).is_ok()
        {
            let result = rx.await.unwrap_or(Ok(()));
            let _ = self.task.await;
            return result;
        }
        Ok(())
    }
}

struct Owner {
    tunnel: Option<Tunnel>,
    samples: mpsc::Sender<WgSample>,
    reports: mpsc::Sender<ArcReport>,
    /// The spec of a failed start, when to try it again, and the backoff used.
    retry: Option<(Box<TunnelSpec>, Instant, Duration)>,
    prefer_ipv6: bool,
}

pub fn spawn(samples: mpsc::Sender<WgSample>, reports: mpsc::Sender<ArcReport>) -> ArcHandle {
    let (commands, mut rx) = mpsc::unbounded_channel();
    let (stop, mut stop_rx) = oneshot::channel::<oneshot::Sender<Result<(), String>>>();
    let mut owner = Owner {
        tunnel: None,
        samples,
        reports,
        retry: None,
        prefer_ipv6: false,
    };
    let heartbeat = Heartbeat::new();
    let beats = heartbeat.clone();
    let task = tokio::spawn(async move {
        loop {
            beats.beat();
            let retry_at = owner.retry.as_ref().map(|(_, at, _)| *at);
            tokio::select! {
                answer = &mut stop_rx => {
                    let result = match owner.tunnel.take() {
                        Some(t) => t.stop().await.map_err(|e| format!("{e:#}")),
                        None => Ok(()),
                    };
                    if let Ok(answer) = answer {
                        let _ = answer.send(result);
                    }
                    return;
                }
                command = rx.recv() => match command {
                    Some(command) => owner.handle(command).await,
                    None => return,
                },
                () = sleep_until(retry_at) => {
                    if let Some((spec, _, backoff)) = owner.retry.take() {
                        owner.start(spec, backoff).await;
                    }
                }
                () = liveness::pause() => {}
            }
        }
    });
    ArcHandle {
        commands,
        stop: Some(stop),
        task,
        heartbeat,
    }
}

impl Owner {
    async fn handle(&mut self, command: ArcCommand) {
        match command {
            ArcCommand::Start { spec, replace } => {
                if replace {
                    self.remove().await;
                } else if self.tunnel.is_some() {
                    return;
                }
                self.retry = None;
                self.start(spec, Duration::ZERO).await;
            }
            ArcCommand::Remove => {
                self.retry = None;
                self.remove().await;
                let _ = self.reports.send(ArcReport::Removed).await;
            }
            ArcCommand::Update(creds) => {
                if let Some((spec, _, _)) = self.retry.as_mut() {
                    spec.credentials = (*creds).clone();
                }
                if let Some(t) = &self.tunnel
                    && let Err(err) = t.update_credentials(*creds).await
                {
                    warn!(
                        error = format!("{err:#}"),
                        "failed to apply the new Arc credentials"
                    );
                }
            }
            ArcCommand::Renew(creds) => {
                let Some(t) = &self.tunnel else { return };
                // Re-setting the peer drops the old session, so the next packet (a probe)
                // makes a new handshake: failback waits for proof that the tunnel works now.
                match t.update_credentials(*creds).await {
                    Ok(()) => {
                        info!("Arc: renewing the WireGuard session before failback");
                        let report = ArcReport::Renewed {
                            at: Instant::now(),
                            wall: SystemTime::now(),
                        };
                        let _ = self.reports.send(report).await;
                    }
                    Err(err) => warn!(error = %err, "failed to renew the WireGuard session"),
                }
            }
            ArcCommand::PreferIpv6(prefer) => {
                self.prefer_ipv6 = prefer;
                if let Some((spec, _, _)) = self.retry.as_mut() {
                    spec.prefer_ipv6 = prefer;
                }
                if let Some(t) = &self.tunnel
                    && let Err(err) = t.set_prefer_ipv6(prefer).await
                {
                    warn!(error = %err, "failed to change the Arc endpoint's address family");
                }
            }
            ArcCommand::Status => {
                let status = match &self.tunnel {
                    Some(t) => t.status().await.ok().map(Box::new),
                    None => None,
                };
                let _ = self.reports.send(ArcReport::Status(status)).await;
            }
        }
    }

    async fn remove(&mut self) {
        if let Some(t) = self.tunnel.take()
            && let Err(err) = t.stop_with(Some(OnStop::Remove)).await
        {
            warn!(
                error = format!("{err:#}"),
                "failed to remove the old Arc tunnel"
            );
        }
    }

    async fn start(&mut self, mut spec: Box<TunnelSpec>, last_backoff: Duration) {
        spec.prefer_ipv6 = self.prefer_ipv6;
        match Tunnel::start((*spec).clone(), self.samples.clone()).await {
            Ok(tunnel) => {
                self.tunnel = Some(tunnel);
                let _ = self.reports.send(ArcReport::Started).await;
            }
            Err(err) => {
                let backoff = if last_backoff.is_zero() {
                    RETRY_FIRST
                } else {
                    (last_backoff * 2).min(RETRY_MAX)
                };
                let error = super::error_chain(&err);
                self.retry = Some((spec, Instant::now() + backoff, backoff));
                let report = ArcReport::Failed {
                    error,
                    retry_in: backoff,
                };
                let _ = self.reports.send(report).await;
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
