//! `bootstrap authkey`: auth, reuse or create the virtual SIM, optionally rotate to a key made
//! here, create the Arc session, save atomically.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::api::SoracomApi;
use super::coverage::choose_coverage;
use super::pending::{self, Pending};
use super::{AuthKey, Coverage, Error, Secret};
use crate::credentials::{self, Credentials, PrivateKey, PublicKey};

/// What to do in one authkey run.
#[derive(Debug, Clone)]
pub struct AuthKeyFlow {
    /// The credentials file: read for an existing simId and key, replaced at the end.
    pub output: PathBuf,
    /// Make a new key pair here and send only its public half.
    pub rotate: bool,
    /// Whether a virtual SIM may be created when none is known (the daemon's re-bootstrap
    /// never allows it).
    pub allow_create: bool,
    /// The coverage `api` serves; a SIM recorded under the other one stops the run before
    /// any call.
    pub coverage: Coverage,
}

/// What a run did. Holds no secret (the private key inside `credentials` never prints).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub output: PathBuf,
    pub credentials: Credentials,
    pub created_sim: bool,
    pub rotated: bool,
    pub replaced_existing: bool,
}

/// What the credentials file says before the run.
pub(crate) struct Existing {
    pub credentials: Option<Credentials>,
    pub sim_id: Option<String>,
    pub coverage: Option<Coverage>,
}

