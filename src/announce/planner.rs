//! Every decision of the announcer, without I/O: [`Planner::process`] takes an input (a
//! service's change, the drains, the time, an apply's or a drain's result) and returns the
//! actions the task carries out (apply this set, drain these prefixes, log this). The task
//! owns the backend, the channel and the clock; this type owns the batching window, the
//! retry backoff, the verify interval and the drain holding.
//!
//! ```text
//!            Update / Due / Applied / Drained
//!   task ───────────────────────────────────▶ Planner ──▶ [Apply | Drain | Report]
//!     ▲                                          │
//!     └──────────── plan(now): publish, wake ────┘
//! ```
//!
//! - **Batching.** An apply starts at most once per `batch_window`, counted from the last
//!   apply's start; the first change after a quiet period goes at once, and changes that
//!   came during an apply longer than the window go the moment it ends.
//! - **Retry.** A failed apply is retried after [`backoff::APPLY`](crate::backoff::APPLY)'s
//!   delay; the set retried is always the newest.
//! - **Verify.** When the backend asks for it, the unchanged set is applied again every
//!   `verify_interval`; a failed verify makes the backend's state unknown again.
//! - **Drain holding.** Prefixes of newly drained services stay announced, marked for
//!   graceful shutdown, until the backend's drain time has passed or their service fails.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ipnet::IpNet;
use tokio::time::Instant;

use super::desired::DesiredRoutes;

/// A change of what is wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// A service wants its prefixes announced (`announce`) or withdrawn.
    Set {
        service: String,
        prefixes: Vec<IpNet>,
        announce: bool,
    },
    /// A service was removed from the configuration.
    Forget { service: String },
    /// The maintenance drains now in force (the whole set, not a change).
    Drains {
        all: bool,
        services: BTreeSet<String>,
    },
}

/// What happened, as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Update(Update),
    /// A new backend (reload): what it holds is unknown; its verify interval.
    BackendReplaced {
        verify_interval: Option<Duration>,
    },
    /// The wake-up time [`Planner::plan`] gave has come.
    Due,
    /// The apply asked for by the last [`Action::Apply`] finished.
    Applied {
        result: Result<(), String>,
        started: Instant,
    },
    /// The drain asked for by the last [`Action::Drain`] finished: how long the backend
    /// wants the marked prefixes kept (`None`: it cannot drain).
    Drained(Result<Option<Duration>, String>),
}

/// What the task does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Hand the whole set to the backend, then report [`Input::Applied`]. `verifying`:
    /// the set is the one applied last (a verify round).
    Apply {
        target: BTreeSet<IpNet>,
        verifying: bool,
    },
    /// Announce `announce`, the `marked` ones with GRACEFUL_SHUTDOWN, then report
    /// [`Input::Drained`].
    Drain {
        announce: BTreeSet<IpNet>,
        marked: BTreeSet<IpNet>,
    },
    /// Something to log.
    Report(Report),
}

/// Log-worthy outcomes, for the task to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Changed {
        announced: usize,
        added: Vec<IpNet>,
        withdrawn: Vec<IpNet>,
        took: Duration,
        after_failures: u32,
    },
    Verified {
        announced: usize,
        took: Duration,
    },
    ApplyFailed {
        error: String,
        attempt: u32,
        retry_in: Duration,
    },
    DrainHeld {
        draining: usize,
        wait: Duration,
    },
    DrainFailed {
        error: String,
    },
}

/// What the task should do between inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The desired set, when it differs from the one last published.
    pub publish: Option<BTreeSet<IpNet>>,
    /// When to send [`Input::Due`] (an apply, a verify, or a held prefix's deadline).
    pub wake: Option<Instant>,
}

/// The drain the task is carrying out.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PendingDrain {
    leaving: BTreeSet<IpNet>,
    announce: BTreeSet<IpNet>,
    marked: usize,
}

