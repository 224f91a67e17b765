//! Import of every `arc.json` soratun (the existing SORACOM Arc client) writes, and export of
//! arcway's credentials as soratun's file or a wg-quick configuration.
//!
//! soratun writes three layouts: `bootstrap authkey` (a simId and an API `profile`), and
//! `bootstrap cellular` / `bootstrap sim` (Krypton: `"simId": ""` and no profile). Its Go
//! decoder matches keys in any letter case and takes a null `arcAllowedIPs`; so does this one.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::file::{read_json, save_atomic, validate_map};
use super::validate::{Names, PLATFORM_NET};
use super::{Credentials, Endpoint, Error, PublicKey};
use crate::config::Coverage;

/// soratun keeps the session under `arcSessionStatus`, the key pair at the top level.
const SORATUN: Names = Names {
    sim_id: "simId",
    private_key: "privateKey",
    public_key: "publicKey",
    ip_address: "arcSessionStatus.arcClientPeerIpAddress",
    server_public_key: "arcSessionStatus.arcServerPeerPublicKey",
    server_endpoint: "arcSessionStatus.arcServerEndpoint",
    allowed_ips: "arcSessionStatus.arcAllowedIPs",
    additional_allowed_ips: "additionalAllowedIPs",
    mtu: "mtu",
    persistent_keepalive: "persistentKeepalive",
    coverage: None,
    allowed_ips_optional: true,
};

/// The keys of soratun's Config, its ArcSession and its Profile, as its Go structs spell them.
const TOP_KEYS: &[&str] = &[
    "privateKey",
    "publicKey",
    "simId",
    "logLevel",
    "enableMetrics",
    "interface",
    "additionalAllowedIPs",
    "mtu",
    "persistentKeepalive",
    "postUp",
    "postDown",
    "profile",
    "arcSessionStatus",
];
const SESSION_KEYS: &[&str] = &[
    "arcServerPeerPublicKey",
    "arcServerEndpoint",
    "arcAllowedIPs",
    "arcClientPeerPrivateKey",
    "arcClientPeerIpAddress",
];
const PROFILE_KEYS: &[&str] = &["authKey", "authKeyId", "endpoint"];

/// The object with each known key under its canonical spelling, as Go's `encoding/json`
/// matches them: an exact match first, else any key equal but for ASCII letter case. Unknown
/// keys are dropped, as Go ignores them.
fn canonical(map: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for name in known {
        let found = map.get(*name).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        });
        if let Some(v) = found {
            out.insert((*name).to_owned(), v.clone());
        }
    }
    out
}

/// The coverage of a SORACOM API endpoint (soratun's `profile.endpoint`).
pub fn coverage_of_endpoint(endpoint: &str) -> Option<Coverage> {
    let host = endpoint.trim().trim_end_matches('/');
    let host = host.strip_suffix("/v1").unwrap_or(host);
    match host.strip_prefix("https://").unwrap_or(host) {
        "api.soracom.io" => Some(Coverage::Jp),
        "g.api.soracom.io" => Some(Coverage::Global),
        _ => None,
    }
}

/// soratun's file read the way soratun reads it, with notes on what arcway leaves behind.
fn normalise(root: &Map<String, Value>) -> (Map<String, Value>, Option<Coverage>, Vec<String>) {
    let mut top = canonical(root, TOP_KEYS);
    let mut notes = Vec::new();
    let mut session = None;
    if let Some(Value::Object(s)) = top.get("arcSessionStatus") {
        let s = canonical(s, SESSION_KEYS);
        // Krypton's answer carries the private key in the session; soratun copies it up.
        if top.get("privateKey").is_none_or(Value::is_null)
            && let Some(private) = s.get("arcClientPeerPrivateKey")
        {
            top.insert("privateKey".into(), private.clone());
        }
        let nets = s.get("arcAllowedIPs");
        if nets.is_none_or(|v| v.is_null() || v.as_array().is_some_and(Vec::is_empty)) {
            notes.push(format!(
                "arcSessionStatus.arcAllowedIPs is empty: {PLATFORM_NET} (the platform) is routed into the tunnel"
            ));
        }
        session = Some(Value::Object(s));
    }
    if let Some(s) = session {
        top.insert("arcSessionStatus".into(), s);
    }
    // `bootstrap cellular` and `bootstrap sim` write "" (no SIM id known to the device).
    if top
        .get("simId")
        .and_then(Value::as_str)
        .is_some_and(|s| s.trim().is_empty())
    {
        top.remove("simId");
        notes.push(
            "simId is empty (a Krypton layout): renew with `arcway bootstrap krypton`; \
             `bootstrap authkey` would create a new virtual SIM"
                .to_owned(),
        );
    }
    for hook in ["postUp", "postDown"] {
        if top
            .get(hook)
            .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        {
            notes.push(format!(
                "{hook} is ignored: arcway runs no commands from the credentials file"
            ));
        }
    }
    let mut coverage = None;
    if let Some(Value::Object(p)) = top.get("profile") {
        let p = canonical(p, PROFILE_KEYS);
        let endpoint = p.get("endpoint").and_then(Value::as_str).unwrap_or("");
        coverage = if endpoint.is_empty() {
            // soratun's own default.
            Some(Coverage::Jp)
        } else {
            coverage_of_endpoint(endpoint)
        };
        if coverage.is_none() {
            notes.push(format!(
                "profile.endpoint {endpoint} is no SORACOM coverage's API: coverage not recorded"
            ));
        }
        if p.get("authKey").is_some() {
            notes.push(
                "profile.authKey is not copied: keep it with `arcway bootstrap authkey \
                 --auth-key-file FILE --save-auth-key`"
                    .to_owned(),
            );
        }
    }
    (top, coverage, notes)
}

