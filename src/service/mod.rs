//! One task per service: runs its check rounds on schedule, feeds the results through the
//! rise/fall state machine, and tells the announcer whether its prefixes should be out.
//!
//! A round runs every check of the service at once (and the `ip_check` first); the round
//! passes when all of them pass. Services never wait for each other: each has its own task.
//!
//! ```text
//!  supervisor ──spawn/cancel, check_now (watch)──▶ ┌──────────────┐ ──Update::Set (mpsc)──▶ announcer
//!  address book (netlink snapshot) ──ip_check────▶ │ service task │ ──Verdict (mpsc)──────▶ DNS updater
//!  checks (Check::run, one future each) ◀─round──▶ └──────────────┘ ──rounds, state──────▶ StatusBoard
//! ```
//! The task owns its health machine and flap history; a reload cancels it and hands both
//! to its successor (`Carried`). Whether it wants its prefixes out is decided in one place,
//! [`wants_announce`].

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use rand::RngExt;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::announce::{Command, Update};
use crate::check::address::AddressBook;
use crate::check::{Check, CheckContext, CheckOutcome, Failure};
use crate::config::{OnDisabled, ServiceConfig};
use crate::health::dampening::{Change, FlapState};
use crate::health::schedule::{Schedule, splay_anchor};
use crate::health::{Health, HealthMachine, Transition};
use crate::status::{DampeningStatus, RoundReport, ServiceRegistration, StatusBoard, unix_now};

/// Extra time past the check timeout before a check that ignores it is abandoned.
const OVERRUN_GRACE: Duration = Duration::from_secs(1);

/// Everything a service task needs.
pub struct ServiceTask {
    pub config: ServiceConfig,
    pub machine: HealthMachine,
    /// The flap history (used when the service has `dampening`).
    pub flaps: FlapState,
    /// Maximum random delay of the first round.
    pub splay: Duration,
    /// Where every service's grid starts (the daemon's start), so that services whose
    /// splay drew the same step wake together.
    pub grid_origin: Instant,
    pub announcer: mpsc::Sender<Command>,
    /// Bumped to ask for an immediate round (SIGURG, `check-now`).
    pub check_now: watch::Receiver<CheckNow>,
    pub cancel: CancellationToken,
    /// The host's addresses, for `ip_check`.
    pub addresses: Arc<AddressBook>,
    /// Where the task publishes its state, rounds and check results.
    pub status: StatusBoard,
    /// The DNS updater, for a service with `records`.
    pub records: Option<mpsc::Sender<crate::records::updater::Command>>,
}

/// What a stopped task hands back, so that a reload carries its health and flap history.
#[derive(Debug, Clone)]
pub struct Carried {
    pub machine: HealthMachine,
    pub flaps: FlapState,
}

/// Why the task woke up.
enum Wake {
    /// A scheduled round, or one asked for (`on_demand`).
    Round { on_demand: bool },
    /// A suppressed service's penalty has decayed to `reuse`.
    Reuse,
}

/// A request for an immediate round: every service, or one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckNow {
    /// Bumped at every request, so that two requests in a row are both seen.
    pub seq: u64,
    /// `None`: every service.
    pub service: Option<String>,
}

impl CheckNow {
    /// The next request, for `service` (or every service).
    pub fn bump(&mut self, service: Option<String>) {
        self.seq = self.seq.wrapping_add(1);
        self.service = service;
    }

    fn concerns(&self, name: &str) -> bool {
        self.service.as_deref().is_none_or(|s| s == name)
    }
}

/// Whether a service asks for its prefixes to be announced: its health, or the
/// `on_disabled` policy while it is disabled, and held out while dampening suppresses it.
/// The one place this is decided (a drain still withdraws; that is the announcer's).
pub fn wants_announce(config: &ServiceConfig, machine: &HealthMachine, flaps: &FlapState) -> bool {
    if config.disabled {
        config.on_disabled == OnDisabled::Advertise
    } else {
        machine.announce() && !(config.dampening.is_some() && flaps.suppressed())
    }
}

