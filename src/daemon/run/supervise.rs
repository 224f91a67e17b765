//! Supervision: owners that died are started again (at once, then with backoff), owners that
//! stopped answering are shown, and the watchdog is fed only while every owner answers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::*;
use crate::daemon::liveness::{self, Beat, LINK_MONITOR, ROUTE_WATCH};
use crate::liveness::Heartbeat;

use liveness::{ACCOUNTING, ARC_OWNER, MODEM_WATCHER, NFT_OWNER};

impl Daemon {
    /// Timers of the loop itself: owners to restart or overdue, the tunnel's status, the
    /// watchdog.
    pub(super) async fn housekeeping(&mut self, ch: &mut Channels) {
        self.restart_owners(ch).await;
        self.check_liveness();
        if self
            .tunnel_status_asked
            .is_none_or(|t| t.elapsed() >= TUNNEL_STATUS_EVERY)
        {
            self.ask_tunnel_status();
        }
        self.ctl.tick(self.now());
        self.feed_watchdog();
    }

    /// Records that `owner` died (or failed to start) and when it is tried again.
    fn owner_died(&mut self, owner: &'static str, why: String) {
        let now = self.now();
        if self.restarts.waiting(owner) {
            return;
        }
        let retry_in = self.restarts.died(owner, now).since(now);
        error!(owner, error = %why, ?retry_in, "an owner stopped; starting it again");
        self.set_problem(
            owner,
            Err(format!("{why}; restarting in {}s", retry_in.as_secs())),
        );
    }

    /// Finds dead owners and starts the ones whose restart is due.
    async fn restart_owners(&mut self, ch: &mut Channels) {
        if self
            .drift_watch
            .as_ref()
            .is_some_and(JoinHandle::is_finished)
        {
            self.drift_watch = None;
            self.owner_died(
                ROUTE_WATCH,
                "the watch for changes to arcway's rules stopped".into(),
            );
        }
        if self.arc.is_finished() {
            self.owner_died(ARC_OWNER, "the Arc owner stopped".into());
        }
        if self.nft.is_finished() {
            self.owner_died(NFT_OWNER, "the nftables owner stopped".into());
        }
        if self
            .accounting
            .as_ref()
            .is_some_and(AccountingHandle::is_finished)
        {
            self.owner_died(ACCOUNTING, "the accounting task stopped".into());
        }
        if self.modem.as_ref().is_some_and(ModemWatcher::is_finished) {
            self.owner_died(MODEM_WATCHER, "the modem watcher stopped".into());
        }
        let dead: Vec<PathId> = self
            .probers
            .iter()
            .filter(|(_, h)| h.is_finished())
            .map(|(p, _)| *p)
            .collect();
        for path in dead {
            self.owner_died(liveness::prober(path), format!("the {path} prober stopped"));
        }

        let now = self.now();
        if self.restarts.take_due(LINK_MONITOR, now) {
            self.restart_link_monitor().await;
        }
        if self.restarts.take_due(ROUTE_WATCH, now) {
            self.start_drift_watch();
        }
        if self.restarts.take_due(ARC_OWNER, now) {
            self.arc = arc::spawn(self.wg_tx.clone(), self.arc_tx.clone());
            self.tunnel = TunnelState::Off;
            self.ctl.tunnel_stopped();
            self.start_tunnel(false);
            self.owner_restarted(ARC_OWNER);
        }
        if self.restarts.take_due(NFT_OWNER, now) {
            let counts = self.accounting.as_ref().map(AccountingHandle::reader);
            self.nft = nft::owner::spawn(counts, self.nft_tx.clone());
            self.ctl.nft_changed();
            self.owner_restarted(NFT_OWNER);
        }
        if self.restarts.take_due(ACCOUNTING, now) {
            self.start_accounting();
            self.owner_restarted(ACCOUNTING);
        }
        if self.restarts.take_due(MODEM_WATCHER, now) {
            self.modem = None;
            self.modem_settings = None;
            ch.modem = self.start_modem();
            self.owner_restarted(MODEM_WATCHER);
        }
        for path in PathId::ALL {
            if self.restarts.take_due(liveness::prober(path), now) {
                self.probers.remove(&path);
                self.start_probers();
                self.owner_restarted(liveness::prober(path));
            }
        }
    }

    fn owner_restarted(&mut self, owner: &'static str) {
        info!(owner, "running again");
        self.set_problem(owner, Ok(()));
    }

