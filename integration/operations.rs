//! Operating the warden end to end with BIRD 2: the CLI talks to the running daemon over
//! its control socket, and every assertion is about what the router (GoBGP) received.
//! A drained service's prefix leaves the router and stays away across a daemon restart;
//! `withdraw-all` empties the router after the warden was SIGKILLed.

mod lab;

use std::fs;
use std::time::{Duration, Instant};

use lab::bird::Bird;
use lab::gobgp::Router;
use lab::needs::Need;
use lab::{Lab, nets};
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

fn config(lab: &Lab, bird: &Bird, services: &str, metrics: &str) -> String {
    format!(
        "[daemon]\nstate_dir = {state:?}\nbatch_window = \"50ms\"\n{metrics}\n\
         [defaults]\ninterval = \"200ms\"\ntimeout = \"1s\"\nrise = 2\nfall = 2\n{bird}\n{services}",
        state = lab.path("state").display().to_string(),
        bird = bird.warden_section(true),
    )
}

fn flag_service(lab: &Lab, name: &str, prefixes: &[&str], flag: &str) -> String {
    format!(
        "[[service]]\nname = {name:?}\nprefixes = {prefixes:?}\n[[service.check]]\nkind = \"exec\"\ncommand = [\"/bin/test\", \"-e\", {flag:?}]\n",
        flag = lab.path(flag).display().to_string(),
    )
}

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

/// Runs the CLI against the lab's configuration (the control socket is a file, so the
/// client needs no namespace); returns (exit code, stdout + stderr).
fn cli(lab: &Lab, args: &[&str]) -> (i32, String) {
    let out = lab.warden_cli().args(args).output().expect("run the CLI");
    (
        out.status.code().unwrap_or(-1),
        lab::process::output_text(&out),
    )
}

#[test]
fn a_drained_service_leaves_the_router_and_stays_drained_across_a_restart() {
    with_lab("ops-drain", |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        let ntp = nets(&["203.0.113.123/32"]);
        let both: std::collections::BTreeSet<_> = dns.union(&ntp).copied().collect();
        lab.add_lo_addresses(&both.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let services = format!(
            "{}{}",
            flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "up"),
            flag_service(lab, "ntp", &["203.0.113.123/32"], "up"),
        );
        let text = config(lab, bird, &services, "");
        let warden = lab.start_warden(&text);
        router.wait_for_rib(&both, 10 * SECOND).unwrap();

        let (code, out) = cli(lab, &["status"]);
        assert_eq!(code, 0, "{out}");
        assert!(
            out.lines()
                .any(|l| l.starts_with("dns") && l.contains(" up ")),
            "{out}"
        );

        let (code, out) = cli(lab, &["drain", "dns", "--reason", "kernel upgrade"]);
        assert_eq!(code, 0, "{out}");
        let took = router.wait_for_rib(&ntp, 10 * SECOND).unwrap();
        eprintln!("ops-drain: dns left the router {took:?} after drain returned");
        let (code, out) = cli(lab, &["status"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("DRAINED: kernel upgrade"), "{out}");

        // Restart: the new daemon never announces dns, though dns is healthy.
        warden.signal(Signal::SIGTERM).unwrap();
        assert!(warden.wait_exit(15 * SECOND).unwrap().success());
        router.wait_for_rib(&nets(&[]), 10 * SECOND).unwrap();
        let monitor = router.monitor();
        let warden = lab.start_warden(&text);
        router.wait_for_rib(&ntp, 10 * SECOND).unwrap();
        let end = Instant::now() + 2 * SECOND;
        while Instant::now() < end {
            assert_eq!(
                router.rib().unwrap(),
                ntp,
                "dns stays drained after the restart"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        for prefix in &dns {
            assert!(
                monitor.events_for(prefix).is_empty(),
                "{prefix} was announced after the restart: {:?}",
                monitor.events_for(prefix)
            );
        }

        let (code, out) = cli(lab, &["undrain", "dns"]);
        assert_eq!(code, 0, "{out}");
        router.wait_for_rib(&both, 10 * SECOND).unwrap();
        assert!(warden.is_running());
    });
}

#[test]
fn withdraw_all_empties_the_router_after_the_warden_is_killed() {
    with_lab("ops-withdraw-all", |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let services = flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "up");
        let warden = lab.start_warden(&config(lab, bird, &services, ""));
        router.wait_for_rib(&dns, 10 * SECOND).unwrap();

        warden.signal(Signal::SIGKILL).unwrap();
        warden.wait_exit(5 * SECOND).unwrap();
        // A killed warden cannot withdraw: the router keeps the routes.
        std::thread::sleep(SECOND);
        assert_eq!(router.rib().unwrap(), dns);

        let (code, out) = cli(lab, &["withdraw-all"]);
        assert_eq!(code, 0, "{out}");
        let took = router.wait_for_rib(&nets(&[]), 10 * SECOND).unwrap();
        eprintln!("ops-withdraw-all: the router was empty {took:?} after withdraw-all");
    });
}

#[test]
fn a_registered_service_reaches_the_router_and_deregistering_withdraws_it() {
    with_lab("ops-register", |lab, router, bird| {
        let web = nets(&["203.0.113.80/32", "2001:db8::80/128"]);
        lab.add_lo_addresses(&web.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let warden = lab.start_warden(&config(lab, bird, "", ""));
        warden
            .wait_for_log("anycast-warden started", 1, 5 * SECOND)
            .unwrap();
        let check = format!("exec:/bin/test -e {}", lab.path("up").display());
        let (code, out) = cli(
            lab,
            &[
                "register",
                "--name",
                "web",
                "--prefix",
                "203.0.113.80/32",
                "--prefix",
                "2001:db8::80",
                "--check",
                &check,
            ],
        );
        assert_eq!(code, 0, "{out}");
        let took = router.wait_for_rib(&web, 10 * SECOND).unwrap();
        eprintln!("ops-register: announced {took:?} after register returned (rise 2)");

        let (code, out) = cli(lab, &["deregister", "web"]);
        assert_eq!(code, 0, "{out}");
        router.wait_for_rib(&nets(&[]), 10 * SECOND).unwrap();
        assert!(warden.is_running());
    });
}
