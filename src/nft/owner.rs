//! The owner of `table inet arcway`: one task takes the wanted table, skips it when unchanged,
//! reads the byte counters before a replace (a replace resets them) and retries on its own,
//! so the loop that switches routes never waits for `nft`.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{NftInputs, TableExtras, apply_with};
use crate::accounting::ReadNow;
use crate::liveness::{self, Heartbeat};

/// A failed load is tried again after this long.
const RETRY_FAILED: Duration = Duration::from_secs(10);
/// Cgroups that did not exist yet are looked for again after this long.
const RETRY_CGROUPS: Duration = Duration::from_secs(30);
/// `nft` that takes longer than this is given up on (and retried).
const NFT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the table should hold.
pub type Wanted = (NftInputs, TableExtras);

/// How the latest load went: `Ok` once the table holds what was asked, or the error chain.
pub type NftReport = Result<(), String>;

enum Command {
    Set(Box<Wanted>),
    Stop(oneshot::Sender<()>),
}

/// The loop's side of the nftables owner.
pub struct NftHandle {
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<()>,
    heartbeat: Heartbeat,
}

impl NftHandle {
    /// The table should hold `wanted`; the same table twice is one load.
    pub fn set(&self, wanted: Wanted) {
        let _ = self.commands.send(Command::Set(Box::new(wanted)));
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Beats every turn; silent while `nft` runs (at most its timeout).
    pub fn heartbeat(&self) -> &Heartbeat {
        &self.heartbeat
    }

    /// Ends the task (the table stays; removing it is the caller's choice).
    pub async fn stop(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
    }
}

/// Starts the owner. `counts` reads the byte counters before every replace.
pub fn spawn(counts: Option<ReadNow>, reports: mpsc::UnboundedSender<NftReport>) -> NftHandle {
    let (commands, mut rx) = mpsc::unbounded_channel();
    let heartbeat = Heartbeat::new();
    let beats = heartbeat.clone();
    let task = tokio::spawn(async move {
        let mut applied: Option<Wanted> = None;
        let mut wanted: Option<Wanted> = None;
        // The table that failed to load: not tried again before the retry is due.
        let mut failed: Option<Wanted> = None;
        let mut retry: Option<Instant> = None;
        loop {
            beats.beat();
            let due = retry.is_some_and(|t| Instant::now() >= t);
            let changed = wanted != applied && wanted != failed;
            let stale = wanted.is_some() && (changed || due);
            if !stale {
                tokio::select! {
                    command = rx.recv() => match command {
                        Some(Command::Set(w)) => wanted = Some(*w),
                        Some(Command::Stop(done)) => {
                            let _ = done.send(());
                            return;
                        }
                        None => return,
                    },
                    () = sleep_until(retry) => {}
                    () = liveness::pause() => {}
                }
                continue;
            }
            // Take every queued request first: only the latest table matters.
            while let Ok(command) = rx.try_recv() {
                match command {
                    Command::Set(w) => wanted = Some(*w),
                    Command::Stop(done) => {
                        let _ = done.send(());
                        return;
                    }
                }
            }
            let Some(target) = wanted.clone() else {
                continue;
            };
            if let Some(counts) = &counts
                && let Err(err) = counts.read().await
            {
                tracing::warn!(error = %err, "failed to read the byte counters before replacing the table");
            }
            let outcome = tokio::time::timeout(NFT_TIMEOUT, apply_with(&target.0, &target.1)).await;
            let report = match outcome {
                Ok(Ok(report)) => {
                    retry = (!report.missing_cgroups.is_empty())
                        .then(|| Instant::now() + RETRY_CGROUPS);
                    applied = Some(target);
                    failed = None;
                    Ok(())
                }
                Ok(Err(err)) => {
                    let message = crate::daemon::error_chain(&err);
                    tracing::error!(error = %message, "failed to load table inet arcway");
                    retry = Some(Instant::now() + RETRY_FAILED);
                    applied = None;
                    failed = Some(target);
                    Err(message)
                }
                Err(_) => {
                    let message = format!("nft did not finish within {NFT_TIMEOUT:?}");
                    tracing::error!(error = %message, "failed to load table inet arcway");
                    retry = Some(Instant::now() + RETRY_FAILED);
                    applied = None;
                    failed = Some(target);
                    Err(message)
                }
            };
            if reports.send(report).is_err() {
                return;
            }
        }
    });
    NftHandle {
        commands,
        task,
        heartbeat,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
