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
#[path = "planner_tests.rs"]
mod tests;
