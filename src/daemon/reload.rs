//! What a reload changes (pure): which owners are restarted or told new settings, and which
//! keys only take effect at the next start.

use crate::config::Config;
use crate::modem::WatcherSettings;

/// The running configuration against the new one, by key group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// `arc`: the tunnel is replaced (and the credentials file read again).
    pub tunnel: bool,
    /// `uplinks.cellular` (ModemManager settings): the modem watcher is restarted.
    pub modem: bool,
    /// `metrics.listen`: the listener is replaced.
    pub metrics: bool,
    /// `logging`: level and format are switched.
    pub logging: bool,
    /// `budget` limits: the accountant gets the new limits.
    pub budgets: bool,
    /// `health`, `classes`, `uplinks`: engine settings, probers, nftables and routing follow.
    pub paths: bool,
    /// Keys whose change needs a restart, by key path.
    pub needs_restart: Vec<&'static str>,
}

impl ReloadPlan {
    pub fn new(old: &Config, new: &Config) -> ReloadPlan {
        let mut needs_restart = Vec::new();
        if old.status.socket != new.status.socket {
            needs_restart.push("status.socket");
        }
        if old.budget.state_file != new.budget.state_file {
            needs_restart.push("budget.state_file");
        }
        // The reconciler owns its tables and rule priorities from the start; moving them
        // while it runs would leave the old ones behind.
        if old.routing != new.routing {
            needs_restart.push("routing");
        }
        ReloadPlan {
            tunnel: old.arc != new.arc,
            modem: watcher_settings(old) != watcher_settings(new),
            metrics: old.metrics != new.metrics,
            logging: old.logging != new.logging,
            budgets: crate::accounting::Limits::from_config(old)
                != crate::accounting::Limits::from_config(new),
            paths: old.health != new.health
                || old.classes != new.classes
                || old.uplinks != new.uplinks,
            needs_restart,
        }
    }
}

/// The modem watcher's settings, when ModemManager is the cellular path's source of truth.
pub fn watcher_settings(cfg: &Config) -> Option<WatcherSettings> {
    let cell = cfg.uplinks.cellular.as_ref()?;
    cell.modemmanager
        .then(|| WatcherSettings::from_config(cell))
}
