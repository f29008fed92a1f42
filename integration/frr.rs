//! End to end with a real FRR (zebra, staticd, bgpd) driven by the warden through vtysh,
//! and GoBGP as the router whose RIB shows what the world sees. See `frr_lab` for the lab.
//!
//! Run as root (`cargo test --test e2e_frr`); without root or the daemons every test prints
//! `SKIPPED: <why>`, unless `CI=true`.

mod frr_lab;

use std::time::Duration;

use frr_lab::{FrrLab, bgpd_conf};

/// BGP sessions take a few seconds to come up (connect retry 1 s); changes after that
/// arrive within a second.
const SESSION: Duration = Duration::from_secs(30);
const CHANGE: Duration = Duration::from_secs(5);

fn has(rib: &std::collections::BTreeSet<String>, prefixes: &[&str]) -> bool {
    prefixes.iter().all(|p| rib.contains(*p))
}

fn has_none(rib: &std::collections::BTreeSet<String>, prefixes: &[&str]) -> bool {
    prefixes.iter().all(|p| !rib.contains(*p))
}

#[test]
fn network_mode_announces_withdraws_and_leaves_hand_made_statements() {
    // A hand-made network statement for an address on lo: announced by FRR on its own.
    let bgpd = bgpd_conf("  network 203.0.113.99/32", "");
    let Some(mut lab) = FrrLab::start("network_mode", "nw", "", &bgpd) else {
        return;
    };
    for address in ["203.0.113.53/32", "203.0.113.99/32", "2001:db8::53/128"] {
        lab.add_loopback_address(address);
    }
    let services = lab.service("dns", "\"203.0.113.53/32\", \"2001:db8::53\"", true);
    lab.set_up("dns", true);
    lab.start_warden("mode = \"network\"", &services);
    let ours = ["203.0.113.53/32", "2001:db8::53/128"];
    lab.wait_rib("announce after rise", SESSION, |rib| {
        has(rib, &ours) && rib.contains("203.0.113.99/32")
    });
    let config = lab.running_config();
    assert!(config.contains("  network 203.0.113.53/32"), "{config}");
    assert!(config.contains("  network 2001:db8::53/128"), "{config}");

    lab.set_up("dns", false);
    lab.wait_rib("withdraw after fall", CHANGE, |rib| has_none(rib, &ours));
    assert!(
        lab.rib().contains("203.0.113.99/32"),
        "hand-made route removed"
    );

    lab.set_up("dns", true);
    lab.wait_rib("announce again", CHANGE, |rib| has(rib, &ours));
    assert!(lab.stop_warden(), "warden did not exit cleanly");
    lab.wait_rib("SIGTERM withdraws all", CHANGE, |rib| has_none(rib, &ours));
    let rib = lab.rib();
    assert!(
        rib.contains("203.0.113.99/32"),
        "hand-made route removed: {rib:?}"
    );
    let config = lab.running_config();
    assert!(config.contains("  network 203.0.113.99/32"), "{config}");
    assert!(!config.contains("network 203.0.113.53/32"), "{config}");
}

#[test]
fn static_mode_announces_withdraws_and_leaves_hand_made_routes() {
    // A hand-made static route, redistributed like the warden's but without its tag.
    let statics = "ip route 198.51.100.9/32 Null0\nip route 198.51.100.10/32 Null0 tag 99";
    let Some(mut lab) = FrrLab::start("static_mode", "st", statics, &bgpd_conf("", "")) else {
        return;
    };
    // Static mode suits prefixes not on the host: no ip_check.
    let services = format!(
        "{}{}",
        lab.service("web", "\"198.51.100.0/25\", \"2001:db8:100::/48\"", false),
        // Wants a prefix that a hand-made route already has: the warden keeps off it.
        lab.service("ntp", "\"198.51.100.10/32\"", false)
    );
    lab.set_up("web", true);
    lab.set_up("ntp", true);
    lab.start_warden("mode = \"static\"\ntag = 4711", &services);
    let ours = ["198.51.100.0/25", "2001:db8:100::/48"];
    lab.wait_rib("announce after rise", SESSION, |rib| {
        has(rib, &ours) && has(rib, &["198.51.100.9/32", "198.51.100.10/32"])
    });
    let config = lab.running_config();
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

    lab.set_up("web", false);
    lab.set_up("ntp", false);
    lab.wait_rib("withdraw after fall", CHANGE, |rib| has_none(rib, &ours));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        has(&lab.rib(), &["198.51.100.9/32", "198.51.100.10/32"]),
        "hand-made routes must stay"
    );

    lab.set_up("web", true);
    lab.wait_rib("announce again", CHANGE, |rib| has(rib, &ours));
    assert!(lab.stop_warden(), "warden did not exit cleanly");
    lab.wait_rib("SIGTERM withdraws all", CHANGE, |rib| has_none(rib, &ours));
    let config = lab.running_config();
    assert!(!config.contains("tag 4711"), "{config}");
    assert!(
        config.contains("ip route 198.51.100.9/32 Null0"),
        "{config}"
    );
    assert!(has(&lab.rib(), &["198.51.100.9/32", "198.51.100.10/32"]));
}

