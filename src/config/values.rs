//! Scalar types of the configuration language: durations, byte sizes, CIDRs, marks, port
//! ranges and masks. Each parses from a YAML string (and from an integer where that reads
//! naturally), with a message that says what was expected.

use std::fmt;
use std::marker::PhantomData;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A duration written with one unit: `250ms`, `3s`, `1m`, `1h`, `1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(digits);
        let bad = || {
            format!(
                "invalid duration `{s}` (expected a number and a unit: ms, s, m, h, d, e.g. 3s)"
            )
        };
        if number.is_empty() {
            return Err(bad());
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => {
                return Err(format!(
                    "duration `{s}` needs a unit (ms, s, m, h, d), e.g. {s}s"
                ));
            }
            _ => return Err(bad()),
        };
        n.checked_mul(millis_per_unit)
            .map(|ms| Dur(Duration::from_millis(ms)))
            .ok_or_else(|| format!("duration `{s}` is too large"))
    }
}

/// A signal level in dBm: `-75dBm` or `-75`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dbm(pub i32);

impl FromStr for Dbm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let number = strip_unit(s, "dbm");
        number
            .parse()
            .map(Dbm)
            .map_err(|_| format!("invalid signal level `{s}` (expected dBm, e.g. -75dBm)"))
    }
}

/// A signal difference in dB: `5dB` or `5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Db(pub u32);

impl FromStr for Db {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        strip_unit(s, "db").parse().map(Db).map_err(|_| {
            format!("invalid signal difference `{s}` (expected a positive number of dB, e.g. 5dB)")
        })
    }
}

/// `s` without a trailing unit (compared case-insensitively) and surrounding spaces.
fn strip_unit<'a>(s: &'a str, unit: &str) -> &'a str {
    let s = s.trim();
    let cut = s.len().saturating_sub(unit.len());
    match s.get(cut..) {
        Some(tail) if tail.eq_ignore_ascii_case(unit) => s[..cut].trim_end(),
        _ => s,
    }
}

/// A byte count: a plain integer, or a number with a unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (number, unit) = s.split_at(digits);
        let bad = || {
            format!(
                "invalid byte size `{s}` (expected e.g. 500MB, 1GiB or a plain number of bytes)"
            )
        };
        let n: u64 = number.parse().map_err(|_| bad())?;
        let factor: u64 = match unit.trim_start() {
            "" | "B" => 1,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "TB" => 1_000_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            _ => return Err(bad()),
        };
        n.checked_mul(factor)
            .map(ByteSize)
            .ok_or_else(|| format!("byte size `{s}` is too large"))
    }
}

/// An IP network. A bare address means the single host (/32 or /128). Host bits must be zero,
/// because `10.0.0.1/8` is more often a typo than a wish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr(pub IpNet);

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(addr) = s.parse::<IpAddr>() {
            return Ok(Cidr(IpNet::from(addr)));
        }
        let net: IpNet = s.parse().map_err(|_| {
            format!("invalid CIDR `{s}` (expected e.g. 192.0.2.0/24 or 2001:db8::/32)")
        })?;
        if net.trunc() != net {
            return Err(format!(
                "CIDR `{s}` has host bits set (did you mean {}?)",
                net.trunc()
            ));
        }
        Ok(Cidr(net))
    }
}

/// A firewall mark with an optional mask: `0x1/0xff`, `0x10`, `42`. Without a mask all 32
/// bits are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark {
    pub value: u32,
    pub mask: u32,
}

impl FromStr for Mark {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid mark `{s}` (expected VALUE or VALUE/MASK, e.g. 0x1/0xff)");
        let (value, mask) = match s.split_once('/') {
            Some((v, m)) => (parse_u32(v).ok_or_else(bad)?, parse_u32(m).ok_or_else(bad)?),
            None => (parse_u32(s).ok_or_else(bad)?, u32::MAX),
        };
        Ok(Mark { value, mask })
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}/{:#x}", self.value, self.mask)
    }
}

/// A 32-bit mask, decimal or `0x` hexadecimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mask(pub u32);

impl FromStr for Mask {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_u32(s).map(Mask).ok_or_else(|| {
            format!("invalid mask `{s}` (expected a 32-bit number, e.g. 0x00ff0000)")
        })
    }
}

/// A port or an inclusive port range: `443`, `"8000-9000"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid port range `{s}` (expected a port 1-65535 or FIRST-LAST, e.g. 8000-9000)"
            )
        };
        let port = |p: &str| p.trim().parse::<u16>().ok().filter(|&p| p != 0);
        let (start, end) = match s.split_once('-') {
            Some((a, b)) => (port(a).ok_or_else(bad)?, port(b).ok_or_else(bad)?),
            None => {
                let p = port(s).ok_or_else(bad)?;
                (p, p)
            }
        };
        if start > end {
            return Err(format!(
                "port range `{s}` is reversed (did you mean {end}-{start}?)"
            ));
        }
        Ok(PortRange { start, end })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// Parses `0x`-hexadecimal or decimal into a u32.
pub fn parse_u32(s: &str) -> Option<u32> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => u32::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None => s.parse().ok(),
    }
}

/// Accepts a string scalar, or an integer scalar (handed to `FromStr` in decimal), so that
/// `mask: 0x00ff0000` and `bytes: 1000000` work unquoted.
struct ScalarVisitor<T>(&'static str, PhantomData<T>);

impl<T: FromStr<Err = String>> Visitor<'_> for ScalarVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}

macro_rules! scalar_deserialize {
    ($($ty:ty => $what:literal),* $(,)?) => {$(
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(ScalarVisitor::<$ty>($what, PhantomData))
            }
        }
    )*};
}

scalar_deserialize! {
    Dur => "a duration like 250ms, 3s, 1m, 1h or 1d",
    Dbm => "a signal level like -75dBm",
    Db => "a signal difference like 5dB",
    ByteSize => "a byte size like 500MB or 1GiB",
    Cidr => "a CIDR like 192.0.2.0/24",
    Mark => "a mark like 0x1/0xff",
    Mask => "a 32-bit mask like 0x00ff0000",
    PortRange => "a port or a port range like 8000-9000",
}
