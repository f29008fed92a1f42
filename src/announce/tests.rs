//! The announcer task against a recording backend, on tokio's paused clock.

use super::*;
use crate::backend::ApplyError;
use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
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

fn start(rec: &Recorder, window_ms: u64) -> (mpsc::Sender<Command>, tokio::task::JoinHandle<()>) {
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
    tx.send(Command::Update(Update::Set {
        service: service.into(),
        prefixes: vec![net(prefix)],
        announce,
    }))
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
        self.log
            .lock()
            .unwrap()
            .push(format!("apply {} at {:?}", desired.len(), Instant::now()));
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
    tx.send(Command::Update(Update::Drains {
        all: false,
        services: services.iter().map(ToString::to_string).collect(),
    }))
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
