//! Problems, the engine's log lines and the status snapshot.

use super::*;

impl Daemon {
    pub(super) fn log_engine_entries(&mut self) {
        for entry in self.ctl.take_log() {
            // A path lost is what an operator filtering for warnings wants to see.
            let lost = matches!(
                entry.change,
                engine::Change::Path {
                    to: Health::Down { .. },
                    ..
                }
            );
            if lost {
                warn!(seq = entry.seq, "{}", entry.summary());
            } else {
                info!(seq = entry.seq, "{}", entry.summary());
            }
        }
    }

    /// Records how setting up `object` went: a failure shows in status, metrics and the
    /// service manager's STATUS until a later attempt succeeds.
    pub(super) fn set_problem(&mut self, object: &'static str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                if self.problems.remove(object).is_some() {
                    info!(object, "set up again; the problem is gone");
                    self.ctl.publish();
                }
            }
            Err(error) => {
                let problem = self
                    .problems
                    .entry(object)
                    .or_insert_with(|| status::Problem {
                        object: object.to_owned(),
                        since: WallTime::now(),
                        error: String::new(),
                    });
                problem.error = error;
                self.ctl.publish();
            }
        }
    }

    pub(super) fn publish(&mut self) {
        let class_since: BTreeMap<String, Instant> = self
            .ctl
            .class_since()
            .iter()
            .map(|(c, t)| (c.clone(), self.origin + t.as_duration()))
            .collect();
        let snap = snapshot::build(&snapshot::Inputs {
            cfg: &self.cfg,
            config_path: &self.opts.config_path,
            loaded_at: self.loaded_at,
            reload_error: self.reload_error.clone(),
            started_at: self.started_at,
            origin: self.origin,
            engine: self.ctl.engine(),
            observed: &self.observed,
            interfaces: &self.interfaces,
            tunnel: self.tunnel_status.as_ref(),
            class_since: &class_since,
        });
        let snap = status::Snapshot {
            accounting: self.accounting.as_ref().map(|a| a.status.borrow().clone()),
            modem: self.modem.as_ref().map(ModemWatcher::status),
            problems: self.problems.values().cloned().collect(),
            ..snap
        };
        let mut snap = snap;
        let degraded = self
            .ctl
            .engine()
            .desired()
            .paths
            .get(&PathId::Wifi)
            .is_some_and(|p| p.degraded);
        for p in snap
            .paths
            .iter_mut()
            .filter(|p| p.name == PathId::Wifi.as_str())
        {
            p.wifi = self.wifi_seen.status(degraded);
        }
        let line = status::status_line(&snap);
        if line != self.status_line {
            if let Err(err) = self.notifier.status(&line) {
                debug!(error = %err, "failed to send STATUS to the service manager");
            }
            self.status_line = line;
        }
        self.publisher.send_replace(Arc::new(snap));
    }
}
