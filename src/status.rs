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

/// Bucket bounds (seconds) of the check and apply duration histograms: 1 ms to 10 s.
pub const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

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

/// A Prometheus-style histogram of durations with the fixed [`DURATION_BUCKETS`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    pub buckets: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn observe(&mut self, d: Duration) {
        let secs = d.as_secs_f64();
        if self.buckets.len() != DURATION_BUCKETS.len() + 1 {
            self.buckets = vec![0; DURATION_BUCKETS.len() + 1];
        }
        let i = DURATION_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(DURATION_BUCKETS.len());
        self.buckets[i] += 1;
        self.sum += secs;
        self.count += 1;
    }

    /// `(upper bound, observations in that bucket)`, ending with `+Inf`.
    pub fn bucket_pairs(&self) -> Vec<(f64, u64)> {
        DURATION_BUCKETS
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .enumerate()
            .map(|(i, le)| (le, self.buckets.get(i).copied().unwrap_or(0)))
            .collect()
    }
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

/// The DNS updater's part: the server, and every managed record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsStatus {
    pub server: String,
    pub zone: String,
    pub dry_run: bool,
    pub min_records: usize,
    /// Whether deletions need agreement through etcd.
    pub agreement: bool,
    /// Why the agreement store is unreachable (nothing is deleted meanwhile).
    pub store_error: Option<String>,
    /// Whether this warden sends the UPDATEs (always, without agreement).
    pub sender: bool,
    /// The monitor that sends them (with agreement).
    pub sender_id: Option<String>,
    /// By `name/type/value`.
    pub records: BTreeMap<String, DnsRecordStatus>,
    /// UPDATE rounds by result (`ok`, `dry_run`, `refused`, `tsig`, ...).
    pub updates: BTreeMap<String, u64>,
    /// Records changed in the zone, by action (`add`, `delete`).
    pub changes: BTreeMap<String, u64>,
    /// The last failure, until a round succeeds.
    pub last_error: Option<String>,
    /// When the zone was last read successfully (Unix seconds).
    pub last_read: Option<f64>,
}

/// One managed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordStatus {
    pub service: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
    /// This warden's verdict (its service's health).
    pub verdict: Health,
    /// Whether the primary has it, as last read; `None` before the first read.
    pub in_zone: Option<bool>,
    /// Why a wanted deletion does not happen (min_records, agreement).
    pub held: Option<String>,
    /// The other monitors' votes (true: down), with agreement.
    pub votes: BTreeMap<String, bool>,
    pub last_update: Option<DnsUpdateStatus>,
}

impl Default for DnsRecordStatus {
    fn default() -> Self {
        DnsRecordStatus {
            service: String::new(),
            name: String::new(),
            rtype: String::new(),
            value: String::new(),
            verdict: Health::Unknown,
            in_zone: None,
            held: None,
            votes: BTreeMap::new(),
            last_update: None,
        }
    }
}

/// The last UPDATE that concerned a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsUpdateStatus {
    pub at: f64,
    /// `add` or `delete`.
    pub action: String,
    pub ok: bool,
    /// Only logged (dry_run).
    pub dry_run: bool,
    pub error: Option<String>,
}

/// One peer of the built-in BGP speaker, as `status` and the metrics show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BgpPeerView {
    pub address: String,
    pub asn: u32,
    /// `idle`, `connect`, `active`, `opensent`, `openconfirm` or `established`.
    pub state: String,
    /// How often the session left Established.
    pub flaps: u64,
    /// Since when the session is Established (Unix seconds).
    pub established_since: Option<f64>,
    /// Families negotiated on the current session (`ipv4-unicast`, `ipv6-unicast`).
    pub families: Vec<String>,
    /// Messages by type (`open`, `update`, `notification`, `keepalive`, `route_refresh`).
    pub sent: BTreeMap<String, u64>,
    pub received: BTreeMap<String, u64>,
    /// Prefixes the peer has from the warden on the current session.
    pub prefixes_announced: usize,
    pub last_error: Option<BgpErrorView>,
    /// Malformed UPDATEs that kept the session (RFC 7606), by handling:
    /// `treat-as-withdraw` (UPDATEs), `attribute-discard` (attributes).
    #[serde(default)]
    pub update_errors: BTreeMap<String, u64>,
}

