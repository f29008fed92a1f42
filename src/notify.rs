//! systemd's notify protocol (`Type=notify`): a few datagrams to `$NOTIFY_SOCKET`.
//!
//! `READY=1` once the first apply finished (the routing daemon then holds the warden's
//! view, whether or not anything is announced), `STATUS=` whenever the one-line summary
//! changes, `WATCHDOG=1` at half of `WatchdogSec` (`$WATCHDOG_USEC`), and `STOPPING=1` at
//! exit. Without `$NOTIFY_SOCKET` every call does nothing.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::health::Health;
use crate::status::{Snapshot, StatusBoard};

/// Where notifications go; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Notifier {
    target: Option<Arc<Target>>,
    /// Half of `$WATCHDOG_USEC`, when systemd asked for a watchdog for this process.
    pub watchdog: Option<Duration>,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    addr: std::os::unix::net::SocketAddr,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace) and
    /// `$WATCHDOG_USEC` / `$WATCHDOG_PID`.
    pub fn from_env() -> Notifier {
        let target = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let addr = if let Some(name) = path.strip_prefix('@') {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            } else {
                std::os::unix::net::SocketAddr::from_pathname(&path)
            };
            let addr = addr.ok()?;
            let socket = UnixDatagram::unbound().ok()?;
            Some(Arc::new(Target { socket, addr }))
        });
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&us| us > 0 && for_us)
            .map(|us| Duration::from_micros(us / 2));
        Notifier { target, watchdog }
    }

    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one message (`KEY=VALUE` lines). Failures are only logged: systemd going
    /// away must not stop the daemon.
    pub fn send(&self, message: &str) {
        if let Some(t) = &self.target
            && let Err(e) = t.socket.send_to_addr(message.as_bytes(), &t.addr)
        {
            debug!(error = %e, "sd_notify failed");
        }
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=withdrawing every prefix and exiting");
    }
}

/// The one-line summary for `STATUS=`.
pub fn summary(s: &Snapshot) -> String {
    let up = s
        .services
        .values()
        .filter(|v| v.state == Health::Up)
        .count();
    let announced = s.backend.applied.as_ref().map_or(0, |a| a.len());
    let mut text = format!(
        "{up}/{} services up, {announced} prefixes announced",
        s.services.len()
    );
    let drained = s.services.keys().filter(|n| s.is_drained(n)).count();
    if drained > 0 {
        text.push_str(&format!(", {drained} drained"));
    }
    if s.backend.consecutive_failures > 0 {
        text.push_str(&format!(
            "; {} apply failing ({} in a row)",
            s.backend.kind, s.backend.consecutive_failures
        ));
    }
    text
}

/// Sends READY=1 after the first apply, then STATUS= on changes and the watchdog pings.
pub async fn run(notifier: Notifier, board: StatusBoard, cancel: CancellationToken) {
    if !notifier.enabled() {
        return;
    }
    let mut changes = board.subscribe();
    let mut ready = false;
    let mut last = String::new();
    let mut watchdog = notifier.watchdog.map(tokio::time::interval);
    loop {
        let (applies, text) = {
            let s = changes.borrow_and_update();
            (s.backend.applies, summary(&s))
        };
        if !ready && applies > 0 {
            ready = true;
            notifier.send(&format!("READY=1\nSTATUS={text}"));
            last = text;
        } else if ready && text != last {
            notifier.send(&format!("STATUS={text}"));
            last = text;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
            // systemd enforces the watchdog only once the service is ready.
            _ = async {
                match watchdog.as_mut() {
                    Some(w) if ready => { w.tick().await; }
                    _ => std::future::pending::<()>().await,
                }
            } => notifier.send("WATCHDOG=1"),
        }
    }
}
