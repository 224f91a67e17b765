//! The `arcway bootstrap ...` command line: clap arguments and the functions behind them.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::flow::{AuthKeyFlow, Outcome, run_authkey};
use super::{Coverage, DEFAULT_AUTH_KEY_FILE, DEFAULT_KRYPTON_ENDPOINT, SoracomApi};
use super::{Error, find_auth_key, run_krypton, save_auth_key};
use crate::config::{self, Config};
use crate::credentials::{self, ImportSummary};
use crate::https::{Client, ClientOptions};
use crate::model::PathId;

const DEFAULT_OUTPUT: &str = "/var/lib/arcway/arc.json";
const DEFAULT_CELLULAR_IF: &str = "wwan0";

/// `arcway bootstrap <how>`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum BootstrapCommand {
    /// Get Arc credentials from the SORACOM API with an AuthKey (creates a virtual SIM once).
    Authkey(AuthKeyArgs),
    /// Get Arc credentials from SORACOM Krypton, over the cellular path only.
    Krypton(KryptonArgs),
    /// Convert soratun's arc.json into arcway's credentials file.
    Import(ImportArgs),
}

/// `arcway bootstrap authkey`. The AuthKey is read from --auth-key-file, else from
/// SORACOM_AUTH_KEY_ID and SORACOM_AUTH_KEY, else from the saved AuthKey file; never from an
/// argument, where `ps` would show it.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthKeyArgs {
    /// SORACOM coverage of the account.
    #[arg(long, value_enum, default_value_t = Coverage::Jp)]
    pub coverage: Coverage,
    /// File with `authKeyId` and `authKey` (JSON, or `key: value` lines).
    #[arg(long, value_name = "FILE")]
    pub auth_key_file: Option<PathBuf>,
    /// API endpoint instead of the coverage's (e.g. https://api.soracom.io).
    #[arg(long, value_name = "URL")]
    pub api_endpoint: Option<String>,
    /// Extra CA certificates (PEM) to trust besides the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Credentials file [default: arc.credentials of the configuration, else /var/lib/arcway/arc.json].
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Make a new key pair on this device and register only its public key.
    #[arg(long)]
    pub rotate: bool,
    /// Keep the AuthKey (mode 0600) for later runs and the daemon.
    #[arg(long)]
    pub save_auth_key: bool,
    /// Where --save-auth-key keeps the AuthKey, and where it is looked for.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_AUTH_KEY_FILE)]
    pub auth_key_store: PathBuf,
}

/// `arcway bootstrap krypton`.
#[derive(Debug, Clone, clap::Args)]
pub struct KryptonArgs {
    /// Krypton endpoint.
    #[arg(long, value_name = "URL", default_value = DEFAULT_KRYPTON_ENDPOINT)]
    pub endpoint: String,
    /// Extra CA certificates (PEM) to trust besides the system's.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Cellular interface [default: uplinks.cellular.interface of the configuration, else wwan0].
    #[arg(long, value_name = "IF")]
    pub interface: Option<String>,
    /// Mark for the request's socket [default: the cellular path's mark]; 0 for none.
    #[arg(long, value_name = "MARK", value_parser = parse_mark)]
    pub mark: Option<u32>,
    /// Credentials file [default: arc.credentials of the configuration, else /var/lib/arcway/arc.json].
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// `arcway bootstrap import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// soratun's arc.json.
    pub file: PathBuf,
    /// Credentials file [default: arc.credentials of the configuration, else /var/lib/arcway/arc.json].
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

fn parse_mark(text: &str) -> Result<u32, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("`{text}` is not a mark (decimal or 0x hex)"))
}