#[test]
fn frr_restart_gets_the_routes_back_without_a_warden_restart() {
    let Some(mut lab) = FrrLab::start("frr_restart", "rs", "", &bgpd_conf("", "")) else {
        return;
    };
    lab.add_loopback_address("203.0.113.80/32");
    let services = lab.service("dns", "\"203.0.113.80/32\"", true);
    lab.set_up("dns", true);
    lab.start_warden("mode = \"network\"\nasn = 65001", &services);
    lab.wait_rib("announce", SESSION, |rib| rib.contains("203.0.113.80/32"));

    lab.kill_frr();
    lab.start_frr();
    // FRR came back from its own bgpd.conf, without the warden's statement.
    lab.wait_rib("route back after FRR restart", SESSION, |rib| {
        rib.contains("203.0.113.80/32")
    });
    let log = lab.warden_log();
    assert!(log.contains("changed FRR's configuration"), "{log}");
    assert!(
        lab.warden
            .as_mut()
            .is_some_and(|w| w.try_wait().ok().flatten().is_none())
    );
    assert!(lab.stop_warden());
    lab.wait_rib("SIGTERM withdraws", CHANGE, |rib| {
        !rib.contains("203.0.113.80/32")
    });
}

#[test]
fn vrf_prefixes_go_into_the_vrf_instance_only() {
    // The kernel here may lack VRF devices; FRR keeps a VRF's configuration all the same,
    // so this checks what the warden writes, and that the default VRF's peer never sees it.
    let bgpd = bgpd_conf(
        "",
        "router bgp 65001 vrf blue\n no bgp ebgp-requires-policy\n address-family ipv4 unicast\n  redistribute static\n exit-address-family\nexit\n",
    );
    let Some(mut lab) = FrrLab::start("vrf", "vf", "", &bgpd) else {
        return;
    };
    lab.add_loopback_address("203.0.113.53/32");
    let services = format!(
        "{}{}",
        lab.service(
            "ntp",
            "{ prefix = \"203.0.113.123/32\", vrf = \"blue\" }, { prefix = \"2001:db8::123\", vrf = \"blue\" }",
            false
        ),
        lab.service("dns", "\"203.0.113.53/32\"", true)
    );
    lab.set_up("ntp", true);
    lab.set_up("dns", true);
    lab.start_warden("mode = \"network\"", &services);
    lab.wait_rib("default VRF prefix announced", SESSION, |rib| {
        rib.contains("203.0.113.53/32")
    });
    lab.wait_until("VRF statement written", CHANGE, || {
        let c = lab.running_config();
        let blue = c.split("router bgp 65001 vrf blue").nth(1).unwrap_or("");
        blue.contains("network 203.0.113.123/32") && blue.contains("network 2001:db8::123/128")
    });
    assert!(!lab.rib().contains("203.0.113.123/32"));

    lab.set_up("ntp", false);
    lab.wait_until("VRF statement removed", CHANGE, || {
        !lab.running_config().contains("203.0.113.123")
    });
    assert!(lab.stop_warden());
    lab.wait_rib("SIGTERM withdraws", CHANGE, |rib| {
        !rib.contains("203.0.113.53/32")
    });
    assert!(!lab.running_config().contains("network 2001:db8::123"));
}
