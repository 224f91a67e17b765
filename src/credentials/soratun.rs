//! Import of soratun's `arc.json` (the existing SORACOM Arc client) into arcway's format.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::file::{read_with, save_atomic};
use super::validate::Names;
use super::{Credentials, Endpoint, Error, PublicKey};

/// soratun keeps the session under `arcSessionStatus`, the key pair at the top level.
const SORATUN: Names = Names {
    sim_id: "simId",
    private_key: "privateKey",
    public_key: "publicKey",
    ip_address: "arcSessionStatus.arcClientPeerIpAddress",
    server_public_key: "arcSessionStatus.arcServerPeerPublicKey",
    server_endpoint: "arcSessionStatus.arcServerEndpoint",
    allowed_ips: "arcSessionStatus.arcAllowedIPs",
    additional_allowed_ips: "additionalAllowedIPs",
    mtu: "mtu",
    persistent_keepalive: "persistentKeepalive",
};

/// Reads and validates soratun's `arc.json`. Its AuthKey (`profile`), hooks and log settings are
/// not carried over: arcway never stores an AuthKey secret next to the tunnel keys.
pub fn import_soratun(path: impl AsRef<Path>) -> Result<Credentials, Error> {
    read_with(path.as_ref(), &SORATUN)
}

/// What an import wrote, for the CLI to print. Holds no secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub output: PathBuf,
    pub replaced_existing: bool,
    pub sim_id: Option<String>,
    pub public_key: PublicKey,
    pub ip_address: Ipv4Addr,
    pub server_endpoint: Endpoint,
    pub allowed_ips: usize,
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.replaced_existing {
            "replaced"
        } else {
            "wrote"
        };
        writeln!(f, "{verb} {}", self.output.display())?;
        writeln!(
            f,
            "  simId:      {}",
            self.sim_id.as_deref().unwrap_or("(none)")
        )?;
        writeln!(f, "  public key: {}", self.public_key)?;
        writeln!(f, "  tunnel IP:  {}", self.ip_address)?;
        writeln!(f, "  endpoint:   {}", self.server_endpoint)?;
        write!(f, "  allowed:    {} prefixes", self.allowed_ips)
    }
}

/// `arcway bootstrap import <file>`: validates `file` completely before touching `output`, then
/// replaces `output` atomically, so a failed import leaves an existing file exactly as it was.
///
/// The error is an `anyhow` chain because this is the command's edge: printed with `{:#}` it
/// names the broken field, which the bare [`Error`] keeps in its source.
pub fn import_command(
    file: impl AsRef<Path>,
    output: impl AsRef<Path>,
) -> anyhow::Result<ImportSummary> {
    let output = output.as_ref();
    let credentials = import_soratun(file)?;
    let replaced_existing = output.exists();
    save_atomic(output, &credentials)?;
    Ok(ImportSummary {
        output: output.to_path_buf(),
        replaced_existing,
        sim_id: credentials.sim_id.clone(),
        public_key: credentials.public_key,
        ip_address: credentials.ip_address,
        server_endpoint: credentials.server_endpoint.clone(),
        allowed_ips: credentials.allowed_ips.len() + credentials.additional_allowed_ips.len(),
    })
}
