//! The answers of the fake API and Krypton, as SORACOM documents them.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Value, json};

use super::state::{FakeState, Sim, client_pair};

/// A parsed request.
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
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

/// Answers one request: status and JSON body.
pub(crate) fn handle(state: &mut FakeState, req: &Incoming) -> (u16, Value) {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["v1", "provisioning", "soracom", "arc", "bootstrap"]) => krypton(state, req),
        ("POST", ["v1", "auth"]) => auth(state, &body),
        (_, ["v1", "sims", ..]) if !authorized(state, req) => {
            error(401, "AUM0002", "Invalid API key or token")
        }
        ("POST", ["v1", "sims"]) => create_sim(state, &body),
        ("POST", ["v1", "sims", id, "sessions", "arc"]) => match state.sims.get(*id) {
            None => error(404, "SEM0004", "SIM not found"),
            Some(Sim {
                public_key: None, ..
            }) => error(400, "SEM0095", "no Arc credentials"),
            Some(Sim {
                public_key: Some(public),
                ..
            }) => {
                state.counters.sessions += 1;
                (200, session(state, &public.clone()))
            }
        },
        ("PUT", ["v1", "sims", id, "credentials", "arc"]) => put_key(state, id, &body),
        ("GET", ["v1", "sims", id]) => {
            state.counters.sim_gets += 1;
            match state.sims.get(*id) {
                None => error(404, "SEM0004", "SIM not found"),
                Some(sim) => {
                    let public = sim.public_key.clone().unwrap_or_default();
                    let mut arc = session(state, &public);
                    arc["lastUpdatedAt"] = json!(0);
                    (
                        200,
                        json!({"simId": id, "operatorId": state.identity.operator_id,
                               "status": "active", "type": "virtual", "arcSessionStatus": arc}),
                    )
                }
            }
        }
        _ => error(404, "COM0001", "no such API"),
    }
}

fn auth(state: &mut FakeState, body: &Value) -> (u16, Value) {
    state.counters.auth += 1;
    let id = body.get("authKeyId").and_then(Value::as_str);
    let secret = body.get("authKey").and_then(Value::as_str);
    if id != Some(state.identity.auth_key_id.as_str())
        || secret != Some(state.identity.auth_key.as_str())
    {
        return error(401, "AUM0004", "Invalid AuthKey");
    }
    let (api_key, token) = (format!("api-{}", random_hex(16)), random_hex(32));
    state.tokens.push((api_key.clone(), token.clone()));
    (
        200,
        json!({"apiKey": api_key, "token": token, "operatorId": state.identity.operator_id}),
    )
}

fn create_sim(state: &mut FakeState, body: &Value) -> (u16, Value) {
    if body.get("type").and_then(Value::as_str) != Some("virtual") {
        return error(400, "SEM0001", "type must be virtual");
    }
    // The configured key goes with the first SIM only; later ones get fresh keys.
    let mut identity = state.identity.clone();
    if state.counters.sims_created > 0 {
        identity.client_private_key = None;
    }
    let pair = match client_pair(&identity) {
        Ok(p) => p,
        Err(_) => return error(500, "COM0000", "key generation failed"),
    };
    state.counters.sims_created += 1;
    let sim_id = state.new_sim_id();
    state.sims.insert(
        sim_id.clone(),
        Sim {
            sim_id: sim_id.clone(),
            public_key: Some(pair.public.clone()),
        },
    );
    let profile = json!({
        "iccid": sim_id,
        "primaryImsi": format!("99999{}", &sim_id[sim_id.len() - 10..]),
        "arcClientPeerPrivateKey": pair.private,
        "arcClientPeerPublicKey": pair.public,
    });
    (
        201,
        json!({"simId": sim_id, "operatorId": state.identity.operator_id, "status": "ready",
               "type": "virtual", "profiles": {sim_id.clone(): profile}}),
    )
}

fn put_key(state: &mut FakeState, id: &str, body: &Value) -> (u16, Value) {
    if !state.sims.contains_key(id) {
        return error(404, "SEM0004", "SIM not found");
    }
    state.counters.key_puts += 1;
    let (public, private) = match body.get("arcClientPeerPublicKey").and_then(Value::as_str) {
        Some(p) => (p.to_owned(), None),
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
