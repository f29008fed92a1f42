//! Entry point: parses the command line and wires the pieces; no logic of its own.

use std::process::ExitCode;

use anycast_warden::cli::{Cli, Commands};
use anycast_warden::config::load;
use anycast_warden::{daemon, logging, summary};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = cli.paths();
    let config = match load(&paths) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "anycast-warden: the configuration is not valid ({} problem{})",
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Commands::Check => {
            summary::print(&config);
            ExitCode::SUCCESS
        }
        Commands::PrintConfig => match toml::to_string_pretty(&config) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("anycast-warden: cannot print the configuration: {e}");
                ExitCode::FAILURE
            }
        },
        Commands::Run => {
            logging::init(config.daemon.log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("anycast-warden: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(daemon::run(paths, config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
