//! anycast-warden end to end with BIRD 2: the warden runs in the host namespace beside a
//! real BIRD 2, and every assertion is about what the router (GoBGP) received.

use std::fs;
use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::lab::bird::{Bird, BirdVariant, with_bird};
use crate::lab::nets;
use crate::lab::process::{gone_or_zombie, poll};
use crate::lab::warden_config::{Check, Defaults, Service, WardenConfig, ms, secs};
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

/// The defaults most tests use: fast rounds, rise = fall = 2.
fn fast_defaults() -> Defaults {
    Defaults::new()
        .timing(ms(200), secs(1), 2, 2)
        .interface("lo")
        .ip_check(true)
}

/// A whole warden configuration for this lab.
fn config(lab: &Lab, bird: &Bird, control_socket: bool, services: Vec<Service>) -> WardenConfig {
    WardenConfig::new(lab)
        .batch_window(ms(100))
        .defaults(fast_defaults())
        .bird(bird.warden_section(control_socket))
        .services(services)
}

/// A service whose exec check passes while `<tempdir>/<flag>` exists.
fn flag_service(lab: &Lab, name: &str, prefixes: &[&str], flag: &str) -> Service {
    Service::new(name)
        .prefixes(prefixes)
        .check(Check::exists(&lab.path(flag)))
}

/// Rise and fall through either way of asking BIRD to reconfigure.
fn rise_and_fall(test: &str, control_socket: bool) {
    with_bird(test, BirdVariant::Bird2, |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
            .unwrap();
        let service = flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "dns-up");
        let warden = lab.start_warden(&config(lab, bird, control_socket, vec![service]).to_toml());

        // Failing from the start: unknown, then down; never announced.
        warden
            .wait_for_log("service dns is down", 1, 5 * SECOND)
            .unwrap();
        assert_eq!(
            router.rib().unwrap(),
            nets(&[]),
            "a down service is not announced"
        );

        fs::write(lab.path("dns-up"), "").unwrap();
        let took = router.wait_for_rib(&dns, 10 * SECOND).unwrap();
        eprintln!("{test}: announced {took:?} after the flag appeared");
        let log = warden.log();
        let up = log
            .lines()
            .find(|l| l.contains("service dns is up"))
            .expect("the transition to up is logged");
        assert!(up.contains("2 consecutive passing rounds"), "{up}");
        // rise = 2 at a 200 ms interval: the second passing round is ≥ 1 interval later.
        assert!(
            took >= Duration::from_millis(150),
            "announced too early: {took:?}"
        );

        fs::remove_file(lab.path("dns-up")).unwrap();
        let took = router.wait_for_rib(&nets(&[]), 10 * SECOND).unwrap();
        eprintln!("{test}: withdrawn {took:?} after the flag went away");
        let down = warden
            .log()
            .lines()
            .rfind(|l| l.contains("service dns is down"))
            .map(String::from)
            .unwrap();
        assert!(down.contains("from=up"), "{down}");
        assert!(down.contains("2 consecutive failing rounds"), "{down}");
        assert!(
            took >= Duration::from_millis(150),
            "withdrawn too early: {took:?}"
        );
        assert!(warden.is_running());
    });
}

#[test]
fn announces_after_rise_withdraws_after_fall_via_control_socket() {
    rise_and_fall("rise-fall-ctl", true);
}

#[test]
fn announces_after_rise_withdraws_after_fall_via_reconfigure_command() {
    rise_and_fall("rise-fall-birdc", false);
}

#[test]
fn ip_check_holds_back_a_prefix_whose_address_is_not_on_lo() {
    with_bird("ip-check", BirdVariant::Bird2, |lab, router, bird| {
        // "web" passes its check, but 203.0.113.80 is not on lo yet. "dns" is a witness
        // that the warden is running and announcing.
        lab.add_lo_addresses(&nets(&["203.0.113.53/32"]).into_iter().collect::<Vec<_>>())
            .unwrap();
        let services = vec![
            flag_service(lab, "dns", &["203.0.113.53/32"], "always"),
            flag_service(lab, "web", &["203.0.113.80/32"], "always"),
        ];
        fs::write(lab.path("always"), "").unwrap();
        let monitor = router.monitor();
        let warden = lab.start_warden(&config(lab, bird, true, services).to_toml());

        router
            .wait_for_rib(&nets(&["203.0.113.53/32"]), 10 * SECOND)
            .unwrap();
        warden
            .wait_for_log("203.0.113.80 not assigned to lo (ip_check)", 1, 5 * SECOND)
            .unwrap();
        // Several more rounds (200 ms each) pass: "web" stays unannounced.
        let end = Instant::now() + SECOND;
        while Instant::now() < end {
            assert_eq!(router.rib().unwrap(), nets(&["203.0.113.53/32"]));
            std::thread::sleep(Duration::from_millis(100));
        }
        let web: ipnet::IpNet = "203.0.113.80/32".parse().unwrap();
        assert!(
            monitor.events_for(&web).is_empty(),
            "{:?}",
            monitor.events_for(&web)
        );

        lab.add_lo_addresses(&[web]).unwrap();
        let took = router
            .wait_for_rib(&nets(&["203.0.113.53/32", "203.0.113.80/32"]), 10 * SECOND)
            .unwrap();
        eprintln!("ip-check: announced {took:?} after the address was added");
    });
}

