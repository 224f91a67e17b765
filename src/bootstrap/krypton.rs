//! `bootstrap krypton`: SORACOM Krypton authenticates the device by its Air line, so the
//! request goes out on a socket bound to the cellular interface, its address and the cellular
//! path's mark. The answer carries a new private key; the public key is derived here.

use std::path::Path;

use serde_json::json;

use super::flow::{Outcome, assemble, read_existing};
use super::json::{check_status, object};
use super::{Coverage, Error, cellular_binding};
use crate::credentials;
use crate::https::{Client, ClientOptions, Method, Request, Retry, Url};

pub const DEFAULT_KRYPTON_ENDPOINT: &str = "https://krypton.soracom.io:8036";
pub const KRYPTON_PATH: &str = "/v1/provisioning/soracom/arc/bootstrap";

/// Asks Krypton for Arc credentials over the cellular path and saves them at `output`, with
/// `coverage` recorded when known. `client` must not carry a binding: it is made here from
/// the interface's current address.
pub async fn run_krypton(
    mut client: ClientOptions,
    endpoint: &str,
    interface: &str,
    mark: Option<u32>,
    output: &Path,
    coverage: Option<Coverage>,
) -> Result<Outcome, Error> {
    let call = "get Arc credentials from Krypton";
    let binding = cellular_binding(interface, mark)?;
    tracing::info!(
        %interface,
        source = ?binding.source_v4,
        mark = ?binding.mark.map(|m| format!("{m:#x}")),
        "asking Krypton over the cellular path"
    );
    client.binding = Some(binding);
    let client = Client::new(client).map_err(Error::Client)?;
    let url = Url::parse(endpoint.trim_end_matches('/'))
        .map_err(Error::Client)?
        .with_path(KRYPTON_PATH);
    // Krypton rejects nothing but non-Air sources; a retried call only yields a newer key.
    let request = Request {
        method: Method::Post,
        url,
        headers: vec![
            ("Content-Type", "application/json"),
            ("X-Soracom-Lang", "en"),
        ],
        body: json!({}).to_string().into_bytes(),
        retry: Retry::Idempotent,
    };
    let response = client
        .send(&request)
        .await
        .map_err(|source| Error::Request {
            call: call.to_owned(),
            source,
        })?;
    check_status(call, "Krypton", &response)?;
    let map = object(call, &response.body)?;
    // An old file that cannot be read is simply replaced: Krypton hands out the same virtual
    // SIM of this Air line on every call (its initial and monthly fees are charged once for
    // that SIM, not per call), only with a new key, so nothing in the old file is lost.
    let old = read_existing(output)
        .ok()
        .flatten()
        .and_then(|e| e.credentials);
    let mut credentials = assemble(map, None, None, old.as_ref())?;
    credentials.coverage = coverage.or(old.as_ref().and_then(|o| o.coverage));
    let replaced_existing = output.exists();
    credentials::save_atomic(output, &credentials).map_err(Error::Save)?;
    tracing::info!(path = %output.display(), public_key = %credentials.public_key, "saved the Arc credentials from Krypton");
    Ok(Outcome {
        output: output.into(),
        credentials,
        created_sim: false,
        rotated: false,
        replaced_existing,
    })
}
