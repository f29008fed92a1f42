//! The announcer: the single owner of the desired prefix set.
//!
//! ```text
//!  service tasks ──Set/Forget──▶ ┌───────────┐  whole set  ┌─────────┐
//!  supervisor ──Shutdown/Backend▶│ announcer │────────────▶│ backend │──▶ BIRD
//!                                └───────────┘  apply()    └─────────┘
//! ```
//! Services report whether they want their prefixes announced; the announcer computes the
//! union and hands the *whole* set to the backend, never a delta, so any apply can be
//! retried or repeated. Everything queued while an apply runs is folded into the next
//! one, and applies start at most once per `batch_window` (the first change after a quiet
//! period goes out at once): a thousand services failing together become a handful of
//! applies. The window counts from an apply's start, so changes that came in during an
//! apply longer than the window (FRR's staticd takes ~150 ms for 1,000 routes) go out the
//! moment it ends: they have waited long enough. A failed apply is retried with backoff; the desired state
//! is never lost, and the last one always reaches the backend. A backend that can lose its
//! state behind the warden's back (a restarted FRR starts from its own config file) asks
//! for a periodic re-apply of the unchanged set (`verify_interval`); being idempotent, such
//! an apply repairs drift and otherwise changes nothing.
//!
//! Every one of these decisions is made by the pure [`planner::Planner`] (table tests
//! there); `run` is the thin task that carries out its actions against the backend.

mod desired;
pub mod planner;

use std::collections::BTreeSet;
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

use crate::backend::Backend;
use crate::status::StatusBoard;
pub use desired::DesiredRoutes;
pub use planner::Update;
use planner::{Action, Input, Planner, Report};

/// Messages to the announcer.
pub enum Command {
    /// What a service or the drains want.
    Update(Update),
    /// The backend settings changed (reload): apply the current set through the new one.
    ReplaceBackend(Box<dyn Backend>),
    /// Withdraw everything, then stop. Replies whether the withdrawal reached the backend.
    Shutdown {
        deadline: Duration,
        done: oneshot::Sender<bool>,
    },
}

/// Settings of the announcer loop.
#[derive(Debug, Clone, Copy)]
pub struct AnnouncerSettings {
    pub batch_window: Duration,
}

/// Runs the announcer until `Shutdown` (or until every sender is gone). Publishes the
/// desired set and every apply's result on `status`. Every decision is the planner's; this
/// carries out its actions.
pub async fn run(
    settings: AnnouncerSettings,
    mut backend: Box<dyn Backend>,
    desired: DesiredRoutes,
    mut rx: mpsc::Receiver<Command>,
    status: StatusBoard,
) {
    let mut planner = Planner::new(settings.batch_window, backend.verify_interval(), desired);
    loop {
        let plan = planner.plan(Instant::now());
        if let Some(target) = plan.publish {
            status.update(|s| s.backend.desired = target);
        }
        tokio::select! {
            biased;
            command = rx.recv() => {
                let Some(command) = command else { return };
                let mut next = Some(command);
                // Fold everything already queued into this round.
                while let Some(command) = next {
                    let input = match command {
                        Command::Update(update) => Input::Update(update),
                        Command::ReplaceBackend(new) => {
                            backend = new;
                            Input::BackendReplaced { verify_interval: backend.verify_interval() }
                        }
                        Command::Shutdown { deadline, done } => {
                            drain(backend.as_mut(), &planner.shut_down()).await;
                            status.update(|s| s.backend.desired.clear());
                            let ok = withdraw_all(backend.as_mut(), deadline, &status).await;
                            backend.close().await;
                            let _ = done.send(ok);
                            return;
                        }
                    };
                    let actions = planner.process(input, Instant::now());
                    carry_out(&mut planner, backend.as_mut(), &status, actions).await;
                    next = rx.try_recv().ok();
                }
            }
            () = wait_until(plan.wake), if plan.wake.is_some() => {
                let actions = planner.process(Input::Due, Instant::now());
                carry_out(&mut planner, backend.as_mut(), &status, actions).await;
            }
        }
    }
}

