//! The configuration as written: every key of the file, unknown keys refused, values that
//! semantic checks need to point at kept with their source location. Defaults are applied
//! later, when the checked configuration is built.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor, value::MapAccessDeserializer};
use serde_saphyr::Spanned;

use super::kinds::{
    Backend, HoldAction, LogFormat, LogLevel, Nl80211Mode, OnStop, Period, Protocol,
};
use super::types::{BootstrapMethod, Coverage};
use super::values::{ByteSize, Cidr, Db, Dbm, Dur, Mark, Mask, PortRange};
use crate::model::Policy;

/// A value with the place it was written.
pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub version: S<u32>,
    pub arc: Option<S<RawArc>>,
    pub uplinks: Option<S<RawUplinks>>,
    pub health: Option<S<RawHealthAll>>,
    pub classes: Option<S<Vec<S<RawClass>>>>,
    pub budget: Option<S<RawBudget>>,
    pub status: Option<S<RawStatus>>,
    pub metrics: Option<S<RawMetrics>>,
    pub logging: Option<S<RawLogging>>,
    pub routing: Option<S<RawRouting>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArc {
    pub credentials: Option<S<PathBuf>>,
    pub interface: Option<S<String>>,
    pub mtu: Option<S<u32>>,
    pub keepalive: Option<S<Dur>>,
    pub listen_port: Option<S<u32>>,
    pub extra_allowed_ips: Option<Vec<S<Cidr>>>,
    pub backend: Option<Backend>,
    pub userspace_command: Option<S<Vec<String>>>,
    pub endpoint: Option<S<String>>,
    pub handshake_timeout: Option<S<Dur>>,
    pub on_stop: Option<OnStop>,
    pub bootstrap: Option<S<BootstrapMethod>>,
    pub rebootstrap_on_auth_failure: Option<S<bool>>,
    pub coverage: Option<S<Coverage>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUplinks {
    pub wifi: Option<S<RawWifi>>,
    pub cellular: Option<S<RawCellular>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWifi {
    pub interface: S<String>,
    pub nl80211: Option<S<Nl80211Mode>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCellular {
    pub interface: Option<S<String>>,
    pub modem: Option<S<RawModem>>,
    pub manage: Option<bool>,
    pub apn: Option<S<String>>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub pin_file: Option<S<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModem {
    pub equipment_id: Option<S<String>>,
    pub iccid: Option<S<String>>,
    pub imsi: Option<S<String>>,
    pub device: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealthAll {
    pub arc: Option<S<RawHealth>>,
    pub wifi: Option<S<RawHealth>>,
    pub cellular: Option<S<RawHealth>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    pub probes: Option<S<Vec<S<RawProbe>>>>,
    pub interval: Option<S<Dur>>,
    pub timeout: Option<S<Dur>>,
    pub quorum: Option<S<u32>>,
    pub down_after: Option<S<Dur>>,
    pub up_after: Option<S<Dur>>,
    pub handshake_max_age: Option<S<Dur>>,
    pub reassoc_up_after: Option<S<Dur>>,
    pub signal: Option<S<RawSignal>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSignal {
    pub below: S<Dbm>,
    pub hysteresis: Option<S<Db>>,
    #[serde(rename = "for")]
    pub hold: Option<S<Dur>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawProbe {
    Icmp(IpAddr),
    Tcp(S<SocketAddr>),
    Http(S<String>),
    Dns(RawDnsProbe),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnsProbe {
    pub server: IpAddr,
    pub name: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClass {
    pub name: S<String>,
    #[serde(rename = "match")]
    pub matcher: Option<S<RawMatch>>,
    pub paths: S<Vec<S<RawClassPath>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawMatch {
    pub destinations: Vec<S<Cidr>>,
    pub protocols: Vec<S<Protocol>>,
    pub ports: Vec<S<PortRange>>,
    pub dscp: Vec<S<u32>>,
    pub sources: Vec<S<Cidr>>,
    pub interfaces: Vec<S<String>>,
    pub uids: Vec<S<u32>>,
    pub cgroups: Vec<S<String>>,
    pub fwmarks: Vec<S<Mark>>,
}

/// One entry of a class's `paths`: a bare path name (policy allow) or a mapping.
#[derive(Debug)]
pub enum RawClassPath {
    Name(String),
    Full(Box<RawClassPathMap>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClassPathMap {
    pub path: S<String>,
    pub policy: Option<S<Policy>>,
    pub hold_action: Option<S<HoldAction>>,
    pub bytes: Option<S<ByteSize>>,
}

impl<'de> Deserialize<'de> for RawClassPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;

        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = RawClassPath;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a path name (arc, wifi, cellular) or a mapping {path, policy}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawClassPath, E> {
                Ok(RawClassPath::Name(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawClassPath, A::Error> {
                // Going through the map access keeps the parser's locations for the fields.
                RawClassPathMap::deserialize(MapAccessDeserializer::new(map))
                    .map(|m| RawClassPath::Full(Box::new(m)))
            }
        }

        d.deserialize_any(EntryVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub cellular: Option<S<RawPathBudget>>,
    pub state_file: Option<S<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPathBudget {
    pub bytes: S<ByteSize>,
    pub period: Option<Period>,
    pub reset_day: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStatus {
    pub socket: Option<S<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<S<SocketAddr>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    pub level: Option<LogLevel>,
    pub format: Option<LogFormat>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRouting {
    pub tables: Option<S<RawTables>>,
    pub rule_priority: Option<S<RawRulePriority>>,
    pub fwmark_mask: Option<S<Mask>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTables {
    pub arc: Option<S<u32>>,
    pub wifi: Option<S<u32>>,
    pub cellular: Option<S<u32>>,
    pub classes_start: Option<S<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRulePriority {
    pub start: Option<S<u32>>,
    pub end: Option<S<u32>>,
}
