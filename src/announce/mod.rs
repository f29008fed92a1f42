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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ipnet::IpNet;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

use crate::backend::Backend;
use crate::status::StatusBoard;

/// Messages to the announcer.
pub enum Command {
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
    /// The backend settings changed (reload): apply the current set through the new one.
    ReplaceBackend(Box<dyn Backend>),
    /// Withdraw everything, then stop. Replies whether the withdrawal reached the backend.
    Shutdown {
        deadline: Duration,
        done: oneshot::Sender<bool>,
    },
}

/// What every service wants, by service name, less the drained ones. Pure.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DesiredRoutes {
    services: BTreeMap<String, (Vec<IpNet>, bool)>,
    /// Services withdrawn for maintenance whatever their health.
    drained: BTreeSet<String>,
    /// Every service is drained (`drain --all`), also ones added later.
    drain_all: bool,
}

impl DesiredRoutes {
    pub fn set(&mut self, service: &str, prefixes: Vec<IpNet>, announce: bool) {
        self.services
            .insert(service.to_string(), (prefixes, announce));
    }

    pub fn forget(&mut self, service: &str) {
        self.services.remove(service);
    }

    /// Replaces the drains in force.
    pub fn set_drains(&mut self, all: bool, services: BTreeSet<String>) {
        self.drain_all = all;
        self.drained = services;
    }

    pub fn withdraw_all(&mut self) {
        for (_, announce) in self.services.values_mut() {
            *announce = false;
        }
    }

    /// The prefixes of every healthy service, drained or not.
    pub fn healthy_prefixes(&self) -> BTreeSet<IpNet> {
        self.services
            .values()
            .filter(|(_, announce)| *announce)
            .flat_map(|(prefixes, _)| prefixes.iter().copied())
            .collect()
    }

    /// The union of the prefixes of every service that wants to be announced.
    pub fn prefixes(&self) -> BTreeSet<IpNet> {
        if self.drain_all {
            return BTreeSet::new();
        }
        self.services
            .iter()
            .filter(|(name, (_, announce))| *announce && !self.drained.contains(*name))
            .flat_map(|(_, (prefixes, _))| prefixes.iter().copied())
            .collect()
    }
}

/// Settings of the announcer loop.
#[derive(Debug, Clone, Copy)]
pub struct AnnouncerSettings {
    pub batch_window: Duration,
}

