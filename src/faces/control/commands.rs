//! The CLI side of the control commands: `status`, `check-now`, `drain`, `undrain`.
//! Each returns the process exit code; what it prints goes to stdout, problems to stderr.

use std::path::Path;
use std::time::{Duration, Instant};

use super::client::{ClientError, call};
use super::render::{self, NAGIOS_UNKNOWN};
use super::{Request, Response};
use crate::status::{Snapshot, unix_now};

/// How long the CLI waits for the daemon's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `reload` waits: the daemon answers once the new configuration runs (its
/// backend replaced, its services restarted), which can take longer than a plain answer.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `drain` waits for the routing daemon to confirm the withdrawal.
const WITHDRAW_WAIT: Duration = Duration::from_secs(15);

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFormat {
    Table,
    Json,
    Nagios,
}

fn fetch_status(socket: &Path) -> Result<Snapshot, String> {
    let response = call(socket, &Request::Status, ANSWER_TIMEOUT).map_err(|e| e.to_string())?;
    match response.status {
        Some(s) if response.ok => Ok(*s),
        _ => Err(response
            .message
            .unwrap_or_else(|| "the daemon sent no status".into())),
    }
}

pub fn status(socket: &Path, format: StatusFormat) -> u8 {
    let snapshot = match fetch_status(socket) {
        Ok(s) => s,
        Err(e) if format == StatusFormat::Nagios => {
            println!("ANYCAST-WARDEN UNKNOWN - {e}");
            return NAGIOS_UNKNOWN;
        }
        Err(e) => {
            eprintln!("anycast-warden: {e}");
            return 1;
        }
    };
    match format {
        StatusFormat::Table => {
            print!("{}", render::table(&snapshot, unix_now()));
            0
        }
        StatusFormat::Json => match serde_json::to_string_pretty(&snapshot) {
            Ok(text) => {
                println!("{text}");
                0
            }
            Err(e) => {
                eprintln!("anycast-warden: {e}");
                1
            }
        },
        StatusFormat::Nagios => {
            let (code, line) = render::nagios(&snapshot);
            println!("{line}");
            code
        }
    }
}

/// Sends a request that changes something and prints the daemon's answer.
fn simple(socket: &Path, request: &Request) -> Result<Response, u8> {
    match call(socket, request, ANSWER_TIMEOUT) {
        Ok(r) if r.ok => {
            if let Some(m) = &r.message {
                println!("{m}");
            }
            Ok(r)
        }
        Ok(r) => {
            eprintln!(
                "anycast-warden: {}",
                r.message.as_deref().unwrap_or("refused")
            );
            Err(1)
        }
        Err(e) => {
            report(&e);
            Err(1)
        }
    }
}

fn report(e: &ClientError) {
    eprintln!("anycast-warden: {e}");
}

pub fn check_now(socket: &Path, service: Option<String>) -> u8 {
    simple(socket, &Request::CheckNow { service }).map_or_else(|c| c, |_| 0)
}

/// Drains, then waits until the routing daemon no longer announces the drained prefixes,
/// so that `drain dns && maintenance` starts the maintenance when the traffic has gone.
pub fn drain(socket: &Path, service: Option<String>, reason: Option<String>) -> u8 {
    if let Err(code) = simple(
        socket,
        &Request::Drain {
            service: service.clone(),
            reason,
        },
    ) {
        return code;
    }
    let mut until = Instant::now() + WITHDRAW_WAIT;
    let mut waited_for_drain = false;
    loop {
        match fetch_status(socket) {
            Ok(s) => {
                // The built-in speaker keeps drained prefixes announced with
                // GRACEFUL_SHUTDOWN for its drain time before withdrawing them.
                if !waited_for_drain && s.backend.drain_seconds > 0.0 {
                    until += Duration::from_secs_f64(s.backend.drain_seconds);
                    waited_for_drain = true;
                }
                let nets: Vec<_> = match &service {
                    Some(name) => s
                        .services
                        .get(name)
                        .map(|v| v.nets.clone())
                        .unwrap_or_default(),
                    None => s.services.values().flat_map(|v| v.nets.clone()).collect(),
                };
                if s.backend.applied.is_some() && !nets.iter().any(|n| s.announced(n)) {
                    println!("the routing daemon no longer announces its prefixes");
                    return 0;
                }
            }
            Err(e) => {
                eprintln!("anycast-warden: {e}");
                return 1;
            }
        }
        if Instant::now() >= until {
            eprintln!(
                "anycast-warden: drained, but the routing daemon has not confirmed the withdrawal within {}s after the drain time (see `anycast-warden status`)",
                WITHDRAW_WAIT.as_secs()
            );
            return 1;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn register(socket: &Path, registration: crate::config::registration::Registration) -> u8 {
    simple(socket, &Request::Register(registration)).map_or_else(|c| c, |_| 0)
}

pub fn deregister(socket: &Path, service: String) -> u8 {
    simple(socket, &Request::Deregister { service }).map_or_else(|c| c, |_| 0)
}

/// `reload`: the daemon loads the files again. A refused configuration prints each problem
/// with its `file:line:col` and exits 2, as `check` does, so that `systemctl reload`
/// (ExecReload=) fails visibly; the running configuration stays.
pub fn reload(socket: &Path) -> u8 {
    match call(socket, &Request::Reload, RELOAD_TIMEOUT) {
        Ok(r) if r.ok => {
            if let Some(m) = &r.message {
                println!("{m}");
            }
            0
        }
        Ok(r) => {
            eprintln!("{}", r.message.as_deref().unwrap_or("reload refused"));
            2
        }
        Err(e) => {
            report(&e);
            1
        }
    }
}

pub fn undrain(socket: &Path, service: Option<String>) -> u8 {
    simple(socket, &Request::Undrain { service }).map_or_else(|c| c, |_| 0)
}
