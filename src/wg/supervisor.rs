//! The userspace WireGuard process (`wireguard-go -f IF`): started, watched, restarted with
//! backoff, its output turned into rate-limited log lines, and ended by its PID.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::error::Error;
use super::limits::{Backoff, LineLimiter};
use super::process::{pump, terminate};

/// How often a starting child's UAPI socket is tried, and how long it may take to appear.
const READY_POLL: Duration = Duration::from_millis(20);
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an adopted device (left running by an earlier arcway) is checked.
const ADOPTED_POLL: Duration = Duration::from_secs(1);

/// Where wireguard-go (and wg(8)) keep the UAPI sockets.
pub fn socket_path(ifname: &str) -> PathBuf {
    Path::new("/var/run/wireguard").join(format!("{ifname}.sock"))
}

/// True when something accepts connections on the UAPI socket (a stale file does not).
pub(crate) async fn connectable(socket: &Path) -> bool {
    tokio::net::UnixStream::connect(socket).await.is_ok()
}

/// What the owner hears from the supervisor.
#[derive(Debug)]
pub(crate) enum ChildEvent {
    /// A (re)started child's socket answers: the device exists and is empty; configure it.
    Ready { pid: u32 },
    /// The child exited; the next start is scheduled.
    Exited { status: String },
    /// An adopted device stopped answering; an own child is being started.
    Lost,
}

enum State {
    Idle,
    Waiting {
        until: Instant,
    },
    Starting {
        child: Child,
        pid: u32,
        since: Instant,
    },
    Running {
        child: Child,
        pid: u32,
        since: Instant,
    },
    Adopted,
}

pub(crate) struct Supervisor {
    command: Vec<String>,
    ifname: String,
    socket: PathBuf,
    state: State,
    backoff: Backoff,
    restarts: u32,
    limiter: Arc<Mutex<LineLimiter>>,
}

enum Step {
    Exit(std::io::Result<ExitStatus>, Duration),
    Ready(u32),
    Spawned,
    Lost,
    Continue,
}

