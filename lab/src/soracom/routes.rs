//! The answers of the fake API and Krypton, as SORACOM documents them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Map, Value, json};

use super::state::{FakeState, Sim, client_pair};

/// A parsed request.
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
    pub at: std::time::Instant,
}

fn error(status: u16, code: &str, message: &str) -> (u16, Value) {
    (status, json!({"code": code, "message": message}))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn session(state: &FakeState, public: &str) -> Value {
    let id = &state.identity;
    json!({
        "arcAllowedIPs": id.allowed_ips,
        "arcClientPeerIpAddress": id.client_ip,
        "arcClientPeerPublicKey": public,
        "arcServerEndpoint": id.server_endpoint,
        "arcServerPeerPublicKey": id.server_public_key,
    })
}

fn authorized(state: &FakeState, req: &Incoming) -> bool {
    let key = req.headers.get("x-soracom-api-key");
    let token = req.headers.get("x-soracom-token");
    state
        .tokens
        .iter()
        .any(|(k, t)| Some(k) == key && Some(t) == token)
}

/// The largest `tokenTimeoutSeconds` the API accepts (48 hours).
pub const MAX_TOKEN_TIMEOUT_SECONDS: u64 = 172_800;

/// The request body as JSON: `None` when the body is absent, `Err` when it is not JSON.
fn json_body(req: &Incoming) -> Result<Option<Value>, (u16, Value)> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&req.body)
        .map(Some)
        .map_err(|_| error(400, "COM0001", "Request body is not valid JSON"))
}

/// A JSON object body, as every POST and PUT of these calls declares.
fn object_body(req: &Incoming) -> Result<Map<String, Value>, (u16, Value)> {
    match json_body(req)? {
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(error(400, "COM0001", "Request body must be a JSON object")),
        None => Err(error(400, "COM0001", "Request body is required")),
    }
}

/// A WireGuard key as the API writes them: 32 bytes in padded base64 (44 characters).
pub(crate) fn is_wg_key(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 44
        && b[43] == b'='
        && b[..43]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        // The last character before the padding carries only 4 bits.
        && b"AEIMQUYcgkosw048".contains(&b[42])
}

/// Answers one request: status and JSON body.
pub(crate) fn handle(state: &mut FakeState, req: &Incoming) -> (u16, Value) {
    match route(state, req) {
        Ok(answer) | Err(answer) => answer,
    }
}

fn route(state: &mut FakeState, req: &Incoming) -> Result<(u16, Value), (u16, Value)> {
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["v1", "provisioning", "soracom", "arc", "bootstrap"]) => Ok(krypton(state, req)),
        ("POST", ["v1", "auth"]) => auth(state, &object_body(req)?),
        (_, ["v1", "sims", ..]) if !authorized(state, req) => {
            Err(error(401, "AUM0002", "Invalid API key or token"))
        }
        ("POST", ["v1", "sims"]) => create_sim(state, &object_body(req)?),
        ("POST", ["v1", "sims", id, "sessions", "arc"]) => {
            // The body is declared as an object that allows no properties.
            if !object_body(req)?.is_empty() {
                return Err(error(
                    400,
                    "COM0001",
                    "Arc session request allows no properties",
                ));
            }
            match state.sims.get(*id) {
                None => Err(error(404, "SEM0004", "SIM not found")),
                Some(Sim {
                    public_key: None, ..
                }) => Err(error(400, "SEM0095", "Arc credentials missing")),
                Some(Sim {
                    public_key: Some(public),
                    ..
                }) => {
                    state.counters.sessions += 1;
                    Ok((200, session(state, &public.clone())))
                }
            }
        }
        ("PUT", ["v1", "sims", id, "credentials", "arc"]) => {
            Ok(put_key(state, id, &object_body(req)?))
        }
        ("POST", ["v1", "sims", _, "credentials", "arc"]) => Err(error(
            400,
            "COM0001",
            "attachArcSimCredentials is deprecated; use PUT",
        )),
        ("GET", ["v1", "sims", id]) => {
            state.counters.sim_gets += 1;
            match state.sims.get(*id) {
                None => Err(error(404, "SEM0004", "SIM not found")),
                Some(sim) => {
                    let public = sim.public_key.clone().unwrap_or_default();
                    Ok((200, sim_object(state, id, &public, None)))
                }
            }
        }
        _ => Err(error(404, "COM0001", "no such API")),
    }
}

