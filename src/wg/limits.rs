//! Pure timing logic for the userspace child: restart backoff and a log-line rate limiter.

use std::time::{Duration, Instant};

/// Exponential restart delay: `initial`, doubling, capped at `max`; back to `initial` after the
/// child has run for `stable` (a crash loop slows down, a rare crash restarts fast).
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    stable: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, stable: Duration) -> Self {
        Backoff {
            initial,
            max,
            stable,
            next: initial,
        }
    }

    /// Delay before the next start, given how long the child that just exited ran.
    pub fn after_exit(&mut self, ran_for: Duration) -> Duration {
        if ran_for >= self.stable {
            self.next = self.initial;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(
            Duration::from_millis(500),
            Duration::from_secs(30),
            Duration::from_secs(10),
        )
    }
}

/// Token bucket for log lines: `burst` lines at once, then `per_sec` lines a second. Lines over
/// the limit are counted, and the count is reported with the next line let through.
#[derive(Debug, Clone)]
pub struct LineLimiter {
    burst: f64,
    per_sec: f64,
    tokens: f64,
    last: Option<Instant>,
    suppressed: u64,
}

/// What to do with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `suppressed` lines were dropped since the last one logged.
    Log {
        suppressed: u64,
    },
    Drop,
}

impl LineLimiter {
    pub fn new(burst: u32, per_sec: f64) -> Self {
        LineLimiter {
            burst: f64::from(burst),
            per_sec,
            tokens: f64::from(burst),
            last: None,
            suppressed: 0,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        if let Some(last) = self.last {
            let refill = now.saturating_duration_since(last).as_secs_f64() * self.per_sec;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Verdict::Log {
                suppressed: std::mem::take(&mut self.suppressed),
            }
        } else {
            self.suppressed += 1;
            Verdict::Drop
        }
    }
}

impl Default for LineLimiter {
    fn default() -> Self {
        LineLimiter::new(20, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let quick = Duration::from_millis(10);
        let delays: Vec<_> = (0..9).map(|_| b.after_exit(quick).as_millis()).collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(b.after_exit(Duration::from_secs(60)).as_millis(), 500);
    }

    #[test]
    fn limiter_allows_a_burst_then_a_trickle_and_counts_drops() {
        let mut l = LineLimiter::new(3, 1.0);
        let t0 = Instant::now();
        let verdicts: Vec<_> = (0..10).map(|_| l.check(t0)).collect();
        assert_eq!(verdicts.iter().filter(|v| **v != Verdict::Drop).count(), 3);
        assert_eq!(
            l.check(t0 + Duration::from_millis(1500)),
            Verdict::Log { suppressed: 7 }
        );
        assert_eq!(l.check(t0 + Duration::from_millis(1600)), Verdict::Drop);
    }

    #[test]
    fn a_flood_over_a_minute_stays_bounded() {
        let mut l = LineLimiter::default();
        let t0 = Instant::now();
        let logged = (0..60_000u64)
            .filter(|i| l.check(t0 + Duration::from_millis(*i)) != Verdict::Drop)
            .count();
        assert!(logged <= 20 + 61, "{logged}");
    }
}
