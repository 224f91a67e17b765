//! SIGHUP and `arcway reload`: the plan of what changes, applied by the owners.

use tracing::{error, info, warn};

use super::*;

/// A reload that waits for the tunnel's restart before it can say whether it worked.
pub(super) struct PendingReload {
    pub(super) answer: Option<status::ReloadAnswer>,
    pub(super) path: String,
}

/// What check-config would warn about, in the log.
pub(super) fn log_warnings(cfg: &Config) {
    for warning in &cfg.warnings {
        warn!(%warning, "configuration warning");
    }
}

pub(super) fn reconfigure_logging(settings: &config::LoggingConfig) {
    if let Err(err) = logging::reconfigure(settings.level.as_str(), log_style(settings)) {
        warn!(error = %err, "the log settings stay as they were");
    }
}

pub(super) fn log_style(settings: &config::LoggingConfig) -> logging::Style {
    match settings.format {
        config::LogFormat::Auto => logging::Style::Auto,
        config::LogFormat::Plain => logging::Style::Plain,
        config::LogFormat::Json => logging::Style::Json,
    }
}

impl Daemon {
    /// Reloads the configuration file. The answer (for `arcway reload`) waits for the tunnel
    /// when the reload restarts it: a reload whose tunnel did not start has failed.
    pub(super) async fn reload(&mut self, answer: Option<status::ReloadAnswer>) {
        let _ = self.notifier.reloading();
        let path = self.opts.config_path.display().to_string();
        // A reload still waiting for its tunnel is answered by this one.
        self.finish_reload(Err("superseded by a newer reload".into()));
        let outcome = match config::load(&self.opts.config_path) {
            Ok(cfg) => {
                // The new log settings apply to the reload's own lines; a refusal restores the old.
                let old = self.cfg.logging.clone();
                reconfigure_logging(&cfg.logging);
                log_warnings(&cfg);
                let applied = self.apply_config(cfg).await;
                if applied.is_err() {
                    reconfigure_logging(&old);
                }
                applied
            }
            Err(err) => Err(err.to_string()),
        };
        match outcome {
            Ok(true) => {
                info!(config = %path, "configuration loaded; waiting for the Arc tunnel");
                self.pending_reload = Some(PendingReload { answer, path });
            }
            Ok(false) => {
                self.pending_reload = Some(PendingReload { answer, path });
                self.finish_reload(Ok(()));
            }
            Err(message) => {
                error!(error = %message, "reload refused; the running configuration stays");
                self.pending_reload = Some(PendingReload { answer, path });
                self.finish_reload(Err(format!("the running configuration stays: {message}")));
            }
        }
        let _ = self.notifier.ready();
        self.ctl.publish();
    }

    /// Answers the pending reload, if any, and records the outcome for status.
    pub(super) fn finish_reload(&mut self, outcome: Result<(), String>) {
        let Some(pending) = self.pending_reload.take() else {
            return;
        };
        match &outcome {
            Ok(()) => {
                self.reload_error = None;
                self.loaded_at = WallTime::now();
                info!(config = %pending.path, "configuration reloaded");
            }
            Err(message) => {
                warn!(error = %message, "the reload did not take full effect");
                self.reload_error = Some(status::ReloadError {
                    at: WallTime::now(),
                    message: message.clone(),
                });
            }
        }
        if let Some(answer) = pending.answer {
            let _ = answer.send(outcome.map(|()| pending.path));
        }
        self.ctl.publish();
    }

    /// Puts a loaded configuration in force, or refuses it (bad Arc credentials) and keeps
    /// the running one. True when the outcome waits for a tunnel (re)start.
    pub(super) async fn apply_config(&mut self, cfg: Config) -> Result<bool, String> {
        let plan = ReloadPlan::new(&self.cfg, &cfg);
        // Without working credentials, every reload looks at the file again: SIGHUP after
        // fixing it brings Arc up.
        let retry_creds = self.creds.is_none() && cfg.arc.is_some();
        let (new_creds, creds_problem) = if plan.tunnel || retry_creds {
            match load_credentials(&cfg) {
                Ok(c) => (c, Ok(())),
                // A running tunnel is not given up for a broken file: refuse the reload.
                Err(message) if self.tunnel != TunnelState::Off => {
                    return Err(format!("bad Arc credentials: {message}"));
                }
                Err(message) => (None, Err(message)),
            }
        } else {
            (self.creds.clone(), Ok(()))
        };
        if plan.needs_restart.is_empty() {
            self.set_problem(CONFIG, Ok(()));
        } else {
            let keys = plan.needs_restart.join(", ");
            warn!(keys = %keys, "these keys take effect at the next start");
            self.set_problem(
                CONFIG,
                Err(format!(
                    "changed keys take effect at the next start: {keys}"
                )),
            );
        }
        let start_arc = !plan.tunnel && self.creds.is_none() && new_creds.is_some();
        self.set_problem(CREDENTIALS, creds_problem);
        // Keys that need a restart keep their running values, so that what runs and what
        // status shows agree.
        let mut cfg = cfg;
        cfg.status.socket = self.cfg.status.socket.clone();
        cfg.budget.state_file = self.cfg.budget.state_file.clone();
        cfg.routing = self.cfg.routing;
        self.cfg = cfg;
        let unwatched = self.sync_modem().await;
        // Only a watcher that still runs vouches for the bearer's interface.
        let bearer = self
            .modem
            .as_ref()
            .and_then(|_| self.interfaces.get(&PathId::Cellular).cloned());
        self.interfaces = interfaces(&self.cfg);
        // The bearer's interface as ModemManager named it outlives a reload.
        if let Some(bearer) = bearer.filter(|_| self.cfg.uplinks.cellular.is_some()) {
            self.interfaces.insert(PathId::Cellular, bearer);
        }
        self.linkmon.watch(setup::watched_interfaces(&self.cfg));
        let (handle, wifi_stopped) = wifi::reconcile(
            self.wifi.take(),
            wifi::settings_for(&self.cfg),
            &self.wifi_tx,
        );
        self.wifi = handle;
        if wifi_stopped {
            self.wifi_seen = wifi::WifiObserved::default();
        }
        let mut waits = false;
        if plan.tunnel {
            self.creds = new_creds;
            self.tunnel_status = None;
            if self.creds.is_none() || self.cfg.arc.is_none() {
                self.set_problem(TUNNEL, Ok(()));
                if self.tunnel != TunnelState::Off {
                    self.arc.set(ArcCommand::Remove);
                }
                self.tunnel = TunnelState::Off;
                self.ctl.tunnel_stopped();
            } else {
                waits = self.start_tunnel(true);
            }
        } else if start_arc {
            info!("Arc credentials loaded; bringing up the tunnel");
            self.creds = new_creds;
            waits = self.start_tunnel(false);
        }
        self.start_probers();
        if plan.budgets
            && let Some(acct) = &self.accounting
            && let Err(err) = acct.set_limits(Limits::from_config(&self.cfg)).await
        {
            warn!(error = %err, "failed to give the accountant the new budgets");
        }
        if plan.metrics {
            self.start_metrics().await;
        }
        self.ctl.reconfigure(
            self.cfg.engine_settings(),
            rebootstrap_on(&self.cfg),
            self.now(),
        );
        if wifi_stopped {
            // Without the monitor, nothing would ever end a loss it reported.
            let event = Event::WifiConnected { path: PathId::Wifi };
            self.ctl.event(event, self.now());
        }
        if unwatched {
            let event = Event::BearerUnwatched {
                path: PathId::Cellular,
            };
            self.ctl.event(event, self.now());
        }
        Ok(waits)
    }
}