/// The announcer's state and decisions.
#[derive(Debug, Clone)]
pub struct Planner {
    batch_window: Duration,
    verify_interval: Option<Duration>,
    desired: DesiredRoutes,
    /// What the backend holds; `None`: unknown, so the next apply always runs (the first
    /// one purges whatever no configured service owns).
    applied: Option<BTreeSet<IpNet>>,
    last_apply_start: Option<Instant>,
    failures: u32,
    retry_at: Option<Instant>,
    /// When the unchanged set is due to be applied again.
    verify_at: Option<Instant>,
    published: Option<BTreeSet<IpNet>>,
    /// Prefixes of drained services kept announced, marked, until their deadline.
    holding: BTreeMap<IpNet, Instant>,
    /// The set the next `Due` applies and when, as of the last `plan`.
    target: BTreeSet<IpNet>,
    due: Option<Instant>,
    in_flight: Option<(BTreeSet<IpNet>, bool)>,
    draining: Option<PendingDrain>,
}

impl Planner {
    pub fn new(
        batch_window: Duration,
        verify_interval: Option<Duration>,
        desired: DesiredRoutes,
    ) -> Self {
        Planner {
            batch_window,
            verify_interval,
            desired,
            applied: None,
            last_apply_start: None,
            failures: 0,
            retry_at: None,
            verify_at: None,
            published: None,
            holding: BTreeMap::new(),
            target: BTreeSet::new(),
            due: None,
            in_flight: None,
            draining: None,
        }
    }

    /// Where things stand at `now`: held prefixes past their deadline, or whose service
    /// failed, are let go; says what to publish and when to wake.
    pub fn plan(&mut self, now: Instant) -> Plan {
        if !self.holding.is_empty() {
            let healthy = self.desired.healthy_prefixes();
            self.holding
                .retain(|p, until| *until > now && healthy.contains(p));
        }
        let release = self.holding.values().min().copied();
        let mut target = self.desired.prefixes();
        target.extend(self.holding.keys().copied());
        let publish = (self.published.as_ref() != Some(&target)).then(|| target.clone());
        if publish.is_some() {
            self.published = Some(target.clone());
        }
        self.due = if self.in_flight.is_some() {
            // The task reports the running apply first.
            None
        } else if self.applied.as_ref() == Some(&target) {
            self.retry_at = None;
            self.verify_at
        } else {
            Some(self.retry_at.unwrap_or_else(|| {
                self.last_apply_start
                    .map_or(now, |start| (start + self.batch_window).max(now))
            }))
        };
        self.target = target;
        let wake = match (self.due, release) {
            (Some(d), Some(r)) => Some(d.min(r)),
            (d, r) => d.or(r),
        };
        Plan { publish, wake }
    }

    /// One input at `now`; the actions it calls for.
    pub fn process(&mut self, input: Input, now: Instant) -> Vec<Action> {
        match input {
            Input::Update(update) => self.update(update),
            Input::BackendReplaced { verify_interval } => {
                self.verify_interval = verify_interval;
                self.applied = None;
                self.retry_at = None;
                self.verify_at = None;
                self.failures = 0;
                Vec::new()
            }
            Input::Due => match self.due {
                Some(due) if due <= now => {
                    let verifying = self.applied.as_ref() == Some(&self.target);
                    self.in_flight = Some((self.target.clone(), verifying));
                    vec![Action::Apply {
                        target: self.target.clone(),
                        verifying,
                    }]
                }
                // A held prefix's deadline: the next plan lets it go.
                _ => Vec::new(),
            },
            Input::Applied { result, started } => self.applied(result, started, now),
            Input::Drained(result) => self.drained(result, now),
        }
    }

    /// What is announced or held now, for the final drain; afterwards every service is
    /// withdrawn.
    pub fn shut_down(&mut self) -> BTreeSet<IpNet> {
        let mut announced = self.desired.prefixes();
        announced.extend(self.holding.keys().copied());
        self.desired.withdraw_all();
        self.holding.clear();
        announced
    }

