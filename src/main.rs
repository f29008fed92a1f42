//! Entry point: parses the command line and wires the pieces; no logic of its own. The
//! commands that are not the daemon run in `faces::dispatch`.

use std::process::ExitCode;

use anycast_warden::daemon::{self, withdraw_all};
use anycast_warden::faces::cli::Cli;
use anycast_warden::faces::dispatch::{Dispatch, dispatch};
use clap::Parser;

fn main() -> ExitCode {
    match dispatch(Cli::parse()) {
        Dispatch::Done(code) => code,
        Dispatch::WithdrawAll(config) => {
            match runtime().map(|rt| rt.block_on(withdraw_all::withdraw_all(&config))) {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    tracing::error!("{e}");
                    ExitCode::FAILURE
                }
                Err(code) => code,
            }
        }
        Dispatch::Run(paths, config) => match runtime() {
            Ok(runtime) => match runtime.block_on(daemon::run(paths, *config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("{e:#}");
                    ExitCode::FAILURE
                }
            },
            Err(code) => code,
        },
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
