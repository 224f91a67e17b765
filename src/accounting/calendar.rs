//! Calendar dates and budget periods, computed from the local date alone (pure).
//!
//! A period is `[start, end)` in local calendar days. Daily periods start every day;
//! monthly periods start on `reset_day` of each month. A reset day past the end of a
//! short month (the config allows 1..=28, this code takes any 1..=31) falls on that month's
//! last day, so no month is skipped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::Period;

/// A local calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

pub fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// A valid date, or None.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
            .then_some(Date { year, month, day })
    }

    pub fn next_day(self) -> Date {
        if self.day < days_in_month(self.year, self.month) {
            Date {
                day: self.day + 1,
                ..self
            }
        } else if self.month < 12 {
            Date {
                month: self.month + 1,
                day: 1,
                ..self
            }
        } else {
            Date {
                year: self.year + 1,
                month: 1,
                day: 1,
            }
        }
    }

    /// `(year, month)` moved by `delta` months.
    fn shift_month(year: i32, month: u8, delta: i32) -> (i32, u8) {
        let index = year * 12 + i32::from(month) - 1 + delta;
        (index.div_euclid(12), (index.rem_euclid(12) + 1) as u8)
    }

    /// The reset day of a month, moved to the month's last day when the month is shorter.
    fn reset_in(year: i32, month: u8, reset_day: u8) -> Date {
        let day = reset_day.clamp(1, days_in_month(year, month));
        Date { year, month, day }
    }
}

/// The period holding `today`: its first day and the first day after it.
pub fn period_bounds(period: Period, reset_day: u8, today: Date) -> (Date, Date) {
    match period {
        Period::Daily => (today, today.next_day()),
        Period::Monthly => {
            let this = Date::reset_in(today.year, today.month, reset_day);
            let start = if today >= this {
                this
            } else {
                let (y, m) = Date::shift_month(today.year, today.month, -1);
                Date::reset_in(y, m, reset_day)
            };
            let (y, m) = Date::shift_month(start.year, start.month, 1);
            (start, Date::reset_in(y, m, reset_day))
        }
    }
}

/// Today's date in the local time zone (TZ, /etc/localtime).
pub fn local_today() -> Date {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // The type comes from localtime_r's signature: naming libc::time_t is deprecated on musl,
    // whose time_t libc is about to widen.
    let t = now.try_into().unwrap_or(0);
    // SAFETY: localtime_r only writes into the zeroed tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if !ok {
        return Date {
            year: 1970,
            month: 1,
            day: 1,
        };
    }
    Date {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u8,
        day: tm.tm_mday as u8,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Date, String> {
        let bad = || format!("invalid date `{s}` (expected YYYY-MM-DD)");
        let mut parts = s.splitn(3, '-');
        let mut next = || parts.next().ok_or_else(bad);
        let (y, m, d) = (next()?, next()?, next()?);
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        let day = d.parse().map_err(|_| bad())?;
        Date::new(year, month, day).ok_or_else(bad)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
