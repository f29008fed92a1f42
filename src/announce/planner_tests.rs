//! Tests of `planner`.
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