/// Reads and validates soratun's `arc.json` in any of its layouts. Its AuthKey (`profile`),
/// hooks and log settings are not carried over: arcway never stores an AuthKey secret next to
/// the tunnel keys. The coverage comes from `profile.endpoint`.
pub fn import_soratun(path: impl AsRef<Path>) -> Result<Credentials, Error> {
    import_with_notes(path.as_ref()).map(|(c, _)| c)
}

fn import_with_notes(path: &Path) -> Result<(Credentials, Vec<String>), Error> {
    let root = read_json(path)?;
    let (map, coverage, notes) = normalise(&root);
    let mut credentials = validate_map(path, &map, &SORATUN)?;
    credentials.coverage = coverage;
    Ok((credentials, notes))
}

/// What an import wrote, for the CLI to print. Holds no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub output: PathBuf,
    pub replaced_existing: bool,
    pub sim_id: Option<String>,
    pub public_key: PublicKey,
    pub ip_address: Ipv4Addr,
    pub server_endpoint: Endpoint,
    pub allowed_ips: usize,
    pub coverage: Option<Coverage>,
    /// What of soratun's file arcway does not use, or reads differently.
    pub notes: Vec<String>,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.replaced_existing {
            "replaced"
        } else {
            "wrote"
        };
        writeln!(f, "{verb} {}", self.output.display())?;
        writeln!(
            f,
            "  simId:      {}",
            self.sim_id.as_deref().unwrap_or("(none)")
        )?;
        writeln!(f, "  public key: {}", self.public_key)?;
        writeln!(f, "  tunnel IP:  {}", self.ip_address)?;
        writeln!(f, "  endpoint:   {}", self.server_endpoint)?;
        let coverage = self.coverage.map_or("(unknown)", Coverage::as_str);
        writeln!(f, "  coverage:   {coverage}")?;
        write!(f, "  allowed:    {} prefixes", self.allowed_ips)?;
        for note in &self.notes {
            write!(f, "\nnote: {note}")?;
        }
        Ok(())
    }
}

/// `arcway bootstrap import <file>`: validates `file` completely before touching `output`, then
/// replaces `output` atomically, so a failed import leaves an existing file exactly as it was.
///
/// The error is an `anyhow` chain because this is the command's edge: printed with `{:#}` it
/// names the broken field, which the bare [`Error`] keeps in its source.
pub fn import_command(
    file: impl AsRef<Path>,
    output: impl AsRef<Path>,
) -> anyhow::Result<ImportSummary> {
    let output = output.as_ref();
    let (credentials, notes) = import_with_notes(file.as_ref())?;
    let replaced_existing = output.exists();
    save_atomic(output, &credentials)?;
    Ok(ImportSummary {
        output: output.to_path_buf(),
        replaced_existing,
        sim_id: credentials.sim_id.clone(),
        public_key: credentials.public_key,
        ip_address: credentials.ip_address,
        server_endpoint: credentials.server_endpoint.clone(),
        allowed_ips: credentials.allowed_ips.len() + credentials.additional_allowed_ips.len(),
        coverage: credentials.coverage,
        notes,
    })
}

/// The tunnel settings an export writes beside the credentials (from the configuration when
/// there is one, else the credentials' own hints, else arcway's defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSettings {
    pub mtu: u32,
    /// Seconds; 0 leaves keepalive off.
    pub keepalive: u16,
    pub extra_allowed_ips: Vec<ipnet::IpNet>,
    /// Overrides the credentials' endpoint (`arc.endpoint`).
    pub endpoint: Option<Endpoint>,
}

