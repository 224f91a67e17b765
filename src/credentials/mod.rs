//! Arc credentials: arcway's own file (SORACOM field names, JSON, mode 0600), validation that
//! names the broken field, atomic saving, and import of soratun's `arc.json`.

mod endpoint;
mod file;
mod keys;
mod soratun;
mod validate;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use ipnet::IpNet;

use crate::config::Coverage;

pub use endpoint::{DEFAULT_ARC_PORT, Endpoint, EndpointError};
pub use file::{load, save_atomic};
pub(crate) use keys::wipe;
pub use keys::{PrivateKey, PublicKey};
pub use soratun::{
    ExportSettings, ImportSummary, coverage_of_endpoint, import_command, import_soratun,
    to_soratun, to_wg_quick,
};
pub use validate::FieldError;

/// Everything needed to bring the Arc tunnel up. Optional hints come from the source file and
/// only fill in settings the configuration leaves open.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub sim_id: Option<String>,
    pub private_key: PrivateKey,
    pub public_key: PublicKey,
    pub ip_address: Ipv4Addr,
    pub server_public_key: PublicKey,
    pub server_endpoint: Endpoint,
    pub allowed_ips: Vec<IpNet>,
    pub additional_allowed_ips: Vec<IpNet>,
    pub mtu: Option<u32>,
    pub persistent_keepalive: Option<u16>,
    /// The SORACOM coverage the SIM lives in, when known (`coverage`: `jp` or `global`).
    pub coverage: Option<Coverage>,
}

impl fmt::Debug for Credentials {
    // Written by hand so the private key can never be printed, whatever PrivateKey does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("sim_id", &self.sim_id)
            .field("private_key", &"<redacted>")
            .field("public_key", &self.public_key)
            .field("ip_address", &self.ip_address)
            .field("server_public_key", &self.server_public_key)
            .field("server_endpoint", &self.server_endpoint.to_string())
            .field("allowed_ips", &self.allowed_ips)
            .field("additional_allowed_ips", &self.additional_allowed_ips)
            .field("mtu", &self.mtu)
            .field("persistent_keepalive", &self.persistent_keepalive)
            .field("coverage", &self.coverage)
            .finish()
    }
}

/// Errors of the credentials module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("failed to read credentials file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to parse {path} as JSON")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to validate credentials in {path}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: FieldError,
    },
    #[error("failed to write credentials file {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The field a validation error is about (as named in the source file).
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { source, .. } => Some(&source.field),
            _ => None,
        }
    }
}