#[test]
fn sigterm_withdraws_everything_and_exits_0() {
    with_bird("sigterm", BirdVariant::Bird2, |lab, router, bird| {
        let all = nets(&["203.0.113.53/32", "2001:db8::53/128", "198.51.100.7/32"]);
        lab.add_lo_addresses(&all.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let services = vec![
            flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "up"),
            flag_service(lab, "ntp", &["198.51.100.7/32"], "up"),
        ];
        let warden = lab.start_warden(&config(lab, bird, true, services).to_toml());
        router.wait_for_rib(&all, 10 * SECOND).unwrap();

        let monitor = router.monitor();
        let sent = Instant::now();
        warden.signal(Signal::SIGTERM).unwrap();
        let status = warden.wait_exit(10 * SECOND).unwrap();
        assert_eq!(status.code(), Some(0), "exit status {status}");
        // The warden confirms the withdrawal with BIRD before it exits; the router hears
        // of it within moments.
        router.wait_for_rib(&nets(&[]), 5 * SECOND).unwrap();
        for prefix in &all {
            let w = monitor
                .wait_for(5 * SECOND, |e| e.prefix == *prefix && e.withdrawal)
                .unwrap();
            eprintln!(
                "sigterm: {prefix} withdrawn at the router {:?} after SIGTERM",
                w.at - sent
            );
        }
        assert!(
            warden.log().contains("withdrew every prefix"),
            "{}",
            warden.log()
        );
    });
}

#[test]
fn sighup_with_a_bad_file_changes_nothing() {
    with_bird("sighup-bad", BirdVariant::Bird2, |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("dns-up"), "").unwrap();
        let service = flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "dns-up");
        let good = config(lab, bird, true, vec![service]);
        let warden = lab.start_warden(&good.to_toml());
        router.wait_for_rib(&dns, 10 * SECOND).unwrap();
        let monitor = router.monitor();
        let reconfigures = bird.reconfigure_count();

        // A typo'd key, and a second service that would be announced if the file were taken.
        // The typo is put into the rendered text by hand: the builder writes only keys the
        // daemon knows.
        let with_ntp = good
            .clone()
            .service(flag_service(lab, "ntp", &["203.0.113.123/32"], "dns-up"))
            .to_toml();
        let bad = with_ntp.replacen("[defaults]\n", "[defaults]\nintervall = \"1s\"\n", 1);
        assert!(bad != with_ntp, "no [defaults] in {with_ntp}");
        let good = good.to_toml();
        assert_ne!(bad, good);
        warden.write_config(&bad);
        warden.signal(Signal::SIGHUP).unwrap();
        warden
            .wait_for_log("configuration reload refused", 1, 5 * SECOND)
            .unwrap();
        let refusal = warden
            .log()
            .lines()
            .find(|l| l.contains("configuration reload refused"))
            .map(String::from)
            .unwrap();
        assert!(
            refusal.contains("intervall"),
            "the log names the bad key: {refusal}"
        );

        // The old configuration keeps running for several rounds: same RIB, no event.
        let end = Instant::now() + SECOND;
        while Instant::now() < end {
            assert_eq!(router.rib().unwrap(), dns);
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(warden.is_running());
        assert!(monitor.events().is_empty(), "{:?}", monitor.events());
        assert_eq!(
            bird.reconfigure_count(),
            reconfigures,
            "BIRD was not reconfigured"
        );

        // And it still works: the old service still follows its check.
        fs::remove_file(lab.path("dns-up")).unwrap();
        router.wait_for_rib(&nets(&[]), 10 * SECOND).unwrap();
    });
}