    fn update(&mut self, update: Update) -> Vec<Action> {
        match update {
            Update::Set {
                service,
                prefixes,
                announce,
            } => self.desired.set(&service, prefixes, announce),
            Update::Forget { service } => self.desired.forget(&service),
            Update::Drains { all, services } => return self.drains(all, services),
        }
        Vec::new()
    }

    /// Newly drained services' announced prefixes are re-announced marked and held; held
    /// prefixes of services drained no more lose the mark.
    fn drains(&mut self, all: bool, services: BTreeSet<String>) -> Vec<Action> {
        let before = self.desired.prefixes();
        self.desired.set_drains(all, services);
        let after = self.desired.prefixes();
        let applied = self.applied.as_ref();
        let leaving: BTreeSet<IpNet> = before
            .difference(&after)
            .filter(|p| applied.is_some_and(|a| a.contains(p)))
            .copied()
            .collect();
        let returning: Vec<IpNet> = self
            .holding
            .keys()
            .filter(|p| after.contains(p))
            .copied()
            .collect();
        if leaving.is_empty() && returning.is_empty() {
            return Vec::new();
        }
        for p in &returning {
            self.holding.remove(p);
        }
        let mut marked: BTreeSet<IpNet> = self.holding.keys().copied().collect();
        marked.extend(leaving.iter().copied());
        let mut announce = after;
        announce.extend(marked.iter().copied());
        self.draining = Some(PendingDrain {
            leaving,
            announce: announce.clone(),
            marked: marked.len(),
        });
        vec![Action::Drain { announce, marked }]
    }

    fn drained(&mut self, result: Result<Option<Duration>, String>, now: Instant) -> Vec<Action> {
        let Some(pending) = self.draining.take() else {
            return Vec::new();
        };
        match result {
            Ok(Some(wait)) => {
                let until = now + wait;
                for p in pending.leaving {
                    self.holding.insert(p, until);
                }
                self.applied = Some(pending.announce);
                vec![Action::Report(Report::DrainHeld {
                    draining: pending.marked,
                    wait,
                })]
            }
            // The backend cannot drain: the next apply withdraws at once.
            Ok(None) => Vec::new(),
            Err(error) => {
                self.holding.clear();
                vec![Action::Report(Report::DrainFailed { error })]
            }
        }
    }

