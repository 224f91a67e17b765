//! Field-by-field validation of a JSON object into [`Credentials`]. Every error names the field
//! as the source file spells it, so users can fix the file without reading code.

use std::net::Ipv4Addr;

use ipnet::IpNet;
use serde_json::{Map, Value};

use super::keys::{PrivateKey, PublicKey, decode_key};
use super::{Credentials, Endpoint};
use crate::config::Coverage;

/// What the tunnel routes when a session names no AllowedIPs: the platform's own range
/// (pong, DNS, NTP, metadata), which every Arc session reaches.
pub(crate) const PLATFORM_NET: &str = "100.127.0.0/16";

/// One broken field: `arcClientPeerPrivateKey: not 32 bytes of base64`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

/// Where each field lives in a source file; arcway's file and soratun's differ.
pub(crate) struct Names {
    pub sim_id: &'static str,
    pub private_key: &'static str,
    pub public_key: &'static str,
    pub ip_address: &'static str,
    pub server_public_key: &'static str,
    pub server_endpoint: &'static str,
    pub allowed_ips: &'static str,
    pub additional_allowed_ips: &'static str,
    pub mtu: &'static str,
    pub persistent_keepalive: &'static str,
    /// Where the coverage is kept; soratun keeps none (its profile's endpoint says it).
    pub coverage: Option<&'static str>,
    /// Whether the allowed-IPs key may be left out (soratun's Go structs write null or
    /// nothing); null and an empty list are always read as "the platform only".
    pub allowed_ips_optional: bool,
}

pub(crate) const ARCWAY: Names = Names {
    sim_id: "simId",
    private_key: "arcClientPeerPrivateKey",
    public_key: "arcClientPeerPublicKey",
    ip_address: "arcClientPeerIpAddress",
    server_public_key: "arcServerPeerPublicKey",
    server_endpoint: "arcServerEndpoint",
    allowed_ips: "arcAllowedIPs",
    additional_allowed_ips: "additionalAllowedIPs",
    mtu: "mtu",
    persistent_keepalive: "persistentKeepalive",
    coverage: Some("coverage"),
    allowed_ips_optional: false,
};

fn err(field: &str, problem: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Looks up a possibly nested field ("arcSessionStatus.arcServerEndpoint"), null included.
fn raw<'a>(root: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    let mut parts = field.split('.');
    let mut value = root.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Like [`raw`], with null counted as absent.
fn get<'a>(root: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    raw(root, field).filter(|v| !v.is_null())
}

/// The session's AllowedIPs; none (null or `[]`) means the platform range only.
fn allowed_ips(root: &Map<String, Value>, names: &Names) -> Result<Vec<IpNet>, FieldError> {
    let field = names.allowed_ips;
    if raw(root, field).is_none() && !names.allowed_ips_optional {
        return Err(err(
            field,
            "missing (null or [] routes the platform range only)",
        ));
    }
    let mut nets = cidrs(root, field)?;
    if nets.is_empty() {
        nets.push(PLATFORM_NET.parse().expect("a valid CIDR"));
    }
    Ok(nets)
}

fn opt_str<'a>(root: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, FieldError> {
    match get(root, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(err(field, "not a string")),
    }
}

fn req_str<'a>(root: &'a Map<String, Value>, field: &str) -> Result<&'a str, FieldError> {
    opt_str(root, field)?.ok_or_else(|| err(field, "missing"))
}

fn key(field: &str, text: &str) -> Result<[u8; 32], FieldError> {
    decode_key(text).ok_or_else(|| err(field, "not 32 bytes of base64"))
}

fn cidrs(root: &Map<String, Value>, field: &str) -> Result<Vec<IpNet>, FieldError> {
    let items = match get(root, field) {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(err(field, "not a list of CIDRs")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let net = item
            .as_str()
            .and_then(|s| s.trim().parse::<IpNet>().ok())
            .ok_or_else(|| err(field, format!("item {i} is not a CIDR like 100.127.0.0/16")))?;
        // Host bits would make the kernel refuse the route; the tunnel only cares about the network.
        let net = net.trunc();
        if !out.contains(&net) {
            out.push(net);
        }
    }
    Ok(out)
}

fn opt_uint(
    root: &Map<String, Value>,
    field: &str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, FieldError> {
    match get(root, field) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(err(field, format!("not an integer in {min}-{max}"))),
        },
    }
}