impl ExportSettings {
    /// Without a configuration: the credentials' hints, else MTU 1420 and keepalive 25 s.
    pub fn from_credentials(c: &Credentials) -> ExportSettings {
        ExportSettings {
            mtu: c.mtu.unwrap_or(1420),
            keepalive: c.persistent_keepalive.unwrap_or(25),
            extra_allowed_ips: Vec::new(),
            endpoint: None,
        }
    }
}

fn all_allowed(c: &Credentials, s: &ExportSettings) -> Vec<String> {
    let mut nets: Vec<ipnet::IpNet> = Vec::new();
    for n in c
        .allowed_ips
        .iter()
        .chain(&c.additional_allowed_ips)
        .chain(&s.extra_allowed_ips)
    {
        if !nets.contains(n) {
            nets.push(*n);
        }
    }
    nets.iter().map(ToString::to_string).collect()
}

/// A wg-quick configuration of the same session (holds the private key). Like soratun, it
/// adds no default route: wg-quick routes only the AllowedIPs.
pub fn to_wg_quick(c: &Credentials, s: &ExportSettings) -> String {
    let endpoint = s.endpoint.as_ref().unwrap_or(&c.server_endpoint);
    let mut text = String::new();
    if let Some(sim) = &c.sim_id {
        text.push_str(&format!("# SORACOM Arc, SIM {sim}\n"));
    }
    text.push_str(&format!(
        "[Interface]\nPrivateKey = {}\nAddress = {}/32\nMTU = {}\n\n[Peer]\nPublicKey = {}\n\
         Endpoint = {endpoint}\nAllowedIPs = {}\n",
        c.private_key.expose_base64(),
        c.ip_address,
        s.mtu,
        c.server_public_key,
        all_allowed(c, s).join(", "),
    ));
    if s.keepalive > 0 {
        text.push_str(&format!("PersistentKeepalive = {}\n", s.keepalive));
    }
    text
}

/// soratun's `arc.json` for the same session (holds the private key; no AuthKey profile,
/// only the coverage's endpoint when known).
pub fn to_soratun(c: &Credentials, s: &ExportSettings) -> String {
    let endpoint = s.endpoint.as_ref().unwrap_or(&c.server_endpoint);
    let session = serde_json::json!({
        "arcServerPeerPublicKey": c.server_public_key.to_base64(),
        "arcServerEndpoint": endpoint.to_string(),
        "arcAllowedIPs": c.allowed_ips.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "arcClientPeerIpAddress": c.ip_address.to_string(),
    });
    let mut extra: Vec<String> = Vec::new();
    for net in c.additional_allowed_ips.iter().chain(&s.extra_allowed_ips) {
        let text = net.to_string();
        if !extra.contains(&text) {
            extra.push(text);
        }
    }
    let mut map = Map::new();
    map.insert("privateKey".into(), c.private_key.expose_base64().into());
    map.insert("publicKey".into(), c.public_key.to_base64().into());
    map.insert("simId".into(), c.sim_id.clone().unwrap_or_default().into());
    map.insert("mtu".into(), s.mtu.into());
    map.insert("persistentKeepalive".into(), s.keepalive.into());
    if !extra.is_empty() {
        map.insert("additionalAllowedIPs".into(), extra.into());
    }
    if let Some(coverage) = c.coverage {
        let api = match coverage {
            Coverage::Jp => "https://api.soracom.io",
            Coverage::Global => "https://g.api.soracom.io",
        };
        map.insert("profile".into(), serde_json::json!({"endpoint": api}));
    }
    map.insert("arcSessionStatus".into(), session);
    let mut text = serde_json::to_string_pretty(&Value::Object(map)).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_in_any_case_exact_first() {
        let map: Map<String, Value> =
            serde_json::from_str(r#"{"SIMID": "a", "simId": "b", "PrivateKey": "k", "junk": 1}"#)
                .unwrap();
        let out = canonical(&map, TOP_KEYS);
        assert_eq!(out.get("simId"), Some(&Value::from("b")));
        assert_eq!(out.get("privateKey"), Some(&Value::from("k")));
        assert!(out.get("junk").is_none());
    }

    #[test]
    fn endpoints_name_their_coverage() {
        assert_eq!(
            coverage_of_endpoint("https://g.api.soracom.io"),
            Some(Coverage::Global)
        );
        assert_eq!(
            coverage_of_endpoint("https://api.soracom.io/v1/"),
            Some(Coverage::Jp)
        );
        assert_eq!(coverage_of_endpoint("https://example.com"), None);
    }
}
