//! The Arc session as the loop sees it: credentials, the tunnel's lifecycle through the
//! Arc owner, bootstrap and re-bootstrap.

use super::*;

/// The Arc credentials, when Arc is configured. A missing file that `arc.bootstrap` will
/// fetch is not an error; any other failure is, with the file's name and the field at fault.
pub(super) fn load_credentials(cfg: &Config) -> Result<Option<Credentials>, String> {
    let Some(arc) = &cfg.arc else {
        return Ok(None);
    };
    match credentials::load(&arc.credentials) {
        Ok(creds) => Ok(Some(creds)),
        Err(credentials::Error::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && arc.bootstrap.is_some() =>
        {
            Ok(None)
        }
        Err(err) => {
            let message = error_chain(&err);
            error!(error = %message, "Arc is off until the credentials file is fixed (then SIGHUP); Wi-Fi and cellular keep working");
            Err(message)
        }
    }
}

pub(super) fn rebootstrap_on(cfg: &Config) -> bool {
    cfg.arc
        .as_ref()
        .is_some_and(|a| a.rebootstrap_on_auth_failure)
}

impl Daemon {
    pub(super) fn on_arc(&mut self, report: ArcReport) {
        match report {
            ArcReport::Started => {
                self.tunnel = TunnelState::Running;
                self.renewed = None;
                self.ctl.tunnel_started(self.now());
                self.ctl.routing_changed();
                self.ctl.nft_changed();
                self.set_problem(TUNNEL, Ok(()));
                self.ask_tunnel_status();
                self.finish_reload(Ok(()));
            }
            ArcReport::Failed { error, retry_in } => {
                error!(error = %error, retry_in = ?retry_in, "failed to bring up the Arc tunnel");
                self.tunnel = TunnelState::Starting;
                self.ctl.tunnel_starting();
                self.finish_reload(Err(format!(
                    "the new configuration is in force, but the Arc tunnel did not start (retried in {retry_in:?}): {error}"
                )));
                self.set_problem(TUNNEL, Err(error));
            }
            ArcReport::Removed => {
                self.tunnel = TunnelState::Off;
                self.tunnel_status = None;
                self.ctl.tunnel_stopped();
                self.ctl.routing_changed();
            }
            ArcReport::Renewed { at, wall } => {
                self.renewed = Some((at, wall));
                self.ctl.renewed(self.time_of(at));
                // The next packet makes the new handshake: a probe now rather than at the
                // next interval.
                if let Some(prober) = self.probers.get(&PathId::Arc) {
                    prober.resume();
                }
            }
            ArcReport::Status(status) => {
                self.tunnel_status = status.map(|s| *s);
                self.ctl.publish();
            }
        }
    }

    pub(super) fn follow_wifi_ipv6(&mut self) {
        let prefer = self
            .interfaces
            .get(&PathId::Wifi)
            .and_then(|name| self.observed.links.get(name))
            .is_some_and(|l| {
                l.default_route(Family::V6).is_some() && l.global(Family::V6).next().is_some()
            });
        if prefer != self.prefer_ipv6 {
            self.prefer_ipv6 = prefer;
            self.arc.set(ArcCommand::PreferIpv6(prefer));
        }
    }

    pub(super) fn new_credentials(&mut self, creds: Credentials) {
        info!(address = %creds.ip_address, "Arc credentials ready");
        self.set_problem(CREDENTIALS, Ok(()));
        self.creds = Some(creds.clone());
        self.ctl.new_credentials();
        if self.tunnel == TunnelState::Off {
            self.start_tunnel(false);
        } else {
            self.arc.set(ArcCommand::Update(Box::new(creds)));
        }
    }

    /// Asks the Arc owner for a tunnel (`replace`: remove a running one first).
    pub(super) fn start_tunnel(&mut self, replace: bool) -> bool {
        let (Some(settings), Some(creds)) = (setup::wg_settings(&self.cfg), self.creds.clone())
        else {
            return false;
        };
        if self.tunnel != TunnelState::Off && !replace {
            return false;
        }
        let mut spec = TunnelSpec::new(settings, creds);
        spec.prefer_ipv6 = self.prefer_ipv6;
        self.tunnel = TunnelState::Starting;
        self.ctl.tunnel_starting();
        self.arc.set(ArcCommand::Start {
            spec: Box::new(spec),
            replace,
        });
        true
    }

    pub(super) fn hook_options(&self) -> bootstrap::HookOptions {
        bootstrap::HookOptions {
            cellular_interface: self.interfaces.get(&PathId::Cellular).cloned(),
            ..bootstrap::HookOptions::default()
        }
    }

    /// First start without credentials: fetch them (Krypton waits for the cellular path)
    /// without holding up the rest of the daemon; retried with a pause when it fails.
    pub(super) fn spawn_bootstrap(&self) {
        let cfg = self.cfg.clone();
        let opts = self.hook_options();
        let tx = self.creds_tx.clone();
        tokio::spawn(async move {
            loop {
                match bootstrap::bootstrap_if_missing(&cfg, &opts).await {
                    Ok(creds) => {
                        let _ = tx.send(creds).await;
                        return;
                    }
                    // A SIM is only ever created when no simId is known, so trying again
                    // cannot buy a second one.
                    Err(err) => error!(
                        error = format!("{err:#}"),
                        "failed to bootstrap Arc credentials; trying again in 60s"
                    ),
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
    }

    /// The controller saw no handshake for too long while Wi-Fi works: ask the policy for
    /// new credentials (it backs off, and never creates a SIM).
    pub(super) fn spawn_rebootstrap(&self) {
        let Ok(mut guard) = self.rebootstrap.clone().try_lock_owned() else {
            return;
        };
        let cfg = self.cfg.clone();
        let opts = self.hook_options();
        let tx = self.creds_tx.clone();
        tokio::spawn(async move {
            if let Some(Ok(creds)) = guard.on_auth_failure(&cfg, &opts, Instant::now()).await {
                let _ = tx.send(creds).await;
            }
        });
    }

    pub(super) fn ask_tunnel_status(&mut self) {
        self.tunnel_status_asked = Some(Instant::now());
        if self.tunnel == TunnelState::Running {
            self.arc.set(ArcCommand::Status);
        }
    }
}
