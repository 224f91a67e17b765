//! The accounting task: reads the counters every few seconds, keeps the ledger, saves it,
//! publishes the status and sends budget transitions.
//!
//! Reading is one netlink dump of the table's counters per interval (nothing per packet,
//! no process started). The ledger is saved at most every
//! `save_every` (flash wears out), at once on a transition or a new period, and on stop;
//! a crash loses at most `save_every` of counting.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{info, warn};

use super::accountant::{Accountant, BudgetTransition};
use super::calendar::{Date, local_today};
use super::limits::Limits;
use super::status::AccountingStatus;
use super::{AccountingError, store};
use crate::liveness::{self, Heartbeat};
use crate::model::PathId;
use crate::nft::{CounterKey, NftError};
use crate::probe::ProbeCounters;

/// Reads the counters (the real one runs `nft`; tests may substitute).
pub type CounterReader =
    Box<dyn Fn() -> BoxFuture<'static, Result<BTreeMap<CounterKey, u64>, NftError>> + Send>;

pub struct AccountingSettings {
    /// The state file (default [`store::DEFAULT_STATE_PATH`]).
    pub state_path: PathBuf,
    pub interval: Duration,
    pub save_every: Duration,
    pub limits: Limits,
    /// The probers' counters per path, shown as the probes' cost.
    pub probe_counters: BTreeMap<PathId, Arc<ProbeCounters>>,
}

impl AccountingSettings {
    pub fn new(limits: Limits) -> AccountingSettings {
        AccountingSettings {
            state_path: PathBuf::from(store::DEFAULT_STATE_PATH),
            interval: Duration::from_secs(5),
            save_every: Duration::from_secs(60),
            limits,
            probe_counters: BTreeMap::new(),
        }
    }
}

enum Command {
    ReadNow(oneshot::Sender<()>),
    SetLimits(Limits),
    Stop(oneshot::Sender<Result<(), AccountingError>>),
}

/// Asks the accounting task for a reading; cloned into the nftables owner, which reads
/// before every replace of the table.
#[derive(Clone)]
pub struct ReadNow(mpsc::Sender<Command>);

impl ReadNow {
    pub async fn read(&self) -> Result<(), AccountingError> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(Command::ReadNow(tx))
            .await
            .map_err(|_| AccountingError::Stopped)?;
        rx.await.map_err(|_| AccountingError::Stopped)
    }
}

/// The daemon's side of the accounting task.
pub struct AccountingHandle {
    commands: mpsc::Sender<Command>,
    /// The latest status, updated after every reading.
    pub status: watch::Receiver<AccountingStatus>,
    task: JoinHandle<()>,
    heartbeat: Heartbeat,
}

impl AccountingHandle {
    /// Reads the counters now; call it right before replacing the nftables table, which
    /// resets them, so nothing counted since the last interval is lost.
    pub async fn read_now(&self) -> Result<(), AccountingError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::ReadNow(tx))
            .await
            .map_err(|_| AccountingError::Stopped)?;
        rx.await.map_err(|_| AccountingError::Stopped)
    }

    /// Beats every turn of the task's loop.
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// A reader for another task.
    pub fn reader(&self) -> ReadNow {
        ReadNow(self.commands.clone())
    }

    /// New budgets after a reload.
    pub async fn set_limits(&self, limits: Limits) -> Result<(), AccountingError> {
        self.commands
            .send(Command::SetLimits(limits))
            .await
            .map_err(|_| AccountingError::Stopped)
    }

    /// Reads once more, saves the ledger and ends the task.
    pub async fn stop(self) -> Result<(), AccountingError> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(tx)).await.is_err() {
            return Err(AccountingError::Stopped);
        }
        let result = rx.await.map_err(|_| AccountingError::Stopped)?;
        let _ = self.task.await;
        result
    }
}

/// Starts the task with the real `nft` reader and the local calendar. The first
/// transitions (every budget's state) are sent before this returns. Start it before the
/// first table apply, and call [`AccountingHandle::read_now`] before every later one.
pub fn spawn(
    settings: AccountingSettings,
    transitions: mpsc::UnboundedSender<BudgetTransition>,
) -> AccountingHandle {
    let reader: CounterReader = Box::new(|| Box::pin(crate::nft::read_counters()));
    spawn_with(settings, transitions, reader, Box::new(local_today))
}

