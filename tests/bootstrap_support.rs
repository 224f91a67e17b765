//! Shared pieces of the bootstrap tests (included with `#[path]`; no tests of its own).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arcway::bootstrap::{AuthKey, AuthKeyFlow, Coverage, Secret, SoracomApi};
use arcway::credentials::{self, Credentials, PrivateKey};
use arcway::https::{Client, ClientOptions};
use arcway_lab::soracom::{FakeIdentity, FakeSoracom};

pub const EXISTING_SIM: &str = "894231002200000999";

/// The fake API on loopback with a certificate for 127.0.0.1.
pub fn fake_api(identity: FakeIdentity) -> FakeSoracom {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    FakeSoracom::start(addr, None, &["127.0.0.1".to_owned()], identity, false)
        .expect("fake SORACOM starts")
}

/// Client options that keep failing tests quick.
pub fn fast() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(2),
        retries: 2,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(40),
        ..ClientOptions::default()
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub output: PathBuf,
}

impl Env {
    pub fn new(fake: &FakeSoracom) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        fake.ca().write_ca(&ca).unwrap();
        let output = dir.path().join("arc.json");
        Env { dir, ca, output }
    }

    pub fn api(&self, fake: &FakeSoracom, opts: ClientOptions) -> SoracomApi {
        let client = Client::new(ClientOptions {
            extra_ca: Some(self.ca.clone()),
            ..opts
        })
        .expect("client");
        SoracomApi::new(client, &fake.url()).expect("api")
    }

    pub fn flow(&self, rotate: bool) -> AuthKeyFlow {
        AuthKeyFlow {
            output: self.output.clone(),
            rotate,
            allow_create: true,
            coverage: Coverage::Jp,
        }
    }

    /// An AuthKey file in JSON.
    pub fn auth_key_file(&self, identity: &FakeIdentity) -> PathBuf {
        let path = self.dir.path().join("authkey.json");
        let text =
            serde_json::json!({"authKeyId": identity.auth_key_id, "authKey": identity.auth_key});
        std::fs::write(&path, text.to_string()).unwrap();
        path
    }
}

pub fn auth_key(identity: &FakeIdentity) -> AuthKey {
    AuthKey {
        id: Secret::new(identity.auth_key_id.clone()),
        secret: Secret::new(identity.auth_key.clone()),
        coverage: None,
    }
}

pub fn new_private() -> PrivateKey {
    PrivateKey::generate().unwrap()
}

/// Writes credentials for SIM [`EXISTING_SIM`] (known to `fake`) and returns the file's bytes.
pub fn existing_credentials(fake: &FakeSoracom, path: &Path) -> (Credentials, Vec<u8>) {
    let id = fake.with_state(|s| s.identity.clone());
    let private = new_private();
    let json = serde_json::json!({
        "simId": EXISTING_SIM,
        "arcClientPeerPrivateKey": private.expose_base64(),
        "arcClientPeerIpAddress": id.client_ip,
        "arcServerPeerPublicKey": id.server_public_key,
        "arcServerEndpoint": id.server_endpoint,
        "arcAllowedIPs": id.allowed_ips,
        "mtu": 1380,
    });
    let creds = Credentials::from_json_str(&json.to_string()).unwrap();
    credentials::save_atomic(path, &creds).unwrap();
    fake.add_sim(EXISTING_SIM, &creds.public_key.to_base64());
    (creds, std::fs::read(path).unwrap())
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The error and its causes on one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Runs `f` on a thread of its own inside network namespace `ns`.
pub fn spawn_in_ns<F, Fut, T>(ns: &str, f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
    T: Send + 'static,
{
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("namespace");
        // SAFETY: setns on a descriptor we own; only this thread changes namespace.
        let rc = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&file), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        block_on(f())
    })
}