#[test]
fn sighup_with_a_new_service_keeps_the_unchanged_one_announced() {
    with_bird("sighup-good", BirdVariant::Bird2, |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        let ntp = nets(&["203.0.113.123/32", "2001:db8::123/128"]);
        lab.add_lo_addresses(&dns.union(&ntp).copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let dns_service = flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "up");
        let warden = lab.start_warden(&config(lab, bird, true, vec![dns_service]).to_toml());
        router.wait_for_rib(&dns, 10 * SECOND).unwrap();
        let monitor = router.monitor();

        // The new service comes in a conf.d file; the main file is unchanged.
        warden.write_service_file(
            "ntp.toml",
            &WardenConfig::conf_d()
                .service(flag_service(
                    lab,
                    "ntp",
                    &["203.0.113.123/32", "2001:db8::123"],
                    "up",
                ))
                .to_toml(),
        );
        warden.signal(Signal::SIGHUP).unwrap();
        warden
            .wait_for_log("configuration reloaded", 1, 5 * SECOND)
            .unwrap();
        let all: std::collections::BTreeSet<_> = dns.union(&ntp).copied().collect();
        let took = router.wait_for_rib(&all, 10 * SECOND).unwrap();
        eprintln!("sighup-good: the new service was announced {took:?} after the reload");
        for prefix in &ntp {
            monitor
                .wait_for(5 * SECOND, |e| e.prefix == *prefix && !e.withdrawal)
                .unwrap();
        }
        for prefix in &dns {
            let events = monitor.events_for(prefix);
            assert!(
                events.iter().all(|e| !e.withdrawal),
                "{prefix} of the unchanged service flapped: {events:?}"
            );
        }
    });
}

#[test]
fn a_hanging_check_is_killed_at_its_timeout_with_its_grandchild() {
    with_bird("hanging-check", BirdVariant::Bird2, |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32"]);
        lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let pids = lab.path("child.pids");
        // Passes while the flag exists; else starts a grandchild and hangs.
        let line = format!(
            "test -e {up} && exit 0; sleep 1000 & echo $! >> {pids}; sleep 1000",
            up = lab.path("up").display(),
            pids = pids.display(),
        );
        let service = Service::new("dns")
            .prefixes(&["203.0.113.53/32"])
            .timing(secs(1), ms(500), 1, 1)
            .check(Check::shell(&line));
        let warden = lab.start_warden(&config(lab, bird, true, vec![service]).to_toml());
        router.wait_for_rib(&dns, 10 * SECOND).unwrap();

        fs::remove_file(lab.path("up")).unwrap();
        // The next round starts the grandchild; note when it appears.
        let grandchild: i32 = poll(5 * SECOND, Duration::from_millis(5), || {
            fs::read_to_string(&pids)
                .ok()?
                .lines()
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .expect("the hanging check started its grandchild");
        let started = Instant::now();
        lab.adopt(grandchild);
        assert!(
            !gone_or_zombie(grandchild),
            "the grandchild runs while the check hangs"
        );

        let killed = poll(5 * SECOND, Duration::from_millis(5), || {
            gone_or_zombie(grandchild).then(|| started.elapsed())
        })
        .unwrap_or_else(|| panic!("grandchild {grandchild} still runs 5 s after it started"));
        eprintln!("hanging-check: grandchild {grandchild} gone {killed:?} after it started");
        // Killed at the 500 ms timeout, not at the next round or later.
        assert!(
            killed >= Duration::from_millis(400),
            "killed before the timeout: {killed:?}"
        );
        assert!(
            killed < Duration::from_millis(1500),
            "killed long after the timeout: {killed:?}"
        );

        router.wait_for_rib(&nets(&[]), 5 * SECOND).unwrap();
        let down = warden
            .log()
            .lines()
            .find(|l| l.contains("service dns is down"))
            .map(String::from)
            .unwrap();
        assert!(down.contains("from=up"), "{down}");
        eprintln!("hanging-check: {down}");

        // Still down while the check keeps hanging; each run's grandchild is killed too.
        let end = Instant::now() + 2 * SECOND;
        while Instant::now() < end {
            assert_eq!(router.rib().unwrap(), nets(&[]));
            std::thread::sleep(Duration::from_millis(100));
        }
        warden.signal(Signal::SIGTERM).unwrap();
        assert_eq!(warden.wait_exit(10 * SECOND).unwrap().code(), Some(0));
        let all: Vec<i32> = fs::read_to_string(&pids)
            .unwrap()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        for pid in &all {
            lab.adopt(*pid);
        }
        assert!(all.len() >= 2, "several rounds hung: {all:?}");
        let alive = poll(3 * SECOND, Duration::from_millis(20), || {
            let alive: Vec<i32> = all
                .iter()
                .copied()
                .filter(|p| !gone_or_zombie(*p))
                .collect();
            alive.is_empty().then_some(())
        });
        assert!(
            alive.is_some(),
            "grandchildren still running after the warden exited: {:?}",
            all.iter()
                .filter(|p| !gone_or_zombie(**p))
                .collect::<Vec<_>>()
        );
    });
}
