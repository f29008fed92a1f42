//! End to end with a real FRR (zebra, staticd, bgpd) driven by the warden through vtysh,
//! and GoBGP as the router whose RIB shows what the world sees. See `lab` for the lab.
//!
//! Run as root (`cargo test --test e2e frr::`); without root or the daemons every test prints
//! `SKIPPED: <why>`, unless `CI=true`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::lab::frr::{FRR_CHANGE_LOG_LINE, Frr, FrrConf, FrrMode};
use crate::lab::gobgp::Router;
use crate::lab::needs::Need;
use crate::lab::process::poll;
use crate::lab::warden::Warden;
use crate::lab::warden_config::{Check, FrrSection, Service, WardenConfig, ms, secs};
use crate::lab::{Lab, nets};
use ipnet::IpNet;
use nix::sys::signal::Signal;

/// BGP sessions take a few seconds to come up (connect retry 1 s); changes after that
/// arrive within a second.
const SESSION: Duration = Duration::from_secs(30);
const CHANGE: Duration = Duration::from_secs(5);

fn has(rib: &BTreeSet<IpNet>, prefixes: &[&str]) -> bool {
    nets(prefixes).is_subset(rib)
}

fn has_none(rib: &BTreeSet<IpNet>, prefixes: &[&str]) -> bool {
    nets(prefixes).is_disjoint(rib)
}

