use std::process::ExitCode;

use clap::Parser;

use arcway::cli::{Cli, Command};

/// Exit code for bad input (configuration, credentials): distinct from a runtime failure (1).
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig => check_config(&cli),
    }
}

fn check_config(cli: &Cli) -> ExitCode {
    match arcway::config::load(&cli.config) {
        Ok(config) => {
            println!("{}: ok", cli.config.display());
            print!("{}", config.summary());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
