//! Coalescing, end to end: 1,000 services fail in the same instant and recover in the same
//! instant; BIRD must be reconfigured a handful of times per burst, not 1,000 times, and
//! the router must end with exactly the right prefixes.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::lab::bird::{BirdVariant, RECONFIGURE_LOG_LINE};
use crate::lab::needs::Need;
use crate::lab::warden_config::{Check, Defaults, Service, WardenConfig, ms, secs};
use ipnet::IpNet;

const SERVICES: usize = 1_000;
/// Most reconfigurations BIRD may see for one burst of 1,000 transitions.
const MAX_RECONFIGURES_PER_BURST: usize = 10;

/// 250 /32 from 198.51.100.0/24, 250 from 203.0.113.0/24, 500 /128 from 2001:db8:100::/64.
fn prefixes() -> Vec<IpNet> {
    let mut all = Vec::with_capacity(SERVICES);
    for i in 1..=250 {
        all.push(format!("198.51.100.{i}/32").parse().unwrap());
        all.push(format!("203.0.113.{i}/32").parse().unwrap());
    }
    for i in 1..=500u32 {
        all.push(format!("2001:db8:100::{i:x}/128").parse().unwrap());
    }
    assert_eq!(all.len(), SERVICES);
    all
}

#[test]
fn a_thousand_services_failing_at_once_cost_a_handful_of_reconfigures() {
    let Some(lab) = Lab::new_alone_or_skip("coalescing", &[Need::Bird2, Need::Gobgp]) else {
        return;
    };
    let prefixes = prefixes();
    let all: BTreeSet<IpNet> = prefixes.iter().copied().collect();
    let none = BTreeSet::new();
    lab.add_lo_addresses(&prefixes).unwrap();
    assert_eq!(
        lab.lo_addresses().unwrap().len(),
        SERVICES + 2,
        "1,000 + 127.0.0.1 + ::1"
    );

    let (router, bird) = lab.start_router_and_bird(BirdVariant::Bird2);

    // Every service checks the same listener inside the host namespace.
    let listener = lab.host_tcp_listener(0);
    let port = listener.addr.port();
    let target = format!("127.0.0.1:{port}");
    let services = prefixes.iter().enumerate().map(|(i, p)| {
        Service::new(&format!("svc{i:04}"))
            .prefixes(&[p.to_string()])
            .check(Check::tcp(&target))
    });
    let config = WardenConfig::new(&lab)
        .batch_window(ms(100))
        .defaults(
            Defaults::new()
                .timing(secs(1), ms(500), 1, 1)
                .interface("lo")
                .ip_check(false),
        )
        .bird(bird.warden_section(true));
    let config_dir = lab.path("conf.d");
    std::fs::create_dir_all(&config_dir).unwrap();
    let services = WardenConfig::conf_d().services(services).to_toml();
    std::fs::write(config_dir.join("services.toml"), services).unwrap();
    std::fs::write(lab.path("warden.toml"), config.to_toml()).unwrap();
    let start = Instant::now();
    let warden = lab.start_warden_files(&lab.path("warden.toml"), &config_dir);

    // Burst 1: all 1,000 come up.
    let took = router.wait_for_rib(&all, Duration::from_secs(60)).unwrap();
    let since_start = start.elapsed();
    let quiet = Duration::from_millis(1500);
    let after_up = bird.settled_reconfigure_count(quiet, Duration::from_secs(20));
    eprintln!(
        "coalescing: 1,000 services announced {since_start:?} after the warden started ({took:?} of polling), BIRD reconfigured {after_up} times"
    );
    assert!(
        (1..=MAX_RECONFIGURES_PER_BURST).contains(&after_up),
        "start-up burst: {after_up} reconfigures"
    );
    assert_eq!(router.rib().unwrap(), all);

    // Burst 2: the listener goes away; every check fails at its next round.
    let monitor = router.monitor();
    let applies_before = warden.log_count("applied prefix set");
    let failed_at = Instant::now();
    listener.close();
    // To line up with the warden's and BIRD's logs (AW_LAB_KEEP=always keeps them).
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    eprintln!(
        "coalescing: listener closed at unix time {:.3}",
        wall.as_secs_f64()
    );
    // Watch the monitor (cheap), then confirm with the RIB.
    monitor
        .wait_until(Duration::from_secs(30), |events| {
            events
                .iter()
                .filter(|e| e.withdrawal)
                .map(|e| e.prefix)
                .collect::<BTreeSet<_>>()
                == all
        })
        .unwrap_or_else(|e| panic!("{e}: {:?}", router.wait_for_rib(&none, Duration::ZERO)));
    let took = router.wait_for_rib(&none, Duration::from_secs(30)).unwrap();
    let after_down = bird.settled_reconfigure_count(quiet, Duration::from_secs(20));
    let down_burst = after_down - after_up;
    if let Some(applied) = warden
        .log()
        .lines()
        .filter(|l| l.contains("applied prefix set announced=0 "))
        .filter_map(seconds_of_day)
        .find(|t| *t >= wall.as_secs_f64() % 86_400.0)
    {
        eprintln!(
            "coalescing: the warden applied the empty set {:.3} s after the listener closed",
            applied - wall.as_secs_f64() % 86_400.0
        );
    }
    let events = monitor.events();
    let withdrawals: Vec<_> = events.iter().filter(|e| e.withdrawal).collect();
    let first = withdrawals.iter().map(|e| e.at).min().unwrap();
    let last = withdrawals.iter().map(|e| e.at).max().unwrap();
    eprintln!(
        "coalescing: failure converged at the router {:?} after the listener closed (the RIB confirmed it {took:?} later); \
         withdrawals spread over {:?}; BIRD reconfigured {down_burst} times (\"{RECONFIGURE_LOG_LINE}\"); \
         the warden applied {} sets",
        last - failed_at,
        last - first,
        warden.log_count("applied prefix set") - applies_before,
    );
    assert_eq!(
        withdrawals
            .iter()
            .map(|e| e.prefix)
            .collect::<BTreeSet<_>>(),
        all,
        "the router saw every prefix withdrawn"
    );
    assert!(
        (1..=MAX_RECONFIGURES_PER_BURST).contains(&down_burst),
        "failure burst: {down_burst} reconfigures for {SERVICES} transitions"
    );
    assert_eq!(router.rib().unwrap(), none);

    // Burst 3: the listener is back; every check passes at its next round.
    let applies_before = warden.log_count("applied prefix set");
    let recovered_at = Instant::now();
    let _listener = lab.host_tcp_listener(port);
    monitor
        .wait_until(Duration::from_secs(30), |events| {
            events
                .iter()
                .filter(|e| !e.withdrawal && e.at >= recovered_at)
                .map(|e| e.prefix)
                .collect::<BTreeSet<_>>()
                == all
        })
        .unwrap_or_else(|e| panic!("{e}: {:?}", router.wait_for_rib(&all, Duration::ZERO)));
    let took = router.wait_for_rib(&all, Duration::from_secs(30)).unwrap();
    let after_recovery = bird.settled_reconfigure_count(quiet, Duration::from_secs(20));
    let up_burst = after_recovery - after_down;
    let announced: Vec<_> = monitor
        .events()
        .into_iter()
        .filter(|e| !e.withdrawal && e.at >= recovered_at)
        .collect();
    let last = announced.iter().map(|e| e.at).max().unwrap();
    eprintln!(
        "coalescing: recovery converged at the router {:?} after the listener reopened (the RIB confirmed it {took:?} later); \
         BIRD reconfigured {up_burst} times; the warden applied {} sets",
        last - recovered_at,
        warden.log_count("applied prefix set") - applies_before,
    );
    assert!(
        (1..=MAX_RECONFIGURES_PER_BURST).contains(&up_burst),
        "recovery burst: {up_burst} reconfigures for {SERVICES} transitions"
    );
    assert_eq!(router.rib().unwrap(), all);
    assert!(warden.is_running());
    let log = warden.log();
    for line in log.lines().filter(|l| l.contains("applied prefix set")) {
        eprintln!("coalescing: warden: {}", &line[..line.len().min(160)]);
    }
}

/// Seconds since midnight UTC of a log line that starts with an RFC 3339 UTC timestamp
/// (`2026-11-22T03:57:55.681452Z ...`).
fn seconds_of_day(line: &str) -> Option<f64> {
    let time = line.split_whitespace().next()?.split_once('T')?.1;
    let time = time.strip_suffix('Z')?;
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}