/// Carries out the planner's actions, feeding each result back, until none is left.
async fn carry_out(
    planner: &mut Planner,
    backend: &mut dyn Backend,
    status: &StatusBoard,
    mut actions: Vec<Action>,
) {
    while !actions.is_empty() {
        let mut next = Vec::new();
        for action in actions {
            let result = match action {
                Action::Apply { target, .. } => {
                    let started = Instant::now();
                    let result = backend.apply(&target).await.map_err(|e| e.to_string());
                    status.update(|s| {
                        s.record_apply(
                            &target,
                            result.as_ref().map(|_| ()).map_err(String::as_str),
                            started.elapsed(),
                        )
                    });
                    Input::Applied { result, started }
                }
                Action::Drain { announce, marked } => Input::Drained(
                    backend
                        .drain(&announce, &marked)
                        .await
                        .map_err(|e| e.to_string()),
                ),
                Action::Report(report) => {
                    log(&report);
                    continue;
                }
            };
            next.extend(planner.process(result, Instant::now()));
        }
        actions = next;
    }
}

fn log(report: &Report) {
    let ms = |d: &Duration| format!("{:.1}ms", d.as_secs_f64() * 1e3);
    match report {
        Report::Changed {
            announced,
            added,
            withdrawn,
            took,
            after_failures,
        } => info!(
            announced,
            added = %list(added),
            withdrawn = %list(withdrawn),
            took = %ms(took),
            after_failures,
            "applied prefix set"
        ),
        Report::Verified { announced, took } => {
            debug!(announced, took = %ms(took), "verified the announced prefix set");
        }
        Report::ApplyFailed {
            error,
            attempt,
            retry_in,
        } => error!(
            error = %error,
            attempt,
            retry_in = %humantime::format_duration(*retry_in),
            "could not apply the announced prefix set; will retry"
        ),
        Report::DrainHeld { draining, wait } => info!(
            draining,
            wait = %humantime::format_duration(*wait),
            "drained prefixes stay announced with GRACEFUL_SHUTDOWN until the wait is over"
        ),
        Report::DrainFailed { error } => {
            warn!(error = %error, "draining failed; withdrawing at once")
        }
    }
}

/// Waits until `due`; returns at once when it has passed. (A tokio sleep whose deadline
/// has already passed still waits for the timer's next 1 ms tick, which would be most of
/// the built-in speaker's reaction time.)
async fn wait_until(due: Option<Instant>) {
    if let Some(due) = due
        && due > Instant::now()
    {
        sleep_until(due).await;
    }
}

/// Before the final withdrawal: re-announce everything marked for graceful shutdown and
/// wait the backend's drain time, so that the peers move traffic away first.
async fn drain(backend: &mut dyn Backend, announced: &BTreeSet<IpNet>) {
    if announced.is_empty() {
        return;
    }
    match backend.drain(announced, announced).await {
        Ok(Some(wait)) => {
            info!(prefixes = announced.len(), wait = %humantime::format_duration(wait),
                "draining before the withdrawal");
            tokio::time::sleep(wait).await;
        }
        Ok(None) => {}
        Err(e) => warn!(error = %e, "draining failed; withdrawing at once"),
    }
}

/// Applies the empty set, retrying until it works or `deadline` passes.
pub async fn withdraw_all(
    backend: &mut dyn Backend,
    deadline: Duration,
    status: &StatusBoard,
) -> bool {
    let give_up = Instant::now() + deadline;
    let empty = BTreeSet::new();
    let mut failures: u32 = 0;
    loop {
        let started = Instant::now();
        let result = backend.apply(&empty).await;
        let error = result.as_ref().err().map(|e| e.to_string());
        status.update(|s| {
            s.record_apply(
                &empty,
                error.as_deref().map_or(Ok(()), Err),
                started.elapsed(),
            )
        });
        match result {
            Ok(()) => {
                info!("withdrew every prefix");
                return true;
            }
            Err(e) => {
                failures += 1;
                let next = Instant::now() + crate::backoff::APPLY.delay(failures.saturating_sub(1));
                if next > give_up {
                    error!(error = %e, "could not withdraw the prefixes before exiting");
                    return false;
                }
                warn!(error = %e, attempt = failures, "withdrawing every prefix failed; retrying");
                sleep_until(next).await;
            }
        }
    }
}

/// At most 10 prefixes, then a count, so a burst does not write a huge line.
fn list(prefixes: &[IpNet]) -> String {
    const SHOWN: usize = 10;
    let mut text: Vec<String> = prefixes.iter().take(SHOWN).map(|p| p.to_string()).collect();
    if prefixes.len() > SHOWN {
        text.push(format!("and {} more", prefixes.len() - SHOWN));
    }
    text.join(" ")
}

#[cfg(test)]
mod tests;
