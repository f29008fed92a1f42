//! Operating the warden end to end with BIRD 2: the CLI talks to the running daemon over
//! its control socket, and every assertion is about what the router (GoBGP) received.
//! A drained service's prefix leaves the router and stays away across a daemon restart;
//! `withdraw-all` empties the router after the warden was SIGKILLed.

use std::fs;
use std::time::{Duration, Instant};

use crate::lab::bird::{Bird, BirdVariant, with_bird};
use crate::lab::warden_config::{Check, Defaults, Service, WardenConfig, ms, secs};
use crate::lab::{Lab, nets};
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

fn config(lab: &Lab, bird: &Bird, services: Vec<Service>) -> String {
    WardenConfig::new(lab)
        .batch_window(ms(50))
        .defaults(Defaults::new().timing(ms(200), secs(1), 2, 2))
        .bird(bird.warden_section(true))
        .services(services)
        .to_toml()
}

fn flag_service(lab: &Lab, name: &str, prefixes: &[&str], flag: &str) -> Service {
    Service::new(name)
        .prefixes(prefixes)
        .check(Check::exists(&lab.path(flag)))
}

/// Runs the CLI against the lab's configuration (the control socket is a file, so the
/// client needs no namespace); returns (exit code, stdout + stderr).
fn cli(lab: &Lab, args: &[&str]) -> (i32, String) {
    let out = lab.warden_cli().args(args).output().expect("run the CLI");
    (
        out.status.code().unwrap_or(-1),
        crate::lab::process::output_text(&out),
    )
}

#[test]
fn a_drained_service_leaves_the_router_and_stays_drained_across_a_restart() {
    with_bird("ops-drain", BirdVariant::Bird2, |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        let ntp = nets(&["203.0.113.123/32"]);
        let both: std::collections::BTreeSet<_> = dns.union(&ntp).copied().collect();
        lab.add_lo_addresses(&both.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let services = vec![
            flag_service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"], "up"),
            flag_service(lab, "ntp", &["203.0.113.123/32"], "up"),
        ];
        let text = config(lab, bird, services);
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
    with_bird(
        "ops-withdraw-all",
        BirdVariant::Bird2,
        |lab, router, bird| {
            let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
            lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
                .unwrap();
            fs::write(lab.path("up"), "").unwrap();
            let services = vec![flag_service(
                lab,
                "dns",
                &["203.0.113.53/32", "2001:db8::53"],
                "up",
            )];
            let warden = lab.start_warden(&config(lab, bird, services));
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
        },
    );
}

#[test]
fn a_registered_service_reaches_the_router_and_deregistering_withdraws_it() {
    with_bird("ops-register", BirdVariant::Bird2, |lab, router, bird| {
        let web = nets(&["203.0.113.80/32", "2001:db8::80/128"]);
        lab.add_lo_addresses(&web.iter().copied().collect::<Vec<_>>())
            .unwrap();
        fs::write(lab.path("up"), "").unwrap();
        let warden = lab.start_warden(&config(lab, bird, Vec::new()));
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