/// [`spawn`] with another counter reader and calendar (tests).
pub fn spawn_with(
    settings: AccountingSettings,
    transitions: mpsc::UnboundedSender<BudgetTransition>,
    reader: CounterReader,
    today: Box<dyn Fn() -> Date + Send>,
) -> AccountingHandle {
    let saved = match store::load(&settings.state_path) {
        Ok(saved) => saved,
        Err(e) => {
            warn!(error = %e, "accounting state unreadable, counting this period from zero");
            None
        }
    };
    let (accountant, initial) = Accountant::new(settings.limits.clone(), saved, today());
    for t in initial {
        let _ = transitions.send(t);
    }
    let status = accountant.status(&probe_snapshots(&settings));
    let (status_tx, status_rx) = watch::channel(status);
    let (commands, rx) = mpsc::channel(8);
    let heartbeat = Heartbeat::new();
    let task = tokio::spawn(run(
        heartbeat.clone(),
        Task {
            settings,
            accountant,
            reader,
            today,
            transitions,
            status: status_tx,
            last_save: Instant::now(),
            dirty: false,
        },
        rx,
    ));
    AccountingHandle {
        commands,
        status: status_rx,
        task,
        heartbeat,
    }
}

struct Task {
    settings: AccountingSettings,
    accountant: Accountant,
    reader: CounterReader,
    today: Box<dyn Fn() -> Date + Send>,
    transitions: mpsc::UnboundedSender<BudgetTransition>,
    status: watch::Sender<AccountingStatus>,
    last_save: Instant,
    dirty: bool,
}

fn probe_snapshots(
    settings: &AccountingSettings,
) -> BTreeMap<PathId, crate::probe::ProbeCountersSnapshot> {
    settings
        .probe_counters
        .iter()
        .map(|(p, c)| (*p, c.snapshot()))
        .collect()
}

async fn run(heartbeat: Heartbeat, mut t: Task, mut commands: mpsc::Receiver<Command>) {
    let mut tick = tokio::time::interval(t.settings.interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        heartbeat.beat();
        tokio::select! {
            () = liveness::pause() => {}
            _ = tick.tick() => t.read().await,
            cmd = commands.recv() => match cmd {
                Some(Command::ReadNow(reply)) => {
                    t.read().await;
                    let _ = reply.send(());
                }
                Some(Command::SetLimits(limits)) => {
                    let today = (t.today)();
                    let changes = t.accountant.set_limits(limits, today);
                    t.publish(changes);
                }
                Some(Command::Stop(reply)) => {
                    t.read().await;
                    let _ = reply.send(t.save());
                    return;
                }
                None => {
                    t.read().await;
                    let _ = t.save();
                    return;
                }
            },
        }
    }
}

impl Task {
    async fn read(&mut self) {
        let reading = match (self.reader)().await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "failed to read the byte counters");
                return;
            }
        };
        let today = (self.today)();
        let before = self.accountant.ledger().period_start;
        let changes = self.accountant.observe(&reading, today);
        if self.accountant.ledger().period_start != before {
            info!(start = %self.accountant.ledger().period_start, "new budget period");
            self.dirty = true;
            let _ = self.save();
        }
        self.dirty |= !reading.is_empty();
        self.publish(changes);
    }

    fn publish(&mut self, changes: Vec<BudgetTransition>) {
        let urgent = !changes.is_empty();
        for t in changes {
            info!(path = %t.path, class = ?t.class, exhausted = t.exhausted, "data budget changed");
            let _ = self.transitions.send(t);
        }
        if (urgent || self.last_save.elapsed() >= self.settings.save_every)
            && let Err(e) = self.save()
        {
            warn!(error = %e, "failed to save the accounting state");
        }
        let status = self.accountant.status(&probe_snapshots(&self.settings));
        self.status.send_replace(status);
    }

    fn save(&mut self) -> Result<(), AccountingError> {
        self.last_save = Instant::now();
        if !self.dirty {
            return Ok(());
        }
        store::save(&self.settings.state_path, self.accountant.ledger())?;
        self.dirty = false;
        Ok(())
    }
}
