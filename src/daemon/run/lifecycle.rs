//! Start-up (owners spawned, status served, the service manager told) and shutdown.

use super::*;

pub(super) fn interfaces(cfg: &Config) -> BTreeMap<PathId, String> {
    PathId::ALL
        .into_iter()
        .filter_map(|p| Some((p, setup::interface(cfg, p)?)))
        .collect()
}

impl Daemon {
    pub(super) async fn start(
        opts: Options,
        cfg: Config,
    ) -> Result<(Daemon, Channels), StartError> {
        let failed = |e: anyhow::Error| StartError::Failed(e);
        let origin = Instant::now();
        // Bad credentials disable Arc, not the gateway: Wi-Fi and cellular need none.
        let (creds, creds_problem) = match load_credentials(&cfg) {
            Ok(creds) => (creds, None),
            Err(message) => (None, Some(message)),
        };
        let notifier = Notifier::from_env().unwrap_or_else(|err| {
            warn!(error = %err, "NOTIFY_SOCKET is unusable; not talking to the service manager");
            Notifier::disabled()
        });

        let (publisher, subscriber) = status::channel(status::Snapshot::default());
        let server = status::Server::bind(&cfg.status.socket, subscriber)
            .await
            .with_context(|| {
                format!(
                    "failed to open the status socket {}",
                    cfg.status.socket.display()
                )
            })
            .map_err(failed)?;
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let server = server.accept_reloads(reload_tx);
        let (server_stop, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(server.run(async move {
            let _ = stop_rx.await;
        }));

        let reconciler = Reconciler::spawn(cfg.routing_layout())
            .context("failed to start the routing reconciler")
            .map_err(failed)?;
        let (link_tx, link_rx) = mpsc::channel(256);
        let watched = setup::watched_interfaces(&cfg);
        let linkmon = LinkMonitor::start(LinkMonitorConfig::new(watched.clone()), link_tx)
            .await
            .context("failed to start the link monitor")
            .map_err(failed)?;

        let (wifi_tx, wifi_rx) = mpsc::channel(64);
        let (wifi, _) = wifi::reconcile(None, wifi::settings_for(&cfg), &wifi_tx);
        let (probe_tx, probe_rx) = mpsc::channel(64);
        let (wg_tx, wg_rx) = mpsc::channel(16);
        let (arc_tx, arc_rx) = mpsc::channel(16);
        let (nft_tx, nft_rx) = mpsc::unbounded_channel();
        let (budget_tx, budget_rx) = mpsc::unbounded_channel();
        let (creds_tx, creds_rx) = mpsc::channel(1);
        let rebootstrap = Arc::new(tokio::sync::Mutex::new(bootstrap::Rebootstrapper::new(
            bootstrap::RebootstrapPolicy::from_config(&cfg),
        )));
        // Routing waits for the link monitor's first report of each of these (see FIRST_LINKS).
        let ctl = Controller::new(cfg.engine_settings(), watched, rebootstrap_on(&cfg));
        let interfaces = interfaces(&cfg);
        let now_wall = WallTime::now();
        let arc = arc::spawn(wg_tx.clone(), arc_tx.clone());
        let mut daemon = Daemon {
            opts,
            cfg,
            origin,
            started_at: now_wall,
            loaded_at: now_wall,
            reload_error: None,
            pending_reload: None,
            problems: BTreeMap::new(),
            status_line: String::new(),
            ctl,
            observed: Observed::default(),
            interfaces,
            creds,
            arc,
            tunnel: TunnelState::Off,
            tunnel_deferred: true,
            tunnel_status: None,
            tunnel_status_asked: None,
            renewed: None,
            prefer_ipv6: false,
            probers: BTreeMap::new(),
            probe_tx,
            wg_tx,
            arc_tx,
            nft_tx: nft_tx.clone(),
            linkmon,
            wifi,
            wifi_tx,
            wifi_seen: wifi::WifiObserved::default(),
            links_swap: None,
            reconciler,
            drift_watch: None,
            drift_beat: crate::liveness::Heartbeat::new(),
            restarts: Default::default(),
            overdue: Default::default(),
            // Replaced once accounting runs (it reads the counters before every replace).
            nft: nft::owner::spawn(None, nft_tx),
            modem: None,
            modem_settings: None,
            modem_rx_swap: None,
            cellular_route: None,
            accounting: None,
            budget_tx,
            creds_tx,
            rebootstrap,
            publisher,
            metrics: None,
            server_stop: Some(server_stop),
            notifier,
            watchdog: Watchdog::from_env(),
            last_watchdog: Instant::now(),
        };
        daemon.start_drift_watch();
        if let Some(message) = creds_problem {
            daemon.set_problem(CREDENTIALS, Err(message));
        }
        let modem_rx = daemon.start_modem();
        // Probers first: accounting reports what their probes cost.
        daemon.start_probers();
        daemon.start_accounting();
        daemon.start_metrics().await;
        // A missing file that `arc.bootstrap` fetches; a broken one waits for a fix and SIGHUP.
        let fetch = daemon
            .cfg
            .arc
            .as_ref()
            .is_some_and(|a| a.bootstrap.is_some());
        if daemon.creds.is_none() && fetch && !daemon.problems.contains_key(CREDENTIALS) {
            daemon.spawn_bootstrap();
        }
        daemon.publish();
        info!(
            config = %daemon.opts.config_path.display(),
            paths = ?daemon.cfg.paths(),
            classes = daemon.cfg.classes.len(),
            "arcway started"
        );
        if let Err(err) = daemon.notifier.ready() {
            warn!(error = %err, "failed to tell the service manager we are ready");
        }
        let channels = Channels {
            links: Some(link_rx),
            wifi: wifi_rx,
            probes: probe_rx,
            wg: wg_rx,
            arc: arc_rx,
            nft: nft_rx,
            budgets: budget_rx,
            reloads: reload_rx,
            creds: creds_rx,
            modem: modem_rx,
        };
        Ok((daemon, channels))
    }

    pub(super) async fn shutdown(mut self) -> anyhow::Result<()> {
        info!("stopping");
        let _ = self.notifier.stopping();
        self.finish_reload(Err("arcway is stopping".into()));
        if let Some(w) = self.wifi.take() {
            w.stop();
        }
        self.probers.clear();
        let on_stop = self
            .cfg
            .arc
            .as_ref()
            .map_or(config::OnStop::Remove, |a| a.on_stop);
        let mut failures = Vec::new();
        if let Some(watcher) = self.modem.take() {
            watcher.stop().await;
        }
        // The table stays as it is until removed below: the owner's last load is the last.
        self.nft.stop().await;
        if let Some(acct) = self.accounting.take()
            && let Err(err) = acct.stop().await
        {
            failures.push(format!("accounting: {err}"));
        }
        if let Err(err) = self.arc.stop().await {
            failures.push(format!("tunnel: {err}"));
        }
        if on_stop == config::OnStop::Remove {
            if let Err(err) = self.reconciler.teardown().await {
                failures.push(format!("routing: {err}"));
            }
            if let Err(err) = nft::remove().await {
                failures.push(format!("nftables: {err}"));
            }
        }
        if let Some(stop) = self.server_stop.take() {
            let _ = stop.send(());
        }
        // Give the status server a moment to remove its socket.
        tokio::time::sleep(Duration::from_millis(20)).await;
        if failures.is_empty() {
            info!("stopped");
            Ok(())
        } else {
            anyhow::bail!("teardown was incomplete: {}", failures.join("; "))
        }
    }
}
