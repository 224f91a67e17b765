//! Monotonic time as the engine sees it: whatever the caller says `now` is.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

use serde::{Serialize, Serializer};

/// A monotonic instant: the time elapsed since the caller's chosen origin (usually the
/// moment the daemon started). The engine never reads a clock; every call carries a `Time`.
/// Serialized as seconds (a float), which is what status output wants to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(Duration);

impl Time {
    pub const ZERO: Time = Time(Duration::ZERO);

    pub const fn from_duration(since_origin: Duration) -> Self {
        Time(since_origin)
    }

    pub const fn from_millis(ms: u64) -> Self {
        Time(Duration::from_millis(ms))
    }

    pub const fn from_secs(s: u64) -> Self {
        Time(Duration::from_secs(s))
    }

    /// Time since the origin.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// How long ago `earlier` was, or zero if it is not earlier (callers may be sloppy).
    pub fn since(self, earlier: Time) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// `self - d`, clamped at the origin (a handshake older than the daemon is at the origin).
    pub fn saturating_sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(d))
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0.as_secs_f64()
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    /// Saturates instead of panicking: a deadline past the end of time simply never comes.
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(d))
    }
}

impl Sub<Time> for Time {
    type Output = Duration;

    fn sub(self, earlier: Time) -> Duration {
        self.since(earlier)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.0.as_secs_f64())
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.0.as_secs_f64())
    }
}

/// Formats a duration the way log evidence reads it: "1.2s", "250ms".
pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// `serialize_with` helpers so durations in status output read as seconds, like `Time`.
pub(crate) fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

pub(crate) fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Time::from_secs(2);
        assert_eq!(t - Time::from_secs(5), Duration::ZERO);
        assert_eq!(t.saturating_sub(Duration::from_secs(9)), Time::ZERO);
        assert_eq!(
            Time::from_duration(Duration::MAX) + Duration::from_secs(1),
            Time(Duration::MAX)
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1200)), "1.2s");
    }

    #[test]
    fn serializes_as_seconds() {
        assert_eq!(
            serde_json::to_string(&Time::from_millis(1500))
                .ok()
                .as_deref(),
            Some("1.5")
        );
    }
}
