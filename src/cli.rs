//! The command line, declared once so the man page and completions can be generated from it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub const DEFAULT_CONFIG: &str = "/etc/arcway/arcway.yaml";

#[derive(Debug, Parser)]
#[command(
    name = "arcway",
    version,
    about = "Keeps a gateway on the SORACOM platform over the cheapest working path",
    long_about = "arcway runs SORACOM Arc (WireGuard) over Wi-Fi while Wi-Fi works, moves platform \
                  traffic to SORACOM Air (cellular) in milliseconds when it does not, and keeps \
                  bulk traffic off the cellular line."
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short = 'c', global = true, value_name = "FILE", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (SIGHUP reloads the configuration, SIGTERM stops).
    Run,
    /// Make the running daemon reload its configuration and wait for the outcome: exit 0 when
    /// the new configuration is in force, 2 with the reasons when it was refused (the old one
    /// keeps running), 1 when the daemon cannot be reached.
    Reload(ReloadArgs),
    /// Validate the configuration and print a normalized summary (exit 2 when invalid).
    CheckConfig,
    /// Show paths, classes and the latest switches of the running daemon.
    Status(StatusArgs),
    /// Print the running daemon's event log: every switch with its evidence.
    Events(StatusArgs),
    /// Obtain or convert Arc credentials (SORACOM API, Krypton, soratun's arc.json).
    #[command(subcommand)]
    Bootstrap(crate::bootstrap::BootstrapCommand),
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
    /// The daemon's status socket (default: status.socket from the configuration).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ReloadArgs {
    /// The daemon's status socket (default: status.socket from the configuration).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
}
