//! The SORACOM API calls bootstrap needs: auth, create a virtual SIM, create the Arc session,
//! set the Arc public key, read a SIM.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::json::{check_status, object, string};
use super::ratelimit::RateLimit;
use super::{AuthKey, Error, Secret};
pub use crate::config::Coverage;
use crate::credentials::{PrivateKey, PublicKey};
use crate::https::{Client, Method, Request, Response, Retry, Url};

const SERVICE: &str = "SORACOM API";
/// A token only needs to outlive one bootstrap (the API accepts at most 172800).
const TOKEN_TIMEOUT_SECONDS: u32 = 3600;

/// The API endpoint of each coverage (without `/v1`).
pub fn api_endpoint(coverage: Coverage) -> &'static str {
    match coverage {
        Coverage::Jp => "https://api.soracom.io",
        Coverage::Global => "https://g.api.soracom.io",
    }
}

/// One API call: what it is called in messages, what it sends, how it may be retried and
/// which permission a 403 means is missing.
struct Call<'a> {
    name: &'a str,
    method: Method,
    path: &'a str,
    token: Option<&'a ApiToken>,
    body: Value,
    retry: Retry,
    permission: Permission,
}

/// The SAM permission each call needs, named in the error when the API answers 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permission {
    None,
    CreateSim,
    CreateArcSession,
    RenewArcSimCredentials,
    GetSim,
}

impl Permission {
    fn name(self) -> Option<&'static str> {
        match self {
            Permission::None => None,
            Permission::CreateSim => Some("Sim:createSim"),
            Permission::CreateArcSession => Some("Sim:createArcSession"),
            Permission::RenewArcSimCredentials => Some("Sim:renewArcSimCredentials"),
            Permission::GetSim => Some("Sim:getSim"),
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
    rate_limit: RateLimit,
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
        Ok(SoracomApi {
            client,
            base,
            rate_limit: RateLimit::default(),
        })
    }

    /// How answers of 429 Too Many Requests are retried.
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> SoracomApi {
        self.rate_limit = rate_limit;
        self
    }

    /// Sends once, and again after each 429 for as long as the server asks (bounded). A 429
    /// means the request was refused unprocessed, so even the billable one may be resent.
    async fn send(&self, call: &str, request: &Request<'_>) -> Result<Response, Error> {
        let mut attempt = 0;
        loop {
            let response = self
                .client
                .send(request)
                .await
                .map_err(|source| Error::Request {
                    call: call.to_owned(),
                    source,
                })?;
            if response.status != 429 || attempt >= self.rate_limit.retries {
                return Ok(response);
            }
            let retry_after = response.retry_after.as_deref();
            let Some(wait) = self
                .rate_limit
                .wait(retry_after, std::time::SystemTime::now())
            else {
                tracing::warn!(call, retry_after, max_wait = ?self.rate_limit.max_wait, "rate limited for longer than arcway waits");
                return Ok(response);
            };
            attempt += 1;
            tracing::warn!(
                call,
                ?wait,
                attempt,
                "rate limited (HTTP 429); waiting as asked"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn call(&self, c: Call<'_>) -> Result<Map<String, Value>, Error> {
        let Call {
            name: call,
            method,
            path,
            token,
            body,
            retry,
            permission,
        } = c;
        // English errors whatever the account's default language, so messages and logs match
        // the documentation.
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("X-Soracom-Lang", "en"),
        ];
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
        let response = self.send(call, &request).await?;
        if response.status == 403
            && let Some(permission) = permission.name()
            && let Err(Error::Api { code, message, .. }) = check_status(call, SERVICE, &response)
        {
            return Err(Error::Forbidden {
                call: call.to_owned(),
                permission,
                code,
                message,
            });
        }
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
            .call(Call {
                name: call,
                method: Method::Post,
                path: "/v1/auth",
                token: None,
                body,
                retry: Retry::Idempotent,
                permission: Permission::None,
            })
            .await?;
        Ok(ApiToken {
            api_key: Secret::new(string(call, &map, "apiKey")?),
            token: Secret::new(string(call, &map, "token")?),
        })
    }

    /// `POST /v1/sims` for a virtual Arc SIM. Billable: never retried once it may have been
    /// sent, so a lost answer cannot turn into a second SIM; only a 429, which the API
    /// answers without creating anything, is sent again.
    pub async fn create_virtual_sim(&self, token: &ApiToken) -> Result<NewSim, Error> {
        let call = "create a virtual SIM";
        let body = json!({"type": "virtual", "subscription": "planArc01"});
        let map = self
            .call(Call {
                name: call,
                method: Method::Post,
                path: "/v1/sims",
                token: Some(token),
                body,
                retry: Retry::BeforeSendOnly,
                permission: Permission::CreateSim,
            })
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
        self.call(Call {
            name: &call,
            method: Method::Post,
            path: &path,
            token: Some(token),
            body: json!({}),
            retry: Retry::Idempotent,
            permission: Permission::CreateArcSession,
        })
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
        self.call(Call {
            name: &call,
            method: Method::Put,
            path: &path,
            token: Some(token),
            body,
            retry: Retry::Idempotent,
            permission: Permission::RenewArcSimCredentials,
        })
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
        self.call(Call {
            name: &call,
            method: Method::Get,
            path: &path,
            token: Some(token),
            body: Value::Null,
            retry: Retry::Idempotent,
            permission: Permission::GetSim,
        })
        .await
    }
}

pub(crate) fn decode_private(text: &str) -> Option<PrivateKey> {
    let bytes: [u8; 32] = STANDARD.decode(text.trim()).ok()?.try_into().ok()?;
    Some(PrivateKey::from_bytes(bytes))
}