/// A Sim as `getSim` and `createSim` answer it.
fn sim_object(state: &FakeState, sim_id: &str, public: &str, private: Option<&str>) -> Value {
    let mut arc = session(state, public);
    arc["lastUpdatedAt"] = json!(1_767_225_600_000u64);
    arc["placement"] = json!({"infrastructureProvider": "aws", "region": state.coverage.region()});
    let mut profile = json!({
        "iccid": sim_id,
        "primaryImsi": format!("99999{}", &sim_id[sim_id.len() - 10..]),
        "arcClientPeerPublicKey": public,
        "otaSupported": false,
        "subscribers": {},
    });
    if let Some(private) = private {
        profile["arcClientPeerPrivateKey"] = json!(private);
    }
    json!({
        "simId": sim_id,
        "operatorId": state.identity.operator_id,
        "type": "virtual",
        "status": "active",
        "arcSessionStatus": arc,
        "profiles": {sim_id: profile},
    })
}

fn auth(state: &mut FakeState, body: &Map<String, Value>) -> Result<(u16, Value), (u16, Value)> {
    state.counters.auth += 1;
    match body.get("tokenTimeoutSeconds") {
        None => {}
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_TOKEN_TIMEOUT_SECONDS).contains(&n) => {}
            _ => {
                return Err(error(
                    400,
                    "AUM0001",
                    "tokenTimeoutSeconds must be an integer of at most 172800",
                ));
            }
        },
    }
    let id = body.get("authKeyId").and_then(Value::as_str);
    let secret = body.get("authKey").and_then(Value::as_str);
    if id != Some(state.identity.auth_key_id.as_str())
        || secret != Some(state.identity.auth_key.as_str())
    {
        return Err(error(401, "AUM0004", "Invalid AuthKey"));
    }
    let (api_key, token) = (format!("api-{}", random_hex(16)), random_hex(32));
    state.tokens.push((api_key.clone(), token.clone()));
    Ok((
        200,
        json!({"apiKey": api_key, "token": token, "operatorId": state.identity.operator_id}),
    ))
}

fn create_sim(
    state: &mut FakeState,
    body: &Map<String, Value>,
) -> Result<(u16, Value), (u16, Value)> {
    match body.get("type").and_then(Value::as_str) {
        Some("virtual") => {}
        Some(_) => return Err(error(400, "SEM0001", "type must be virtual")),
        None => return Err(error(400, "SEM0001", "type is required")),
    }
    match body.get("subscription").and_then(Value::as_str) {
        Some("planArc01") => {}
        Some(_) => return Err(error(400, "SEM0001", "subscription must be planArc01")),
        None => return Err(error(400, "SEM0001", "subscription is required")),
    }
    // The configured key goes with the first SIM only; later ones get fresh keys.
    let mut identity = state.identity.clone();
    if state.counters.sims_created > 0 {
        identity.client_private_key = None;
    }
    let pair =
        client_pair(&identity).map_err(|_| error(500, "COM0000", "key generation failed"))?;
    state.counters.sims_created += 1;
    let sim_id = state.new_sim_id();
    state.sims.insert(
        sim_id.clone(),
        Sim {
            sim_id: sim_id.clone(),
            public_key: Some(pair.public.clone()),
        },
    );
    Ok((
        201,
        sim_object(state, &sim_id, &pair.public, Some(&pair.private)),
    ))
}

fn put_key(state: &mut FakeState, id: &str, body: &Map<String, Value>) -> (u16, Value) {
    if !state.sims.contains_key(id) {
        return error(404, "SEM0004", "SIM not found");
    }
    state.counters.key_puts += 1;
    let given = match body.get("arcClientPeerPublicKey") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if is_wg_key(p) => Some(p.clone()),
        Some(_) => {
            return error(
                400,
                "SEM0001",
                "arcClientPeerPublicKey is not a WireGuard public key",
            );
        }
    };
    let (public, private) = match given {
        Some(p) => (p, None),
        None => {
            let mut identity = state.identity.clone();
            identity.client_private_key = None;
            match client_pair(&identity) {
                Ok(pair) => (pair.public, Some(pair.private)),
                Err(_) => return error(500, "COM0000", "key generation failed"),
            }
        }
    };
    state.counters.put_public_keys.push(public.clone());
    if let Some(sim) = state.sims.get_mut(id) {
        sim.public_key = Some(public.clone());
    }
    let mut answer = json!({"arcClientPeerPublicKey": public});
    if let Some(private) = private {
        answer["arcClientPeerPrivateKey"] = json!(private);
    }
    (200, answer)
}

fn krypton(state: &mut FakeState, req: &Incoming) -> (u16, Value) {
    state.counters.krypton += 1;
    state.counters.krypton_peers.push(req.peer);
    let pair = match client_pair(&state.identity) {
        Ok(p) => p,
        Err(_) => return error(500, "COM0000", "key generation failed"),
    };
    let id = &state.identity;
    (
        200,
        json!({
            "arcServerPeerPublicKey": id.server_public_key,
            "arcServerEndpoint": id.server_endpoint,
            "arcAllowedIPs": id.allowed_ips,
            "arcClientPeerPrivateKey": pair.private,
            "arcClientPeerIpAddress": id.client_ip,
        }),
    )
}
