//! Drift detection: rule and route events are hints; after a quiet moment, `repair` re-reads
//! and re-applies. A periodic repair covers anything the events missed.

use std::time::Duration;

use futures_util::StreamExt;
use rtnetlink::MulticastGroup;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::warn;

use super::RoutingError;
use super::reconciler::Reconciler;

/// Starts a task that calls `reconciler.repair()` `debounce` after the last rule/route event
/// and at least every `period`. Events caused by arcway's own changes cost one no-op repair.
pub fn spawn_drift_watch(
    reconciler: Reconciler,
    debounce: Duration,
    period: Duration,
) -> Result<JoinHandle<()>, RoutingError> {
    let groups = [
        MulticastGroup::Ipv4Rule,
        MulticastGroup::Ipv6Rule,
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
    ];
    let (connection, _handle, mut events) =
        rtnetlink::new_multicast_connection(&groups).map_err(RoutingError::Connect)?;
    let connection = tokio::spawn(connection);
    Ok(tokio::spawn(async move {
        let mut next_periodic = Instant::now() + period;
        let mut pending: Option<Instant> = None;
        loop {
            let deadline = pending.map_or(next_periodic, |p| p.min(next_periodic));
            tokio::select! {
                event = events.next() => match event {
                    Some(_) => pending = pending.or(Some(Instant::now() + debounce)),
                    None => break,
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
            }
        }
        connection.abort();
    }))
}
