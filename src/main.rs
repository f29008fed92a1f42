//! Entry point: parses the command line and wires the pieces; no logic of its own.

use std::path::PathBuf;
use std::process::ExitCode;

use anycast_warden::config::registration::Registration;
use anycast_warden::config::{Config, ConfigPaths, load};
use anycast_warden::daemon::{self, withdraw_all};
use anycast_warden::faces::cli::{Cli, Commands, SocketArg};
use anycast_warden::faces::control::commands::{self, StatusFormat};
use anycast_warden::faces::control::render::NAGIOS_UNKNOWN;
use anycast_warden::faces::{logging, summary};
use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = cli.paths();
    match cli.command {
        Commands::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "anycast-warden",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Commands::Man { dir } => {
            let written = match dir {
                Some(dir) => anycast_warden::faces::man::write_pages(&dir).map(|_| ()),
                None => {
                    use std::io::Write;
                    let page =
                        anycast_warden::faces::man::page8(&anycast_warden::faces::man::page_date());
                    std::io::stdout().write_all(page.as_bytes())
                }
            };
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("anycast-warden: cannot write the manual pages: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Commands::Status {
            json,
            nagios,
            socket,
        } => {
            let format = if nagios {
                StatusFormat::Nagios
            } else if json {
                StatusFormat::Json
            } else {
                StatusFormat::Table
            };
            let unusable = if nagios { NAGIOS_UNKNOWN } else { 2 };
            match socket_path(&paths, socket, unusable) {
                Ok(path) => ExitCode::from(commands::status(&path, format)),
                Err(code) => {
                    if nagios {
                        // The plugin's answer is its first line on stdout.
                        println!(
                            "ANYCAST-WARDEN UNKNOWN - the configuration is not valid (see stderr)"
                        );
                    }
                    code
                }
            }
        }
        Commands::CheckNow { service, socket } => match socket_path(&paths, socket, 2) {
            Ok(path) => ExitCode::from(commands::check_now(&path, service)),
            Err(code) => code,
        },
        Commands::Drain {
            service,
            all: _,
            reason,
            socket,
        } => match socket_path(&paths, socket, 2) {
            Ok(path) => ExitCode::from(commands::drain(&path, service, reason)),
            Err(code) => code,
        },
        Commands::Undrain {
            service,
            all: _,
            socket,
        } => match socket_path(&paths, socket, 2) {
            Ok(path) => ExitCode::from(commands::undrain(&path, service)),
            Err(code) => code,
        },
        Commands::Register {
            name,
            prefixes,
            checks,
            interval,
            rise,
            fall,
            socket,
        } => match socket_path(&paths, socket, 2) {
            Ok(path) => ExitCode::from(commands::register(
                &path,
                Registration {
                    name,
                    prefixes,
                    checks,
                    interval,
                    rise,
                    fall,
                },
            )),
            Err(code) => code,
        },
        Commands::Deregister { name, socket } => match socket_path(&paths, socket, 2) {
            Ok(path) => ExitCode::from(commands::deregister(&path, name)),
            Err(code) => code,
        },
        Commands::Check => match load_or_report(&paths, 2) {
            Ok(config) => {
                summary::print(&config);
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Commands::PrintConfig => match load_or_report(&paths, 2) {
            Ok(config) => match toml::to_string_pretty(&config) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("anycast-warden: cannot print the configuration: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(code) => code,
        },
        Commands::WithdrawAll => {
            let config = match load_and_log(&paths) {
                Ok(config) => config,
                Err(code) => return code,
            };
            match runtime().map(|rt| rt.block_on(withdraw_all::withdraw_all(&config))) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    tracing::error!("{e}");
                    ExitCode::FAILURE
                }
                Err(code) => code,
            }
        }
        Commands::Run => {
            let config = match load_and_log(&paths) {
                Ok(config) => config,
                Err(code) => return code,
            };
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
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

/// One thread runs everything: the work is I/O waits and short bursts of CPU, and on a
/// multi-threaded runtime the hand-offs between workers cost more than the work itself
/// (1,000 http checks a second: 12.8 % of a core with two workers, 6.8 % with one thread;
/// 1,000 tcp checks: 7.4 % → 5.2 %; same machine, back to back). Blocking work (file
/// writes with fsync) goes to tokio's blocking pool, which is still there.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("anycast-warden: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

/// Loads the configuration, or prints every problem and returns `invalid` as exit code.
fn load_or_report(paths: &ConfigPaths, invalid: u8) -> Result<Config, ExitCode> {
    load(paths).map_err(|errors| {
        eprintln!("{errors}");
        eprintln!(
            "anycast-warden: the configuration is not valid ({} problem{})",
            errors.0.len(),
            if errors.0.len() == 1 { "" } else { "s" }
        );
        ExitCode::from(invalid)
    })
}

/// The configuration of a command that logs (run, withdraw-all), with its logging set up.
fn load_and_log(paths: &ConfigPaths) -> Result<Config, ExitCode> {
    let config = load_or_report(paths, 2)?;
    logging::init(&config.daemon);
    Ok(config)
}

/// `--socket`, else `[control] socket` of the configuration.
fn socket_path(paths: &ConfigPaths, arg: SocketArg, invalid: u8) -> Result<PathBuf, ExitCode> {
    match arg.socket {
        Some(path) => Ok(path),
        None => load_or_report(paths, invalid).map(|c| c.control.socket),
    }
}
