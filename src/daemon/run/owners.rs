//! Starting and reconfiguring the owners whose settings come from the configuration.

use tokio::sync::mpsc;
use tracing::{debug, error, info};

use super::*;

impl Daemon {
    pub(super) fn start_modem(&mut self) -> Option<mpsc::Receiver<ModemEvent>> {
        let settings = reload::watcher_settings(&self.cfg)?;
        let (watcher, events) = modem::spawn(settings.clone());
        self.modem = Some(watcher);
        self.modem_settings = Some(settings);
        Some(events)
    }

    /// After a reload: restarts the modem watcher if what it selects or how it manages the
    /// bearer changed (a new APN is used at once), starts or stops it if ModemManager was
    /// turned on or off. True when a watcher was stopped and none replaces it.
    pub(super) async fn sync_modem(&mut self) -> bool {
        if reload::watcher_settings(&self.cfg) == self.modem_settings {
            return false;
        }
        if let Some(old) = self.modem.take() {
            old.stop().await;
        }
        let had = self.modem_settings.take().is_some();
        let events = self.start_modem();
        let stopped = had && events.is_none();
        match (had, events.is_some()) {
            (true, true) => info!("modem watcher restarted with the new settings"),
            (true, false) => info!("modem watcher stopped: ModemManager is no longer used"),
            (false, _) => info!("modem watcher started"),
        }
        self.modem_rx_swap = Some(events);
        stopped
    }

    pub(super) fn start_probers(&mut self) {
        for path in self.cfg.paths() {
            let Some(mut config) = setup::prober_config(&self.cfg, path) else {
                self.probers.remove(&path);
                continue;
            };
            // The bearer's interface, once ModemManager names it, wins over the configured one.
            if let Some(ifname) = self.interfaces.get(&path) {
                config.binding.interface = ifname.clone();
            }
            match self.probers.get(&path) {
                Some(handle) => {
                    handle.reconfigure(config);
                }
                None => {
                    self.probers
                        .insert(path, Prober::spawn(config, self.probe_tx.clone()));
                }
            }
        }
        self.probers.retain(|p, _| self.cfg.has_path(*p));
    }

    pub(super) fn start_accounting(&mut self) {
        let mut settings = AccountingSettings::new(Limits::from_config(&self.cfg));
        settings.probe_counters = self
            .probers
            .iter()
            .map(|(p, h)| (*p, h.counters_handle()))
            .collect();
        settings.state_path = self.cfg.budget.state_file.clone();
        let acct = accounting::spawn(settings, self.budget_tx.clone());
        // The nftables owner reads the counters before every replace from now on.
        let old = std::mem::replace(
            &mut self.nft,
            nft::owner::spawn(Some(acct.reader()), self.nft_tx.clone()),
        );
        drop(old);
        self.accounting = Some(acct);
        self.ctl.nft_changed();
    }

    pub(super) async fn start_metrics(&mut self) {
        if let Some(old) = self.metrics.take() {
            old.abort();
        }
        let Some(listen) = self.cfg.metrics.listen else {
            return;
        };
        let acct = self.accounting.as_ref().map(|a| a.status.clone());
        match metrics::spawn(listen, self.publisher.subscribe(), acct).await {
            Ok((addr, task)) => {
                info!(%addr, "metrics listening");
                self.metrics = Some(task);
            }
            Err(err) => error!(error = %err, "failed to serve metrics"),
        }
    }

    /// The probed Wi-Fi path and the tunnel over it, when their link is down. (Cellular is
    /// left to its interval: there a probe costs money, and a bearer comes back seldom.)
    pub(super) fn links_down(&self) -> Vec<PathId> {
        let engine = self.ctl.engine();
        self.probers
            .keys()
            .copied()
            .filter(|p| matches!(p, PathId::Wifi | PathId::Arc))
            .filter(|&p| engine.link_down(p).is_some())
            .collect()
    }

    /// Paths of `down` whose link is back are probed at once, not at their next interval:
    /// after a quick reassociation the first passing round is what ends the outage.
    pub(super) fn probe_returned(&self, down: &[PathId]) {
        let engine = self.ctl.engine();
        for path in down {
            if engine.link_down(*path).is_none()
                && let Some(prober) = self.probers.get(path)
            {
                debug!(path = %path, "link back: probing at once");
                prober.resume();
            }
        }
    }
}