/// Validates `root` read with the field names in `names`.
pub(crate) fn credentials(
    root: &Map<String, Value>,
    names: &Names,
) -> Result<Credentials, FieldError> {
    let sim_id = match opt_str(root, names.sim_id)? {
        Some(s) if s.trim().is_empty() => return Err(err(names.sim_id, "empty")),
        other => other.map(|s| s.trim().to_string()),
    };
    let private_key =
        PrivateKey::from_bytes(key(names.private_key, req_str(root, names.private_key)?)?);
    let derived = private_key.public_key();
    if let Some(text) = opt_str(root, names.public_key)? {
        let given = PublicKey(key(names.public_key, text)?);
        if given != derived {
            return Err(err(
                names.public_key,
                format!("does not match {}", names.private_key),
            ));
        }
    }
    let ip_address = req_str(root, names.ip_address)?
        .trim()
        .parse::<Ipv4Addr>()
        .map_err(|_| err(names.ip_address, "not an IPv4 address"))?;
    let server_public_key = PublicKey(key(
        names.server_public_key,
        req_str(root, names.server_public_key)?,
    )?);
    let server_endpoint = req_str(root, names.server_endpoint)?
        .parse::<Endpoint>()
        .map_err(|e| err(names.server_endpoint, e.to_string()))?;
    let coverage = match names.coverage {
        Some(field) => opt_str(root, field)?
            .map(|text| Coverage::parse(text).ok_or_else(|| err(field, "neither jp nor global")))
            .transpose()?,
        None => None,
    };
    Ok(Credentials {
        sim_id,
        private_key,
        public_key: derived,
        ip_address,
        server_public_key,
        server_endpoint,
        allowed_ips: allowed_ips(root, names)?,
        additional_allowed_ips: cidrs(root, names.additional_allowed_ips)?,
        mtu: opt_uint(root, names.mtu, 576, 65535)?.map(|n| n as u32),
        persistent_keepalive: opt_uint(root, names.persistent_keepalive, 0, 65535)?
            .map(|n| n as u16),
        coverage,
    })
}

/// The JSON object written to arcway's file (serde_json sorts the keys, so output is stable).
pub(crate) fn to_json(c: &Credentials) -> Value {
    let mut map = Map::new();
    if let Some(sim_id) = &c.sim_id {
        map.insert(ARCWAY.sim_id.into(), sim_id.clone().into());
    }
    map.insert(
        ARCWAY.private_key.into(),
        c.private_key.expose_base64().into(),
    );
    map.insert(ARCWAY.public_key.into(), c.public_key.to_base64().into());
    map.insert(ARCWAY.ip_address.into(), c.ip_address.to_string().into());
    map.insert(
        ARCWAY.server_public_key.into(),
        c.server_public_key.to_base64().into(),
    );
    map.insert(
        ARCWAY.server_endpoint.into(),
        c.server_endpoint.to_string().into(),
    );
    let list = |nets: &[IpNet]| Value::from(nets.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    map.insert(ARCWAY.allowed_ips.into(), list(&c.allowed_ips));
    if !c.additional_allowed_ips.is_empty() {
        map.insert(
            ARCWAY.additional_allowed_ips.into(),
            list(&c.additional_allowed_ips),
        );
    }
    if let Some(mtu) = c.mtu {
        map.insert(ARCWAY.mtu.into(), mtu.into());
    }
    if let Some(keepalive) = c.persistent_keepalive {
        map.insert(ARCWAY.persistent_keepalive.into(), keepalive.into());
    }
    if let (Some(coverage), Some(field)) = (c.coverage, ARCWAY.coverage) {
        map.insert(field.into(), coverage.as_str().into());
    }
    Value::Object(map)
}
