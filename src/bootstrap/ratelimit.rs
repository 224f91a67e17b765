//! HTTP 429: how long the server asks us to wait (`Retry-After`), and how long we are willing
//! to. Pure: the current time is passed in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How answers of 429 Too Many Requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Further attempts after a 429 (0: none).
    pub retries: u32,
    /// A longer Retry-After fails the call at once instead of blocking for it.
    pub max_wait: Duration,
    /// The wait when the answer names none (or an unreadable one).
    pub default_wait: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            retries: 3,
            max_wait: Duration::from_secs(60),
            default_wait: Duration::from_secs(5),
        }
    }
}

impl RateLimit {
    /// The wait before the next attempt, or `None` when the server's wait is longer than
    /// `max_wait` (so the caller reports the 429 instead).
    pub fn wait(&self, retry_after: Option<&str>, now: SystemTime) -> Option<Duration> {
        let wait = retry_after
            .and_then(|v| retry_after_wait(v, now))
            .unwrap_or(self.default_wait);
        (wait <= self.max_wait).then_some(wait)
    }
}

/// `Retry-After` as delay-seconds or an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); a
/// date in the past means no wait.
pub fn retry_after_wait(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = UNIX_EPOCH + Duration::from_secs(imf_fixdate(value)?);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Seconds since the epoch of an IMF-fixdate.
fn imf_fixdate(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once(", ")?;
    let mut parts = rest.split(' ');
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let year: i64 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    if parts.next()? != "GMT" || parts.next().is_some() {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as i64 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some() || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), counted from 1970-01-01.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days)
        .ok()
        .map(|d| d * 86_400 + h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_dates_are_read() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(retry_after_wait("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after_wait("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after_wait("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(imf_fixdate("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            imf_fixdate("Tue, 29 Feb 2028 12:00:00 GMT"),
            Some(1_835_438_400)
        );
        for bad in [
            "soon",
            "-3",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(retry_after_wait(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn waits_are_bounded() {
        let limit = RateLimit::default();
        let now = SystemTime::now();
        assert_eq!(limit.wait(Some("2"), now), Some(Duration::from_secs(2)));
        assert_eq!(limit.wait(None, now), Some(limit.default_wait));
        assert_eq!(limit.wait(Some("garbage"), now), Some(limit.default_wait));
        assert_eq!(limit.wait(Some("3600"), now), None);
    }
}