/// The last NOTIFICATION of a peer's session, in either direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BgpErrorView {
    /// True when the warden sent it, false when the peer did.
    pub sent: bool,
    pub code: u8,
    pub subcode: u8,
    /// "Cease / Administrative Shutdown (6/2)"
    pub text: String,
    pub at: f64,
}

impl BgpPeerView {
    pub fn of(peer: &crate::bgp::status::PeerStatus) -> Self {
        let unix = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        let counts = |c: &crate::bgp::status::MessageCounts| {
            BTreeMap::from([
                ("open".to_string(), c.open),
                ("update".to_string(), c.update),
                ("notification".to_string(), c.notification),
                ("keepalive".to_string(), c.keepalive),
                ("route_refresh".to_string(), c.route_refresh),
            ])
        };
        BgpPeerView {
            address: peer.address.to_string(),
            asn: peer.asn,
            state: peer.state.as_str().to_string(),
            flaps: peer.flaps,
            established_since: peer.established_since.map(unix),
            families: peer.families.iter().map(ToString::to_string).collect(),
            sent: counts(&peer.sent),
            received: counts(&peer.received),
            prefixes_announced: peer.prefixes_announced,
            update_errors: BTreeMap::from([
                ("treat-as-withdraw".to_string(), peer.treated_as_withdraw),
                ("attribute-discard".to_string(), peer.attributes_discarded),
            ]),
            last_error: peer.last_error.as_ref().map(|e| BgpErrorView {
                sent: e.sent,
                code: e.code,
                subcode: e.subcode,
                text: e.text.clone(),
                at: unix(e.at),
            }),
        }
    }
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
mod tests {
    use super::*;

    #[test]
    fn measurements_become_named_values() {
        use crate::check::{CheckMeasurements, IcmpStats};
        let icmp = measurement_values(&CheckMeasurements::Icmp(IcmpStats {
            sent: 4,
            received: 3,
            rtt_min: Duration::from_millis(1),
            rtt_avg: Duration::from_millis(2),
            rtt_max: Duration::from_millis(4),
            rtt_stddev: Duration::from_micros(500),
        }));
        assert_eq!(icmp["rtt_min_seconds"], 0.001);
        assert_eq!(icmp["rtt_avg_seconds"], 0.002);
        assert_eq!(icmp["rtt_max_seconds"], 0.004);
        assert_eq!(icmp["rtt_stddev_seconds"], 0.0005);
        assert_eq!(icmp["loss_ratio"], 0.25);
        let tls = measurement_values(&CheckMeasurements::TlsExpiry { seconds_left: -60 });
        assert_eq!(
            tls.into_iter().collect::<Vec<_>>(),
            vec![("tls_expiry_seconds".to_string(), -60.0)]
        );
    }

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn registration(state: Health) -> ServiceRegistration {
        ServiceRegistration {
            prefixes: vec!["203.0.113.53/32".into()],
            nets: vec![net("203.0.113.53/32")],
            state,
            disabled: false,
            wants_announce: false,
        }
    }

    #[test]
    fn histogram_puts_each_observation_in_the_first_bucket_that_holds_it() {
        let mut h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(20));
        h.observe(Duration::from_secs(60));
        let pairs = h.bucket_pairs();
        assert_eq!(pairs.len(), DURATION_BUCKETS.len() + 1);
        assert_eq!(pairs[0], (0.001, 1));
        assert_eq!(pairs[4], (0.025, 1));
        assert_eq!(pairs.last().copied(), Some((f64::INFINITY, 1)));
        assert_eq!(h.count, 3);
        assert!((h.sum - 60.0205).abs() < 1e-9);
    }

