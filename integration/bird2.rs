//! anycast-warden end to end with BIRD 2: the warden runs in the host namespace beside a
//! real BIRD 2, and every assertion is about what the router (GoBGP) received.

mod lab;

use std::fs;
use std::time::{Duration, Instant};

use lab::bird::Bird;
use lab::gobgp::Router;
use lab::needs::Need;
use lab::process::{gone_or_zombie, poll};
use lab::{Lab, nets};
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

/// The defaults most tests use: fast rounds, rise = fall = 2.
const FAST_DEFAULTS: &str = r#"
[defaults]
interval = "200ms"
timeout = "1s"
rise = 2
fall = 2
interface = "lo"
ip_check = true
"#;

/// A whole warden configuration for this lab.
fn config(lab: &Lab, bird: &Bird, control_socket: bool, defaults: &str, services: &str) -> String {
    format!(
        "[daemon]\nstate_dir = {state:?}\nbatch_window = \"100ms\"\n{defaults}\n{bird}\n{services}",
        state = lab.path("state").display().to_string(),
        bird = bird.warden_section(control_socket),
    )
}

/// A service whose exec check passes while `<tempdir>/<flag>` exists.
fn flag_service(lab: &Lab, name: &str, prefixes: &[&str], flag: &str) -> String {
    format!(
        "[[service]]\nname = {name:?}\nprefixes = {prefixes:?}\n[[service.check]]\nkind = \"exec\"\ncommand = [\"/bin/test\", \"-e\", {flag:?}]\n",
        flag = lab.path(flag).display().to_string(),
    )
}

/// Builds the lab (router, BIRD 2, BGP Established) and hands it to the test.
fn with_lab(test: &str, body: impl FnOnce(&Lab, &Router, &Bird)) {
    let Some(lab) = Lab::new_or_skip(test, &[Need::Bird2, Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router(false);
    let bird = lab.start_bird2();
    router
        .wait_established(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    body(&lab, &router, &bird);
}

/// Rise and fall through either way of asking BIRD to reconfigure.
fn rise_and_fall(test: &str, control_socket: bool) {
    with_lab(test, |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
            .unwrap();
        let service = flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "dns-up");
        let warden = lab.start_warden(&config(lab, bird, control_socket, FAST_DEFAULTS, &service));

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
    with_lab("ip-check", |lab, router, bird| {
        // "web" passes its check, but 203.0.113.80 is not on lo yet. "dns" is a witness
        // that the warden is running and announcing.
        lab.add_lo_addresses(&nets(&["203.0.113.53/32"]).into_iter().collect::<Vec<_>>())
            .unwrap();
        let services = format!(
            "{}{}",
            flag_service(lab, "dns", &["203.0.113.53/32"], "always"),
            flag_service(lab, "web", &["203.0.113.80/32"], "always"),
        );
        fs::write(lab.path("always"), "").unwrap();
        let monitor = router.monitor();
        let warden = lab.start_warden(&config(lab, bird, true, FAST_DEFAULTS, &services));

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
    with_lab("sigterm", |lab, router, bird| {
        let all = nets(&["203.0.113.53/32", "2001:db8::53/128", "198.51.100.7/32"]);
        lab.add_lo_addresses(&all.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let services = format!(
            "{}{}",
            flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "up"),
            flag_service(lab, "ntp", &["198.51.100.7/32"], "up"),
        );
        let warden = lab.start_warden(&config(lab, bird, true, FAST_DEFAULTS, &services));
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
    with_lab("sighup-bad", |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("dns-up"), "").unwrap();
        let service = flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "dns-up");
        let good = config(lab, bird, true, FAST_DEFAULTS, &service);
        let warden = lab.start_warden(&good);
        router.wait_for_rib(&dns, 10 * SECOND).unwrap();
        let monitor = router.monitor();
        let reconfigures = bird.reconfigure_count();

        // A typo'd key, and a second service that would be announced if the file were taken.
        let bad = format!(
            "{}{}",
            good.replace("fall = 2", "fall = 2\nintervall = \"1s\""),
            flag_service(lab, "ntp", &["203.0.113.123/32"], "dns-up"),
        );
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
    with_lab("sighup-good", |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        let ntp = nets(&["203.0.113.123/32", "2001:db8::123/128"]);
        lab.add_lo_addresses(&dns.union(&ntp).copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let dns_service = flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "up");
        let warden = lab.start_warden(&config(lab, bird, true, FAST_DEFAULTS, &dns_service));
        router.wait_for_rib(&dns, 10 * SECOND).unwrap();
        let monitor = router.monitor();

        // The new service comes in a conf.d file; the main file is unchanged.
        warden.write_service_file(
            "ntp.toml",
            &flag_service(lab, "ntp", &["203.0.113.123/32", "2001:db8::123"], "up"),
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
    with_lab("hanging-check", |lab, router, bird| {
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
        let services = format!(
            "[[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.53/32\"]\ninterval = \"1s\"\ntimeout = \"500ms\"\nrise = 1\nfall = 1\n[[service.check]]\nkind = \"exec\"\nshell = true\ncommand = {line:?}\n"
        );
        let warden = lab.start_warden(&config(lab, bird, true, FAST_DEFAULTS, &services));
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
