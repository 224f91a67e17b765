//! What the fake services know (SIMs, tokens, keys) and what they counted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;

use super::{FakeError, Fault, FaultRule};
use crate::cmd::run_input;
use crate::lab::Lab;
use crate::wg::{ArcCredentials, KeyPair};

/// The account and the Arc server the fakes describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeIdentity {
    pub auth_key_id: String,
    pub auth_key: String,
    pub operator_id: String,
    pub server_public_key: String,
    pub server_endpoint: String,
    pub client_ip: String,
    pub allowed_ips: Vec<String>,
    /// Private key given with the first SIM created and by Krypton; generated when None.
    pub client_private_key: Option<String>,
}

impl FakeIdentity {
    /// An account whose keys match nothing real (for API tests without a tunnel).
    pub fn example() -> Result<FakeIdentity, FakeError> {
        let server = KeyPair::generate().map_err(FakeError::Key)?;
        Ok(FakeIdentity {
            auth_key_id: "keyId-fakeAbcdefghijklmnop".into(),
            auth_key: "secret-fakeQrstuvwxyz0123456789".into(),
            operator_id: "OP0012345678".into(),
            server_public_key: server.public,
            server_endpoint: "203.0.113.10:11010".into(),
            client_ip: "100.127.201.2".into(),
            allowed_ips: vec!["100.127.0.0/16".into()],
            client_private_key: None,
        })
    }

    /// The lab's Arc server and client keys, so credentials from the fakes open a tunnel to it.
    pub fn for_lab(lab: &Lab) -> Result<FakeIdentity, FakeError> {
        FakeIdentity::from_credentials(&lab.arc_credentials())
    }

    /// The server and client of a credentials file (e.g. a running lab's arc.json).
    pub fn from_credentials(creds: &ArcCredentials) -> Result<FakeIdentity, FakeError> {
        let creds = creds.clone();
        Ok(FakeIdentity {
            server_public_key: creds.arc_server_peer_public_key,
            server_endpoint: creds.arc_server_endpoint,
            client_ip: creds.arc_client_peer_ip_address,
            allowed_ips: creds.arc_allowed_ips,
            client_private_key: Some(creds.arc_client_peer_private_key),
            ..FakeIdentity::example()?
        })
    }
}

/// Which SORACOM coverage a fake API plays. Each is its own API on its own host: a SIM made
/// under one is unknown to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FakeCoverage {
    #[default]
    Japan,
    Global,
}

impl FakeCoverage {
    /// `placement.region` of its SIMs' sessions.
    pub fn region(self) -> &'static str {
        match self {
            FakeCoverage::Japan => "ap-northeast-1",
            FakeCoverage::Global => "eu-central-1",
        }
    }
}

/// One virtual SIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sim {
    pub sim_id: String,
    /// The Arc public key the platform binds to this SIM.
    pub public_key: Option<String>,
}

/// One request as the server saw it (without headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    pub method: String,
    pub path: String,
    pub peer: SocketAddr,
    pub status: u16,
    /// The request body (a test fake: it holds the AuthKey of auth requests).
    pub body: String,
    /// The `X-Soracom-Lang` header, if sent.
    pub lang: Option<String>,
    /// When the request was read.
    pub at: std::time::Instant,
}

/// Counters for assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub auth: u32,
    pub sims_created: u32,
    pub sessions: u32,
    pub key_puts: u32,
    pub sim_gets: u32,
    pub krypton: u32,
    /// Peer address of every Krypton request, in order.
    pub krypton_peers: Vec<SocketAddr>,
    /// Public keys received by PUT /v1/sims/{id}/credentials/arc, in order.
    pub put_public_keys: Vec<String>,
}

/// Everything the fakes share between connections.
#[derive(Debug)]
pub struct FakeState {
    pub identity: FakeIdentity,
    pub coverage: FakeCoverage,
    pub counters: Counters,
    pub sims: BTreeMap<String, Sim>,
    pub tokens: Vec<(String, String)>,
    pub faults: Vec<FaultRule>,
    pub log: Vec<RequestLog>,
    next_sim: u64,
}

impl FakeState {
    pub fn new(identity: FakeIdentity, coverage: FakeCoverage) -> FakeState {
        FakeState {
            identity,
            coverage,
            counters: Counters::default(),
            sims: BTreeMap::new(),
            tokens: Vec::new(),
            faults: Vec::new(),
            log: Vec::new(),
            next_sim: 1,
        }
    }

    pub(crate) fn new_sim_id(&mut self) -> String {
        // Distinct per coverage, so a SIM id of one can never be found by the other.
        let prefix = match self.coverage {
            FakeCoverage::Japan => "8942310022",
            FakeCoverage::Global => "8942310099",
        };
        let id = format!("{prefix}{:08}", self.next_sim);
        self.next_sim += 1;
        id
    }

    /// Takes the first matching fault (counting down limited ones).
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let rule = self.faults.iter_mut().find(|r| r.matches(method, path))?;
        if let Some(n) = rule.times.as_mut() {
            *n -= 1;
        }
        Some(rule.fault.clone())
    }
}

/// The public key of a base64 private key (`wg pubkey`).
pub(crate) fn public_of(private: &str) -> Result<String, FakeError> {
    let out = run_input(
        Command::new("wg").arg("pubkey"),
        Some(&format!("{private}\n")),
    )
    .map_err(FakeError::Key)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The configured client key pair, or a fresh one.
pub(crate) fn client_pair(identity: &FakeIdentity) -> Result<KeyPair, FakeError> {
    match &identity.client_private_key {
        Some(private) => Ok(KeyPair {
            private: private.clone(),
            public: public_of(private)?,
        }),
        None => KeyPair::generate().map_err(FakeError::Key),
    }
}