    fn applied(
        &mut self,
        result: Result<(), String>,
        started: Instant,
        now: Instant,
    ) -> Vec<Action> {
        let Some((target, verifying)) = self.in_flight.take() else {
            return Vec::new();
        };
        let took = now.saturating_duration_since(started);
        let report = match result {
            Ok(()) if verifying => Report::Verified {
                announced: target.len(),
                took,
            },
            Ok(()) => {
                let empty = BTreeSet::new();
                let before = self.applied.as_ref().unwrap_or(&empty);
                let report = Report::Changed {
                    announced: target.len(),
                    added: target.difference(before).copied().collect(),
                    withdrawn: before.difference(&target).copied().collect(),
                    took,
                    after_failures: self.failures,
                };
                self.applied = Some(target);
                self.failures = 0;
                self.retry_at = None;
                report
            }
            Err(error) => {
                if verifying {
                    // What the backend holds is unknown again: retry with backoff.
                    self.applied = None;
                }
                self.failures = self.failures.saturating_add(1);
                let retry_in = crate::backoff::APPLY.delay(self.failures.saturating_sub(1));
                self.retry_at = Some(now + retry_in);
                Report::ApplyFailed {
                    error,
                    attempt: self.failures,
                    retry_in,
                }
            }
        };
        self.last_apply_start = Some(started);
        self.verify_at = self.verify_interval.map(|every| now + every);
        vec![Action::Report(report)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn set(service: &str, prefix: &str, announce: bool) -> Input {
        Input::Update(Update::Set {
            service: service.into(),
            prefixes: vec![net(prefix)],
            announce,
        })
    }

    fn drains(services: &[&str]) -> Input {
        Input::Update(Update::Drains {
            all: false,
            services: services.iter().map(ToString::to_string).collect(),
        })
    }

    fn nets(list: &[&str]) -> BTreeSet<IpNet> {
        list.iter().map(|s| net(s)).collect()
    }

    const A: &str = "203.0.113.1/32";
    const B: &str = "203.0.113.2/32";

    /// One step of a table: at `at` ms, feed `input` (after a `plan`), expect `actions`
    /// (reports compared by their kind only) and the wake-up of the `plan` after it.
    struct Step {
        at: u64,
        input: Input,
        applies: Option<BTreeSet<IpNet>>,
        wake: Option<u64>,
    }

    fn step(at: u64, input: Input, applies: Option<&[&str]>, wake: Option<u64>) -> Step {
        Step {
            at,
            input,
            applies: applies.map(nets),
            wake,
        }
    }

    fn ok(started: u64) -> Input {
        Input::Applied {
            result: Ok(()),
            started: t0() + ms(started),
        }
    }

    fn failed(started: u64) -> Input {
        Input::Applied {
            result: Err("BIRD said no".into()),
            started: t0() + ms(started),
        }
    }

    fn t0() -> Instant {
        // One origin for every step of a table.
        static T0: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *T0.get_or_init(Instant::now)
    }

    fn run(planner: &mut Planner, steps: Vec<Step>) {
        for (i, s) in steps.into_iter().enumerate() {
            let now = t0() + ms(s.at);
            planner.plan(now);
            let actions = planner.process(s.input, now);
            let applied = actions.iter().find_map(|a| match a {
                Action::Apply { target, .. } => Some(target.clone()),
                _ => None,
            });
            assert_eq!(applied, s.applies, "step {i} at {} ms: {actions:?}", s.at);
            let wake = planner
                .plan(now)
                .wake
                .map(|w| (w - t0()).as_millis() as u64);
            assert_eq!(wake, s.wake, "step {i} at {} ms: wake", s.at);
        }
    }

    fn planner(window: u64, verify: Option<u64>) -> Planner {
        Planner::new(ms(window), verify.map(ms), DesiredRoutes::default())
    }

    /// A planner whose backend announces `services`' prefixes since 1 ms.
    fn announcing(window: u64, services: &[(&str, &str)]) -> Planner {
        let mut p = planner(window, None);
        for (service, prefix) in services {
            p.process(set(service, prefix, true), t(0));
        }
        p.plan(t(0));
        assert!(matches!(
            p.process(Input::Due, t(0))[..],
            [Action::Apply { .. }]
        ));
        p.process(ok(0), t(1));
        p
    }

    fn t(n: u64) -> Instant {
        t0() + ms(n)
    }

    #[test]
    fn batching_window_retry_and_verify() {
        let none: Option<&[&str]> = None;
        run(
            &mut planner(100, None),
            vec![
                // At start the backend is unknown: the empty set goes at once (a purge).
                step(0, Input::Due, Some(&[]), None),
                step(5, ok(0), none, None),
                // A change inside the window waits for it; a second one joins it.
                step(10, set("a", A, true), none, Some(100)),
                step(20, set("b", B, true), none, Some(100)),
                step(100, Input::Due, Some(&[A, B]), None),
                // An apply longer than the window: what came meanwhile goes when it ends.
                step(150, set("b", B, false), none, None),
                step(250, ok(100), none, Some(250)),
                step(250, Input::Due, Some(&[A]), None),
                // Failures back off 100 ms, then 200 ms; the newest set is retried.
                step(260, failed(250), none, Some(360)),
                step(300, set("a", A, false), none, Some(360)),
                step(360, Input::Due, Some(&[]), None),
                step(365, failed(360), none, Some(565)),
                step(565, Input::Due, Some(&[]), None),
                step(566, ok(565), none, None),
                // Nothing changes: no apply, no wake-up.
                step(600, set("a", A, false), none, None),
            ],
        );
        run(
            &mut planner(100, Some(1000)),
            vec![
                step(0, Input::Due, Some(&[]), None),
                step(1, ok(0), none, Some(1001)),
                // The unchanged set again after the interval; a failed verify retries.
                step(1001, Input::Due, Some(&[]), None),
                step(1002, failed(1001), none, Some(1102)),
                step(1102, Input::Due, Some(&[]), None),
                step(1103, ok(1102), none, Some(2103)),
                // A new backend: its state is unknown, so the set goes again at once.
                step(
                    1200,
                    Input::BackendReplaced {
                        verify_interval: None,
                    },
                    none,
                    Some(1202),
                ),
            ],
        );
    }

    #[test]
    fn a_drained_prefix_is_held_marked_then_released() {
        let mut p = announcing(100, &[("a", A), ("b", B)]);
        // Draining a: it stays announced, marked, for the backend's wait.
        let actions = p.process(drains(&["a"]), t(10));
        assert_eq!(
            actions,
            vec![Action::Drain {
                announce: nets(&[A, B]),
                marked: nets(&[A]),
            }]
        );
        let actions = p.process(Input::Drained(Ok(Some(ms(5000)))), t(12));
        assert!(matches!(
            actions[..],
            [Action::Report(Report::DrainHeld { draining: 1, .. })]
        ));
        // Held: no apply until the deadline, then the set without it.
        assert_eq!(p.plan(t(20)).wake, Some(t(5012)));
        assert_eq!(p.process(Input::Due, t(5012)), vec![]);
        let plan = p.plan(t(5012));
        assert_eq!(plan.publish, Some(nets(&[B])));
        assert_eq!(
            p.process(Input::Due, t(5012)),
            vec![Action::Apply {
                target: nets(&[B]),
                verifying: false
            }]
        );
    }

    #[test]
    fn a_held_prefix_goes_at_once_when_its_service_fails_or_returns_when_undrained() {
        let mut p = announcing(100, &[("a", A)]);
        p.process(drains(&["a"]), t(10));
        p.process(Input::Drained(Ok(Some(ms(5000)))), t(10));
        // Undrained in time: announced without the mark, nothing else to apply.
        let actions = p.process(drains(&[]), t(20));
        assert_eq!(
            actions,
            vec![Action::Drain {
                announce: nets(&[A]),
                marked: nets(&[]),
            }]
        );
        p.process(Input::Drained(Ok(Some(ms(5000)))), t(20));
        assert_eq!(p.plan(t(20)).wake, None);
        // Drained again, then the service fails: the held prefix goes at the next plan.
        p.process(drains(&["a"]), t(30));
        p.process(Input::Drained(Ok(Some(ms(5000)))), t(30));
        p.process(set("a", A, false), t(40));
        let plan = p.plan(t(40));
        assert_eq!(plan.publish, Some(nets(&[])));
        // The window still counts from the last apply's start.
        assert_eq!(plan.wake, Some(t(100)));
    }

    #[test]
    fn a_backend_that_cannot_drain_or_fails_to_withdraws_at_once() {
        for result in [Ok(None), Err("no".to_string())] {
            let mut p = announcing(0, &[("a", A)]);
            p.process(drains(&["a"]), t(10));
            let failed = result.is_err();
            let actions = p.process(Input::Drained(result), t(10));
            assert_eq!(
                matches!(actions[..], [Action::Report(Report::DrainFailed { .. })]),
                failed
            );
            assert_eq!(p.plan(t(10)).wake, Some(t(10)));
            assert_eq!(
                p.process(Input::Due, t(10)),
                vec![Action::Apply {
                    target: nets(&[]),
                    verifying: false
                }]
            );
        }
    }

    #[test]
    fn shutting_down_names_what_is_announced_and_held_then_wants_nothing() {
        let mut p = announcing(0, &[("a", A), ("b", B)]);
        p.process(drains(&["a"]), t(2));
        p.process(Input::Drained(Ok(Some(ms(5000)))), t(2));
        assert_eq!(p.shut_down(), nets(&[A, B]));
        assert_eq!(p.plan(t(3)).publish, Some(nets(&[])));
    }
}
