//! The record of a SIM or key the server knows but the credentials file does not yet hold.
//!
//! Written (mode 0600, atomically) right after a virtual SIM is created and right before a
//! rotated public key is sent, removed once the credentials file is saved. A run that failed
//! in between finds it and reuses the SIM (and the key the server has) instead of creating a
//! second paid SIM or losing the only matching private key.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::api::decode_private;
use super::{Coverage, Error, Secret};
use crate::credentials::PrivateKey;

/// A SIM id and a private key the server may hold the public half of.
#[derive(Debug)]
pub(crate) struct Pending {
    pub sim_id: String,
    pub private_key: PrivateKey,
    /// The coverage the SIM was made in (absent in records of older versions).
    pub coverage: Option<Coverage>,
}

/// `<output>.new-sim` beside the credentials file.
pub fn pending_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".new-sim");
    output.with_file_name(name)
}

/// The pending record, if any. An unreadable record is an error: it may hold the only trace
/// of a paid SIM.
pub(crate) fn load(output: &Path) -> Result<Option<Pending>, Error> {
    let path = pending_path(output);
    let text = match fs::read_to_string(&path) {
        Ok(t) => Secret::new(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Pending { path, source }),
    };
    let value: Value = serde_json::from_str(text.expose()).unwrap_or(Value::Null);
    let sim_id = value.get("simId").and_then(Value::as_str);
    let key = value
        .get("arcClientPeerPrivateKey")
        .and_then(Value::as_str)
        .and_then(decode_private);
    let coverage = value
        .get("coverage")
        .and_then(Value::as_str)
        .and_then(Coverage::parse);
    match (sim_id, key) {
        (Some(sim_id), Some(private_key)) => Ok(Some(Pending {
            sim_id: sim_id.to_owned(),
            private_key,
            coverage,
        })),
        _ => Err(Error::Pending {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a record with simId and arcClientPeerPrivateKey",
            ),
        }),
    }
}

pub(crate) fn save(output: &Path, pending: &Pending) -> Result<(), Error> {
    let path = pending_path(output);
    let text = Secret::new(
        json!({
            "simId": pending.sim_id,
            "arcClientPeerPrivateKey": pending.private_key.expose_base64(),
            "coverage": pending.coverage.map(Coverage::as_str),
        })
        .to_string()
            + "\n",
    );
    super::secret_file::write_0600(&path, text.expose().as_bytes())
        .map_err(|source| Error::Pending { path, source })
}

pub(crate) fn remove(output: &Path) {
    let path = pending_path(output);
    if let Err(e) = fs::remove_file(&path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "failed to remove the pending SIM record");
    }
}
