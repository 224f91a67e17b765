//! The prober: one task per path owning that path's probe schedule.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::mpsc;

use crate::liveness::{self, Heartbeat};
use crate::model::PathId;

use super::round::{family_verdicts, quorum_met};
use super::{Binding, ProbeCounters, ProbeCountersSnapshot, ProbeRound, Target, probe_once};

/// What to probe on one path and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProberConfig {
    pub path: PathId,
    pub binding: Binding,
    pub targets: Vec<Target>,
    pub interval: Duration,
    /// Per probe; a round lasts at most this long.
    pub timeout: Duration,
    /// Targets that must answer for the round to be ok (clamped to 1..=targets).
    pub quorum: usize,
}

enum Command {
    Reconfigure(ProberConfig),
    Pause(bool),
}

#[derive(Debug, Default)]
struct Shared {
    counters: Arc<ProbeCounters>,
    last_traffic: Mutex<Option<Instant>>,
}

/// Talks to a running prober. Dropping every handle stops the task.
#[derive(Debug, Clone)]
pub struct ProberHandle {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    heartbeat: Heartbeat,
}

impl ProberHandle {
    /// Beats every turn of the prober's loop; silent during a round (at most its timeout).
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    /// The task ended: its side of the command channel is gone.
    pub fn is_finished(&self) -> bool {
        self.commands.is_closed()
    }

    /// Replaces targets, interval, binding or quorum; a round in flight is abandoned and a
    /// new one starts at once. Returns false when the task has stopped.
    pub fn reconfigure(&self, config: ProberConfig) -> bool {
        self.commands.send(Command::Reconfigure(config)).is_ok()
    }

    /// Stops probing (a round in flight is abandoned) until [`Self::resume`].
    pub fn pause(&self) -> bool {
        self.commands.send(Command::Pause(true)).is_ok()
    }

    /// Probes again, starting with a round at once.
    pub fn resume(&self) -> bool {
        self.commands.send(Command::Pause(false)).is_ok()
    }

    /// Real traffic was received on the path at `at` (its rx counter rose). The next round is
    /// skipped when traffic was noted since the previous round began (within the last
    /// interval): the traffic already proves the path, and on cellular a probe costs money.
    pub fn note_traffic(&self, at: Instant) {
        let mut last = self
            .shared
            .last_traffic
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|t| at > t) {
            *last = Some(at);
        }
    }

    pub fn counters(&self) -> ProbeCountersSnapshot {
        self.shared.counters.snapshot()
    }

    /// The live counters, for whoever reports the probes' cost (accounting, metrics).
    pub fn counters_handle(&self) -> Arc<ProbeCounters> {
        self.shared.counters.clone()
    }
}

/// The task behind a [`ProberHandle`].
pub struct Prober {
    config: ProberConfig,
    paused: bool,
    commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::Sender<ProbeRound>,
    shared: Arc<Shared>,
    heartbeat: Heartbeat,
}

impl Prober {
    /// Starts probing at once on the current tokio runtime; rounds go to `events`.
    pub fn spawn(config: ProberConfig, events: mpsc::Sender<ProbeRound>) -> ProberHandle {
        let (tx, commands) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::default());
        let heartbeat = Heartbeat::new();
        let prober = Prober {
            heartbeat: heartbeat.clone(),
            config,
            paused: false,
            commands,
            events,
            shared: shared.clone(),
        };
        tokio::spawn(prober.run());
        ProberHandle {
            commands: tx,
            shared,
            heartbeat,
        }
    }

    async fn run(mut self) {
        let mut next = tokio::time::Instant::now();
        let mut previous: Option<Instant> = None;
        loop {
            self.heartbeat.beat();
            let idle = self.paused || self.config.targets.is_empty();
            let command = tokio::select! {
                () = liveness::pause() => continue,
                _ = tokio::time::sleep_until(next), if !idle => None,
                command = self.commands.recv() => match command {
                    Some(c) => Some(c),
                    None => return,
                },
            };
            if let Some(command) = command {
                self.apply(command);
                next = tokio::time::Instant::now();
                continue;
            }
            let interval = self.config.interval.max(Duration::from_millis(1));
            // Delay, not burst, when a round overran its interval.
            next = (next + interval).max(tokio::time::Instant::now());
            let started = Instant::now();
            // Before the first round, "the last interval" (None: the clock is younger than it).
            let since = previous.or_else(|| started.checked_sub(interval));
            let skip = self.traffic_seen_since(since);
            previous = Some(started);
            let round = if skip {
                self.shared.counters.skipped();
                self.passive_round()
            } else {
                match self.probe_round().await {
                    Some(round) => round,
                    None => {
                        next = tokio::time::Instant::now();
                        continue;
                    }
                }
            };
            tracing::debug!(path = %round.path, ok = round.ok, passive = round.passive, "probe round");
            if self.events.send(round).await.is_err() {
                return;
            }
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Reconfigure(config) => {
                tracing::info!(path = %config.path, interface = %config.binding.interface, targets = config.targets.len(), "prober reconfigured");
                self.config = config;
            }
            Command::Pause(paused) => self.paused = paused,
        }
    }

    fn traffic_seen_since(&self, since: Option<Instant>) -> bool {
        let last = *self
            .shared
            .last_traffic
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        last.is_some_and(|t| since.is_none_or(|s| t >= s))
    }

    fn passive_round(&self) -> ProbeRound {
        let now = Instant::now();
        ProbeRound {
            path: self.config.path,
            started: now,
            at: now,
            ok: true,
            passive: true,
            targets: Vec::new(),
            families: Default::default(),
        }
    }

    /// Probes every target concurrently. `None` when a command interrupted the round; the
    /// command is applied and the partial results are dropped as stale.
    async fn probe_round(&mut self) -> Option<ProbeRound> {
        self.shared.counters.round();
        let config = self.config.clone();
        let shared = self.shared.clone();
        let started = Instant::now();
        let work = async move {
            let probes = config.targets.iter().map(|target| {
                probe_once(&config.binding, target, config.timeout, &shared.counters)
            });
            let targets = join_all(probes).await;
            ProbeRound {
                path: config.path,
                started,
                at: Instant::now(),
                ok: quorum_met(&targets, config.quorum),
                passive: false,
                families: family_verdicts(&targets, config.quorum),
                targets,
            }
        };
        tokio::pin!(work);
        tokio::select! {
            round = &mut work => Some(round),
            command = self.commands.recv() => {
                if let Some(command) = command {
                    self.apply(command);
                }
                None
            }
        }
    }
}