    #[test]
    fn a_round_records_transition_checks_and_reasons() {
        let mut s = Snapshot::default();
        s.register("dns", registration(Health::Unknown));
        let outcomes = vec![
            (
                "tcp 127.0.0.1:53".to_string(),
                CheckOutcome::fail(
                    Failure::Refused,
                    "connect to 127.0.0.1:53: Connection refused (os error 111)",
                ),
            ),
            ("exec true".to_string(), CheckOutcome::pass("exit status 0")),
        ];
        let transition = Transition {
            from: Health::Unknown,
            to: Health::Down,
            streak: 2,
        };
        s.record_round(
            "dns",
            &RoundReport {
                passed: false,
                reason: "tcp 127.0.0.1:53: refused",
                transition: Some(transition),
                wants_announce: false,
                ip_check: Some(&CheckOutcome::pass("assigned")),
                outcomes: &outcomes,
            },
        );
        let dns = &s.services["dns"];
        assert_eq!(dns.state, Health::Down);
        assert_eq!(dns.transitions, 1);
        assert_eq!(
            dns.last_round.as_ref().unwrap().reason,
            "tcp 127.0.0.1:53: refused"
        );
        let tcp = &dns.checks["tcp 127.0.0.1:53"];
        assert!(!tcp.passed);
        assert_eq!(tcp.failures[&Failure::Refused], 1);
        assert!(dns.checks["exec true"].passed);
        assert!(dns.checks[IP_CHECK].passed);
    }

    #[test]
    fn a_failed_ip_check_counts_as_address_missing() {
        let mut s = Snapshot::default();
        s.register("dns", registration(Health::Up));
        s.record_round(
            "dns",
            &RoundReport {
                passed: false,
                reason: "203.0.113.53 not assigned to lo (ip_check)",
                transition: None,
                wants_announce: true,
                ip_check: Some(&CheckOutcome::fail(
                    Failure::AddressMissing,
                    "203.0.113.53 not assigned to lo (ip_check)",
                )),
                outcomes: &[],
            },
        );
        assert_eq!(
            s.services["dns"].checks[IP_CHECK].failures[&Failure::AddressMissing],
            1
        );
        assert_eq!(s.services["dns"].transitions, 0);
    }

    #[test]
    fn registering_again_keeps_history_and_time_in_state() {
        let mut s = Snapshot::default();
        s.register("dns", registration(Health::Up));
        s.services.get_mut("dns").unwrap().since = 1.0;
        s.services.get_mut("dns").unwrap().transitions = 4;
        s.register("dns", registration(Health::Up));
        assert_eq!(s.services["dns"].since, 1.0);
        assert_eq!(s.services["dns"].transitions, 4);
        s.register("dns", registration(Health::Down));
        assert!(s.services["dns"].since > 1.0);
    }

    #[test]
    fn apply_results_track_applied_set_and_failures() {
        let mut s = Snapshot::default();
        let set: BTreeSet<IpNet> = [net("203.0.113.53/32")].into();
        s.backend.desired = set.clone();
        assert!(!s.backend.in_sync());
        s.record_apply(&set, Ok(()), Duration::from_millis(3));
        assert!(s.backend.in_sync());
        assert!(s.announced(&net("203.0.113.53/32")));
        s.record_apply(&set, Err("BIRD said no"), Duration::from_millis(3));
        assert!(!s.backend.in_sync());
        assert!(!s.announced(&net("203.0.113.53/32")));
        assert_eq!(
            (
                s.backend.applies,
                s.backend.failures,
                s.backend.consecutive_failures
            ),
            (2, 1, 1)
        );
        assert_eq!(
            s.backend.last_apply.as_ref().unwrap().error.as_deref(),
            Some("BIRD said no")
        );
        s.record_apply(&set, Ok(()), Duration::from_millis(3));
        assert_eq!(s.backend.consecutive_failures, 0);
    }

    #[test]
    fn snapshot_round_trips_through_json() {
        let mut s = Snapshot::default();
        s.register("dns", registration(Health::Up));
        s.drain_all = Some(Drain {
            reason: "maintenance".into(),
            since: 2.0,
        });
        // Times with an exact binary form: serde_json's default float parsing may miss
        // the last bit of arbitrary ones (harmless for a status, wrong for assert_eq).
        s.started = 1_700_000_000.5;
        s.services.get_mut("dns").unwrap().since = 1_700_000_001.25;
        let text = serde_json::to_string(&s).unwrap();
        let back: Snapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert!(back.is_drained("dns"));
    }

    #[tokio::test]
    async fn readers_see_updates() {
        let board = StatusBoard::default();
        let mut rx = board.subscribe();
        board.update(|s| s.register("dns", registration(Health::Up)));
        rx.changed().await.unwrap();
        assert!(rx.borrow().services.contains_key("dns"));
        assert_eq!(board.read(|s| s.services.len()), 1);
    }
}
