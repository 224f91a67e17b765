//! The `arcway bootstrap ...` command line: clap arguments and the functions behind them.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::coverage::{Endpoints, coverage_for, krypton_coverage};
use super::flow::{AuthKeyFlow, Outcome, run_authkey};
use super::{AuthKeyOrigin, Coverage, DEFAULT_AUTH_KEY_FILE, SoracomApi};
use super::{Error, Secret, find_auth_key, run_krypton, save_auth_key};
use crate::config::{self, Config};
use crate::credentials::{self, ExportSettings, ImportSummary};
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
    /// Convert soratun's arc.json (any of its layouts) into arcway's credentials file.
    Import(ImportArgs),
    /// Print the credentials as a wg-quick configuration or as soratun's arc.json.
    Export(ExportArgs),
}

/// `arcway bootstrap authkey`. The AuthKey is read from --auth-key-file, else from
/// SORACOM_AUTH_KEY_ID and SORACOM_AUTH_KEY, else from the saved AuthKey file; never from an
/// argument, where `ps` would show it.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthKeyArgs {
    /// SORACOM coverage [default: arc.coverage, else the one stored with the credentials or
    /// the saved AuthKey, else jp].
    #[arg(long, value_enum)]
    pub coverage: Option<Coverage>,
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
    /// SORACOM coverage of the Air SIM, recorded with the credentials [default: arc.coverage].
    #[arg(long, value_enum)]
    pub coverage: Option<Coverage>,
    /// Krypton endpoint [default: the coverage's, https://krypton.soracom.io:8036].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
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

/// `arcway bootstrap export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// Write a wg-quick configuration (the default).
    #[arg(long, conflicts_with = "soratun")]
    pub wg_quick: bool,
    /// Write soratun's arc.json instead.
    #[arg(long)]
    pub soratun: bool,
    /// Credentials file [default: arc.credentials of the configuration, else /var/lib/arcway/arc.json].
    #[arg(long, value_name = "PATH")]
    pub credentials: Option<PathBuf>,
    /// Write here (mode 0600, atomically) instead of standard output.
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// The format `arcway bootstrap export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    WgQuick,
    Soratun,
}

impl ExportArgs {
    pub fn format(&self) -> ExportFormat {
        if self.soratun {
            ExportFormat::Soratun
        } else {
            ExportFormat::WgQuick
        }
    }
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
    /// An export written to a file.
    Exported {
        output: PathBuf,
        format: ExportFormat,
    },
    /// An export for standard output: the file's text (it holds the private key, so Debug
    /// shows none of it; Display prints it, which is what the command is for).
    ExportText(Secret),
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = match self {
            Summary::Imported(s) => return write!(f, "{s}"),
            Summary::Exported { output, format } => {
                let what = match format {
                    ExportFormat::WgQuick => "wg-quick configuration",
                    ExportFormat::Soratun => "soratun arc.json",
                };
                return write!(f, "wrote {} ({what}, mode 0600)", output.display());
            }
            Summary::ExportText(text) => return write!(f, "{}", text.expose().trim_end()),
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
        let coverage = c.coverage.map_or("(unknown)", Coverage::as_str);
        writeln!(f, "  coverage:   {coverage}")?;
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

/// The coverage the user asked for: `--coverage`, else `arc.coverage` of the configuration.
fn asked_coverage(
    flag: Option<Coverage>,
    cfg: Option<&Config>,
    config_path: &Path,
) -> Option<(Coverage, String)> {
    flag.map(|c| (c, "--coverage".to_owned())).or_else(|| {
        cfg.and_then(|c| c.arc.as_ref())
            .and_then(|a| a.coverage)
            .map(|c| (c, format!("arc.coverage in {}", config_path.display())))
    })
}

/// `arcway bootstrap export`: the same session for wg-quick or soratun, with the tunnel
/// settings of the configuration when there is one.
fn export(e: &ExportArgs, cfg: Option<&Config>) -> anyhow::Result<Summary> {
    let path = output_path(&e.credentials, cfg);
    let creds = credentials::load(&path)?;
    let mut settings = ExportSettings::from_credentials(&creds);
    if let Some(arc) = cfg.and_then(|c| c.arc.as_ref()) {
        settings.mtu = u32::from(arc.mtu);
        settings.keepalive = u16::try_from(arc.keepalive.as_secs()).unwrap_or(u16::MAX);
        settings.extra_allowed_ips = arc.extra_allowed_ips.clone();
        settings.endpoint = arc.endpoint.clone();
    }
    let text = Secret::new(match e.format() {
        ExportFormat::WgQuick => credentials::to_wg_quick(&creds, &settings),
        ExportFormat::Soratun => credentials::to_soratun(&creds, &settings),
    });
    match &e.output {
        Some(out) => {
            super::secret_file::write_0600(out, text.expose().as_bytes())
                .with_context(|| format!("failed to write {}", out.display()))?;
            Ok(Summary::Exported {
                output: out.clone(),
                format: e.format(),
            })
        }
        None => Ok(Summary::ExportText(text)),
    }
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
            let output = output_path(&a.output, cfg);
            let saved = match (&origin, key.coverage) {
                (AuthKeyOrigin::File(path), Some(c)) => Some((c, path.display().to_string())),
                _ => None,
            };
            // Decided before any call: a wrong coverage would buy a SIM there.
            let coverage =
                coverage_for(&output, asked_coverage(a.coverage, cfg, config_path), saved)?;
            tracing::info!(coverage = %coverage.coverage, from = %coverage.source, "SORACOM coverage");
            let client = Client::new(ClientOptions {
                extra_ca: a.ca_file.clone(),
                ..ClientOptions::default()
            })
            .map_err(Error::Client)?;
            let endpoints = Endpoints::api();
            let endpoint = a
                .api_endpoint
                .as_deref()
                .unwrap_or(endpoints.get(coverage.coverage));
            let api = SoracomApi::new(client, endpoint)?;
            let flow = AuthKeyFlow {
                output,
                rotate: a.rotate,
                allow_create: true,
                coverage: coverage.coverage,
            };
            let outcome = run_authkey(&api, &key, &flow).await?;
            if a.save_auth_key {
                save_auth_key(&a.auth_key_store, &key, coverage.coverage)?;
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
            let asked = asked_coverage(k.coverage, cfg, config_path);
            let coverage = krypton_coverage(&output, asked.clone())?;
            let endpoints = Endpoints::krypton();
            let endpoint = k
                .endpoint
                .as_deref()
                .unwrap_or(endpoints.get(coverage.coverage));
            let recorded = asked.map(|(c, _)| c);
            let outcome =
                run_krypton(client, endpoint, &interface, mark, &output, recorded).await?;
            Ok(Summary::Fetched(outcome))
        }
        BootstrapCommand::Export(e) => export(e, cfg),
        BootstrapCommand::Import(i) => {
            let output = output_path(&i.output, cfg);
            let summary = credentials::import_command(&i.file, &output)
                .with_context(|| format!("failed to import {}", i.file.display()))?;
            Ok(Summary::Imported(summary))
        }
    }
}