/// Runs the announcer until `Shutdown` (or until every sender is gone). Publishes the
/// desired set and every apply's result on `status`.
pub async fn run(
    settings: AnnouncerSettings,
    mut backend: Box<dyn Backend>,
    mut desired: DesiredRoutes,
    mut rx: mpsc::Receiver<Command>,
    status: StatusBoard,
) {
    // None: what the backend holds is unknown, so the first apply always runs (it purges
    // whatever no configured service owns).
    let mut applied: Option<BTreeSet<IpNet>> = None;
    let mut last_apply_start: Option<Instant> = None;
    let mut failures: u32 = 0;
    let mut retry_at: Option<Instant> = None;
    // When the unchanged set is due to be applied again (backends with a verify interval).
    let mut verify_at: Option<Instant> = None;
    // The desired set last published on the status board.
    let mut published: Option<BTreeSet<IpNet>> = None;
    // Prefixes of services drained for maintenance that stay announced, marked for
    // graceful shutdown, until their deadline: the peers move traffic away first.
    let mut holding: BTreeMap<IpNet, Instant> = BTreeMap::new();
    loop {
        if !holding.is_empty() {
            // A held prefix goes at its deadline, or at once when its service fails.
            let now = Instant::now();
            let healthy = desired.healthy_prefixes();
            holding.retain(|p, until| *until > now && healthy.contains(p));
        }
        let next_release = holding.values().min().copied();
        let mut target = desired.prefixes();
        target.extend(holding.keys().copied());
        if published.as_ref() != Some(&target) {
            status.update(|s| s.backend.desired.clone_from(&target));
            published = Some(target.clone());
        }
        let verifying = applied.as_ref() == Some(&target);
        let due = if verifying {
            retry_at = None;
            verify_at
        } else {
            let now = Instant::now();
            Some(retry_at.unwrap_or_else(|| {
                last_apply_start.map_or(now, |start| (start + settings.batch_window).max(now))
            }))
        };
        tokio::select! {
            biased;
            command = rx.recv() => {
                let Some(command) = command else { return };
                let mut next = Some(command);
                // Fold everything already queued into this round.
                while let Some(command) = next {
                    match command {
                        Command::Set { service, prefixes, announce } => desired.set(&service, prefixes, announce),
                        Command::Forget { service } => desired.forget(&service),
                        Command::Drains { all, services } => {
                            let before = desired.prefixes();
                            desired.set_drains(all, services);
                            let ok = drain_gracefully(
                                backend.as_mut(),
                                &before,
                                &desired,
                                applied.as_ref(),
                                &mut holding,
                            )
                            .await;
                            if let Some(announced) = ok {
                                applied = Some(announced);
                            }
                        }
                        Command::ReplaceBackend(new) => {
                            backend = new;
                            applied = None;
                            retry_at = None;
                            verify_at = None;
                            failures = 0;
                        }
                        Command::Shutdown { deadline, done } => {
                            let mut announced = desired.prefixes();
                            announced.extend(holding.keys().copied());
                            drain(backend.as_mut(), &announced).await;
                            desired.withdraw_all();
                            status.update(|s| s.backend.desired.clear());
                            let ok = withdraw_all(backend.as_mut(), deadline, &status).await;
                            backend.close().await;
                            let _ = done.send(ok);
                            return;
                        }
                    }
                    next = rx.try_recv().ok();
                }
            }
            // A held prefix's deadline: the next round withdraws it.
            () = wait_until(next_release), if next_release.is_some() && next_release != due => {}
            () = wait_until(due), if due.is_some() => {
                let started = Instant::now();
                let result = backend.apply(&target).await;
                let error = result.as_ref().err().map(|e| e.to_string());
                status.update(|s| s.record_apply(&target, error.as_deref().map_or(Ok(()), Err), started.elapsed()));
                match result {
                    Ok(()) if verifying => {
                        debug!(announced = target.len(), took = %format!("{:.1}ms", started.elapsed().as_secs_f64() * 1e3),
                            "verified the announced prefix set");
                    }
                    Ok(()) => {
                        log_change(applied.as_ref(), &target, started.elapsed(), failures);
                        applied = Some(target);
                        failures = 0;
                        retry_at = None;
                    }
                    Err(e) => {
                        if verifying {
                            // What the backend holds is unknown again: retry with backoff.
                            applied = None;
                        }
                        failures = failures.saturating_add(1);
                        let delay = crate::backoff::APPLY.delay(failures.saturating_sub(1));
                        error!(error = %e, attempt = failures, retry_in = %humantime::format_duration(delay),
                            "could not apply the announced prefix set; will retry");
                        retry_at = Some(Instant::now() + delay);
                    }
                }
                last_apply_start = Some(started);
                verify_at = backend.verify_interval().map(|every| Instant::now() + every);
            }
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

/// After the drains changed (`before`: what was wanted until then): prefixes of newly
/// drained services that are announced now are re-announced marked for graceful shutdown
/// and held until the backend's drain time has passed; held prefixes of services drained
/// no more lose the mark. Returns the set the backend announces now, when it was told
/// one; `None` when nothing changed or the backend cannot drain (the next apply then
/// withdraws at once).
async fn drain_gracefully(
    backend: &mut dyn Backend,
    before: &BTreeSet<IpNet>,
    desired: &DesiredRoutes,
    applied: Option<&BTreeSet<IpNet>>,
    holding: &mut BTreeMap<IpNet, Instant>,
) -> Option<BTreeSet<IpNet>> {
    let after = desired.prefixes();
    let leaving: BTreeSet<IpNet> = before
        .difference(&after)
        .filter(|p| applied.is_some_and(|a| a.contains(p)))
        .copied()
        .collect();
    let returning: Vec<IpNet> = holding
        .keys()
        .filter(|p| after.contains(p))
        .copied()
        .collect();
    if leaving.is_empty() && returning.is_empty() {
        return None;
    }
    for p in &returning {
        holding.remove(p);
    }
    let mut marked: BTreeSet<IpNet> = holding.keys().copied().collect();
    marked.extend(leaving.iter().copied());
    let mut announce = after;
    announce.extend(marked.iter().copied());
    match backend.drain(&announce, &marked).await {
        Ok(Some(wait)) => {
            let until = Instant::now() + wait;
            for p in leaving {
                holding.insert(p, until);
            }
            info!(draining = marked.len(), wait = %humantime::format_duration(wait),
                "drained prefixes stay announced with GRACEFUL_SHUTDOWN until the wait is over");
            Some(announce)
        }
        Ok(None) => None,
        Err(e) => {
            warn!(error = %e, "draining failed; withdrawing at once");
            holding.clear();
            None
        }
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

fn log_change(
    before: Option<&BTreeSet<IpNet>>,
    after: &BTreeSet<IpNet>,
    took: Duration,
    failures: u32,
) {
    let empty = BTreeSet::new();
    let before = before.unwrap_or(&empty);
    let added: Vec<&IpNet> = after.difference(before).collect();
    let removed: Vec<&IpNet> = before.difference(after).collect();
    info!(
        announced = after.len(),
        added = %list(&added),
        withdrawn = %list(&removed),
        took = %format!("{:.1}ms", took.as_secs_f64() * 1e3),
        after_failures = failures,
        "applied prefix set"
    );
}

/// At most 10 prefixes, then a count, so a burst does not write a huge line.
fn list(prefixes: &[&IpNet]) -> String {
    const SHOWN: usize = 10;
    let mut text: Vec<String> = prefixes.iter().take(SHOWN).map(|p| p.to_string()).collect();
    if prefixes.len() > SHOWN {
        text.push(format!("and {} more", prefixes.len() - SHOWN));
    }
    text.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ApplyError;
    use futures_util::future::BoxFuture;
    use std::sync::{Arc, Mutex};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn desired_is_the_union_of_announcing_services() {
        let mut d = DesiredRoutes::default();
        d.set(
            "a",
            vec![net("203.0.113.1/32"), net("2001:db8::1/128")],
            true,
        );
        d.set("b", vec![net("203.0.113.2/32")], false);
        assert_eq!(
            d.prefixes(),
            [net("203.0.113.1/32"), net("2001:db8::1/128")].into()
        );
        d.set("b", vec![net("203.0.113.2/32")], true);
        assert_eq!(d.prefixes().len(), 3);
        d.forget("a");
        assert_eq!(d.prefixes(), [net("203.0.113.2/32")].into());
        d.withdraw_all();
        assert!(d.prefixes().is_empty());
    }

    #[test]
    fn drained_services_are_withdrawn_whatever_their_health() {
        let mut d = DesiredRoutes::default();
        d.set("a", vec![net("203.0.113.1/32")], true);
        d.set("b", vec![net("203.0.113.2/32")], true);
        d.set_drains(false, ["a".to_string()].into());
        assert_eq!(d.prefixes(), [net("203.0.113.2/32")].into());
        d.set_drains(true, BTreeSet::new());
        assert!(d.prefixes().is_empty());
        // A service added while everything is drained stays out too.
        d.set("c", vec![net("203.0.113.3/32")], true);
        assert!(d.prefixes().is_empty());
        d.set_drains(false, BTreeSet::new());
        assert_eq!(d.prefixes().len(), 3);
    }

    /// Records every apply; fails the first `fail_first` of them.
    #[derive(Clone, Default)]
    struct Recorder {
        applies: Arc<Mutex<Vec<BTreeSet<IpNet>>>>,
        fail_first: Arc<Mutex<u32>>,
        apply_time: Duration,
    }

    impl Backend for Recorder {
        fn apply<'a>(
            &'a mut self,
            desired: &'a BTreeSet<IpNet>,
        ) -> BoxFuture<'a, Result<(), ApplyError>> {
            Box::pin(async move {
                tokio::time::sleep(self.apply_time).await;
                self.applies.lock().unwrap().push(desired.clone());
                let mut fail = self.fail_first.lock().unwrap();
                if *fail > 0 {
                    *fail -= 1;
                    return Err("BIRD said no".into());
                }
                Ok(())
            })
        }
    }

    fn start(
        rec: &Recorder,
        window_ms: u64,
    ) -> (mpsc::Sender<Command>, tokio::task::JoinHandle<()>) {
        spawn_announcer(Box::new(rec.clone()), window_ms)
    }

    /// The announcer over `backend`, with a batch window of `window_ms`.
    fn spawn_announcer(
        backend: Box<dyn Backend>,
        window_ms: u64,
    ) -> (mpsc::Sender<Command>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(16);
        let settings = AnnouncerSettings {
            batch_window: Duration::from_millis(window_ms),
        };
        let task = tokio::spawn(run(
            settings,
            backend,
            DesiredRoutes::default(),
            rx,
            StatusBoard::default(),
        ));
        (tx, task)
    }

    async fn set(tx: &mpsc::Sender<Command>, service: &str, prefix: &str, announce: bool) {
        tx.send(Command::Set {
            service: service.into(),
            prefixes: vec![net(prefix)],
            announce,
        })
        .await
        .unwrap();
    }

    async fn shutdown(tx: &mpsc::Sender<Command>) -> bool {
        let (done, rx) = oneshot::channel();
        tx.send(Command::Shutdown {
            deadline: Duration::from_secs(5),
            done,
        })
        .await
        .unwrap();
        rx.await.unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn first_apply_purges_and_a_burst_is_coalesced() {
        let rec = Recorder {
            apply_time: Duration::from_millis(20),
            ..Default::default()
        };
        let (tx, task) = start(&rec, 100);
        // At start the backend state is unknown: an empty apply purges it.
        tokio::time::sleep(Duration::from_millis(1)).await;
        // 1,000 services come up within 50 ms.
        for i in 0..1000u32 {
            let prefix = format!("2001:db8::{i:x}/128");
            set(&tx, &format!("s{i}"), &prefix, true).await;
            if i % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let applies = rec.applies.lock().unwrap().clone();
        assert!(applies.len() <= 4, "{} applies", applies.len());
        assert!(applies[0].is_empty());
        assert_eq!(applies.last().unwrap().len(), 1000);
        assert!(shutdown(&tx).await);
        task.await.unwrap();
        assert!(rec.applies.lock().unwrap().last().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn first_change_after_quiet_goes_out_at_once() {
        let rec = Recorder::default();
        let (tx, _task) = start(&rec, 100);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t0 = Instant::now();
        set(&tx, "a", "203.0.113.1/32", true).await;
        while rec.applies.lock().unwrap().len() < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            t0.elapsed() <= Duration::from_millis(2),
            "{:?}",
            t0.elapsed()
        );
        // A second change right after waits out the batch window, not longer.
        set(&tx, "a", "203.0.113.1/32", false).await;
        let t1 = Instant::now();
        while rec.applies.lock().unwrap().len() < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(
            t1.elapsed() <= Duration::from_millis(101),
            "{:?}",
            t1.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn changes_that_came_during_a_long_apply_go_out_when_it_ends() {
        // An apply longer than the window (staticd with 1,000 routes): what arrived
        // meanwhile has waited long enough and must not wait out another window.
        let rec = Recorder {
            apply_time: Duration::from_millis(300),
            ..Default::default()
        };
        let (tx, _task) = start(&rec, 100);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let t0 = Instant::now();
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        set(&tx, "b", "203.0.113.2/32", true).await;
        while rec.applies.lock().unwrap().len() < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Two applies back to back: 600 ms. Waiting out the window after the first
        // would make it 700.
        assert!(
            t0.elapsed() <= Duration::from_millis(602),
            "{:?}",
            t0.elapsed()
        );
        assert_eq!(rec.applies.lock().unwrap()[2].len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_apply_is_retried_until_the_last_desired_state_lands() {
        let rec = Recorder::default();
        *rec.fail_first.lock().unwrap() = 3;
        let (tx, _task) = start(&rec, 0);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        set(&tx, "b", "203.0.113.2/32", true).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let applies = rec.applies.lock().unwrap().clone();
        // 3 failures, then one success carrying both services; nothing after that.
        assert_eq!(applies.len(), 4, "{applies:?}");
        assert_eq!(
            applies[3],
            [net("203.0.113.1/32"), net("203.0.113.2/32")].into()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_apply_when_nothing_changes() {
        let rec = Recorder::default();
        let (tx, _task) = start(&rec, 0);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let n = rec.applies.lock().unwrap().len();
        set(&tx, "a", "203.0.113.1/32", true).await;
        // Flapping back and forth within one batch leaves the backend alone.
        set(&tx, "a", "203.0.113.1/32", false).await;
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(rec.applies.lock().unwrap().len(), n);
    }

    #[tokio::test(start_paused = true)]
    async fn replacing_the_backend_reapplies_the_current_set() {
        let first = Recorder::default();
        let (tx, _task) = start(&first, 0);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let second = Recorder::default();
        tx.send(Command::ReplaceBackend(Box::new(second.clone())))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(
            second.applies.lock().unwrap().clone(),
            vec![[net("203.0.113.1/32")].into()]
        );
    }

    /// A recorder that asks to be re-applied every 5 s.
    #[derive(Clone, Default)]
    struct Verifying(Recorder);

    impl Backend for Verifying {
        fn apply<'a>(
            &'a mut self,
            desired: &'a BTreeSet<IpNet>,
        ) -> BoxFuture<'a, Result<(), ApplyError>> {
            self.0.apply(desired)
        }
        fn verify_interval(&self) -> Option<Duration> {
            Some(Duration::from_secs(5))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn verify_interval_reapplies_the_unchanged_set_and_retries_failures() {
        let rec = Verifying::default();
        let (tx, _task) = spawn_announcer(Box::new(rec.clone()), 100);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = rec.0.applies.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(10_100)).await;
        // Two verifications in ten seconds, each carrying the whole set.
        let applies = rec.0.applies.lock().unwrap().clone();
        assert_eq!(applies.len(), n + 2, "{applies:?}");
        assert_eq!(applies[n + 1], [net("203.0.113.1/32")].into());
        // A failed verification is retried with backoff, not after another 5 s.
        *rec.0.fail_first.lock().unwrap() = 1;
        tokio::time::sleep(Duration::from_millis(4_450)).await;
        let before = rec.0.applies.lock().unwrap().len();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(rec.0.applies.lock().unwrap().len(), before + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_retries_the_withdrawal() {
        let rec = Recorder::default();
        let (tx, task) = start(&rec, 0);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        *rec.fail_first.lock().unwrap() = 2;
        assert!(shutdown(&tx).await);
        task.await.unwrap();
        assert!(rec.applies.lock().unwrap().last().unwrap().is_empty());
    }

    /// A backend that drains for 3 s and records the order of drain, applies and close.
    #[derive(Clone, Default)]
    struct Draining {
        log: Arc<Mutex<Vec<String>>>,
    }

    impl Backend for Draining {
        fn apply<'a>(
            &'a mut self,
            desired: &'a BTreeSet<IpNet>,
        ) -> BoxFuture<'a, Result<(), ApplyError>> {
            self.log.lock().unwrap().push(format!(
                "apply {} at {:?}",
                desired.len(),
                Instant::now()
            ));
            Box::pin(async { Ok(()) })
        }

        fn drain<'a>(
            &'a mut self,
            desired: &'a BTreeSet<IpNet>,
            draining: &'a BTreeSet<IpNet>,
        ) -> BoxFuture<'a, Result<Option<Duration>, ApplyError>> {
            self.log
                .lock()
                .unwrap()
                .push(format!("drain {}/{}", draining.len(), desired.len()));
            Box::pin(async { Ok(Some(Duration::from_secs(3))) })
        }

        fn close(&mut self) -> BoxFuture<'_, ()> {
            self.log.lock().unwrap().push("close".into());
            Box::pin(async {})
        }
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_drains_waits_then_withdraws_and_closes() {
        let backend = Draining::default();
        let (tx, task) = spawn_announcer(Box::new(backend.clone()), 0);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let asked = Instant::now();
        assert!(shutdown(&tx).await);
        task.await.unwrap();
        let log = backend.log.lock().unwrap().clone();
        let n = log.len();
        assert_eq!(log[n - 3], "drain 1/1", "{log:?}");
        assert!(log[n - 2].starts_with("apply 0"), "{log:?}");
        assert_eq!(log[n - 1], "close");
        // The withdrawal came after the drain time.
        assert!(asked.elapsed() >= Duration::from_secs(3));
    }

    async fn drains(tx: &mpsc::Sender<Command>, services: &[&str]) {
        tx.send(Command::Drains {
            all: false,
            services: services.iter().map(ToString::to_string).collect(),
        })
        .await
        .unwrap();
    }

    fn start_draining(backend: &Draining) -> (mpsc::Sender<Command>, tokio::task::JoinHandle<()>) {
        spawn_announcer(Box::new(backend.clone()), 0)
    }

    fn log_since(backend: &Draining, from: usize) -> Vec<String> {
        backend.log.lock().unwrap()[from..]
            .iter()
            .map(|l| l.split(" at ").next().unwrap_or_default().to_string())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_drained_service_stays_announced_for_the_drain_time_then_goes() {
        let backend = Draining::default();
        let (tx, _task) = start_draining(&backend);
        set(&tx, "a", "203.0.113.1/32", true).await;
        set(&tx, "b", "203.0.113.2/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let n = backend.log.lock().unwrap().len();
        drains(&tx, &["a"]).await;
        tokio::time::sleep(Duration::from_millis(2_900)).await;
        // Re-announced with a's prefix marked; nothing withdrawn yet.
        assert_eq!(log_since(&backend, n), vec!["drain 1/2"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(log_since(&backend, n), vec!["drain 1/2", "apply 1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn undrained_in_time_it_stays_and_loses_the_mark() {
        let backend = Draining::default();
        let (tx, _task) = start_draining(&backend);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let n = backend.log.lock().unwrap().len();
        drains(&tx, &["a"]).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        drains(&tx, &[]).await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        // Marked, then unmarked; never withdrawn.
        assert_eq!(log_since(&backend, n), vec!["drain 1/1", "drain 0/1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_drained_service_that_fails_goes_at_once() {
        let backend = Draining::default();
        let (tx, _task) = start_draining(&backend);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        let n = backend.log.lock().unwrap().len();
        drains(&tx, &["a"]).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        set(&tx, "a", "203.0.113.1/32", false).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(log_since(&backend, n), vec!["drain 1/1", "apply 0"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_backend_that_cannot_drain_withdraws_at_once() {
        let rec = Recorder::default();
        let (tx, _task) = start(&rec, 0);
        set(&tx, "a", "203.0.113.1/32", true).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        drains(&tx, &["a"]).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(rec.applies.lock().unwrap().last().unwrap().is_empty());
    }
}