/// The result of one round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundResult {
    pub passed: bool,
    /// Why the round failed: each failing check with its reason.
    pub reason: String,
    /// Each check's description and outcome (empty when `ip_check` failed first).
    pub outcomes: Vec<(String, CheckOutcome)>,
    /// The address check's outcome, when the service has one; when it failed, the other
    /// checks did not run.
    pub ip_check: Option<CheckOutcome>,
}

impl ServiceTask {
    /// Runs until cancelled; returns the state so a reload can carry it over.
    /// Not an `async fn`: its future would hold the task twice (the argument, and the
    /// local it is moved into, ~520 bytes each), for every service as long as it runs.
    /// The `async move` block captures it once.
    #[expect(clippy::manual_async_fn, reason = "an async fn stores the task twice")]
    pub fn run(mut self) -> impl Future<Output = Carried> {
        async move {
            let mut announced = self.wants_announce();
            self.publish_dampening();
            self.report(announced).await;
            let mut verdict = self.verdict();
            self.report_records(verdict).await;
            if self.config.disabled {
                info!(service = %self.config.name, on_disabled = ?self.config.on_disabled, "service is disabled");
                self.cancel.cancelled().await;
                return self.carried();
            }
            let context = CheckContext {
                service: self.config.name.clone(),
                addresses: self.addresses.clone(),
            };
            let checks: Vec<Check> = self
                .config
                .checks
                .iter()
                .map(|config| Check::new(config, &context))
                .collect();
            let origin = self.grid_origin;
            let anchor = if self.splay.is_zero() {
                Duration::ZERO
            } else {
                splay_anchor(self.splay, rand::rng().random())
            };
            let schedule = Schedule::new(anchor, self.config.interval, self.config.fast_interval);
            let mut next = origin
                + schedule.first_after(
                    Instant::now().saturating_duration_since(origin),
                    !self.splay.is_zero(),
                );
            let mut last_failure = String::new();
            // A reload may hand over a machine with a pending change: confirm it quickly.
            loop {
                let reuse_at = self.reuse_at();
                let wake = tokio::select! {
                    () = self.cancel.cancelled() => break,
                    () = sleep_until(next) => Wake::Round { on_demand: false },
                    () = sleep_until(reuse_at.unwrap_or(next)), if reuse_at.is_some() => Wake::Reuse,
                    changed = self.check_now.changed() => {
                        if changed.is_err() { break; }
                        // A `check-now` for another service: keep waiting for this one's turn.
                        if !self.check_now.borrow_and_update().concerns(&self.config.name) { continue; }
                        Wake::Round { on_demand: true }
                    }
                };
                let on_demand = match wake {
                    Wake::Round { on_demand } => on_demand,
                    Wake::Reuse => {
                        self.dampen(None);
                        let wants = self.wants_announce();
                        self.status
                            .update(|s| s.set_wants_announce(&self.config.name, wants));
                        if wants != announced {
                            announced = wants;
                            self.report(announced).await;
                        }
                        continue;
                    }
                };
                let started = Instant::now();
                let round = tokio::select! {
                    () = self.cancel.cancelled() => break,
                    round = run_round(&self.config, &checks, &self.addresses) => round,
                };
                let transition = self.judge(&round, &mut last_failure);
                self.dampen(transition);
                let wants = self.wants_announce();
                self.status.update(|s| {
                    s.record_round(
                        &self.config.name,
                        &RoundReport {
                            passed: round.passed,
                            reason: &round.reason,
                            transition,
                            wants_announce: wants,
                            ip_check: round.ip_check.as_ref(),
                            outcomes: &round.outcomes,
                        },
                    )
                });
                if wants != announced {
                    announced = wants;
                    self.report(announced).await;
                }
                if self.verdict() != verdict {
                    verdict = self.verdict();
                    self.report_records(verdict).await;
                }
                let due = origin
                    + schedule.next(
                        started.duration_since(origin),
                        Instant::now().duration_since(origin),
                        self.machine.confirming(),
                    );
                // An extra round asked for by SIGURG keeps the regular grid, unless the
                // fast pace wants an earlier one.
                next = if on_demand { next.min(due) } else { due };
            }
            self.carried()
        }
    }

