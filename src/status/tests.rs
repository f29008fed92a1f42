//! Tests of `status`.
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
