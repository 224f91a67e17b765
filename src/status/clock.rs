//! Wall-clock timestamps for the snapshot, written and read as RFC 3339 (UTC).
//!
//! The engine works on monotonic instants; people and scripts want wall time. `Clock` pins one
//! pair of readings taken together so every instant of a snapshot converts consistently.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in wall time with millisecond resolution, serialized as `2025-01-02T03:04:05.123Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WallTime {
    unix_ms: i64,
}

impl WallTime {
    pub const fn from_unix_ms(unix_ms: i64) -> Self {
        WallTime { unix_ms }
    }

    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    pub fn from_system(t: SystemTime) -> Self {
        let unix_ms = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        };
        WallTime { unix_ms }
    }

    pub const fn unix_ms(self) -> i64 {
        self.unix_ms
    }

    /// How long after `earlier` this is; zero when the clock went backwards.
    pub fn since(self, earlier: WallTime) -> Duration {
        let ms = self.unix_ms.saturating_sub(earlier.unix_ms).max(0);
        Duration::from_millis(ms.unsigned_abs())
    }

    pub fn saturating_sub(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        WallTime::from_unix_ms(self.unix_ms.saturating_sub(ms))
    }

    /// `YYYY-MM-DD`, `HH:MM:SS` and milliseconds, in UTC.
    fn parts(self) -> ((i64, u32, u32), (u32, u32, u32), u32) {
        let days = self.unix_ms.div_euclid(86_400_000);
        let ms_of_day = self.unix_ms.rem_euclid(86_400_000) as u32;
        let secs = ms_of_day / 1000;
        let date = civil_from_days(days);
        (
            date,
            (secs / 3600, secs / 60 % 60, secs % 60),
            ms_of_day % 1000,
        )
    }

    /// `2025-01-02T03:04:05.123Z`: the serialized form.
    pub fn rfc3339(self) -> String {
        let ((y, mo, d), (h, mi, s), ms) = self.parts();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }

    /// `2025-01-02 03:04:05Z`, for people.
    pub fn human(self) -> String {
        let ((y, mo, d), (h, mi, s), _) = self.parts();
        format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}Z")
    }

    /// `03:04:05Z` on the same UTC day as `reference`, the full `human` form otherwise.
    pub fn human_near(self, reference: WallTime) -> String {
        let (date, (h, mi, s), _) = self.parts();
        if date == reference.parts().0 {
            format!("{h:02}:{mi:02}:{s:02}Z")
        } else {
            self.human()
        }
    }

    /// Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, `t`/space as separator.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
            return None;
        }
        if !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = s.get(r)?;
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut rest = &s[19..];
        let mut ms = 0i64;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            // Only milliseconds are kept; finer digits are truncated.
            for (i, c) in frac.bytes().take(digits.min(3)).enumerate() {
                ms += i64::from(c - b'0') * [100, 10, 1][i];
            }
            rest = &frac[digits..];
        }
        let offset_min = match rest {
            "Z" | "z" => 0,
            _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
                let sign = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let oh: i64 = rest[1..3].parse().ok()?;
                let om: i64 = rest[4..6].parse().ok()?;
                sign * (oh * 60 + om)
            }
            _ => return None,
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
        Some(WallTime::from_unix_ms(secs * 1000 + ms))
    }
}

impl fmt::Display for WallTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

impl Serialize for WallTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for WallTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        WallTime::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid RFC 3339 time `{s}`")))
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), using 400-year eras.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of `civil_from_days`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One monotonic and one wall reading taken together, to express engine instants in wall time.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: WallTime,
    mono: Instant,
}

impl Clock {
    pub fn now() -> Self {
        Clock {
            wall: WallTime::now(),
            mono: Instant::now(),
        }
    }

    /// A clock from given readings (tests, or a daemon that already read both).
    pub fn at(wall: WallTime, mono: Instant) -> Self {
        Clock { wall, mono }
    }

    pub fn wall_now(&self) -> WallTime {
        self.wall
    }

    /// The wall time of a past `instant`; instants after the readings map to the reading.
    pub fn wall(&self, instant: Instant) -> WallTime {
        self.wall
            .saturating_sub(self.mono.saturating_duration_since(instant))
    }

    /// When something began and how long ago, as shown in status.
    pub fn since(&self, instant: Instant) -> super::Since {
        let age = self.mono.saturating_duration_since(instant);
        super::Since {
            at: self.wall.saturating_sub(age),
            for_ms: millis(age),
        }
    }
}

/// Whole milliseconds of `d`, saturating.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