    fn carried(&self) -> Carried {
        Carried {
            machine: self.machine.clone(),
            flaps: self.flaps,
        }
    }

    fn wants_announce(&self) -> bool {
        wants_announce(&self.config, &self.machine, &self.flaps)
    }

    /// Takes the (possibly reloaded) dampening thresholds into the carried flap history:
    /// a reload may have changed them, or turned dampening on or off.
    pub fn refresh_dampening(&mut self, now: Instant) {
        if let Some(d) = self.config.dampening {
            self.flaps.refresh(&d, now);
        }
    }

    /// How the service appears on the status board when its task starts.
    pub fn registration(&self) -> ServiceRegistration {
        ServiceRegistration {
            prefixes: self
                .config
                .prefixes
                .iter()
                .map(ToString::to_string)
                .collect(),
            nets: self.config.nets(),
            state: self.machine.state(),
            disabled: self.config.disabled,
            wants_announce: self.wants_announce(),
        }
    }

    /// The health the DNS records follow: Unknown (no verdict yet) leaves them alone.
    fn verdict(&self) -> crate::health::Health {
        use crate::health::Health;
        match (self.config.disabled, self.config.on_disabled) {
            (true, OnDisabled::Advertise) => Health::Up,
            (true, OnDisabled::Withdraw) => Health::Down,
            // Dampening holds a flapping service's records out as it holds its prefixes.
            (false, _) if self.suppressed() => Health::Down,
            (false, _) => self.machine.state(),
        }
    }

    async fn report_records(&self, health: crate::health::Health) {
        let Some(updater) = &self.records else { return };
        if self.config.records.is_empty() {
            return;
        }
        let command = crate::records::updater::Command::Verdict {
            service: self.config.name.clone(),
            records: self.config.records.clone(),
            health,
        };
        let _ = updater.send(command).await;
    }

    /// Whether dampening holds the service withdrawn.
    fn suppressed(&self) -> bool {
        self.config.dampening.is_some() && self.flaps.suppressed()
    }

    fn reuse_at(&self) -> Option<Instant> {
        self.config.dampening.and_then(|d| self.flaps.reuse_at(&d))
    }

    /// Counts a change of health (not the first verdict) against the service, lets the
    /// penalty decay, and logs a suppression or a reuse.
    fn dampen(&mut self, transition: Option<Transition>) {
        let Some(config) = self.config.dampening else {
            return;
        };
        let now = Instant::now();
        let mut change = Change::None;
        if let Some(t) = transition
            && t.from != Health::Unknown
        {
            change = self.flaps.flap(&config, now);
        }
        if change == Change::None {
            change = self.flaps.refresh(&config, now);
        }
        let name = &self.config.name;
        let penalty = self.flaps.penalty(&config, now).round();
        match change {
            Change::Suppressed => {
                let reuse_in = self
                    .flaps
                    .reuse_at(&config)
                    .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
                warn!(service = %name, penalty, reuse_in = %humantime::format_duration(Duration::from_secs(reuse_in.as_secs())),
                    "service {name} is flapping: suppressed (held withdrawn) until its penalty decays below {}", config.reuse);
            }
            Change::Reused => {
                info!(service = %name, penalty, state = %self.machine.state(), "service {name} is no longer suppressed");
            }
            Change::None => {}
        }
        self.publish_dampening();
    }

    /// Puts the dampening state on the status board.
    fn publish_dampening(&self) {
        let view = self.config.dampening.map(|config| {
            let now = Instant::now();
            DampeningStatus {
                penalty: self.flaps.penalty(&config, now),
                suppressed: self.flaps.suppressed(),
                reuse_at: self
                    .flaps
                    .reuse_at(&config)
                    .map(|at| unix_now() + at.saturating_duration_since(now).as_secs_f64()),
            }
        });
        self.status
            .update(|s| s.set_dampening(&self.config.name, view));
    }

