//! The status board: what every service task and the announcer last reported, as one
//! snapshot that the control socket, the metrics and sd_notify read.
//!
//! ```text
//!  service tasks ──rounds, transitions──▶ ┌─────────────┐ ──snapshot──▶ control socket (status)
//!  announcer ─────apply results────────▶ │ StatusBoard │ ──snapshot──▶ metrics (/metrics, textfile)
//!  supervisor ────services, drains─────▶ └─────────────┘ ──changed───▶ sd_notify (READY, STATUS)
//! ```
//! Each writer changes only its own part: a service task its own entry, the announcer the
//! backend part, the supervisor which services exist and which are drained. The board is a
//! tokio `watch` channel, so a reader always sees a consistent snapshot and no lock is held
//! across an await. Everything here is plain data (serialisable: the control socket sends
//! the snapshot as JSON and the CLI reads it back) and the updates are pure functions of it.
//!
//! A new publisher (the BGP speaker's sessions, a check's measurements) adds its part to
//! [`Snapshot`], writes it through [`StatusBoard::update`], and is shown by
//! `metrics/mod.rs` and `control/render.rs`; check measurements already have their place
//! in [`CheckStatus::values`] (exported as `anycast_warden_check_value`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::check::{CheckOutcome, Failure};
use crate::health::{Health, Transition};

mod bgp;
mod dns;
mod histogram;
pub use bgp::{BgpErrorView, BgpPeerView};
pub use dns::{DnsRecordStatus, DnsStatus, DnsUpdateStatus};
pub use histogram::{DURATION_BUCKETS, Histogram};

/// Name under which the address check (`ip_check`) appears among a service's checks.
pub const IP_CHECK: &str = "ip_check";

/// Seconds since the Unix epoch, as the snapshot keeps time (wall clock: it is shown to
/// people and exported to Prometheus).
pub fn unix_now() -> f64 {
    unix_seconds(SystemTime::now())
}

pub fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A maintenance drain: the service is withdrawn whatever its health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drain {
    pub reason: String,
    /// When it was drained (Unix seconds).
    pub since: f64,
}

/// The last result of one check, and its counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckStatus {
    pub passed: bool,
    /// Why it failed (or a note when it passed).
    pub detail: String,
    /// When it last finished (Unix seconds).
    pub at: f64,
    pub runs: u64,
    /// Failures by class, for a bounded metric label.
    pub failures: BTreeMap<Failure, u64>,
    pub duration: Histogram,
    /// Check-specific values (e.g. ICMP round-trip time, TLS seconds to expiry), exported
    /// as `anycast_warden_check_value{name=...}`; empty for checks that measure nothing.
    pub values: BTreeMap<String, f64>,
}

/// One service as an operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The prefixes as configured (with their VRF, if any).
    pub prefixes: Vec<String>,
    /// The same prefixes without VRF, as the announcer deals in them.
    pub nets: Vec<IpNet>,
    pub state: Health,
    /// When the service entered `state` (Unix seconds).
    pub since: f64,
    pub disabled: bool,
    /// Whether health (and the `disabled` policy) asks for the prefixes to be out;
    /// a drain still withdraws them.
    pub wants_announce: bool,
    pub drained: Option<Drain>,
    /// State changes since the daemon started.
    pub transitions: u64,
    /// The last round: when, whether it passed, and the failing checks' reasons.
    pub last_round: Option<RoundStatus>,
    /// Keyed by the check's description (`exec /usr/bin/dig ...`, `tcp 127.0.0.1:53`).
    /// Boxed because a B-tree leaf holds room for 11 entries even when the service has one
    /// check: with the status inline that was about 1.8 KiB per service, boxed under 0.4.
    pub checks: BTreeMap<String, Box<CheckStatus>>,
    /// Flap dampening, when the service has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dampening: Option<DampeningStatus>,
}

/// A dampened service's penalty, as of its last round (it decays between rounds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DampeningStatus {
    pub penalty: f64,
    /// Held withdrawn, whatever its health.
    pub suppressed: bool,
    /// While suppressed: when it will be reused if it does not flap again (Unix seconds).
    pub reuse_at: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundStatus {
    pub at: f64,
    pub passed: bool,
    pub reason: String,
}

/// The last apply of the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplyStatus {
    pub at: f64,
    pub ok: bool,
    pub error: Option<String>,
    /// Seconds the apply took.
    pub took: f64,
    /// How many prefixes it carried.
    pub prefixes: usize,
}