/// Builds the lab (router, FRR with `conf`) and hands it to the test.
fn with_lab(test: &str, conf: &FrrConf, body: impl FnOnce(&Lab, &Router, &mut Frr)) {
    let Some(lab) = Lab::new_or_skip(test, &[Need::Frr, Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router(false);
    let mut frr = lab.start_frr(conf);
    body(&lab, &router, &mut frr);
}

/// `[frr]` in `mode`, checked against FRR's state every 500 ms. Unless `over_vtysh`, the
/// vtysh it names does not exist, so the test proves the vty sockets carried everything.
fn section(frr: &Frr, mode: FrrMode, over_vtysh: bool) -> FrrSection {
    let section = if over_vtysh {
        frr.warden_section(mode).transport("vtysh")
    } else {
        frr.warden_section_without_vtysh(mode)
    };
    section.verify_interval(ms(500))
}

/// A whole warden configuration: `section` and the services given.
fn config(lab: &Lab, section: FrrSection, services: Vec<Service>) -> String {
    WardenConfig::new(lab)
        .batch_window(ms(20))
        .frr(section)
        .services(services)
        .to_toml()
}

/// A `[[service]]` checked every 100 ms, up while `<tempdir>/up-<name>` exists; its
/// prefixes are the caller's.
fn service(lab: &Lab, name: &str, ip_check: bool) -> Service {
    let flag = lab.path(&format!("up-{name}")).display().to_string();
    Service::new(name)
        .timing(ms(100), secs(1), 1, 1)
        .ip_check(ip_check)
        .check(Check::exec(&["test", "-e", &flag]))
}

fn set_up(lab: &Lab, name: &str, up: bool) {
    lab.set_flag(&format!("up-{name}"), up);
}

/// Waits until the router's RIB satisfies `ok`; panics with the RIB after `timeout`.
fn wait_rib(router: &Router, what: &str, timeout: Duration, ok: impl Fn(&BTreeSet<IpNet>) -> bool) {
    router
        .wait_for_rib_where(what, timeout, ok)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until FRR's running configuration satisfies `ok`.
fn wait_config(frr: &Frr, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) {
    poll(timeout, Duration::from_millis(50), || {
        ok(&frr.running_config()).then_some(())
    })
    .unwrap_or_else(|| panic!("{what}: not within {timeout:?}\n{}", frr.running_config()));
}

/// SIGTERM to the warden; it must exit with status 0 within 10 s.
fn stop_warden(warden: &Warden) {
    warden.signal(Signal::SIGTERM).unwrap();
    let status = warden.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(status.success(), "warden did not exit cleanly: {status}");
}

fn rib(router: &Router) -> BTreeSet<IpNet> {
    router.rib().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn network_mode_announces_withdraws_and_leaves_hand_made_statements() {
    network_mode("frr-network", false);
}

#[test]
fn network_mode_over_vtysh() {
    network_mode("frr-net-vtysh", true);
}

/// The network-mode scenario, over the vty sockets or vtysh.
fn network_mode(test: &str, over_vtysh: bool) {
    // A hand-made network statement for an address on lo: announced by FRR on its own.
    let conf = FrrConf {
        bgp_v4: "  network 203.0.113.99/32",
        ..FrrConf::default()
    };
    with_lab(test, &conf, |lab, router, frr| {
        lab.add_lo_addresses(
            &nets(&["203.0.113.53/32", "203.0.113.99/32", "2001:db8::53/128"])
                .into_iter()
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let services =
            vec![service(lab, "dns", true).prefixes(&["203.0.113.53/32", "2001:db8::53"])];
        set_up(lab, "dns", true);
        let section = section(frr, FrrMode::Network, over_vtysh);
        let warden = lab.start_warden(&config(lab, section, services));
        let ours = ["203.0.113.53/32", "2001:db8::53/128"];
        wait_rib(router, "announce after rise", SESSION, |rib| {
            has(rib, &ours) && has(rib, &["203.0.113.99/32"])
        });
        let config = frr.running_config();
        assert!(config.contains("  network 203.0.113.53/32"), "{config}");
        assert!(config.contains("  network 2001:db8::53/128"), "{config}");

        set_up(lab, "dns", false);
        wait_rib(router, "withdraw after fall", CHANGE, |rib| {
            has_none(rib, &ours)
        });
        assert!(
            has(&rib(router), &["203.0.113.99/32"]),
            "hand-made route removed"
        );

        set_up(lab, "dns", true);
        wait_rib(router, "announce again", CHANGE, |rib| has(rib, &ours));
        stop_warden(&warden);
        wait_rib(router, "SIGTERM withdraws all", CHANGE, |rib| {
            has_none(rib, &ours)
        });
        let rib = rib(router);
        assert!(
            has(&rib, &["203.0.113.99/32"]),
            "hand-made route removed: {rib:?}"
        );
        let config = frr.running_config();
        assert!(config.contains("  network 203.0.113.99/32"), "{config}");
        assert!(!config.contains("network 203.0.113.53/32"), "{config}");
    });
}

#[test]
fn static_mode_announces_withdraws_and_leaves_hand_made_routes() {
    static_mode("frr-static", false);
}

#[test]
fn static_mode_over_vtysh() {
    static_mode("frr-sta-vtysh", true);
}

/// The static-mode scenario (tag 4711), over the vty sockets or vtysh.
fn static_mode(test: &str, over_vtysh: bool) {
    // A hand-made static route, redistributed like the warden's but without its tag.
    let conf = FrrConf {
        statics: "ip route 198.51.100.9/32 Null0\nip route 198.51.100.10/32 Null0 tag 99",
        ..FrrConf::default()
    };
    with_lab(test, &conf, |lab, router, frr| {
        // Static mode suits prefixes not on the host: no ip_check.
        let services = vec![
            service(lab, "web", false).prefixes(&["198.51.100.0/25", "2001:db8:100::/48"]),
            // Wants a prefix that a hand-made route already has: the warden keeps off it.
            service(lab, "ntp", false).prefixes(&["198.51.100.10/32"]),
        ];
        set_up(lab, "web", true);
        set_up(lab, "ntp", true);
        let section = section(frr, FrrMode::Static, over_vtysh).tag(4711);
        let warden = lab.start_warden(&config(lab, section, services));
        let ours = ["198.51.100.0/25", "2001:db8:100::/48"];
        let hand_made = ["198.51.100.9/32", "198.51.100.10/32"];
        wait_rib(router, "announce after rise", SESSION, |rib| {
            has(rib, &ours) && has(rib, &hand_made)
        });
        let config = frr.running_config();
        assert!(
            config.contains("ip route 198.51.100.0/25 Null0 tag 4711"),
            "{config}"
        );
        assert!(
            config.contains("ipv6 route 2001:db8:100::/48 Null0 tag 4711"),
            "{config}"
        );
        // The hand-made route kept its own tag: the warden did not take it over.
        assert!(
            config.contains("ip route 198.51.100.10/32 Null0 tag 99"),
            "{config}"
        );

        set_up(lab, "web", false);
        set_up(lab, "ntp", false);
        wait_rib(router, "withdraw after fall", CHANGE, |rib| {
            has_none(rib, &ours)
        });
        std::thread::sleep(Duration::from_millis(500));
        assert!(has(&rib(router), &hand_made), "hand-made routes must stay");

        set_up(lab, "web", true);
        wait_rib(router, "announce again", CHANGE, |rib| has(rib, &ours));
        stop_warden(&warden);
        wait_rib(router, "SIGTERM withdraws all", CHANGE, |rib| {
            has_none(rib, &ours)
        });
        let config = frr.running_config();
        assert!(!config.contains("tag 4711"), "{config}");
        assert!(
            config.contains("ip route 198.51.100.9/32 Null0"),
            "{config}"
        );
        assert!(has(&rib(router), &hand_made));
    });
}

#[test]
fn frr_restart_gets_the_routes_back_without_a_warden_restart() {
    with_lab("frr-restart", &FrrConf::default(), |lab, router, frr| {
        lab.add_lo_addresses(&nets(&["203.0.113.80/32"]).into_iter().collect::<Vec<_>>())
            .unwrap();
        let services = vec![service(lab, "dns", true).prefixes(&["203.0.113.80/32"])];
        set_up(lab, "dns", true);
        let section = section(frr, FrrMode::Network, false).asn(65001);
        let warden = lab.start_warden(&config(lab, section, services));
        let ours = ["203.0.113.80/32"];
        wait_rib(router, "announce", SESSION, |rib| has(rib, &ours));

        frr.kill();
        frr.start();
        // FRR came back from its own bgpd.conf, without the warden's statement.
        wait_rib(router, "route back after FRR restart", SESSION, |rib| {
            has(rib, &ours)
        });
        let log = warden.log();
        assert!(log.contains(FRR_CHANGE_LOG_LINE), "{log}");
        assert!(warden.is_running(), "the warden exited when FRR did");
        stop_warden(&warden);
        wait_rib(router, "SIGTERM withdraws", CHANGE, |rib| {
            has_none(rib, &ours)
        });
    });
}

#[test]
fn vrf_prefixes_go_into_the_vrf_instance_only() {
    // The kernel here may lack VRF devices; FRR keeps a VRF's configuration all the same,
    // so this checks what the warden writes, and that the default VRF's peer never sees it.
    let conf = FrrConf {
        bgp_more: "router bgp 65001 vrf blue\n no bgp ebgp-requires-policy\n address-family ipv4 unicast\n  redistribute static\n exit-address-family\nexit\n",
        ..FrrConf::default()
    };
    with_lab("frr-vrf", &conf, |lab, router, frr| {
        lab.add_lo_addresses(&nets(&["203.0.113.53/32"]).into_iter().collect::<Vec<_>>())
            .unwrap();
        let services = vec![
            service(lab, "ntp", false)
                .prefix_in_vrf("203.0.113.123/32", "blue")
                .prefix_in_vrf("2001:db8::123", "blue"),
            service(lab, "dns", true).prefixes(&["203.0.113.53/32"]),
        ];
        set_up(lab, "ntp", true);
        set_up(lab, "dns", true);
        let section = section(frr, FrrMode::Network, false);
        let warden = lab.start_warden(&config(lab, section, services));
        wait_rib(router, "default VRF prefix announced", SESSION, |rib| {
            has(rib, &["203.0.113.53/32"])
        });
        wait_config(frr, "VRF statement written", CHANGE, |c| {
            let blue = c.split("router bgp 65001 vrf blue").nth(1).unwrap_or("");
            blue.contains("network 203.0.113.123/32") && blue.contains("network 2001:db8::123/128")
        });
        assert!(has_none(&rib(router), &["203.0.113.123/32"]));

        set_up(lab, "ntp", false);
        wait_config(frr, "VRF statement removed", CHANGE, |c| {
            !c.contains("203.0.113.123")
        });
        stop_warden(&warden);
        wait_rib(router, "SIGTERM withdraws", CHANGE, |rib| {
            has_none(rib, &["203.0.113.53/32"])
        });
        assert!(!frr.running_config().contains("network 2001:db8::123"));
    });
}

#[test]
fn after_sigkill_withdraw_all_removes_the_static_routes_it_owns_and_only_those() {
    after_sigkill_withdraw_all("frr-kill-static", FrrMode::Static);
}

#[test]
fn after_sigkill_withdraw_all_removes_the_network_statements_it_owns_and_only_those() {
    after_sigkill_withdraw_all("frr-kill-network", FrrMode::Network);
}

/// A killed warden cannot withdraw, and FRR keeps announcing what it was told (the
/// Python anycastd's prefixes stayed announced after SIGKILL). `withdraw-all`, the unit's
/// `ExecStopPost=`, removes what the warden owned and leaves the hand-made route.
fn after_sigkill_withdraw_all(test: &str, mode: FrrMode) {
    let (ours, hand_made, conf) = match mode {
        FrrMode::Static => (
            ["198.51.100.0/25", "2001:db8:100::/48"],
            "198.51.100.9/32",
            FrrConf {
                statics: "ip route 198.51.100.9/32 Null0",
                ..FrrConf::default()
            },
        ),
        FrrMode::Network => (
            ["203.0.113.53/32", "2001:db8::53/128"],
            "203.0.113.99/32",
            FrrConf {
                bgp_v4: "  network 203.0.113.99/32",
                ..FrrConf::default()
            },
        ),
    };
    with_lab(test, &conf, |lab, router, frr| {
        let on_lo = mode == FrrMode::Network;
        if on_lo {
            let mut addresses: Vec<IpNet> = nets(&ours).into_iter().collect();
            addresses.extend(nets(&[hand_made]));
            lab.add_lo_addresses(&addresses).unwrap();
        }
        let services = vec![service(lab, "web", on_lo).prefixes(&ours)];
        set_up(lab, "web", true);
        let section = section(frr, mode, false).tag(4711);
        let warden = lab.start_warden(&config(lab, section, services));
        wait_rib(router, "announce", SESSION, |rib| {
            has(rib, &ours) && has(rib, &[hand_made])
        });

        warden.signal(Signal::SIGKILL).unwrap();
        warden.wait_exit(CHANGE).unwrap();
        std::thread::sleep(Duration::from_secs(1));
        assert!(
            has(&rib(router), &ours),
            "the routes stay while nobody withdraws them"
        );

        let out = lab
            .warden_cli()
            .arg("withdraw-all")
            .output()
            .expect("run withdraw-all");
        assert!(
            out.status.success(),
            "withdraw-all: {}",
            crate::lab::process::output_text(&out)
        );
        wait_rib(router, "withdraw-all", CHANGE, |rib| has_none(rib, &ours));
        std::thread::sleep(Duration::from_millis(500));
        let rib = rib(router);
        assert!(has(&rib, &[hand_made]), "hand-made route removed: {rib:?}");
        let config = frr.running_config();
        assert!(!config.contains("tag 4711"), "{config}");
        assert!(!config.contains("network 203.0.113.53/32"), "{config}");
        assert!(config.contains(hand_made), "{config}");
    });
}
