//! Manage mode's decisions: what to ask ModemManager next, and when. The watcher executes
//! the actions in their own tasks, so a slow `Simple.Connect` never delays signal handling.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::props::ModemProps;
use super::settings::ManageSettings;
use super::types::{LOCK_SIM_PIN, ModemState};

/// How long a successful action may take to show in the modem state. The reply and the
/// signals it caused travel different ways to the watcher (the reply may come first); until
/// the state moves, the old state must not trigger the same action again.
const SETTLE: Duration = Duration::from_secs(5);

/// A call to make on ModemManager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Unlock { sim: String },
    Enable { modem: String },
    Connect { modem: String },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Unlock { .. } => "unlock the SIM",
            Action::Enable { .. } => "enable the modem",
            Action::Connect { .. } => "connect the bearer",
        }
    }
}

#[derive(Debug)]
pub struct Manager {
    pub settings: ManageSettings,
    /// Failures and drops since the bearer was last stable.
    attempt: u32,
    /// The state generation the running action was started in.
    busy: Option<u64>,
    /// After a success: wait while the state generation is still this one.
    settling: Option<(u64, Instant)>,
    not_before: Option<Instant>,
    connected_since: Option<Instant>,
    pin_tried: BTreeSet<String>,
    /// The last condition warned about, so a stuck modem is logged once.
    warned: Option<String>,
}

impl Manager {
    pub fn new(settings: ManageSettings) -> Self {
        Manager {
            settings,
            attempt: 0,
            busy: None,
            settling: None,
            not_before: None,
            connected_since: None,
            pin_tried: BTreeSet::new(),
            warned: None,
        }
    }

    fn warn_once(&mut self, key: &str, modem: &str, what: &str) {
        if self.warned.as_deref() != Some(key) {
            warn!(modem, "{what}");
            self.warned = Some(key.to_owned());
        }
    }

    fn back_off(&mut self, now: Instant) -> Duration {
        let wait = self.settings.backoff(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        self.not_before = Some(now + wait);
        wait
    }

    /// The next call to make, if any. `modem` is the watched modem, `connected` its
    /// bearer's state, `generation` counts changes of the modem state or bearer seen so far.
    pub fn decide(
        &mut self,
        modem: Option<(&str, &ModemProps)>,
        connected: bool,
        generation: u64,
        now: Instant,
    ) -> Option<Action> {
        if connected {
            let since = *self.connected_since.get_or_insert(now);
            if now.duration_since(since) >= self.settings.stable_after {
                self.attempt = 0;
            }
            self.warned = None;
            self.settling = None;
            return None;
        }
        if self.connected_since.take().is_some() {
            let wait = self.back_off(now);
            info!(
                wait_ms = wait.as_millis() as u64,
                "bearer dropped, reconnecting after backoff"
            );
        }
        if self.busy.is_some() || self.not_before.is_some_and(|t| now < t) {
            return None;
        }
        let (path, m) = modem?;
        if let Some((settled, until)) = self.settling {
            if generation == settled && now < until {
                return None;
            }
            self.settling = None;
        }
        let action = match m.state? {
            ModemState::Locked => match (&m.sim, m.unlock_required, &self.settings.pin_file) {
                (Some(sim), Some(LOCK_SIM_PIN), Some(_)) if !self.pin_tried.contains(sim) => {
                    self.pin_tried.insert(sim.clone());
                    Action::Unlock { sim: sim.clone() }
                }
                _ => {
                    self.warn_once("locked", path, "modem is locked and no PIN can be sent");
                    return None;
                }
            },
            ModemState::Disabled => Action::Enable {
                modem: path.to_owned(),
            },
            s if s.can_connect() => Action::Connect {
                modem: path.to_owned(),
            },
            ModemState::Failed => {
                self.warn_once("failed", path, "modem is in the failed state");
                return None;
            }
            _ => return None,
        };
        self.busy = Some(generation);
        Some(action)
    }

    /// An action finished. Failures wait for the backoff before anything else is tried.
    pub fn done(&mut self, action: &Action, ok: bool, generation: u64, now: Instant) {
        let started_in = self.busy.take();
        if ok {
            // The state already moved while the call ran: nothing to wait for.
            if started_in == Some(generation) {
                self.settling = Some((generation, now + SETTLE));
            }
        } else {
            let wait = self.back_off(now);
            warn!(
                action = action.name(),
                wait_ms = wait.as_millis() as u64,
                "manage action failed, retrying after backoff"
            );
        }
    }

    /// When `decide` should run again even if nothing happens on the bus.
    pub fn deadline(&self, now: Instant) -> Option<Instant> {
        let idle = self.busy.is_none();
        let retry = self.not_before.filter(|t| *t > now && idle);
        let settle = self.settling.map(|(_, t)| t).filter(|t| *t > now && idle);
        let stable = self
            .connected_since
            .filter(|_| self.attempt > 0)
            .map(|s| s + self.settings.stable_after)
            .filter(|t| *t > now);
        retry.into_iter().chain(settle).chain(stable).min()
    }
}
