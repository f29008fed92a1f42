//! One task per service: runs its check rounds on schedule, feeds the results through the
//! rise/fall state machine, and tells the announcer whether its prefixes should be out.
//!
//! A round runs every check of the service at once (and the `ip_check` first); the round
//! passes when all of them pass. Services never wait for each other: each has its own task.

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
                info!(service = %name, prefixes = %prefixes, from = %t.from, to = %t.to, state = %t.to, reason = %why,
                    "service {name} is {}", t.to);
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
mod tests {
    use super::*;
    use crate::config::{CheckConfig, CheckSpec, ExecCommand, ExecSpec};

    fn service(
        ip_check: bool,
        prefixes: &[&str],
        commands: &[&str],
    ) -> (ServiceConfig, Vec<Check>) {
        let checks: Vec<CheckConfig> = commands
            .iter()
            .map(|c| {
                CheckConfig::from(CheckSpec::Exec(ExecSpec {
                    command: ExecCommand::Shell(c.to_string()),
                    shell: true,
                    run_as: None,
                }))
            })
            .collect();
        let config = ServiceConfig {
            name: "svc".into(),
            prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            records: Vec::new(),
            interval: Duration::from_secs(1),
            fast_interval: None,
            timeout: Duration::from_secs(2),
            rise: 1,
            fall: 1,
            interface: "lo".into(),
            ip_check,
            disabled: false,
            on_disabled: OnDisabled::Withdraw,
            dampening: None,
            checks: checks.clone(),
            announce: Default::default(),
            origin: "test".into(),
        };
        let context = CheckContext {
            service: "svc".into(),
            addresses: AddressBook::uncached(),
        };
        let runnable = checks.iter().map(|s| Check::new(s, &context)).collect();
        (config, runnable)
    }

    #[tokio::test]
    async fn round_passes_only_when_every_check_passes() {
        let (c, checks) = service(false, &["203.0.113.1/32"], &["true", "true"]);
        assert!(
            run_round(&c, &checks, &AddressBook::uncached())
                .await
                .passed
        );
        let (c, checks) = service(false, &["203.0.113.1/32"], &["true", "echo broken; exit 1"]);
        let r = run_round(&c, &checks, &AddressBook::uncached()).await;
        assert!(!r.passed);
        assert_eq!(
            r.reason,
            "exec sh -c 'echo broken; exit 1': exit status 1; stdout: broken"
        );
    }

