//! Tests of `service`.
use super::*;
use crate::config::{CheckConfig, CheckSpec, ExecCommand, ExecSpec};

fn service(ip_check: bool, prefixes: &[&str], commands: &[&str]) -> (ServiceConfig, Vec<Check>) {
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
        let last = |n: usize, v: bool| k + 1 >= n && health[k + 1 - n..=k].iter().all(|&h| h == v);
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
