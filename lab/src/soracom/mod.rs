//! Fake SORACOM services over HTTPS for bootstrap tests: the API (auth, virtual SIMs, Arc
//! sessions, key rotation, SIM lookup) and Krypton's Arc bootstrap, with a test CA made at run
//! time, injectable faults and counters.
//!
//! One server answers both the API and Krypton paths, as one coverage's API (Japan unless
//! started with [`FakeSoracom::start_coverages`], which serves Japan and Global on distinct
//! addresses with separate SIMs). It is as strict as the API's own definition: request bodies
//! must be JSON objects, `createSim` needs `type: virtual` and `subscription: planArc01`, the
//! Arc session body allows no properties, `tokenTimeoutSeconds` is at most 172800, renewed
//! keys must be WireGuard keys, and `createSim` answers with `arcSessionStatus`. Tests start it in-process
//! ([`FakeSoracom::start`], optionally inside a lab namespace); `arcway-lab fake-soracom` runs
//! it as a process, e.g. `ip netns exec <prefix>-cell arcway-lab fake-soracom --listen
//! 203.0.113.18:8036 --ca-out /tmp/ca.pem`, and logs one line per request with the peer address.
//! The keys it hands out can be the lab's own (see [`FakeIdentity::for_lab`]), so a tunnel
//! built from them reaches the lab's Arc server.

mod faults;
mod reply;
mod routes;
mod server;
mod state;
mod tls;

pub use faults::{Fault, FaultRule};
pub use routes::MAX_TOKEN_TIMEOUT_SECONDS;
pub use server::FakeSoracom;
pub use state::{Counters, FakeCoverage, FakeIdentity, FakeState, RequestLog, Sim};
pub use tls::TestCa;

/// Errors of the fake services.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    #[error("failed to make the test certificates")]
    Cert(#[from] rcgen::Error),
    #[error("failed to set up TLS")]
    Tls(#[from] rustls::Error),
    #[error("failed to listen on {addr}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to enter network namespace {ns}")]
    Netns {
        ns: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to write {path}")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to start the fake server thread")]
    Thread(#[source] std::io::Error),
    #[error("failed to make a WireGuard key")]
    Key(#[source] crate::LabError),
}
