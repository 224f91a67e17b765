use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use arcway::bootstrap::{BootstrapCommand, ImportArgs};
use arcway::cli::{Cli, Command, ReloadArgs, StatusArgs};
use arcway::daemon::{self, exit};

const DEFAULT_SOCKET: &str = "/run/arcway/arcway.sock";
const DEFAULT_CREDENTIALS: &str = "/var/lib/arcway/arc.json";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Command::Run => daemon::run(daemon::Options {
            config_path: cli.config.clone(),
        }),
        Command::Reload(args) => reload(&cli.config, args),
        Command::CheckConfig => check_config(&cli.config),
        Command::Status(args) => show(&cli.config, args, false),
        Command::Events(args) => show(&cli.config, args, true),
        Command::Bootstrap(BootstrapCommand::Import(ImportArgs { file, output })) => {
            import(&cli.config, file, output.as_deref())
        }
        Command::Bootstrap(cmd) => bootstrap(&cli.config, cmd),
    }
}

fn check_config(path: &Path) -> ExitCode {
    match arcway::config::load(path) {
        Ok(config) => {
            for warning in &config.warnings {
                eprintln!("warning: {warning}");
            }
            println!("{}: ok", path.display());
            print!("{}", config.summary());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}

/// The configured value when the configuration loads, else the built-in default: status and
/// import must work even while the configuration on disk is being edited.
fn from_config<T>(
    path: &Path,
    pick: impl FnOnce(&arcway::config::Config) -> Option<T>,
) -> Option<T> {
    arcway::config::load(path).ok().as_ref().and_then(pick)
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| {
            eprintln!("failed to start the async runtime: {err}");
            ExitCode::from(exit::FAILURE)
        })
}

fn bootstrap(config: &Path, cmd: &BootstrapCommand) -> ExitCode {
    arcway::logging::init("info", arcway::logging::Style::Plain);
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(arcway::bootstrap::run(cmd, config)) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// The socket given on the command line, else the configured one, else the default.
fn socket(config: &Path, given: Option<&Path>) -> PathBuf {
    given
        .map(Path::to_path_buf)
        .or_else(|| from_config(config, |c| Some(c.status.socket.clone())))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

fn reload(config: &Path, args: &ReloadArgs) -> ExitCode {
    let loaded = arcway::config::load(config);
    let socket = args
        .socket
        .clone()
        .or_else(|| loaded.as_ref().ok().map(|c| c.status.socket.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    match runtime.block_on(arcway::status::reload_command(&socket)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(arcway::status::ClientError::Refused(reasons)) => {
            arcway::logging::report_error(&format!("the reload failed:\n{reasons}"));
            ExitCode::from(exit::BAD_INPUT)
        }
        Err(err) => {
            arcway::logging::report_error(&format!("{err:#}"));
            // A file that does not load cannot name its socket: the daemon may be listening
            // elsewhere, but the file would be refused anyway, and why is known here.
            match loaded {
                Err(invalid) if args.socket.is_none() => {
                    arcway::logging::report_error(&format!(
                        "{} is invalid:\n{invalid}",
                        config.display()
                    ));
                    ExitCode::from(exit::BAD_INPUT)
                }
                _ => ExitCode::from(exit::FAILURE),
            }
        }
    }
}

fn show(config: &Path, args: &StatusArgs, events: bool) -> ExitCode {
    let socket = socket(config, args.socket.as_deref());
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        if events {
            arcway::status::events_command(&socket, args.json).await
        } else {
            arcway::status::status_command(&socket, args.json).await
        }
    });
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn import(config: &Path, file: &Path, output: Option<&Path>) -> ExitCode {
    let output = output
        .map(Path::to_path_buf)
        .or_else(|| from_config(config, |c| c.arc.as_ref().map(|a| a.credentials.clone())))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CREDENTIALS));
    match arcway::credentials::import_command(file, &output) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err:#}");
            ExitCode::from(exit::BAD_INPUT)
        }
    }
}
