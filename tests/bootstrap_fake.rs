//! The fake SORACOM API against the API's own definition of each call arcway makes (the
//! table in soracom-cli's OpenAPI file): it refuses what the real API refuses and answers
//! with the documented fields, so bootstrap tests cannot pass where production would fail.

#[path = "bootstrap_support.rs"]
mod support;

use arcway::https::{Client, ClientOptions, Method, Request, Retry, Url};
use arcway_lab::soracom::{FakeIdentity, FakeSoracom, MAX_TOKEN_TIMEOUT_SECONDS, Sim};
use serde_json::{Value, json};
use support::*;

struct Raw {
    fake: FakeSoracom,
    client: Client,
    identity: FakeIdentity,
    _env: Env,
}

impl Raw {
    fn new() -> Raw {
        let identity = FakeIdentity::example().unwrap();
        let fake = fake_api(identity.clone());
        let env = Env::new(&fake);
        let client = Client::new(ClientOptions {
            extra_ca: Some(env.ca.clone()),
            retries: 0,
            ..fast()
        })
        .unwrap();
        Raw {
            fake,
            client,
            identity,
            _env: env,
        }
    }

    /// One request; `body` None sends no body at all. Returns the status and the JSON answer.
    fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&(String, String)>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some((key, tok)) = token {
            headers.push(("X-Soracom-API-Key", key.as_str()));
            headers.push(("X-Soracom-Token", tok.as_str()));
        }
        let url = Url::parse(&self.fake.url()).unwrap().with_path(path);
        let request = Request {
            method,
            url,
            headers,
            body: body.unwrap_or("").as_bytes().to_vec(),
            retry: Retry::BeforeSendOnly,
        };
        let response = block_on(self.client.send(&request)).expect("an answer");
        let value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        (response.status, value)
    }

    fn auth_body(&self, timeout: Option<Value>) -> String {
        let mut body =
            json!({"authKeyId": self.identity.auth_key_id, "authKey": self.identity.auth_key});
        if let Some(t) = timeout {
            body["tokenTimeoutSeconds"] = t;
        }
        body.to_string()
    }

    fn token(&self) -> (String, String) {
        let (status, v) = self.send(Method::Post, "/v1/auth", None, Some(&self.auth_body(None)));
        assert_eq!(status, 200, "{v}");
        (
            v["apiKey"].as_str().unwrap().to_owned(),
            v["token"].as_str().unwrap().to_owned(),
        )
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

/// Every error is SORACOM's `{code, message}`.
fn assert_error(status: u16, v: &Value, expected: u16, what: &str) {
    assert_eq!(status, expected, "{what}: {v}");
    assert!(
        v["code"].is_string() && v["message"].is_string(),
        "{what}: {v}"
    );
}

#[test]
fn auth_takes_the_documented_body_and_limits_the_token_timeout() {
    let raw = Raw::new();
    let ok = [
        None,
        Some(json!(1)),
        Some(json!(86_400)),
        Some(json!(MAX_TOKEN_TIMEOUT_SECONDS)),
    ];
    for timeout in ok {
        let body = raw.auth_body(timeout.clone());
        let (status, v) = raw.send(Method::Post, "/v1/auth", None, Some(&body));
        assert_eq!(status, 200, "{timeout:?}: {v}");
        assert_eq!(keys(&v), ["apiKey", "operatorId", "token"]);
    }
    let bad = [
        json!(MAX_TOKEN_TIMEOUT_SECONDS + 1),
        json!(0),
        json!(-5),
        json!("3600"),
        json!(3600.5),
    ];
    for timeout in bad {
        let body = raw.auth_body(Some(timeout.clone()));
        let (status, v) = raw.send(Method::Post, "/v1/auth", None, Some(&body));
        assert_error(status, &v, 400, &format!("tokenTimeoutSeconds {timeout}"));
    }
    for body in [
        json!({"authKeyId": raw.identity.auth_key_id, "authKey": "secret-wrong"}).to_string(),
        json!({"authKeyId": raw.identity.auth_key_id}).to_string(),
        "{}".to_owned(),
    ] {
        let (status, v) = raw.send(Method::Post, "/v1/auth", None, Some(&body));
        assert_error(status, &v, 401, &body);
    }
    for body in [None, Some("[]"), Some("{nope")] {
        let (status, v) = raw.send(Method::Post, "/v1/auth", None, body);
        assert_error(status, &v, 400, &format!("{body:?}"));
    }
}

#[test]
fn create_sim_needs_type_virtual_and_subscription_plan_arc01() {
    let raw = Raw::new();
    let token = raw.token();
    let (status, v) = raw.send(
        Method::Post,
        "/v1/sims",
        None,
        Some(r#"{"type":"virtual","subscription":"planArc01"}"#),
    );
    assert_error(status, &v, 401, "no token");
    for body in [
        json!({}),
        json!({"type": "virtual"}),
        json!({"subscription": "planArc01"}),
        json!({"type": "physical", "subscription": "planArc01"}),
        json!({"type": "virtual", "subscription": "plan01s"}),
        json!({"type": "virtual", "subscription": 1}),
    ] {
        let (status, v) = raw.send(
            Method::Post,
            "/v1/sims",
            Some(&token),
            Some(&body.to_string()),
        );
        assert_error(status, &v, 400, &body.to_string());
    }
    assert_eq!(
        raw.fake.counters().sims_created,
        0,
        "a refused body bought a SIM"
    );

    let body = json!({"type": "virtual", "subscription": "planArc01"}).to_string();
    let (status, sim) = raw.send(Method::Post, "/v1/sims", Some(&token), Some(&body));
    assert_eq!(status, 201, "{sim}");
    for field in ["simId", "type", "status", "profiles", "arcSessionStatus"] {
        assert!(
            !sim[field].is_null(),
            "createSim answer lacks {field}: {sim}"
        );
    }
    assert_eq!(sim["type"], "virtual");
    let statuses = [
        "ready",
        "active",
        "inactive",
        "standby",
        "suspended",
        "terminated",
    ];
    assert!(statuses.contains(&sim["status"].as_str().unwrap()), "{sim}");
    let sim_id = sim["simId"].as_str().unwrap();
    let profiles = sim["profiles"].as_object().unwrap();
    assert_eq!(profiles.len(), 1);
    let profile = profiles.values().next().unwrap();
    for field in [
        "iccid",
        "primaryImsi",
        "arcClientPeerPrivateKey",
        "arcClientPeerPublicKey",
        "otaSupported",
        "subscribers",
    ] {
        assert!(
            !profile[field].is_null(),
            "profile lacks {field}: {profile}"
        );
    }
    assert!(
        profile["primaryImsi"]
            .as_str()
            .unwrap()
            .starts_with("99999")
    );
    let arc = &sim["arcSessionStatus"];
    for field in [
        "arcAllowedIPs",
        "arcClientPeerIpAddress",
        "arcClientPeerPublicKey",
        "arcServerEndpoint",
        "arcServerPeerPublicKey",
    ] {
        assert!(
            !arc[field].is_null(),
            "arcSessionStatus lacks {field}: {arc}"
        );
    }
    assert_eq!(arc["placement"]["infrastructureProvider"], "aws");
    assert!(arc["lastUpdatedAt"].is_u64());

    // getSim: the same Sim, without the private key; 404 for a SIM this host does not know.
    let (status, got) = raw.send(
        Method::Get,
        &format!("/v1/sims/{sim_id}"),
        Some(&token),
        None,
    );
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["simId"], sim_id);
    assert!(
        !got.to_string().contains("arcClientPeerPrivateKey"),
        "{got}"
    );
    let (status, v) = raw.send(
        Method::Get,
        "/v1/sims/8942310022999999999",
        Some(&token),
        None,
    );
    assert_error(status, &v, 404, "unknown SIM");
}

#[test]
fn the_arc_session_body_allows_no_properties() {
    let raw = Raw::new();
    let token = raw.token();
    let public = new_private().public_key().to_base64();
    raw.fake.add_sim(EXISTING_SIM, &public);
    let path = format!("/v1/sims/{EXISTING_SIM}/sessions/arc");
    for body in [
        None,
        Some(r#"{"arcClientPeerPublicKey": "x"}"#),
        Some("[]"),
        Some("null"),
    ] {
        let (status, v) = raw.send(Method::Post, &path, Some(&token), body);
        assert_error(status, &v, 400, &format!("{body:?}"));
    }
    let (status, v) = raw.send(Method::Post, &path, Some(&token), Some("{}"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        keys(&v),
        [
            "arcAllowedIPs",
            "arcClientPeerIpAddress",
            "arcClientPeerPublicKey",
            "arcServerEndpoint",
            "arcServerPeerPublicKey"
        ]
    );
    assert_eq!(v["arcClientPeerPublicKey"], public.as_str());
    let (status, v) = raw.send(
        Method::Post,
        "/v1/sims/8942310022999999999/sessions/arc",
        Some(&token),
        Some("{}"),
    );
    assert_error(status, &v, 404, "unknown SIM");
    // A SIM without Arc credentials.
    raw.fake.with_state(|s| {
        s.sims.insert(
            "8942310022000000777".into(),
            Sim {
                sim_id: "8942310022000000777".into(),
                public_key: None,
            },
        )
    });
    let (status, v) = raw.send(
        Method::Post,
        "/v1/sims/8942310022000000777/sessions/arc",
        Some(&token),
        Some("{}"),
    );
    assert_error(status, &v, 400, "no Arc credentials");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Arc credentials missing")
    );
}

#[test]
fn renewing_credentials_takes_a_wireguard_key_or_makes_a_pair() {
    let raw = Raw::new();
    let token = raw.token();
    raw.fake
        .add_sim(EXISTING_SIM, &new_private().public_key().to_base64());
    let path = format!("/v1/sims/{EXISTING_SIM}/credentials/arc");
    for body in [
        json!({"arcClientPeerPublicKey": "short"}),
        json!({"arcClientPeerPublicKey": 5}),
        // 33 bytes of base64.
        json!({"arcClientPeerPublicKey": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    ] {
        let (status, v) = raw.send(Method::Put, &path, Some(&token), Some(&body.to_string()));
        assert_error(status, &v, 400, &body.to_string());
    }
    let (status, v) = raw.send(Method::Put, &path, Some(&token), None);
    assert_error(status, &v, 400, "no body");

    let mine = new_private().public_key().to_base64();
    let body = json!({"arcClientPeerPublicKey": mine}).to_string();
    let (status, v) = raw.send(Method::Put, &path, Some(&token), Some(&body));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        keys(&v),
        ["arcClientPeerPublicKey"],
        "no private key when we sent ours"
    );
    assert_eq!(
        raw.fake.sim(EXISTING_SIM).unwrap().public_key.as_deref(),
        Some(mine.as_str())
    );

    let (status, v) = raw.send(Method::Put, &path, Some(&token), Some("{}"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        keys(&v),
        ["arcClientPeerPrivateKey", "arcClientPeerPublicKey"]
    );

    // The deprecated attach call is not for arcway: the fake refuses it so a use shows.
    let (status, _) = raw.send(Method::Post, &path, Some(&token), Some(&body));
    assert!(status >= 400);
    let (status, v) = raw.send(
        Method::Put,
        "/v1/sims/8942310022999999999/credentials/arc",
        Some(&token),
        Some("{}"),
    );
    assert_error(status, &v, 404, "unknown SIM");
}

#[test]
fn what_arcway_sends_passes_the_strict_fake() {
    // The whole flow, rotation included, against the strict fake: arcway's bodies are the
    // documented ones (tokenTimeoutSeconds in range, subscription, an empty session body).
    let raw = Raw::new();
    let env = Env::new(&raw.fake);
    let api = env.api(&raw.fake, fast());
    let key = auth_key(&raw.identity);
    block_on(arcway::bootstrap::run_authkey(&api, &key, &env.flow(false))).unwrap();
    block_on(arcway::bootstrap::run_authkey(&api, &key, &env.flow(true))).unwrap();
    for l in raw.fake.log() {
        assert!(
            l.status < 400,
            "{} {} -> {}: {}",
            l.method,
            l.path,
            l.status,
            l.body
        );
        if l.path.ends_with("/sessions/arc") {
            assert_eq!(l.body, "{}");
        }
        if l.path == "/v1/auth" {
            let body: Value = serde_json::from_str(&l.body).unwrap();
            let t = body["tokenTimeoutSeconds"].as_u64().unwrap();
            assert!((1..=MAX_TOKEN_TIMEOUT_SECONDS).contains(&t));
        }
    }
}
