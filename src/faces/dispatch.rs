//! What each command line asks for, for the commands that are not the daemon: the
//! control-socket clients (`status`, `check-now`, `drain`, ...), `check`, `print-config`,
//! `man` and `completions` run here and end in an exit code; `run` and `withdraw-all` come
//! back to `main` with their loaded configuration, since only it may start the daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::CommandFactory;

use super::cli::{Cli, Commands, SocketArg};
use super::control::commands::{self, StatusFormat};
use super::control::render::NAGIOS_UNKNOWN;
use super::{logging, summary};
use crate::config::registration::Registration;
use crate::config::{Config, ConfigPaths, load};

/// What is left for `main` to do.
pub enum Dispatch {
    /// The command ran; exit with this code.
    Done(ExitCode),
    /// Start the daemon with this configuration (logging is set up).
    Run(ConfigPaths, Box<Config>),
    /// Withdraw every prefix with this configuration (logging is set up).
    WithdrawAll(Box<Config>),
}

/// Runs the command, or hands the daemon's commands back with their configuration.
pub fn dispatch(cli: Cli) -> Dispatch {
    let paths = cli.paths();
    let done = Dispatch::Done;
    let code = match cli.command {
        Commands::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "anycast-warden",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Commands::Man { dir } => man(dir),
        Commands::Status {
            json,
            nagios,
            socket,
        } => status(&paths, json, nagios, socket),
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
        Commands::Reload { socket } => match socket_path(&paths, socket, 2) {
            Ok(path) => ExitCode::from(commands::reload(&path)),
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
        Commands::PrintConfig => print_config(&paths),
        Commands::WithdrawAll => {
            return match load_and_log(&paths) {
                Ok(config) => Dispatch::WithdrawAll(Box::new(config)),
                Err(code) => done(code),
            };
        }
        Commands::Run => {
            return match load_and_log(&paths) {
                Ok(config) => Dispatch::Run(paths, Box::new(config)),
                Err(code) => done(code),
            };
        }
    };
    done(code)
}

fn man(dir: Option<PathBuf>) -> ExitCode {
    let written = match dir {
        Some(dir) => super::man::write_pages(&dir).map(|_| ()),
        None => {
            use std::io::Write;
            let page = super::man::page8(&super::man::page_date());
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

fn print_config(paths: &ConfigPaths) -> ExitCode {
    match load_or_report(paths, 2) {
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
    }
}

/// `status`: a Nagios plugin answers on its first stdout line even when it cannot ask.
fn status(paths: &ConfigPaths, json: bool, nagios: bool, socket: SocketArg) -> ExitCode {
    let format = if nagios {
        StatusFormat::Nagios
    } else if json {
        StatusFormat::Json
    } else {
        StatusFormat::Table
    };
    let unusable = if nagios { NAGIOS_UNKNOWN } else { 2 };
    match socket_path(paths, socket, unusable) {
        Ok(path) => ExitCode::from(commands::status(&path, format)),
        Err(code) => {
            if nagios {
                println!("ANYCAST-WARDEN UNKNOWN - the configuration is not valid (see stderr)");
            }
            code
        }
    }
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
