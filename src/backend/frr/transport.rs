//! Reading FRR's running configuration and writing a plan, over the transport `[frr]`
//! chose: the daemons' vty sockets (the default) or vtysh.
//!
//! Over vty sockets no vtysh sorts commands to daemons, so the warden does: `network`
//! statements go to bgpd, static routes to staticd. The running configuration is what
//! bgpd and staticd show, which is what vtysh merges for the parts the warden reads.
//! FRR 9 and later route static-route configuration through mgmtd; when a `mgmtd.vty`
//! socket is present, the warden uses vtysh, which knows that routing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::{debug, info, warn};

use super::plan::Plan;
use super::running::{self, RunningConfig};
use super::vty::{self, VtyError};
use super::{FrrError, render, vtysh};
use crate::config::{FrrMode, FrrSettings, FrrTransport};

/// Set once the mgmtd fallback has been logged, so it is said once, not at every apply.
static SAID_MGMTD_FALLBACK: AtomicBool = AtomicBool::new(false);

/// The transport to use for this FRR: the configured one, except vty sockets with an FRR
/// that has mgmtd.
fn effective(settings: &FrrSettings) -> FrrTransport {
    if settings.transport == FrrTransport::Vty && socket(settings, "mgmtd").exists() {
        if !SAID_MGMTD_FALLBACK.swap(true, Ordering::Relaxed) {
            info!(dir = %settings.vty_dir().display(),
                "this FRR runs mgmtd, which takes static-route configuration; using vtysh, which routes commands to it");
        }
        return FrrTransport::Vtysh;
    }
    settings.transport
}

fn socket(settings: &FrrSettings, daemon: &str) -> PathBuf {
    settings.vty_dir().join(format!("{daemon}.vty"))
}

/// FRR's running configuration, parsed.
pub async fn read_running(settings: &FrrSettings) -> Result<RunningConfig, FrrError> {
    let text = match effective(settings) {
        FrrTransport::Vtysh => {
            vtysh::run(
                settings,
                "show running-config",
                &["-c", "show running-config"],
                None,
            )
            .await?
        }
        FrrTransport::Vty => {
            let (bgpd, staticd) = tokio::join!(
                show_running(settings, "bgpd", settings.mode == FrrMode::Network),
                show_running(settings, "staticd", settings.mode == FrrMode::Static),
            );
            // The vty replies are complete by their framing; "end" is what vtysh adds at
            // the end of a whole configuration, and what the parser checks for.
            format!("{}{}end\n", bgpd?, staticd?)
        }
    };
    Ok(running::parse(&text)?)
}

/// One daemon's `show running-config`. A daemon the mode does not need (staticd in
/// network mode, bgpd in static mode) may be absent; it then shows nothing, as vtysh
/// leaves out a daemon that is not running.
async fn show_running(
    settings: &FrrSettings,
    daemon: &str,
    needed: bool,
) -> Result<String, VtyError> {
    let commands = ["enable", "show running-config"].map(str::to_string);
    match vty::exchange_all_ok(
        &socket(settings, daemon),
        "show running-config",
        &commands,
        settings.timeout,
    )
    .await
    {
        Ok(mut outputs) => Ok(outputs.pop().unwrap_or_default()),
        Err(e) if !needed && e.daemon_absent() => {
            debug!(daemon, error = %e, "not running; reading its part of the configuration as empty");
            Ok(String::new())
        }
        Err(e) => Err(e),
    }
}

/// Makes FRR carry out `plan`; every change is attempted even when one is refused.
pub async fn write(settings: &FrrSettings, plan: &Plan) -> Result<(), FrrError> {
    match effective(settings) {
        FrrTransport::Vtysh => {
            let batch = render::batch(plan, settings.tag);
            vtysh::run(settings, "configure", &["-f", "/dev/stdin"], Some(batch)).await?;
            Ok(())
        }
        FrrTransport::Vty => {
            let batches = render::vty_batches(plan, settings.tag);
            // Additions before removals, as in the vtysh batch: when routes move between
            // static routes and network statements (a mode switch), the daemon that adds
            // goes first, so nothing is withdrawn in between.
            let mut order = [("staticd", batches.staticd), ("bgpd", batches.bgpd)];
            if !plan.remove_statics.is_empty() {
                order.reverse();
            }
            let mut first_error = None;
            for (daemon, commands) in order {
                if commands.is_empty() {
                    continue;
                }
                let sent = vty::exchange_all_ok(
                    &socket(settings, daemon),
                    "configure",
                    &commands,
                    settings.timeout,
                )
                .await
                .map(|_| ());
                match (sent, &first_error) {
                    (Ok(()), _) => {}
                    (Err(e), None) => first_error = Some(e),
                    // The first error goes back to the announcer; this one would be lost.
                    (Err(e), Some(_)) => warn!(error = %e, "FRR refused changes"),
                }
            }
            match first_error {
                Some(e) => Err(e.into()),
                None => Ok(()),
            }
        }
    }
}
