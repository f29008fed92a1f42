//! BIRD 1.6 (`variant = "bird1"`): `bird` exports IPv4 from one include file over an IPv4
//! session, `bird6` exports IPv6 from another over an IPv6 session. BIRD 1.6 comes from
//! Debian's `bird` package unpacked into /opt/bird1 (integration/setup.sh).

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

use crate::lab::bird::{BirdVariant, DUMMY_V4, DUMMY_V6, with_bird};
use crate::lab::nets;
use crate::lab::warden_config::{Check, Defaults, Service, WardenConfig, ms, secs};
use ipnet::IpNet;

const SECOND: Duration = Duration::from_secs(1);

fn set_line(name: &str, prefixes: &BTreeSet<IpNet>, dummy: &str) -> String {
    let mut list: Vec<String> = prefixes.iter().map(ToString::to_string).collect();
    if list.is_empty() {
        // BIRD 1.6 refuses `[ ]`.
        list.push(dummy.to_string());
    }
    format!("define {name} = [ {} ];\n", list.join(", "))
}

#[test]
fn lab_bird1_and_bird6_export_what_their_include_files_allow() {
    with_bird("bird1-selftest", BirdVariant::Bird1, |lab, router, bird| {
        let v4 = nets(&["203.0.113.53/32"]);
        let v6 = nets(&["2001:db8::53/128"]);
        let both: BTreeSet<IpNet> = v4.union(&v6).copied().collect();
        lab.add_lo_addresses(&both.iter().copied().collect::<Vec<_>>())
            .unwrap();
        assert_eq!(
            router.rib().unwrap(),
            nets(&[]),
            "the dummy prefixes are not on lo"
        );

        let before = bird.reconfigure_count();
        fs::write(
            bird.include_file(),
            set_line("ANYCAST_PREFIXES", &v4, DUMMY_V4),
        )
        .unwrap();
        fs::write(
            bird.include_file6(),
            set_line("ANYCAST6_PREFIXES", &v6, DUMMY_V6),
        )
        .unwrap();
        bird.configure().unwrap();
        router.wait_for_rib(&both, 10 * SECOND).unwrap();
        assert_eq!(
            bird.reconfigure_count(),
            before + 2,
            "one configure each for bird and bird6"
        );

        let empty = BTreeSet::new();
        fs::write(
            bird.include_file(),
            set_line("ANYCAST_PREFIXES", &empty, DUMMY_V4),
        )
        .unwrap();
        fs::write(
            bird.include_file6(),
            set_line("ANYCAST6_PREFIXES", &empty, DUMMY_V6),
        )
        .unwrap();
        bird.configure().unwrap();
        router.wait_for_rib(&nets(&[]), 10 * SECOND).unwrap();
    });
}

/// The warden drives bird and bird6; the router sees both families come and go.
fn warden_drives_bird1(test: &str, control_socket: bool) {
    with_bird(test, BirdVariant::Bird1, |lab, router, bird| {
        let dns = nets(&["203.0.113.53/32", "2001:db8::53/128"]);
        lab.add_lo_addresses(&dns.iter().copied().collect::<Vec<_>>())
            .unwrap();
        let flag = lab.path("dns-up");
        let config = WardenConfig::new(lab)
            .batch_window(ms(100))
            .defaults(
                Defaults::new()
                    .timing(ms(200), secs(1), 2, 2)
                    .interface("lo")
                    .ip_check(true),
            )
            .bird(bird.warden_section(control_socket))
            .service(
                Service::new("dns")
                    .prefixes(&["203.0.113.53/32", "2001:db8::53"])
                    .check(Check::exists(&flag)),
            );
        let monitor = router.monitor();
        let warden = lab.start_warden(&config.to_toml());
        warden
            .wait_for_log("service dns is down", 1, 5 * SECOND)
            .unwrap();
        assert_eq!(router.rib().unwrap(), nets(&[]));

        fs::write(&flag, "").unwrap();
        let took = router.wait_for_rib(&dns, 10 * SECOND).unwrap();
        eprintln!("{test}: announced {took:?} after the flag appeared");
        // IPv4 came from bird (include_file), IPv6 from bird6 (include_file6).
        let v4 = fs::read_to_string(bird.include_file()).unwrap();
        let v6 = fs::read_to_string(bird.include_file6()).unwrap();
        assert!(
            v4.contains("203.0.113.53/32") && !v4.contains("2001:db8::53"),
            "{v4}"
        );
        assert!(
            v6.contains("2001:db8::53/128") && !v6.contains("203.0.113.53"),
            "{v6}"
        );

        fs::remove_file(&flag).unwrap();
        let took = router.wait_for_rib(&nets(&[]), 10 * SECOND).unwrap();
        eprintln!("{test}: withdrawn {took:?} after the flag went away");
        for prefix in &dns {
            monitor
                .wait_for(5 * SECOND, |e| e.prefix == *prefix && e.withdrawal)
                .unwrap();
        }
        // BIRD 1.6 cannot hold an empty set: the files fall back to the dummy prefixes.
        let v4 = fs::read_to_string(bird.include_file()).unwrap();
        let v6 = fs::read_to_string(bird.include_file6()).unwrap();
        assert!(v4.contains(DUMMY_V4), "{v4}");
        assert!(v6.contains(DUMMY_V6), "{v6}");
        assert!(warden.is_running());
    });
}

#[test]
fn bird1_variant_via_control_sockets() {
    warden_drives_bird1("bird1-ctl", true);
}

#[test]
fn bird1_variant_via_reconfigure_commands() {
    warden_drives_bird1("bird1-birdc", false);
}
