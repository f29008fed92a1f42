//! systemd's notify protocol (`Type=notify`): a few datagrams to `$NOTIFY_SOCKET`.
//!
//! `READY=1` once the first apply finished (the routing daemon then holds the warden's
//! view, whether or not anything is announced), `STATUS=` whenever the one-line summary
//! changes, `WATCHDOG=1` at half of `WatchdogSec` (`$WATCHDOG_USEC`), and `STOPPING=1` at
//! exit. Without `$NOTIFY_SOCKET` every call does nothing. The watchdog pings come from
//! the supervisor's own loop (see `daemon`), not from a timer of their own, so a
//! supervisor that hangs stops them and systemd restarts the daemon.

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// READY=1 was sent (systemd enforces the watchdog only from then).
    ready: Arc<AtomicBool>,
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
        Notifier {
            target,
            watchdog,
            ready: Arc::default(),
        }
    }

    /// A watchdog ping, once READY=1 was sent.
    pub fn watchdog_ping(&self) {
        if self.ready.load(Ordering::Relaxed) {
            self.send("WATCHDOG=1");
        }
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

/// Sends READY=1 after the first apply, then STATUS= on changes.
pub async fn run(notifier: Notifier, board: StatusBoard, cancel: CancellationToken) {
    if !notifier.enabled() {
        return;
    }
    let mut changes = board.subscribe();
    let mut ready = false;
    let mut last = String::new();
    loop {
        let (applies, text) = {
            let s = changes.borrow_and_update();
            (s.backend.applies, summary(&s))
        };
        if !ready && applies > 0 {
            ready = true;
            notifier.send(&format!("READY=1\nSTATUS={text}"));
            notifier.ready.store(true, Ordering::Relaxed);
            last = text;
        } else if ready && text != last {
            notifier.send(&format!("STATUS={text}"));
            last = text;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Drain, ServiceRegistration};

    #[test]
    fn summary_counts_up_announced_drained_and_failing_applies() {
        let mut s = Snapshot::default();
        s.backend.kind = "bird".into();
        for (name, state) in [("dns", Health::Up), ("ntp", Health::Down)] {
            s.register(
                name,
                ServiceRegistration {
                    prefixes: vec![],
                    nets: vec![],
                    state,
                    disabled: false,
                    wants_announce: state == Health::Up,
                },
            );
        }
        let one: std::collections::BTreeSet<ipnet::IpNet> =
            ["203.0.113.53/32".parse().unwrap()].into();
        s.record_apply(&one, Ok(()), Duration::ZERO);
        assert_eq!(summary(&s), "1/2 services up, 1 prefixes announced");
        s.services.get_mut("dns").unwrap().drained = Some(Drain {
            reason: String::new(),
            since: 0.0,
        });
        s.record_apply(&one, Err("no"), Duration::ZERO);
        s.record_apply(&one, Err("no"), Duration::ZERO);
        assert_eq!(
            summary(&s),
            "1/2 services up, 0 prefixes announced, 1 drained; bird apply failing (2 in a row)"
        );
    }

    #[test]
    fn without_notify_socket_nothing_is_sent() {
        let n = Notifier::default();
        assert!(!n.enabled());
        n.send("READY=1");
        n.watchdog_ping();
    }
}
