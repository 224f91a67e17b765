//! The SORACOM API calls bootstrap needs: auth, create a virtual SIM, create the Arc session,
//! set the Arc public key, read a SIM.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::json::{check_status, object, string};
use super::{AuthKey, Error, Secret};
use crate::credentials::{PrivateKey, PublicKey};
use crate::https::{Client, Method, Request, Retry, Url};

const SERVICE: &str = "SORACOM API";
/// A token only needs to outlive one bootstrap.
const TOKEN_TIMEOUT_SECONDS: u32 = 3600;

/// Which SORACOM coverage the account lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Coverage {
    #[default]
    Jp,
    Global,
}

impl Coverage {
    pub fn endpoint(self) -> &'static str {
        match self {
            Coverage::Jp => "https://api.soracom.io",
            Coverage::Global => "https://g.api.soracom.io",
        }
    }
}

/// The API key and token from `POST /v1/auth`; both secret.
#[derive(Debug, Clone)]
pub struct ApiToken {
    api_key: Secret,
    token: Secret,
}

/// A virtual SIM just created, with the key pair the server generated for it.
#[derive(Debug)]
pub struct NewSim {
    pub sim_id: String,
    pub private_key: PrivateKey,
}

/// The SORACOM API at one endpoint.
#[derive(Debug, Clone)]
pub struct SoracomApi {
    client: Client,
    base: Url,
}

/// SIM ids go into URL paths: letters, digits, `-` and `_` only.
pub(crate) fn check_sim_id(call: &str, sim_id: &str) -> Result<(), Error> {
    let ok = !sim_id.is_empty()
        && sim_id.len() <= 64
        && sim_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::Answer {
            call: call.to_owned(),
            problem: "giving a simId with unexpected characters".into(),
        })
    }
}

impl SoracomApi {
    /// `base` is the endpoint without `/v1` (a trailing `/v1` is accepted and dropped).
    pub fn new(client: Client, base: &str) -> Result<SoracomApi, Error> {
        let trimmed = base.trim_end_matches('/');
        let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
        let base = Url::parse(trimmed).map_err(Error::Client)?;
        Ok(SoracomApi { client, base })
    }

    async fn call(
        &self,
        call: &str,
        method: Method,
        path: &str,
        token: Option<&ApiToken>,
        body: Value,
        retry: Retry,
    ) -> Result<Map<String, Value>, Error> {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(t) = token {
            headers.push(("X-Soracom-API-Key", t.api_key.expose()));
            headers.push(("X-Soracom-Token", t.token.expose()));
        }
        let request = Request {
            method,
            url: self.base.with_path(path),
            headers,
            body: if method == Method::Get {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            },
            retry,
        };
        let response = self
            .client
            .send(&request)
            .await
            .map_err(|source| Error::Request {
                call: call.to_owned(),
                source,
            })?;
        check_status(call, SERVICE, &response)?;
        if response.status == 204 || (method == Method::Put && response.body.is_empty()) {
            return Ok(Map::new());
        }
        object(call, &response.body)
    }

    /// `POST /v1/auth`.
    pub async fn auth(&self, key: &AuthKey) -> Result<ApiToken, Error> {
        let call = "authenticate with the AuthKey";
        let body = json!({
            "authKeyId": key.id.expose(),
            "authKey": key.secret.expose(),
            "tokenTimeoutSeconds": TOKEN_TIMEOUT_SECONDS,
        });
        let map = self
            .call(
                call,
                Method::Post,
                "/v1/auth",
                None,
                body,
                Retry::Idempotent,
            )
            .await?;
        Ok(ApiToken {
            api_key: Secret::new(string(call, &map, "apiKey")?),
            token: Secret::new(string(call, &map, "token")?),
        })
    }

    /// `POST /v1/sims` for a virtual Arc SIM. Billable: never retried once it may have been
    /// sent, so a lost answer cannot turn into a second SIM.
    pub async fn create_virtual_sim(&self, token: &ApiToken) -> Result<NewSim, Error> {
        let call = "create a virtual SIM";
        let body = json!({"type": "virtual", "subscription": "planArc01"});
        let map = self
            .call(
                call,
                Method::Post,
                "/v1/sims",
                Some(token),
                body,
                Retry::BeforeSendOnly,
            )
            .await?;
        let sim_id = string(call, &map, "simId")?.to_owned();
        check_sim_id(call, &sim_id)?;
        let private = map
            .get("profiles")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|p| p.values())
            .find_map(|p| p.get("arcClientPeerPrivateKey").and_then(Value::as_str))
            .ok_or_else(|| Error::Answer {
                call: call.to_owned(),
                problem: format!(
                    "missing profiles.*.arcClientPeerPrivateKey (SIM {sim_id} exists now)"
                ),
            })?;
        let private_key = decode_private(private).ok_or_else(|| Error::Answer {
            call: call.to_owned(),
            problem: format!("giving a private key that is not 32 bytes of base64 (SIM {sim_id})"),
        })?;
        Ok(NewSim {
            sim_id,
            private_key,
        })
    }

    /// `POST /v1/sims/{simId}/sessions/arc`: the session fields in SORACOM's names.
    pub async fn create_arc_session(
        &self,
        token: &ApiToken,
        sim_id: &str,
    ) -> Result<Map<String, Value>, Error> {
        let call = format!("create the Arc session of SIM {sim_id}");
        check_sim_id(&call, sim_id)?;
        let path = format!("/v1/sims/{sim_id}/sessions/arc");
        self.call(
            &call,
            Method::Post,
            &path,
            Some(token),
            json!({}),
            Retry::Idempotent,
        )
        .await
    }

    /// `PUT /v1/sims/{simId}/credentials/arc` with our public key: the private key stays here.
    pub async fn put_arc_public_key(
        &self,
        token: &ApiToken,
        sim_id: &str,
        public: &PublicKey,
    ) -> Result<(), Error> {
        let call = format!("set the Arc public key of SIM {sim_id}");
        check_sim_id(&call, sim_id)?;
        let path = format!("/v1/sims/{sim_id}/credentials/arc");
        let body = json!({"arcClientPeerPublicKey": public.to_base64()});
        self.call(
            &call,
            Method::Put,
            &path,
            Some(token),
            body,
            Retry::Idempotent,
        )
        .await
        .map(|_| ())
    }

    /// `GET /v1/sims/{simId}`.
    pub async fn get_sim(
        &self,
        token: &ApiToken,
        sim_id: &str,
    ) -> Result<Map<String, Value>, Error> {
        let call = format!("read SIM {sim_id}");
        check_sim_id(&call, sim_id)?;
        let path = format!("/v1/sims/{sim_id}");
        self.call(
            &call,
            Method::Get,
            &path,
            Some(token),
            Value::Null,
            Retry::Idempotent,
        )
        .await
    }
}

pub(crate) fn decode_private(text: &str) -> Option<PrivateKey> {
    let bytes: [u8; 32] = STANDARD.decode(text.trim()).ok()?.try_into().ok()?;
    Some(PrivateKey::from_bytes(bytes))
}