    #[tokio::test]
    async fn checks_of_a_round_run_at_once() {
        let (c, checks) = service(
            false,
            &["203.0.113.1/32"],
            &["sleep 0.3", "sleep 0.3", "sleep 0.3"],
        );
        let t = std::time::Instant::now();
        assert!(
            run_round(&c, &checks, &AddressBook::uncached())
                .await
                .passed
        );
        assert!(
            t.elapsed() < Duration::from_millis(800),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn ip_check_fails_for_an_unassigned_address() {
        let (c, checks) = service(true, &["127.0.0.1/32"], &["true"]);
        assert!(
            run_round(&c, &checks, &AddressBook::uncached())
                .await
                .passed
        );
        let (c, checks) = service(true, &["203.0.113.250/32", "127.0.0.1/32"], &["true"]);
        let r = run_round(&c, &checks, &AddressBook::uncached()).await;
        assert!(!r.passed);
        assert_eq!(r.reason, "203.0.113.250 not assigned to lo (ip_check)");
    }

    /// Runs a task whose check is `test -e FLAG`; returns the announcer's receiver.
    fn spawn_task(
        dir: &std::path::Path,
        interval_ms: u64,
        fast_ms: Option<u64>,
        rise: u32,
        fall: u32,
    ) -> (
        mpsc::Receiver<Command>,
        watch::Sender<CheckNow>,
        CancellationToken,
        tokio::task::JoinHandle<Carried>,
    ) {
        let flag = dir.join("up");
        let (mut config, _) = service(false, &["203.0.113.1/32"], &[]);
        config.checks = vec![CheckConfig::from(CheckSpec::Exec(ExecSpec {
            command: ExecCommand::Argv(vec![
                "/bin/test".into(),
                "-e".into(),
                flag.display().to_string(),
            ]),
            shell: false,
            run_as: None,
        }))];
        config.interval = Duration::from_millis(interval_ms);
        config.fast_interval = fast_ms.map(Duration::from_millis);
        config.rise = rise;
        config.fall = fall;
        let (tx, rx) = mpsc::channel(16);
        let (check_now, check_rx) = watch::channel(CheckNow::default());
        let cancel = CancellationToken::new();
        let task = task_for(config, tx, check_rx, cancel.clone(), StatusBoard::default());
        (rx, check_now, cancel, tokio::spawn(task.run()))
    }

    /// A task for `config` with no splay, no DNS records and a fresh health machine.
    fn task_for(
        config: ServiceConfig,
        announcer: mpsc::Sender<Command>,
        check_now: watch::Receiver<CheckNow>,
        cancel: CancellationToken,
        status: StatusBoard,
    ) -> ServiceTask {
        let task = ServiceTask {
            machine: HealthMachine::new(config.rise, config.fall),
            flaps: FlapState::new(Instant::now()),
            config,
            splay: Duration::ZERO,
            grid_origin: Instant::now(),
            announcer,
            check_now,
            cancel,
            addresses: AddressBook::uncached(),
            status,
            records: None,
        };
        // As the supervisor does before it spawns a task.
        task.status
            .update(|s| s.register(&task.config.name, task.registration()));
        task
    }

    async fn next_announce(rx: &mut mpsc::Receiver<Command>) -> bool {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Command::Update(Update::Set { announce, .. }))) => announce,
            _ => panic!("no Set from the service task"),
        }
    }

    #[tokio::test]
    async fn task_reports_unknown_then_up_then_down() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("up"), "").unwrap();
        let (mut rx, _now, cancel, task) = spawn_task(dir.path(), 50, None, 2, 2);
        assert!(
            !next_announce(&mut rx).await,
            "unknown is reported as withdrawn"
        );
        assert!(next_announce(&mut rx).await, "announced after rise");
        std::fs::remove_file(dir.path().join("up")).unwrap();
        assert!(!next_announce(&mut rx).await, "withdrawn after fall");
        cancel.cancel();
        let carried = task.await.unwrap();
        assert_eq!(carried.machine.state(), crate::health::Health::Down);
    }

    #[tokio::test]
    async fn fast_interval_confirms_a_failure_quickly() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("up"), "").unwrap();
        // Rise 1, fall 3, at a 2 s interval with 50 ms confirmation.
        let (mut rx, _now, _cancel, _task) = spawn_task(dir.path(), 2000, Some(50), 1, 3);
        assert!(!next_announce(&mut rx).await);
        assert!(next_announce(&mut rx).await);
        // Wait for the next regular round to see the failure, then time the confirmation.
        std::fs::remove_file(dir.path().join("up")).unwrap();
        let started = std::time::Instant::now();
        assert!(!next_announce(&mut rx).await);
        // At most one regular interval to notice plus two fast rounds, far below 3 × 2 s.
        assert!(
            started.elapsed() < Duration::from_millis(3000),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn check_now_runs_a_round_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (mut rx, now, _cancel, _task) = spawn_task(dir.path(), 3_600_000, None, 1, 1);
        assert!(!next_announce(&mut rx).await);
        // The first round ran at start (flag absent: down). The next is an hour away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::write(dir.path().join("up"), "").unwrap();
        now.send_modify(|n| n.bump(None));
        assert!(
            next_announce(&mut rx).await,
            "SIGURG-style round announced it"
        );
    }

    #[tokio::test]
    async fn check_now_for_another_service_runs_no_round() {
        let dir = tempfile::tempdir().unwrap();
        let (mut rx, now, _cancel, _task) = spawn_task(dir.path(), 3_600_000, None, 1, 1);
        assert!(!next_announce(&mut rx).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::write(dir.path().join("up"), "").unwrap();
        now.send_modify(|n| n.bump(Some("other".into())));
        let nothing = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await;
        assert!(
            nothing.is_err(),
            "a round ran for another service's check-now"
        );
        now.send_modify(|n| n.bump(Some("svc".into())));
        assert!(
            next_announce(&mut rx).await,
            "its own check-now ran a round"
        );
    }

    #[tokio::test]
    async fn disabled_service_follows_on_disabled_and_runs_no_checks() {
        for (policy, expected) in [(OnDisabled::Withdraw, false), (OnDisabled::Advertise, true)] {
            let (mut config, _) = service(false, &["203.0.113.1/32"], &["exit 1"]);
            config.disabled = true;
            config.on_disabled = policy;
            let (tx, mut rx) = mpsc::channel(4);
            let (_now, check_rx) = watch::channel(CheckNow::default());
            let cancel = CancellationToken::new();
            let task = tokio::spawn(
                ServiceTask {
                    machine: HealthMachine::new(1, 1),
                    flaps: FlapState::new(Instant::now()),
                    config,
                    splay: Duration::ZERO,
                    grid_origin: Instant::now(),
                    announcer: tx,
                    check_now: check_rx,
                    cancel: cancel.clone(),
                    addresses: AddressBook::uncached(),
                    status: StatusBoard::default(),
                    records: None,
                }
                .run(),
            );
            assert_eq!(next_announce(&mut rx).await, expected);
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert!(
                rx.try_recv().is_err(),
                "a disabled service reports nothing more"
            );
            cancel.cancel();
            task.await.unwrap();
        }
    }

    /// A task whose only check is `kind = "file"` on `dir/up` (no process: it runs under
    /// tokio's paused clock), every second, first round at once.
    fn file_task(
        dir: &std::path::Path,
        rise: u32,
        fall: u32,
        dampening: Option<crate::config::DampeningConfig>,
    ) -> (
        mpsc::Receiver<Command>,
        StatusBoard,
        CancellationToken,
        watch::Sender<CheckNow>,
    ) {
        let (mut config, _) = service(false, &["203.0.113.1/32"], &[]);
        config.checks = vec![CheckConfig::from(CheckSpec::File(
            crate::config::FileSpec {
                path: dir.join("up"),
                absent: false,
            },
        ))];
        config.interval = Duration::from_secs(1);
        config.rise = rise;
        config.fall = fall;
        config.dampening = dampening;
        let (tx, rx) = mpsc::channel(1024);
        let (check_now, check_rx) = watch::channel(CheckNow::default());
        let cancel = CancellationToken::new();
        let status = StatusBoard::default();
        tokio::spawn(task_for(config, tx, check_rx, cancel.clone(), status.clone()).run());
        (rx, status, cancel, check_now)
    }

    /// The announcements the task has sent so far.
    fn announcements(rx: &mut mpsc::Receiver<Command>) -> Vec<bool> {
        let mut out = Vec::new();
        while let Ok(c) = rx.try_recv() {
            if let Command::Update(Update::Set { announce, .. }) = c {
                out.push(announce);
            }
        }
        out
    }

    /// What rise/fall hysteresis announces for a sequence of results, written out plainly.
    fn expected(health: &[bool], rise: usize, fall: usize) -> Vec<(u64, bool)> {
        let mut announced = false;
        let mut out = Vec::new();
        for k in 0..health.len() {
            let last =
                |n: usize, v: bool| k + 1 >= n && health[k + 1 - n..=k].iter().all(|&h| h == v);
            if !announced && last(rise, true) {
                announced = true;
                out.push((k as u64, true));
            } else if announced && last(fall, false) {
                announced = false;
                out.push((k as u64, false));
            }
        }
        out
    }

    /// A service that changes health every few intervals for ten minutes: without
    /// dampening, every change the hysteresis allows reaches the announcer, at its round.
    #[tokio::test(start_paused = true)]
    async fn a_flapping_service_is_announced_exactly_as_rise_and_fall_say() {
        // Phases of 1 to 4 rounds (a fixed pseudo-random sequence), 600 rounds in all.
        let mut health = Vec::new();
        let mut x: u32 = 7;
        let mut up = true;
        while health.len() < 600 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = 1 + (x >> 16) as usize % 4;
            health.extend(std::iter::repeat_n(up, len));
            up = !up;
        }
        health.truncate(600);
        for (rise, fall) in [(1, 1), (2, 2), (3, 1), (1, 3)] {
            let dir = tempfile::tempdir().unwrap();
            let t0 = Instant::now();
            let (mut rx, _status, cancel, _now) = file_task(dir.path(), rise, fall, None);
            // One round at a time, so each announcement is attributed to its round.
            let mut seen = Vec::new();
            for (k, &up) in health.iter().enumerate() {
                drive_one(dir.path(), t0, k, up).await;
                seen.extend(announcements(&mut rx).into_iter().map(|a| (k as u64, a)));
            }
            cancel.cancel();
            // The first report is the Unknown state's "withdrawn".
            assert_eq!(seen.first(), Some(&(0, false)), "rise {rise} fall {fall}");
            let want = expected(&health, rise as usize, fall as usize);
            assert!(
                want.len() > 50,
                "the pattern exercises the hysteresis: {}",
                want.len()
            );
            assert_eq!(seen[1..], want[..], "rise {rise} fall {fall}");
        }
    }

    /// Sets round `k`'s result half a second before it, and lets the round run.
    async fn drive_one(dir: &std::path::Path, t0: Instant, k: usize, up: bool) {
        let at = t0 + Duration::from_secs(k as u64);
        if k > 0 {
            tokio::time::sleep_until(at - Duration::from_millis(500)).await;
        }
        if up {
            std::fs::write(dir.join("up"), "").unwrap();
        } else {
            let _ = std::fs::remove_file(dir.join("up"));
        }
        tokio::time::sleep_until(at + Duration::from_millis(100)).await;
    }

    /// The same flapping with dampening: suppressed at the third change, held withdrawn
    /// while the checks pass, status and penalty say so, and announced again exactly when
    /// the penalty has decayed to `reuse`.
    #[tokio::test(start_paused = true)]
    async fn dampening_holds_a_flapping_service_down_until_its_penalty_decays() {
        let d = crate::config::DampeningConfig {
            half_life: Duration::from_secs(60),
            suppress: 2000,
            reuse: 750,
            max_suppress: Duration::from_secs(240),
        };
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let (mut rx, status, _cancel, _now) = file_task(dir.path(), 1, 1, Some(d));
        // Up, then a change every round for 20 rounds, then steadily up.
        let mut seen = Vec::new();
        for k in 0..30 {
            drive_one(dir.path(), t0, k, k >= 20 || k % 2 == 0).await;
            seen.extend(announcements(&mut rx).into_iter().map(|a| (k, a)));
        }
        // Unknown (withdrawn), up at 0, down at 1, up at 2, down at 3: the third change
        // (1000 + 1000·2^(-1/60) + 1000·2^(-2/60) ≥ 2000) suppresses. Nothing after that.
        assert_eq!(
            seen,
            vec![(0, false), (0, true), (1, false), (2, true), (3, false)]
        );
        let snapshot = status.snapshot();
        let svc = &snapshot.services["svc"];
        assert_eq!(
            svc.state,
            crate::health::Health::Up,
            "healthy, yet held down"
        );
        assert!(!svc.wants_announce);
        let damp = svc.dampening.as_ref().expect("dampening status");
        assert!(damp.suppressed);
        // 20 changes in 20 s reach the ceiling, reuse × 2^(240/60) = 12000, which has
        // decayed for 9 s by the last round.
        assert!(
            damp.penalty > 10_000.0 && damp.penalty < 12_000.0,
            "{}",
            damp.penalty
        );
        let reuse_in = damp.reuse_at.expect("reuse time") - crate::status::unix_now();
        assert!(reuse_in > 200.0 && reuse_in <= 240.0, "{reuse_in}");
        // Reused 240 s (max_suppress) after the last change (round 20), not before.
        let last_flap = t0 + Duration::from_secs(20);
        tokio::time::sleep_until(last_flap + Duration::from_secs(239)).await;
        assert!(announcements(&mut rx).is_empty(), "reused too early");
        let announce = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("reused within max_suppress");
        let elapsed = Instant::now().duration_since(last_flap);
        assert!(
            matches!(
                announce,
                Some(Command::Update(Update::Set { announce: true, .. }))
            ),
            "the reuse announces the service"
        );
        assert!(
            elapsed >= Duration::from_millis(239_900) && elapsed <= Duration::from_secs(241),
            "{elapsed:?}"
        );
        let snapshot = status.snapshot();
        let damp = snapshot.services["svc"].dampening.as_ref().unwrap();
        assert!(!damp.suppressed && damp.reuse_at.is_none());
        assert!(snapshot.services["svc"].wants_announce);
    }
}