/// What a bootstrap command did, for the terminal. Holds no secret.
#[derive(Debug, Clone)]
pub enum Summary {
    Fetched(Outcome),
    Imported(ImportSummary),
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = match self {
            Summary::Imported(s) => return write!(f, "{s}"),
            Summary::Fetched(o) => o,
        };
        let c = &o.credentials;
        let verb = if o.replaced_existing {
            "replaced"
        } else {
            "wrote"
        };
        writeln!(f, "{verb} {}", o.output.display())?;
        let sim = c.sim_id.as_deref().unwrap_or("(none)");
        let note = if o.created_sim {
            " (new virtual SIM)"
        } else {
            ""
        };
        writeln!(f, "  simId:      {sim}{note}")?;
        let rotated = if o.rotated {
            " (rotated; private key made here)"
        } else {
            ""
        };
        writeln!(f, "  public key: {}{rotated}", c.public_key)?;
        writeln!(f, "  tunnel IP:  {}", c.ip_address)?;
        writeln!(f, "  endpoint:   {}", c.server_endpoint)?;
        write!(
            f,
            "  allowed:    {} prefixes",
            c.allowed_ips.len() + c.additional_allowed_ips.len()
        )
    }
}

/// The configuration if its file exists (bootstrap may run before one is written).
fn optional_config(path: &Path) -> Result<Option<Config>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    config::load(path)
        .map(Some)
        .map_err(|source| Error::Config {
            path: path.into(),
            source,
        })
}

fn output_path(given: &Option<PathBuf>, cfg: Option<&Config>) -> PathBuf {
    given.clone().unwrap_or_else(|| {
        cfg.and_then(|c| c.arc.as_ref())
            .map_or_else(|| PathBuf::from(DEFAULT_OUTPUT), |a| a.credentials.clone())
    })
}

/// The cellular path's fwmark from the configuration's routing layout (defaults without one).
pub(crate) fn cellular_mark(cfg: Option<&Config>) -> u32 {
    cfg.map_or_else(crate::routing::Layout::default, Config::routing_layout)
        .path_mark(PathId::Cellular)
}

pub(crate) fn cellular_interface(cfg: Option<&Config>) -> String {
    cfg.and_then(|c| c.uplinks.cellular.as_ref())
        .and_then(|c| c.interface.clone())
        .unwrap_or_else(|| DEFAULT_CELLULAR_IF.to_owned())
}

/// Runs `arcway bootstrap ...`; `config_path` supplies defaults when that file exists.
pub async fn run(cmd: &BootstrapCommand, config_path: &Path) -> anyhow::Result<Summary> {
    let cfg = optional_config(config_path)?;
    let cfg = cfg.as_ref();
    match cmd {
        BootstrapCommand::Authkey(a) => {
            let (key, origin) = find_auth_key(a.auth_key_file.as_deref(), &a.auth_key_store)?;
            tracing::info!(%origin, "using the AuthKey");
            let client = Client::new(ClientOptions {
                extra_ca: a.ca_file.clone(),
                ..ClientOptions::default()
            })
            .map_err(Error::Client)?;
            let endpoint = a.api_endpoint.as_deref().unwrap_or(a.coverage.endpoint());
            let api = SoracomApi::new(client, endpoint)?;
            let flow = AuthKeyFlow {
                output: output_path(&a.output, cfg),
                rotate: a.rotate,
                allow_create: true,
            };
            let outcome = run_authkey(&api, &key, &flow).await?;
            if a.save_auth_key {
                save_auth_key(&a.auth_key_store, &key)?;
                tracing::info!(path = %a.auth_key_store.display(), "saved the AuthKey");
            }
            Ok(Summary::Fetched(outcome))
        }
        BootstrapCommand::Krypton(k) => {
            let interface = k
                .interface
                .clone()
                .unwrap_or_else(|| cellular_interface(cfg));
            let mark = match k.mark {
                Some(0) => None,
                Some(m) => Some(m),
                None => Some(cellular_mark(cfg)),
            };
            let client = ClientOptions {
                extra_ca: k.ca_file.clone(),
                ..ClientOptions::default()
            };
            let output = output_path(&k.output, cfg);
            let outcome = run_krypton(client, &k.endpoint, &interface, mark, &output).await?;
            Ok(Summary::Fetched(outcome))
        }
        BootstrapCommand::Import(i) => {
            let output = output_path(&i.output, cfg);
            let summary = credentials::import_command(&i.file, &output)
                .with_context(|| format!("failed to import {}", i.file.display()))?;
            Ok(Summary::Imported(summary))
        }
    }
}
