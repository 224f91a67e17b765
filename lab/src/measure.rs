//! One measured step: inject a change, then time the first echo reply over the path traffic
//! is expected to move to, and count the echoes lost on the way.
//!
//! The criterion is per packet: a step ends with the first reply that arrived after the
//! injection and that the platform stamped with the expected path (see `pathtag`). A reply
//! still coming over the old path, or one the platform answered to another address, does
//! not count. Requests count as lost when no reply came within `REPLY_WAIT`; the window is
//! from 100 ms before the injection (requests in flight at the cut) to 100 ms after the
//! step ended.
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::inject::Injected;
use crate::pathtag::Via;
use crate::pingstream::{PingStream, REPLY_WAIT};

const BEFORE: Duration = Duration::from_millis(100);
const AFTER: Duration = Duration::from_millis(100);

/// What one step measured.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub injected: Injected,
    pub expect: Via,
    /// From the injection to the first reply via `expect`; `None` when it never came.
    pub elapsed: Option<Duration>,
    /// Requests in the window that were never answered.
    pub lost: usize,
    /// Requests in the window.
    pub sent: usize,
}

impl Step {
    pub fn ms(&self) -> Option<f64> {
        self.elapsed.map(|d| d.as_secs_f64() * 1000.0)
    }
}

/// Runs `inject`, then waits up to `timeout` for a reply via `expect`.
pub fn step(
    stream: &PingStream,
    expect: Via,
    timeout: Duration,
    inject: impl FnOnce() -> Result<Injected>,
) -> Result<Step> {
    let injected = inject()?;
    let first = stream.wait_reply(expect, injected.at, timeout);
    let end = first.unwrap_or_else(Instant::now) + AFTER;
    // Let the last requests of the window have their chance to be answered.
    let settle = end + REPLY_WAIT;
    let now = Instant::now();
    if settle > now {
        sleep(settle - now);
    }
    let window: Vec<_> = stream
        .since(injected.at.checked_sub(BEFORE).unwrap_or(injected.at))
        .into_iter()
        .take_while(|e| e.sent <= end)
        .collect();
    let lost = window
        .iter()
        .filter(|e| {
            e.reply
                .is_none_or(|r| r.at.duration_since(e.sent) > REPLY_WAIT)
        })
        .count();
    Ok(Step {
        injected,
        expect,
        elapsed: first.map(|t| t.duration_since(injected.at)),
        lost,
        sent: window.len(),
    })
}

/// Waits until replies come via `via` (the lab is in the expected state before a step).
pub fn settle_on(stream: &PingStream, via: Via, timeout: Duration) -> bool {
    stream.wait_reply(via, Instant::now(), timeout).is_some()
}