    async fn report(&self, announce: bool) {
        let command = Command::Update(Update::Set {
            service: self.config.name.clone(),
            prefixes: self.config.nets(),
            announce,
        });
        // The announcer is gone only during shutdown, when nothing is to be announced.
        let _ = self.announcer.send(command).await;
    }

    /// Feeds the round through the state machine and logs what an operator needs.
    fn judge(&mut self, round: &RoundResult, last_failure: &mut String) -> Option<Transition> {
        let name = &self.config.name;
        let prefixes = prefix_list(&self.config);
        let transition = self.machine.observe(round.passed);
        match transition {
            Some(t) => {
                let why = if round.passed {
                    format!("{} consecutive passing rounds", t.streak)
                } else if t.streak == 1 {
                    round.reason.clone()
                } else {
                    format!(
                        "{} consecutive failing rounds; last: {}",
                        t.streak, round.reason
                    )
                };
                // Going down is what `journalctl -p warning` must show; coming up is news.
                if t.to == crate::health::Health::Down {
                    warn!(service = %name, prefixes = %prefixes, from = %t.from, to = %t.to, state = %t.to, reason = %why,
                        "service {name} is {}", t.to);
                } else {
                    info!(service = %name, prefixes = %prefixes, from = %t.from, to = %t.to, state = %t.to, reason = %why,
                        "service {name} is {}", t.to);
                }
            }
            None if !round.passed && round.reason != *last_failure => {
                warn!(service = %name, state = %self.machine.state(), reason = %round.reason, "check failed");
            }
            None if !round.passed => {
                debug!(service = %name, state = %self.machine.state(), reason = %round.reason, "check failed");
            }
            None => debug!(service = %name, state = %self.machine.state(), "checks passed"),
        }
        if round.passed {
            last_failure.clear();
        } else {
            last_failure.clone_from(&round.reason);
        }
        transition
    }
}

fn prefix_list(config: &ServiceConfig) -> String {
    config
        .prefixes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One round: the address check, then every check at once.
pub async fn run_round(
    config: &ServiceConfig,
    checks: &[Check],
    addresses: &AddressBook,
) -> RoundResult {
    let ip_check = config.ip_check.then(|| ip_check(config, addresses));
    if let Some(failed) = ip_check.as_ref().filter(|o| !o.passed()) {
        return RoundResult {
            passed: false,
            reason: failed.detail.clone(),
            outcomes: Vec::new(),
            ip_check,
        };
    }
    let outcomes = join_all(checks.iter().map(|check| async move {
        let outcome =
            match tokio::time::timeout(config.timeout + OVERRUN_GRACE, check.run(config.timeout))
                .await
            {
                Ok(outcome) => outcome,
                Err(_) => CheckOutcome::fail(
                    Failure::Timeout,
                    format!(
                        "did not finish within {}",
                        humantime::format_duration(config.timeout)
                    ),
                ),
            };
        (check, outcome)
    }))
    .await;
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|(_, o)| !o.passed())
        .map(|(check, o)| format!("{}: {}", check.describe(), o.detail))
        .collect();
    RoundResult {
        passed: failures.is_empty(),
        reason: failures.join("; "),
        outcomes: outcomes
            .into_iter()
            .map(|(check, o)| (check.describe(), o))
            .collect(),
        ip_check,
    }
}

/// Every prefix's address must be assigned to the service's interface.
fn ip_check(config: &ServiceConfig, addresses: &AddressBook) -> CheckOutcome {
    let missing = match addresses.missing(
        &config.interface,
        config.prefixes.iter().map(|p| p.prefix.addr()),
    ) {
        Ok(missing) => missing,
        Err(e) => {
            return CheckOutcome::fail(
                Failure::Other,
                format!("cannot list the addresses of {}: {e}", config.interface),
            );
        }
    };
    if missing.is_empty() {
        CheckOutcome::pass("assigned")
    } else {
        let missing: Vec<String> = missing.iter().map(ToString::to_string).collect();
        CheckOutcome::fail(
            Failure::AddressMissing,
            format!(
                "{} not assigned to {} (ip_check)",
                missing.join(", "),
                config.interface
            ),
        )
    }
}

#[cfg(test)]
mod tests;
