//! Drift detection: rule and route events are hints; after a quiet moment, `repair` re-reads
//! and re-applies. A periodic repair covers anything the events missed.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::warn;

use super::RoutingError;
use super::reconciler::Reconciler;
use rtnetlink::MulticastGroup;

use crate::liveness::{self, Heartbeat};
use crate::netlink::Monitor;

/// Starts a task that calls `reconciler.repair()` `debounce` after the last rule/route event
/// and at least every `period`. Events caused by arcway's own changes cost one no-op repair.
/// `heartbeat` is marked every turn.
pub fn spawn_drift_watch(
    reconciler: Reconciler,
    debounce: Duration,
    period: Duration,
    heartbeat: Heartbeat,
) -> Result<JoinHandle<()>, RoutingError> {
    let groups = [
        MulticastGroup::Ipv4Rule,
        MulticastGroup::Ipv6Rule,
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
    ];
    let events = Monitor::new(&groups).map_err(RoutingError::Connect)?;
    Ok(tokio::spawn(async move {
        let mut next_periodic = Instant::now() + period;
        let mut pending: Option<Instant> = None;
        loop {
            heartbeat.beat();
            let deadline = pending.map_or(next_periodic, |p| p.min(next_periodic));
            tokio::select! {
                // Any event, a lost one (overrun) included, is a hint to re-read.
                event = events.next() => match event {
                    Ok(_) => pending = pending.or(Some(Instant::now() + debounce)),
                    Err(e) => {
                        warn!(error = %e, "routing event socket failed; drift watch stops");
                        break;
                    }
                },
                _ = sleep_until(deadline) => {
                    pending = None;
                    next_periodic = Instant::now() + period;
                    match reconciler.repair().await {
                        Ok(_) => {}
                        Err(RoutingError::Stopped) => break,
                        Err(e) => warn!(error = %e, "routing repair failed"),
                    }
                }
                () = liveness::pause() => {}
            }
        }
    }))
}
