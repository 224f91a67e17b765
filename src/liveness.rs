//! An owner's sign of life: the owner marks its heartbeat every turn of its loop, and wakes at
//! least every [`BEAT_EVERY`] to do so, so an owner stuck in an await (a netlink socket that
//! never answers, a child that hangs) stops beating and the daemon notices.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often an idle owner wakes to beat: a third of the shortest deadline (10 s), because
/// every wake of every owner is CPU an idle gateway spends.
pub const BEAT_EVERY: Duration = Duration::from_secs(3);

/// Shared by an owner (which beats) and the daemon (which reads when it last did).
#[derive(Debug, Clone)]
pub struct Heartbeat(Arc<Mutex<Instant>>);

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat(Arc::new(Mutex::new(Instant::now())))
    }
}

impl Heartbeat {
    pub fn new() -> Heartbeat {
        Heartbeat::default()
    }

    pub fn beat(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    }

    pub fn last(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Resolves after [`BEAT_EVERY`]: the arm of an owner's `select!` that wakes it to beat.
pub async fn pause() {
    tokio::time::sleep(BEAT_EVERY).await;
}