    /// Every running owner's last sign of life, with its deadline.
    fn beats(&self) -> Vec<Beat> {
        let beat = |owner, heartbeat: &Heartbeat, deadline| Beat {
            owner,
            last: self.time_of(heartbeat.last()),
            deadline,
        };
        let mut beats = vec![
            beat(
                LINK_MONITOR,
                self.linkmon.heartbeat(),
                liveness::NETLINK_DEADLINE,
            ),
            beat(ARC_OWNER, self.arc.heartbeat(), liveness::ARC_DEADLINE),
            beat(NFT_OWNER, self.nft.heartbeat(), liveness::NFT_DEADLINE),
        ];
        if self.drift_watch.is_some() {
            beats.push(beat(
                ROUTE_WATCH,
                &self.drift_beat,
                liveness::NETLINK_DEADLINE,
            ));
        }
        if let Some(a) = &self.accounting {
            beats.push(beat(
                ACCOUNTING,
                a.heartbeat(),
                liveness::ACCOUNTING_DEADLINE,
            ));
        }
        if let Some(m) = &self.modem {
            beats.push(beat(MODEM_WATCHER, m.heartbeat(), liveness::MODEM_DEADLINE));
        }
        for (path, p) in &self.probers {
            beats.push(beat(
                liveness::prober(*path),
                p.heartbeat(),
                liveness::PROBER_DEADLINE,
            ));
        }
        // A dead owner is shown as dead, not as late.
        beats.retain(|b| !self.restarts.waiting(b.owner));
        beats
    }

    /// Shows owners past their deadline as problems until they answer again.
    fn check_liveness(&mut self) {
        let beats = self.beats();
        let late = liveness::overdue(&beats, self.now());
        let now_late: BTreeSet<&'static str> = late.iter().map(|o| o.owner).collect();
        for o in &late {
            if !self.overdue.contains(o.owner) {
                error!(owner = o.owner, silent = ?o.silent, deadline = ?o.deadline, "an owner stopped answering; the watchdog is not fed until it does");
            }
            self.set_problem(o.owner, Err(o.message()));
        }
        for owner in self.overdue.difference(&now_late) {
            if beats.iter().any(|b| b.owner == *owner) {
                info!(owner, "answering again");
            }
        }
        let answered: Vec<&'static str> = self.overdue.difference(&now_late).copied().collect();
        for owner in answered {
            if !self.restarts.waiting(owner) {
                self.set_problem(owner, Ok(()));
            }
        }
        self.overdue = now_late;
    }

    /// Fed only while every owner runs and answers within its deadline: a daemon that no
    /// longer sees carrier changes must be restarted by systemd, not kept alive.
    fn feed_watchdog(&mut self) {
        let Some(w) = &self.watchdog else { return };
        let healthy = !self.restarts.any_waiting() && self.overdue.is_empty();
        // Half the ping interval: a tick landing just short of it must not stretch the gap
        // to one and a half intervals.
        if !healthy || self.last_watchdog.elapsed() < w.ping_interval() / 2 {
            return;
        }
        self.last_watchdog = Instant::now();
        if let Err(err) = self.notifier.watchdog() {
            debug!(error = %err, "failed to feed the watchdog");
        }
    }

    pub(super) fn start_drift_watch(&mut self) {
        self.drift_beat = Heartbeat::new();
        match routing::spawn_drift_watch(
            self.reconciler.clone(),
            Duration::from_millis(50),
            Duration::from_secs(30),
            self.drift_beat.clone(),
        ) {
            Ok(task) => {
                self.drift_watch = Some(task);
                self.set_problem(ROUTE_WATCH, Ok(()));
            }
            Err(err) => {
                warn!(error = %err, "failed to watch for changes to arcway's rules; repairing on events only");
                self.owner_died(ROUTE_WATCH, error_chain(&err));
            }
        }
    }

    async fn restart_link_monitor(&mut self) {
        let (tx, rx) = mpsc::channel(256);
        let names: BTreeSet<String> = self.interfaces.values().cloned().collect();
        let config = LinkMonitorConfig::new(names);
        // Starting subscribes and dumps: netlink round trips, not a wait on anything remote.
        match LinkMonitor::start(config, tx).await {
            Ok(handle) => {
                self.linkmon = handle;
                self.links_swap = Some(rx);
                self.owner_restarted(LINK_MONITOR);
            }
            Err(err) => self.owner_died(LINK_MONITOR, error_chain(&err)),
        }
    }

    /// The link monitor's task ended (its netlink socket failed): without it no carrier loss
    /// is seen, so it is started again at once, then with backoff.
    pub(super) fn link_monitor_died(&mut self, ch: &mut Channels) {
        ch.links = None;
        self.owner_died(
            LINK_MONITOR,
            "the link monitor stopped; carrier changes are not seen until it runs again".into(),
        );
        self.ctl.publish();
    }
}