/// Reads the current file. A file that exists but cannot be used is still searched for its
/// simId; if even that is impossible the run stops rather than risk a second SIM.
pub(crate) fn read_existing(path: &Path) -> Result<Option<Existing>, Error> {
    match credentials::load(path) {
        Ok(c) => Ok(Some(Existing {
            sim_id: c.sim_id.clone(),
            coverage: c.coverage,
            credentials: Some(c),
        })),
        Err(credentials::Error::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(err) => {
            let text = std::fs::read_to_string(path).ok().map(Secret::new);
            let value: Option<Value> = text.and_then(|t| serde_json::from_str(t.expose()).ok());
            let coverage = value
                .as_ref()
                .and_then(|v| v.get("coverage"))
                .and_then(Value::as_str)
                .and_then(Coverage::parse);
            match value
                .as_ref()
                .and_then(|v| v.get("simId"))
                .and_then(Value::as_str)
            {
                Some(sim_id) => {
                    tracing::warn!(path = %path.display(), error = %err, %sim_id, "existing credentials are unusable; keeping their simId");
                    Ok(Some(Existing {
                        credentials: None,
                        sim_id: Some(sim_id.to_owned()),
                        coverage,
                    }))
                }
                None if value.is_some() => Ok(Some(Existing {
                    credentials: None,
                    sim_id: None,
                    coverage,
                })),
                None => Err(Error::ExistingUnreadable {
                    path: path.into(),
                    source: err,
                }),
            }
        }
    }
}

/// Credentials from an answer in SORACOM's field names plus what the answer lacks; hints the
/// user set in the old file (extra AllowedIPs, MTU, keepalive) are kept.
pub(crate) fn assemble(
    mut map: Map<String, Value>,
    sim_id: Option<&str>,
    private_key: Option<&PrivateKey>,
    old: Option<&Credentials>,
) -> Result<Credentials, Error> {
    if let Some(sim_id) = sim_id {
        map.insert("simId".into(), sim_id.into());
    }
    if let Some(key) = private_key {
        map.insert("arcClientPeerPrivateKey".into(), key.expose_base64().into());
    }
    // Which key the server holds was decided by the caller; ours is derived from the private key.
    map.remove("arcClientPeerPublicKey");
    let text = Secret::new(Value::Object(map).to_string());
    let mut creds = Credentials::from_json_str(text.expose()).map_err(Error::Credentials)?;
    if let Some(old) = old {
        if creds.additional_allowed_ips.is_empty() {
            creds.additional_allowed_ips = old.additional_allowed_ips.clone();
        }
        creds.mtu = creds.mtu.or(old.mtu);
        creds.persistent_keepalive = creds.persistent_keepalive.or(old.persistent_keepalive);
    }
    Ok(creds)
}

/// Runs the authkey flow against `api`.
pub async fn run_authkey(
    api: &SoracomApi,
    key: &AuthKey,
    flow: &AuthKeyFlow,
) -> Result<Outcome, Error> {
    let output = flow.output.as_path();
    let existing = read_existing(output)?;
    let pending = pending::load(output)?;
    let records = [
        (
            existing.as_ref().and_then(|e| e.coverage),
            output.display().to_string(),
        ),
        (
            pending.as_ref().and_then(|p| p.coverage),
            pending::pending_path(output).display().to_string(),
        ),
    ];
    let asked = (flow.coverage, "this run's coverage".to_owned());
    choose_coverage(Some(asked), &records, None)?;
    let token = api.auth(key).await?;
    tracing::info!("authenticated with the SORACOM API");

    let known_sim = existing.as_ref().and_then(|e| e.sim_id.clone());
    // Private keys the server may hold the public half of, most recent first.
    let mut candidates: Vec<PrivateKey> = Vec::new();
    let mut created_sim = false;
    let sim_id = match (known_sim, pending) {
        (Some(sim), pending) => {
            if let Some(p) = pending.filter(|p| p.sim_id == sim) {
                candidates.push(p.private_key);
            }
            tracing::info!(sim_id = %sim, "reusing the SIM of the existing credentials");
            sim
        }
        (None, Some(p)) => {
            tracing::info!(sim_id = %p.sim_id, "reusing the SIM created by an earlier, unfinished run");
            candidates.push(p.private_key);
            p.sim_id
        }
        (None, None) if flow.allow_create => {
            let sim = api.create_virtual_sim(&token).await?;
            created_sim = true;
            tracing::info!(sim_id = %sim.sim_id, "created a virtual SIM");
            let record = Pending {
                sim_id: sim.sim_id.clone(),
                private_key: sim.private_key,
                coverage: Some(flow.coverage),
            };
            pending::save(output, &record)?;
            candidates.push(record.private_key);
            record.sim_id
        }
        (None, None) => return Err(Error::WouldCreateSim),
    };
    let old = existing.as_ref().and_then(|e| e.credentials.as_ref());
    if let Some(c) = old {
        candidates.push(c.private_key.clone());
    }

    if flow.rotate {
        let fresh = PrivateKey::generate().map_err(Error::KeyGeneration)?;
        let record = Pending {
            sim_id: sim_id.clone(),
            private_key: fresh,
            coverage: Some(flow.coverage),
        };
        // Recorded before it is sent: if the answer is lost, the next run still has the key.
        pending::save(output, &record)?;
        api.put_arc_public_key(&token, &sim_id, &record.private_key.public_key())
            .await?;
        tracing::info!(sim_id = %sim_id, public_key = %record.private_key.public_key(), "rotated the Arc key; the private key stayed on this device");
        candidates = vec![record.private_key];
    }

    let session = api.create_arc_session(&token, &sim_id).await?;
    let server_has = match session.get("arcClientPeerPublicKey") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(decode_public)
                .ok_or_else(|| Error::Answer {
                    call: format!("create the Arc session of SIM {sim_id}"),
                    problem: "giving an arcClientPeerPublicKey that is not 32 bytes of base64"
                        .into(),
                })?,
        ),
    };
    let chosen = match server_has {
        Some(public) => candidates.into_iter().find(|k| k.public_key() == public),
        None => candidates.into_iter().next(),
    }
    .ok_or_else(|| Error::KeyMismatch {
        sim_id: sim_id.clone(),
    })?;
    let mut credentials = assemble(session, Some(&sim_id), Some(&chosen), old)?;
    credentials.coverage = Some(flow.coverage);
    let replaced_existing = output.exists();
    credentials::save_atomic(output, &credentials).map_err(Error::Save)?;
    pending::remove(output);
    tracing::info!(path = %output.display(), sim_id = %sim_id, "saved the Arc credentials");
    Ok(Outcome {
        output: output.into(),
        credentials,
        created_sim,
        rotated: flow.rotate,
        replaced_existing,
    })
}

fn decode_public(text: &str) -> Option<PublicKey> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .ok()?;
    Some(PublicKey(bytes.try_into().ok()?))
}