/// The routing side as the announcer sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendStatus {
    /// `bird` or `frr`.
    pub kind: String,
    /// What the services want announced now.
    pub desired: BTreeSet<IpNet>,
    /// What the last successful apply made the routing daemon announce; `None` while
    /// unknown (before the first apply, or after a failed one following a success).
    pub applied: Option<BTreeSet<IpNet>>,
    pub last_apply: Option<ApplyStatus>,
    /// When an apply last succeeded (Unix seconds).
    pub last_success: Option<f64>,
    pub applies: u64,
    pub failures: u64,
    /// Failures since the last success (0 when the last apply worked).
    pub consecutive_failures: u32,
    /// How long a drained service's prefixes stay announced with GRACEFUL_SHUTDOWN before
    /// they are withdrawn (the built-in speaker's `drain_time`; 0: withdrawn at once).
    #[serde(default)]
    pub drain_seconds: f64,
    pub duration: Histogram,
}

impl BackendStatus {
    /// Whether the routing daemon announces what the services want.
    pub fn in_sync(&self) -> bool {
        self.applied.as_ref() == Some(&self.desired)
    }
}

/// Everything, as one consistent value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: String,
    /// When the daemon started (Unix seconds).
    pub started: f64,
    pub backend: BackendStatus,
    pub services: BTreeMap<String, ServiceStatus>,
    /// `drain --all`: every service is withdrawn, including ones added later.
    pub drain_all: Option<Drain>,
    /// The built-in speaker's peers, in configuration order (empty with BIRD or FRR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bgp_peers: Vec<BgpPeerView>,
    /// DNS failover (`[dns]`); `None` without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsStatus>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            version: env!("CARGO_PKG_VERSION").to_string(),
            started: unix_now(),
            backend: BackendStatus::default(),
            services: BTreeMap::new(),
            drain_all: None,
            bgp_peers: Vec::new(),
            dns: None,
        }
    }
}

impl Snapshot {
    /// Whether the service's prefixes are withdrawn for maintenance.
    pub fn is_drained(&self, service: &str) -> bool {
        self.drain_all.is_some()
            || self
                .services
                .get(service)
                .is_some_and(|s| s.drained.is_some())
    }

    /// Whether `net` is in what the routing daemon announces.
    pub fn announced(&self, net: &IpNet) -> bool {
        self.backend
            .applied
            .as_ref()
            .is_some_and(|set| set.contains(net))
    }

    /// A service appears (start, reload) with its health; an existing entry keeps its
    /// history, and its time in state when the state did not change.
    pub fn register(&mut self, name: &str, entry: ServiceRegistration) {
        let now = unix_now();
        match self.services.get_mut(name) {
            Some(s) => {
                if s.state != entry.state {
                    s.state = entry.state;
                    s.since = now;
                }
                s.prefixes = entry.prefixes;
                s.nets = entry.nets;
                s.disabled = entry.disabled;
                s.wants_announce = entry.wants_announce;
            }
            None => {
                self.services.insert(
                    name.to_string(),
                    ServiceStatus {
                        prefixes: entry.prefixes,
                        nets: entry.nets,
                        state: entry.state,
                        since: now,
                        disabled: entry.disabled,
                        wants_announce: entry.wants_announce,
                        drained: None,
                        transitions: 0,
                        last_round: None,
                        checks: BTreeMap::new(),
                        dampening: None,
                    },
                );
            }
        }
    }

    /// A service's dampening state (`None`: it has no dampening).
    pub fn set_dampening(&mut self, name: &str, dampening: Option<DampeningStatus>) {
        if let Some(s) = self.services.get_mut(name) {
            s.dampening = dampening;
        }
    }

    /// Whether a service asks for its prefixes to be out (between rounds: a reuse).
    pub fn set_wants_announce(&mut self, name: &str, wants: bool) {
        if let Some(s) = self.services.get_mut(name) {
            s.wants_announce = wants;
        }
    }

    /// One finished round of a service.
    pub fn record_round(&mut self, name: &str, round: &RoundReport<'_>) {
        let Some(s) = self.services.get_mut(name) else {
            return;
        };
        let now = unix_now();
        if let Some(t) = round.transition {
            s.state = t.to;
            s.since = now;
            s.transitions += 1;
        }
        s.wants_announce = round.wants_announce;
        s.last_round = Some(RoundStatus {
            at: now,
            passed: round.passed,
            reason: round.reason.to_string(),
        });
        if let Some(outcome) = round.ip_check {
            let c = s.checks.entry(IP_CHECK.to_string()).or_default();
            record_check(c, now, outcome);
        }
        for (check, outcome) in round.outcomes {
            let c = s.checks.entry(check.clone()).or_default();
            record_check(c, now, outcome);
            if let Some(measured) = &outcome.measurements {
                c.values = measurement_values(measured);
            }
        }
    }