impl Supervisor {
    pub(crate) fn new(command: Vec<String>, ifname: &str) -> Self {
        Supervisor {
            command,
            ifname: ifname.into(),
            socket: socket_path(ifname),
            state: State::Idle,
            backoff: Backoff::default(),
            restarts: 0,
            limiter: Arc::new(Mutex::new(LineLimiter::default())),
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        match &self.state {
            State::Starting { pid, .. } | State::Running { pid, .. } => Some(*pid),
            _ => None,
        }
    }

    pub(crate) fn restarts(&self) -> u32 {
        self.restarts
    }

    /// True when a device is there to configure (own child ready, or adopted).
    pub(crate) fn is_up(&self) -> bool {
        matches!(self.state, State::Running { .. } | State::Adopted)
    }

    /// Watches a device someone else left running instead of starting a child.
    pub(crate) fn adopt(&mut self) {
        self.state = State::Adopted;
    }

    /// Starts the child now; spawn errors (command missing) are returned, not retried.
    pub(crate) fn start_now(&mut self) -> Result<(), Error> {
        let (program, args) = self.command.split_first().ok_or(Error::EmptyCommand)?;
        let mut cmd = Command::new(program);
        crate::child_env::apply(&mut cmd)
            .args(args)
            .arg(&self.ifname)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a terminal's Ctrl-C or a signal to arcway's group must not
            // take the device down behind the owner's back; the owner ends it by PID.
            .process_group(0);
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            command: self.command.join(" "),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        if let Some(out) = child.stdout.take() {
            pump(out, &self.ifname, pid, "stdout", &self.limiter);
        }
        if let Some(err) = child.stderr.take() {
            pump(err, &self.ifname, pid, "stderr", &self.limiter);
        }
        tracing::info!(ifname = %self.ifname, pid, command = %self.command.join(" "), "started userspace WireGuard");
        self.state = State::Starting {
            child,
            pid,
            since: Instant::now(),
        };
        Ok(())
    }

    /// Waits for the next event. Cancel-safe: all progress lives in `self.state`.
    pub(crate) async fn next_event(&mut self) -> ChildEvent {
        loop {
            let step = match &mut self.state {
                State::Idle => std::future::pending::<Step>().await,
                State::Waiting { until } => {
                    tokio::time::sleep_until((*until).into()).await;
                    Step::Spawned
                }
                State::Starting { child, pid, since } => {
                    tokio::select! {
                        status = child.wait() => Step::Exit(status, since.elapsed()),
                        _ = tokio::time::sleep(READY_POLL) => {
                            if connectable(&self.socket).await {
                                Step::Ready(*pid)
                            } else {
                                if since.elapsed() > READY_TIMEOUT {
                                    tracing::warn!(ifname = %self.ifname, pid = *pid, "userspace WireGuard socket did not appear; killing it");
                                    let _ = child.start_kill();
                                }
                                Step::Continue
                            }
                        }
                    }
                }
                State::Running { child, since, .. } => {
                    Step::Exit(child.wait().await, since.elapsed())
                }
                State::Adopted => {
                    tokio::time::sleep(ADOPTED_POLL).await;
                    if connectable(&self.socket).await {
                        Step::Continue
                    } else {
                        Step::Lost
                    }
                }
            };
            match step {
                Step::Continue => {}
                Step::Ready(pid) => {
                    if let State::Starting { child, since, .. } =
                        std::mem::replace(&mut self.state, State::Idle)
                    {
                        self.state = State::Running { child, pid, since };
                    }
                    return ChildEvent::Ready { pid };
                }
                Step::Spawned => {
                    self.restarts += 1;
                    if let Err(e) = self.start_now() {
                        let delay = self.backoff.after_exit(Duration::ZERO);
                        tracing::warn!(ifname = %self.ifname, error = %e, retry_in = ?delay, "failed to restart userspace WireGuard");
                        self.state = State::Waiting {
                            until: Instant::now() + delay,
                        };
                    }
                }
                Step::Exit(status, ran_for) => {
                    let status = match status {
                        Ok(s) => s.to_string(),
                        Err(e) => format!("wait failed: {e}"),
                    };
                    let restart_in = self.backoff.after_exit(ran_for);
                    tracing::warn!(ifname = %self.ifname, %status, ?ran_for, ?restart_in, "userspace WireGuard exited; restarting");
                    self.state = State::Waiting {
                        until: Instant::now() + restart_in,
                    };
                    return ChildEvent::Exited { status };
                }
                Step::Lost => {
                    tracing::warn!(ifname = %self.ifname, "adopted userspace WireGuard stopped answering; starting an own one");
                    self.state = State::Waiting {
                        until: Instant::now(),
                    };
                    return ChildEvent::Lost;
                }
            }
        }
    }

    /// Kills an own child that is alive but does not answer on its socket: SIGKILL, since a
    /// stopped process does not act on SIGTERM. Its exit then comes from `next_event` like
    /// any other, and it is restarted with the usual backoff. An adopted process has no PID of
    /// ours; it is left alone.
    pub(crate) fn kill_stuck(&mut self, why: &Error) {
        match &mut self.state {
            State::Running { child, pid, .. } => {
                tracing::warn!(ifname = %self.ifname, pid = *pid, error = %why, "userspace WireGuard is running but does not answer on its socket; killing it");
                if let Err(e) = child.start_kill() {
                    tracing::warn!(ifname = %self.ifname, pid = *pid, error = %e, "failed to kill userspace WireGuard");
                }
            }
            State::Adopted => {
                tracing::warn!(ifname = %self.ifname, error = %why, "adopted userspace WireGuard does not answer on its socket");
            }
            _ => {}
        }
    }

    /// Leaves a running child alone (on_stop keep): it keeps the device after arcway is gone.
    pub(crate) fn detach(&mut self) {
        self.state = State::Idle;
    }

    /// Ends the child by its PID: SIGTERM, then SIGKILL after `grace`. An adopted device has no
    /// PID of ours; removing its socket makes wireguard-go exit on its own.
    pub(crate) async fn stop(&mut self, grace: Duration) -> Result<(), Error> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Starting { child, pid, .. } | State::Running { child, pid, .. } => {
                terminate(child, pid, grace)
                    .await
                    .map_err(|source| Error::Configure {
                        ifname: self.ifname.clone(),
                        source,
                    })
            }
            State::Adopted => match std::fs::remove_file(&self.socket) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::Stop {
                    ifname: self.ifname.clone(),
                    source: e,
                }),
                _ => Ok(()),
            },
            State::Idle | State::Waiting { .. } => Ok(()),
        }
    }
}
