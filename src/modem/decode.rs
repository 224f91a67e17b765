//! Reading D-Bus values without trusting them: every property is checked against the type
//! the introspection data promises, and a value of another type is reported, never unwrapped.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use zbus::{OwnedVariant, Variant};

use super::types::{Ip4Config, IpMethod};

/// Why a value could not be read; logged with the property's name and then ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {got}")]
pub struct DecodeError {
    pub expected: &'static str,
    pub got: String,
}

/// A property map as it comes from GetAll, GetManagedObjects or PropertiesChanged.
pub type PropMap = HashMap<String, OwnedVariant>;

fn err(expected: &'static str, v: &Variant<'_>) -> DecodeError {
    DecodeError {
        expected,
        got: v.value_signature().to_string(),
    }
}

/// A sender may wrap a value in a second variant; look through it.
fn inner<'a, 'b>(v: &'b Variant<'a>) -> &'b Variant<'a> {
    match v {
        Variant::Variant(boxed) => inner(boxed),
        other => other,
    }
}

pub fn u32_of(v: &Variant<'_>) -> Result<u32, DecodeError> {
    match inner(v) {
        Variant::U32(n) => Ok(*n),
        other => Err(err("u", other)),
    }
}

pub fn i32_of(v: &Variant<'_>) -> Result<i32, DecodeError> {
    match inner(v) {
        Variant::I32(n) => Ok(*n),
        other => Err(err("i", other)),
    }
}

pub fn u64_of(v: &Variant<'_>) -> Result<u64, DecodeError> {
    match inner(v) {
        Variant::U64(n) => Ok(*n),
        Variant::U32(n) => Ok(u64::from(*n)),
        other => Err(err("t", other)),
    }
}

pub fn bool_of(v: &Variant<'_>) -> Result<bool, DecodeError> {
    match inner(v) {
        Variant::Bool(b) => Ok(*b),
        other => Err(err("b", other)),
    }
}

pub fn string_of(v: &Variant<'_>) -> Result<String, DecodeError> {
    match inner(v) {
        Variant::Str(s) => Ok(s.to_string()),
        other => Err(err("s", other)),
    }
}

pub fn path_of(v: &Variant<'_>) -> Result<String, DecodeError> {
    match inner(v) {
        Variant::ObjectPath(p) => Ok(p.as_str().to_owned()),
        other => Err(err("o", other)),
    }
}

/// `ao`.
pub fn paths_of(v: &Variant<'_>) -> Result<Vec<String>, DecodeError> {
    match inner(v) {
        Variant::Array(a) => a.inner().iter().map(path_of).collect(),
        other => Err(err("ao", other)),
    }
}

/// `(ub)`: signal quality in percent and whether it is recent.
pub fn signal_of(v: &Variant<'_>) -> Result<(u32, bool), DecodeError> {
    match inner(v) {
        Variant::Structure(s) => match s.fields() {
            [q, recent] => Ok((u32_of(q)?, bool_of(recent)?)),
            _ => Err(err("(ub)", v)),
        },
        other => Err(err("(ub)", other)),
    }
}

/// `a{sv}` as a map from key to value.
pub fn dict_of<'a, 'b>(v: &'b Variant<'a>) -> Result<Vec<(String, &'b Variant<'a>)>, DecodeError> {
    match inner(v) {
        Variant::Dict(d) => d
            .iter()
            .map(|(k, val)| Ok((string_of(k)?, inner(val))))
            .collect(),
        other => Err(err("a{sv}", other)),
    }
}

/// `Ip4Config`. An empty map (what ModemManager shows while disconnected) is `None`.
/// Keys of the wrong type fail the whole config: half a static config is worse than none.
pub fn ip4_of(v: &Variant<'_>) -> Result<Option<Ip4Config>, DecodeError> {
    let entries = dict_of(v)?;
    if entries.is_empty() {
        return Ok(None);
    }
    let get = |k: &str| entries.iter().find(|(key, _)| key == k).map(|(_, v)| *v);
    let method = get("method").ok_or(DecodeError {
        expected: "a{sv} with \"method\"",
        got: "no method".to_owned(),
    })?;
    let addr = |k: &str| -> Result<Option<Ipv4Addr>, DecodeError> {
        match get(k) {
            None => Ok(None),
            Some(v) => {
                let s = string_of(v)?;
                if s.is_empty() {
                    return Ok(None);
                }
                s.parse().map(Some).map_err(|_| DecodeError {
                    expected: "an IPv4 address",
                    got: format!("{s:?}"),
                })
            }
        }
    };
    let prefix = match get("prefix") {
        None => None,
        Some(v) => match u32_of(v)? {
            p @ 0..=32 => Some(p as u8),
            p => {
                return Err(DecodeError {
                    expected: "a prefix length 0-32",
                    got: p.to_string(),
                });
            }
        },
    };
    Ok(Some(Ip4Config {
        method: IpMethod::from_raw(u32_of(method)?),
        address: addr("address")?,
        prefix,
        gateway: addr("gateway")?,
        dns: ["dns1", "dns2", "dns3"]
            .into_iter()
            .filter_map(|k| addr(k).ok().flatten())
            .collect(),
        mtu: get("mtu").map(u32_of).transpose()?,
    }))
}

/// Bearer `Stats` counters, each when present and well typed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub rx_bytes: Option<u64>,
    pub tx_bytes: Option<u64>,
    pub duration: Option<u64>,
}

pub fn stats_of(v: &Variant<'_>) -> Result<Stats, DecodeError> {
    let entries = dict_of(v)?;
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| u64_of(v).ok())
    };
    Ok(Stats {
        rx_bytes: get("rx-bytes"),
        tx_bytes: get("tx-bytes"),
        duration: get("duration"),
    })
}