    /// One finished apply of the backend.
    pub fn record_apply(
        &mut self,
        target: &BTreeSet<IpNet>,
        result: Result<(), &str>,
        took: Duration,
    ) {
        let b = &mut self.backend;
        let now = unix_now();
        b.applies += 1;
        b.duration.observe(took);
        match result {
            Ok(()) => {
                b.applied = Some(target.clone());
                b.last_success = Some(now);
                b.consecutive_failures = 0;
            }
            Err(_) => {
                // What the routing daemon holds now is not known for sure.
                b.applied = None;
                b.failures += 1;
                b.consecutive_failures = b.consecutive_failures.saturating_add(1);
            }
        }
        b.last_apply = Some(ApplyStatus {
            at: now,
            ok: result.is_ok(),
            error: result.err().map(str::to_string),
            took: took.as_secs_f64(),
            prefixes: target.len(),
        });
    }
}

/// A check's measurements as named values (`anycast_warden_check_value{name=...}`).
pub fn measurement_values(measured: &crate::check::CheckMeasurements) -> BTreeMap<String, f64> {
    use crate::check::CheckMeasurements;
    match measured {
        CheckMeasurements::Icmp(stats) => BTreeMap::from([
            ("rtt_min_seconds".to_string(), stats.rtt_min.as_secs_f64()),
            ("rtt_avg_seconds".to_string(), stats.rtt_avg.as_secs_f64()),
            ("rtt_max_seconds".to_string(), stats.rtt_max.as_secs_f64()),
            (
                "rtt_stddev_seconds".to_string(),
                stats.rtt_stddev.as_secs_f64(),
            ),
            ("loss_ratio".to_string(), stats.loss_percent() / 100.0),
        ]),
        CheckMeasurements::TlsExpiry { seconds_left } => BTreeMap::from([(
            "tls_expiry_seconds".to_string(),
            // Exact for any certificate lifetime (well below 2^53 seconds).
            *seconds_left as f64,
        )]),
    }
}

fn record_check(c: &mut CheckStatus, now: f64, outcome: &CheckOutcome) {
    c.passed = outcome.passed();
    c.detail.clone_from(&outcome.detail);
    c.at = now;
    c.runs += 1;
    if outcome.elapsed > Duration::ZERO {
        c.duration.observe(outcome.elapsed);
    }
    if let Some(failure) = outcome.failure {
        *c.failures.entry(failure).or_default() += 1;
    }
}

/// What a service task says about itself when it starts.
#[derive(Debug, Clone)]
pub struct ServiceRegistration {
    pub prefixes: Vec<String>,
    pub nets: Vec<IpNet>,
    pub state: Health,
    pub disabled: bool,
    pub wants_announce: bool,
}

/// What a service task says after a round.
#[derive(Debug, Clone, Copy)]
pub struct RoundReport<'a> {
    pub passed: bool,
    pub reason: &'a str,
    pub transition: Option<Transition>,
    pub wants_announce: bool,
    /// The address check's outcome, if it ran (when it failed, the other checks did not).
    pub ip_check: Option<&'a CheckOutcome>,
    /// Each check's description and outcome.
    pub outcomes: &'a [(String, CheckOutcome)],
}

/// The shared board. Cloning it is cheap; every clone writes to and reads the same
/// snapshot.
#[derive(Debug, Clone)]
pub struct StatusBoard {
    tx: watch::Sender<Snapshot>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        StatusBoard::new(Snapshot::default())
    }
}

impl StatusBoard {
    pub fn new(snapshot: Snapshot) -> Self {
        StatusBoard {
            tx: watch::Sender::new(snapshot),
        }
    }

    /// Changes the snapshot in place; readers are told it changed.
    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        self.tx.send_modify(f);
    }

    /// A copy of the current snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.tx.borrow().clone()
    }

    /// Reads the snapshot in place (no copy); do not hold it long.
    pub fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        f(&self.tx.borrow())
    }

    /// A receiver that wakes at every change.
    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests;
