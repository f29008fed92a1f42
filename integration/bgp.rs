//! End to end with the built-in BGP speaker: the warden itself peers with a real gobgpd
//! in the router namespace (no BIRD, no FRR on the host). See `lab` for the lab.
//!
//! Run as root (`cargo test --test e2e bgp::`); without root or gobgpd every test prints
//! `SKIPPED: <why>`, unless `CI=true`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::lab::gobgp::{GobgpNeighbor, Router};
use crate::lab::needs::Need;
use crate::lab::process::poll;
use crate::lab::warden_config::{
    Announce, BgpSection, Check, Peer, Service, WardenConfig, ms, secs,
};
use crate::lab::{HOST_AS, HOST_V4, HOST_V6, Lab, ROUTER_AS, ROUTER_V4, ROUTER_V6, nets};
use ipnet::IpNet;
use nix::sys::signal::Signal;

const SESSION: Duration = Duration::from_secs(30);
const CHANGE: Duration = Duration::from_secs(5);
/// GRACEFUL_SHUTDOWN 65535:0 as gobgp prints a community (a 32-bit number).
const GRACEFUL_SHUTDOWN: u64 = 0xffff_0000;

const V4V6: &[&str] = &["ipv4-unicast", "ipv6-unicast"];

/// The warden's `[bgp]` with one peer.
fn bgp_section(asn: u32, peer: Peer, drain: Duration) -> BgpSection {
    BgpSection::new(asn, HOST_V4)
        .hold_time(secs(9))
        .connect_retry(ms(500))
        .drain_time(drain)
        .peer(peer)
}

/// The router (AS 65000) as the warden's peer at `address`.
fn router_peer(address: &str) -> Peer {
    Peer::new(address, ROUTER_AS)
}

/// A whole configuration: `[daemon]`, the given `[bgp]`, and services.
fn config(lab: &Lab, bgp: BgpSection, services: Vec<Service>) -> String {
    WardenConfig::new(lab)
        .batch_window(ms(0))
        .bgp(bgp)
        .services(services)
        .to_toml()
}

/// A service checked every 100 ms, up while `<tempdir>/up-<name>` exists.
fn service(lab: &Lab, name: &str, prefixes: &[&str]) -> Service {
    let flag = lab.path(&format!("up-{name}")).display().to_string();
    Service::new(name)
        .prefixes(prefixes)
        .timing(ms(100), secs(1), 1, 1)
        .ip_check(false)
        .check(Check::exec(&["test", "-e", &flag]))
}

/// dns (IPv4 and IPv6) with a community, a large community, MED 100 and `prepend`; ntp
/// (IPv4) with none.
fn attributed_services(lab: &Lab, prepend: u32) -> Vec<Service> {
    let attributes = Announce::new()
        .communities(&["65000:100"])
        .large_communities(&["65000:1:1"])
        .med(100)
        .prepend(prepend);
    vec![
        service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"]).announce(attributes),
        service(lab, "ntp", &["198.51.100.123/32"]),
    ]
}

/// dns (IPv4 and IPv6) over an IPv6 session with the extended next hop (RFC 8950): no
/// IPv4 next hop configured, and `link_local` as a `next_hop` if given.
fn extended_next_hop_config(lab: &Lab, link_local: Option<&str>) -> String {
    let peer = router_peer(ROUTER_V6).extended_next_hop(true);
    let peer = match link_local {
        Some(address) => peer.next_hop(&[address]),
        None => peer,
    };
    let services = vec![service(lab, "dns", &["203.0.113.53/32", "2001:db8::53"])];
    config(lab, bgp_section(HOST_AS, peer, ms(0)), services)
}

/// `anycast-warden status ARGS` against the lab's running warden; its stdout.
fn status(lab: &Lab, args: &[&str]) -> String {
    let out = lab
        .warden_cli()
        .arg("status")
        .args(args)
        .output()
        .expect("run anycast-warden status");
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn set_up(lab: &Lab, name: &str, up: bool) {
    lab.set_flag(&format!("up-{name}"), up);
}

fn wait_rib(router: &Router, expected: &BTreeSet<IpNet>, timeout: Duration) -> Duration {
    router
        .wait_for_rib(expected, timeout)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The router's best path for `prefix` as gobgp's JSON (`None`: no route).
fn path(router: &Router, prefix: &str) -> Option<serde_json::Value> {
    let family = if prefix.contains(':') { "ipv6" } else { "ipv4" };
    let out = router
        .gobgp(&["global", "rib", "-a", family, prefix, "-j"])
        .unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value = serde_json::from_str(&out).ok()?;
    let paths = json.as_object()?.values().next()?.as_array()?.clone();
    paths.into_iter().next()
}

/// The attribute of `type_code` in a gobgp path.
fn attr(path: &serde_json::Value, type_code: u64) -> Option<serde_json::Value> {
    path["attrs"]
        .as_array()?
        .iter()
        .find(|a| a["type"].as_u64() == Some(type_code))
        .cloned()
}

fn communities(path: &serde_json::Value) -> Vec<u64> {
    attr(path, 8)
        .and_then(|a| {
            a["communities"]
                .as_array()
                .map(|c| c.iter().filter_map(|v| v.as_u64()).collect())
        })
        .unwrap_or_default()
}

fn with_router(test: &str, body: impl FnOnce(&Lab, &Router)) {
    let Some(lab) = Lab::new_or_skip(test, &[Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router(false);
    body(&lab, &router);
}

#[test]
fn routes_follow_health_with_their_attributes_over_an_ipv4_session() {
    with_router("bgp-health", |lab, router| {
        let services = attributed_services(lab, 2);
        set_up(lab, "dns", true);
        set_up(lab, "ntp", true);
        // IPv6 routes over the IPv4 session need an IPv6 next hop.
        // The session is bound to the host's veth (source = an interface name).
        let peer = router_peer(ROUTER_V4)
            .next_hop(&[HOST_V6])
            .source(&lab.host_ns);
        let bgp = bgp_section(HOST_AS, peer, ms(0));
        let warden = lab.start_warden(&config(lab, bgp, services));
        let all = nets(&["203.0.113.53/32", "2001:db8::53/128", "198.51.100.123/32"]);
        let took = wait_rib(router, &all, SESSION);
        eprintln!("bgp-health: session up and table received {took:?} after start");

        let p = path(router, "203.0.113.53/32").expect("route");
        let as_path = attr(&p, 2).unwrap();
        assert_eq!(
            as_path["as_paths"][0]["asns"],
            serde_json::json!([HOST_AS, HOST_AS, HOST_AS]),
            "{p}"
        );
        assert_eq!(attr(&p, 3).unwrap()["nexthop"], HOST_V4, "{p}");
        assert_eq!(attr(&p, 4).unwrap()["metric"], 100, "{p}");
        assert_eq!(communities(&p), vec![(65000 << 16) | 100], "{p}");
        let large = attr(&p, 32).unwrap();
        assert_eq!(
            large["value"][0],
            serde_json::json!({"ASN": 65000, "LocalData1": 1, "LocalData2": 1}),
            "{p}"
        );
        let p6 = path(router, "2001:db8::53/128").expect("v6 route");
        let mp = attr(&p6, 14).unwrap();
        assert!(mp.to_string().contains(HOST_V6), "{p6}");
        let plain = path(router, "198.51.100.123/32").unwrap();
        assert!(
            attr(&plain, 4).is_none() && attr(&plain, 8).is_none(),
            "{plain}"
        );

        // The peer as `status` shows it.
        let json = status(lab, &["--json"]);
        let snapshot: serde_json::Value = serde_json::from_str(&json).expect("status --json");
        let peer = &snapshot["bgp_peers"][0];
        assert_eq!(peer["address"], ROUTER_V4, "{json}");
        assert_eq!(peer["state"], "established", "{json}");
        assert_eq!(peer["prefixes_announced"], 3, "{json}");
        assert!(peer["sent"]["update"].as_u64() > Some(0), "{json}");
        assert_eq!(snapshot["backend"]["kind"], "bgp", "{json}");
        let table = status(lab, &[]);
        assert!(
            table.contains(&format!("peer {ROUTER_V4} (AS {ROUTER_AS}): established")),
            "{table}"
        );

        // Health decides: ntp fails, then comes back.
        let monitor = router.monitor();
        let failed = Instant::now();
        set_up(lab, "ntp", false);
        wait_rib(
            router,
            &nets(&["203.0.113.53/32", "2001:db8::53/128"]),
            CHANGE,
        );
        let ntp: IpNet = "198.51.100.123/32".parse().unwrap();
        let w = monitor
            .wait_for(CHANGE, |e| e.prefix == ntp && e.withdrawal)
            .unwrap();
        eprintln!(
            "bgp-health: withdrawn at the router {:?} after the flag went",
            w.at - failed
        );
        set_up(lab, "ntp", true);
        wait_rib(router, &all, CHANGE);
        set_up(lab, "dns", false);
        wait_rib(router, &nets(&["198.51.100.123/32"]), CHANGE);
        assert!(warden.is_running());
        assert!(
            warden.log().contains("BGP session established"),
            "{}",
            warden.log()
        );
    });
}

#[test]
fn sigkill_of_the_warden_drops_its_routes_at_the_peer() {
    with_router("bgp-sigkill", |lab, router| {
        set_up(lab, "dns", true);
        let services = vec![service(lab, "dns", &["203.0.113.53/32"])];
        // Passive: the session is the one gobgpd opens to the warden's listener.
        let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4).passive(true), ms(0));
        let warden = lab.start_warden(&config(lab, bgp, services));
        wait_rib(router, &nets(&["203.0.113.53/32"]), SESSION);
        let killed = Instant::now();
        warden.signal(Signal::SIGKILL).unwrap();
        let took = wait_rib(router, &nets(&[]), CHANGE);
        eprintln!(
            "bgp-sigkill: the router dropped the route {took:?} after SIGKILL ({:?})",
            killed.elapsed()
        );
    });
}

#[test]
fn sigterm_drains_with_graceful_shutdown_before_the_withdrawal() {
    with_router("bgp-drain", |lab, router| {
        set_up(lab, "dns", true);
        // Drain attributes: a worse MED, three prepends and a community of its own.
        let services = vec![
            service(lab, "dns", &["203.0.113.53/32"]).announce(
                Announce::new().communities(&["65000:100"]).med(100).drain(
                    Announce::new()
                        .communities(&["65000:666"])
                        .med(1000)
                        .prepend(3),
                ),
            ),
        ];
        let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4), secs(2));
        let warden = lab.start_warden(&config(lab, bgp, services));
        wait_rib(router, &nets(&["203.0.113.53/32"]), SESSION);
        let before = path(router, "203.0.113.53/32").unwrap();
        assert_eq!(communities(&before), vec![(65000 << 16) | 100], "{before}");
        assert_eq!(attr(&before, 4).unwrap()["metric"], 100, "{before}");
        assert_eq!(
            attr(&before, 2).unwrap()["as_paths"][0]["asns"],
            serde_json::json!([HOST_AS]),
            "{before}"
        );

        let sent = Instant::now();
        warden.signal(Signal::SIGTERM).unwrap();
        let drained = poll(CHANGE, Duration::from_millis(20), || {
            let p = path(router, "203.0.113.53/32")?;
            communities(&p)
                .contains(&GRACEFUL_SHUTDOWN)
                .then(Instant::now)
        })
        .expect("the router saw 65535:0 on the route");
        let p = path(router, "203.0.113.53/32").expect("still announced while draining");
        let c = communities(&p);
        assert!(
            c.contains(&((65000 << 16) | 100)),
            "the service's own community stays: {c:?}"
        );
        assert!(
            c.contains(&((65000 << 16) | 666)),
            "the drain community is added: {c:?}"
        );
        assert_eq!(attr(&p, 4).unwrap()["metric"], 1000, "drain MED: {p}");
        assert_eq!(
            attr(&p, 2).unwrap()["as_paths"][0]["asns"],
            serde_json::json!([HOST_AS, HOST_AS, HOST_AS, HOST_AS]),
            "drain prepend: {p}"
        );
        wait_rib(router, &nets(&[]), CHANGE);
        let withdrawn = Instant::now();
        eprintln!(
            "bgp-drain: 65535:0 at the router {:?} after SIGTERM, withdrawal {:?} after that",
            drained - sent,
            withdrawn - drained
        );
        assert!(
            // The whole drain time, timed from the signal (the sighting of 65535:0 can
            // trail its arrival by a poll or two).
            withdrawn - sent >= Duration::from_secs(2),
            "withdrawn before the drain time"
        );
        let status = warden.wait_exit(CHANGE).unwrap();
        assert_eq!(status.code(), Some(0), "{}", warden.log());
        assert!(warden.log().contains("draining"), "{}", warden.log());
    });
}

#[test]
fn ipv6_session_with_a_four_octet_as() {
    let Some(lab) = Lab::new_or_skip("bgp-v6-as4", &[Need::Gobgp]) else {
        return;
    };
    const AS4: u32 = 4_200_000_001;
    let router = lab.start_router_with(
        ROUTER_AS,
        &[GobgpNeighbor {
            address: HOST_V6,
            peer_as: AS4,
            password: None,
            families: V4V6,
            graceful_restart: false,
        }],
    );
    set_up(&lab, "dns", true);
    let services = vec![service(&lab, "dns", &["2001:db8::53", "203.0.113.53/32"])];
    // IPv4 routes over the IPv6 session need an IPv4 next hop.
    let bgp = bgp_section(AS4, router_peer(ROUTER_V6).next_hop(&[HOST_V4]), ms(0));
    let warden = lab.start_warden(&config(&lab, bgp, services));
    wait_rib(
        &router,
        &nets(&["2001:db8::53/128", "203.0.113.53/32"]),
        SESSION,
    );
    let p = path(&router, "2001:db8::53/128").unwrap();
    assert_eq!(
        attr(&p, 2).unwrap()["as_paths"][0]["asns"],
        serde_json::json!([AS4]),
        "{p}"
    );
    assert!(attr(&p, 14).unwrap().to_string().contains(HOST_V6), "{p}");
    let p4 = path(&router, "203.0.113.53/32").unwrap();
    assert!(p4.to_string().contains(HOST_V4), "{p4}");
    set_up(&lab, "dns", false);
    wait_rib(&router, &nets(&[]), CHANGE);
    assert!(warden.is_running());
}

/// RFC 8950: over an IPv6 session with no IPv4 next hop configured, the IPv4 prefix
/// reaches gobgpd in MP_REACH_NLRI with the warden's IPv6 address as its next hop.
#[test]
fn ipv4_routes_with_an_ipv6_next_hop_over_an_ipv6_session() {
    let Some(lab) = Lab::new_or_skip("bgp-rfc8950", &[Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router_with(
        ROUTER_AS,
        &[GobgpNeighbor {
            address: HOST_V6,
            peer_as: HOST_AS,
            password: None,
            families: V4V6,
            graceful_restart: false,
        }],
    );
    set_up(&lab, "dns", true);
    let warden = lab.start_warden(&extended_next_hop_config(&lab, None));
    wait_rib(
        &router,
        &nets(&["203.0.113.53/32", "2001:db8::53/128"]),
        SESSION,
    );
    let p4 = path(&router, "203.0.113.53/32").unwrap();
    eprintln!("bgp-rfc8950: the router's path: {p4}");
    let mp = attr(&p4, 14).expect("the IPv4 route came in MP_REACH_NLRI");
    assert!(mp.to_string().contains(HOST_V6), "{p4}");
    assert!(attr(&p4, 3).is_none(), "no NEXT_HOP attribute: {p4}");

    assert!(
        warden.log().contains("ipv4_over_ipv6=true"),
        "{}",
        warden.log()
    );
    // Withdrawn as well.
    set_up(&lab, "dns", false);
    wait_rib(&router, &nets(&[]), CHANGE);
}

#[test]
fn md5_session_comes_up_with_the_right_password_only() {
    for (name, theirs, ours, up) in [
        ("bgp-md5-ok", "s3cret", "s3cret", true),
        ("bgp-md5-bad", "s3cret", "wrong", false),
    ] {
        let Some(lab) = Lab::new_or_skip(name, &[Need::Gobgp]) else {
            return;
        };
        let router = lab.start_router_with(
            ROUTER_AS,
            &[GobgpNeighbor {
                address: HOST_V4,
                peer_as: HOST_AS,
                password: Some(theirs),
                families: V4V6,
                graceful_restart: false,
            }],
        );
        set_up(&lab, "dns", true);
        let services = vec![service(&lab, "dns", &["203.0.113.53/32"])];
        let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4).md5_password(ours), ms(0));
        let _warden = lab.start_warden(&config(&lab, bgp, services));
        if up {
            wait_rib(&router, &nets(&["203.0.113.53/32"]), SESSION);
        } else {
            // Several connect attempts from both sides (retry 500 ms / 1 s) fail.
            std::thread::sleep(Duration::from_secs(6));
            assert_eq!(
                router.established().unwrap(),
                0,
                "a session came up with a wrong MD5 password"
            );
            assert!(router.rib().unwrap().is_empty());
        }
    }
}

#[test]
fn a_restarted_peer_gets_the_current_set_again() {
    let Some(lab) = Lab::new_or_skip("bgp-peer-restart", &[Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router(false);
    set_up(&lab, "dns", true);
    set_up(&lab, "ntp", true);
    let services = vec![
        service(&lab, "dns", &["203.0.113.53/32"]),
        service(&lab, "ntp", &["198.51.100.123/32"]),
    ];
    let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4), ms(0));
    let warden = lab.start_warden(&config(&lab, bgp, services));
    wait_rib(
        &router,
        &nets(&["203.0.113.53/32", "198.51.100.123/32"]),
        SESSION,
    );
    lab.stop(router.pid, Duration::from_secs(2));
    // While the peer is away, the desired set changes; nothing of it is lost.
    set_up(&lab, "ntp", false);
    warden
        .wait_for_log("service ntp is down", 1, CHANGE)
        .unwrap();
    let router = lab.start_router(false);
    wait_rib(&router, &nets(&["203.0.113.53/32"]), SESSION);
    assert!(
        warden.log().contains("BGP session down"),
        "{}",
        warden.log()
    );
}

#[test]
fn interop_with_bird2_as_the_peer() {
    let Some(lab) = Lab::new_or_skip("bgp-bird2-peer", &[Need::Bird2]) else {
        return;
    };
    let bird = lab.start_bird2_peer();
    set_up(&lab, "dns", true);
    set_up(&lab, "ntp", true);
    let bgp = bgp_section(
        HOST_AS,
        router_peer(ROUTER_V4).next_hop(&[HOST_V6]),
        secs(1),
    );
    let warden = lab.start_warden(&config(&lab, bgp, attributed_services(&lab, 1)));
    let all = nets(&["203.0.113.53/32", "2001:db8::53/128", "198.51.100.123/32"]);
    bird.wait_for_rib(&all, SESSION)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = bird.routes_text();
    for needle in [
        "BGP.as_path: 65001 65001",
        "BGP.med: 100",
        "BGP.community: (65000,100)",
        "BGP.large_community: (65000, 1, 1)",
        &format!("BGP.next_hop: {HOST_V6}"),
    ] {
        assert!(text.contains(needle), "BIRD shows no {needle:?}:\n{text}");
    }
    set_up(&lab, "ntp", false);
    bird.wait_for_rib(&nets(&["203.0.113.53/32", "2001:db8::53/128"]), CHANGE)
        .unwrap_or_else(|e| panic!("{e}"));
    // Drain: BIRD sees 65535:0 on the routes, then the withdrawal.
    warden.signal(Signal::SIGTERM).unwrap();
    poll(CHANGE, Duration::from_millis(20), || {
        bird.routes_text().contains("(65535,0)").then_some(())
    })
    .unwrap_or_else(|| panic!("BIRD never saw 65535:0:\n{}", bird.routes_text()));
    bird.wait_for_rib(&nets(&[]), CHANGE)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(warden.wait_exit(CHANGE).unwrap().code(), Some(0));
}

/// RFC 8950 with BIRD 2 (`extended next hop on` in the IPv4 channel of the IPv6 session):
/// BIRD imports the IPv4 prefix with the warden's IPv6 address as its next hop.
#[test]
fn interop_with_bird2_ipv4_over_an_ipv6_next_hop() {
    let Some(lab) = Lab::new_or_skip("bgp-bird2-8950", &[Need::Bird2]) else {
        return;
    };
    let bird = lab.start_bird2_peer();
    set_up(&lab, "dns", true);
    let warden = lab.start_warden(&extended_next_hop_config(&lab, None));
    bird.wait_for_rib(&nets(&["203.0.113.53/32", "2001:db8::53/128"]), SESSION)
        .unwrap_or_else(|e| panic!("{e}"));
    let text = bird.routes_text();
    eprintln!("bgp-bird2-8950: BIRD's routes:\n{text}");
    let v4 = text
        .split("\n203.0.113.53/32")
        .nth(1)
        .or_else(|| text.strip_prefix("203.0.113.53/32"))
        .unwrap_or_else(|| panic!("no 203.0.113.53/32:\n{text}"));
    let v4 = v4.split("\n2001:db8::53/128").next().unwrap_or(v4);
    assert!(
        v4.contains(&format!("BGP.next_hop: {HOST_V6}")),
        "BIRD shows no IPv6 next hop on the IPv4 route:\n{text}"
    );
    assert!(
        warden.log().contains("ipv4_over_ipv6=true"),
        "{}",
        warden.log()
    );
}

#[test]
fn interop_with_frr_as_the_peer() {
    let Some(lab) = Lab::new_or_skip("bgp-frr-peer", &[Need::Frr]) else {
        return;
    };
    let frr = lab.start_frr_peer();
    set_up(&lab, "dns", true);
    set_up(&lab, "ntp", true);
    let bgp = bgp_section(
        HOST_AS,
        router_peer(ROUTER_V4).next_hop(&[HOST_V6]),
        secs(1),
    );
    let warden = lab.start_warden(&config(&lab, bgp, attributed_services(&lab, 1)));
    let all = nets(&["203.0.113.53/32", "2001:db8::53/128", "198.51.100.123/32"]);
    frr.wait_for_rib(&all, SESSION)
        .unwrap_or_else(|e| panic!("{e}"));
    let detail = frr.json("ipv4", Some("203.0.113.53/32")).to_string();
    for needle in ["65001 65001", "\"metric\":100", "65000:100", "65000:1:1"] {
        assert!(detail.contains(needle), "FRR shows no {needle:?}: {detail}");
    }
    let detail6 = frr.json("ipv6", Some("2001:db8::53/128")).to_string();
    assert!(detail6.contains(HOST_V6), "{detail6}");
    set_up(&lab, "ntp", false);
    frr.wait_for_rib(&nets(&["203.0.113.53/32", "2001:db8::53/128"]), CHANGE)
        .unwrap_or_else(|e| panic!("{e}"));
    // ROUTE-REFRESH (`clear bgp ... soft in` without soft-reconfiguration inbound): the
    // warden sends the family's routes again; nothing changes at the peer.
    frr.vtysh(&["-c", &format!("clear bgp ipv4 unicast {HOST_V4} soft in")])
        .unwrap_or_else(|e| panic!("{e}"));
    warden
        .wait_for_log("route refresh: sending the routes again", 1, CHANGE)
        .unwrap();
    frr.wait_for_rib(&nets(&["203.0.113.53/32", "2001:db8::53/128"]), CHANGE)
        .unwrap_or_else(|e| panic!("{e}"));
    warden.signal(Signal::SIGTERM).unwrap();
    poll(CHANGE, Duration::from_millis(20), || {
        // FRR names the well-known community.
        let text = frr.json("ipv4", Some("203.0.113.53/32")).to_string();
        (text.contains("graceful-shutdown") || text.contains("65535:0")).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "FRR never saw 65535:0: {}",
            frr.json("ipv4", Some("203.0.113.53/32"))
        )
    });
    frr.wait_for_rib(&nets(&[]), CHANGE)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(warden.wait_exit(CHANGE).unwrap().code(), Some(0));
}

/// RFC 8950 with FRR (`neighbor X capability extended-nexthop`): over the IPv6 session,
/// with no IPv4 next hop configured, FRR gets the IPv4 prefix with the IPv6 next hop;
/// and a configured link-local next hop reaches it as the second of a 32-octet one.
#[test]
fn interop_with_frr_ipv4_over_an_ipv6_next_hop() {
    let Some(lab) = Lab::new_or_skip("bgp-frr-8950", &[Need::Frr]) else {
        return;
    };
    let frr = lab.start_frr_peer();
    set_up(&lab, "dns", true);
    // A link-local next hop after the global one (32 octets, RFC 2545); FRR lists both.
    let warden = lab.start_warden(&extended_next_hop_config(&lab, Some("fe80::1")));
    frr.wait_for_rib(&nets(&["203.0.113.53/32", "2001:db8::53/128"]), SESSION)
        .unwrap_or_else(|e| panic!("{e}"));
    let detail = frr.json("ipv4", Some("203.0.113.53/32"));
    eprintln!("bgp-frr-8950: FRR's path: {detail}");
    let nexthops = detail["paths"][0]["nexthops"].to_string();
    assert!(nexthops.contains(HOST_V6), "{detail}");
    let detail6 = frr.json("ipv6", Some("2001:db8::53/128"));
    eprintln!("bgp-frr-8950: FRR's IPv6 path: {detail6}");
    let nexthops6 = detail6["paths"][0]["nexthops"].to_string();
    assert!(
        nexthops6.contains(HOST_V6) && nexthops6.contains("fe80::1"),
        "{detail6}"
    );
    assert!(
        warden.log().contains("ipv4_over_ipv6=true"),
        "{}",
        warden.log()
    );
    set_up(&lab, "dns", false);
    frr.wait_for_rib(&nets(&[]), CHANGE)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_peer_that_is_down_blocks_no_other() {
    with_router("bgp-dead-peer", |lab, router| {
        set_up(lab, "dns", true);
        let services = vec![service(lab, "dns", &["203.0.113.53/32"])];
        // A second peer nobody answers for: its SYNs go unanswered (neighbor discovery
        // fails on the link), the connect hangs until the retry timer gives up on it.
        let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4), ms(0))
            .peer(Peer::new("2001:db8:1::99", 65099).next_hop(&[HOST_V4]));
        let warden = lab.start_warden(&config(lab, bgp, services));
        wait_rib(router, &nets(&["203.0.113.53/32"]), SESSION);
        for round in 0..3 {
            let t = Instant::now();
            set_up(lab, "dns", false);
            wait_rib(router, &nets(&[]), CHANGE);
            set_up(lab, "dns", true);
            wait_rib(router, &nets(&["203.0.113.53/32"]), CHANGE);
            eprintln!(
                "bgp-dead-peer: round {round}: down and up again in {:?}",
                t.elapsed()
            );
            assert!(
                t.elapsed() < Duration::from_secs(3),
                "the dead peer slowed the live one down"
            );
        }
        assert!(warden.is_running());
    });
}

#[test]
fn graceful_restart_keeps_the_routes_across_a_crash_of_the_warden() {
    let Some(lab) = Lab::new_or_skip("bgp-gr", &[Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router_with(
        ROUTER_AS,
        &[GobgpNeighbor {
            address: HOST_V4,
            peer_as: HOST_AS,
            password: None,
            families: V4V6,
            graceful_restart: true,
        }],
    );
    set_up(&lab, "dns", true);
    let services = vec![service(&lab, "dns", &["203.0.113.53/32"])];
    let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4), ms(0)).graceful_restart(secs(30));
    let text = config(&lab, bgp, services);
    let warden = lab.start_warden(&text);
    wait_rib(&router, &nets(&["203.0.113.53/32"]), SESSION);
    warden.signal(Signal::SIGKILL).unwrap();
    let _ = warden.wait_exit(CHANGE);
    // The router keeps the (now stale) route through the restart time.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(router.rib().unwrap(), nets(&["203.0.113.53/32"]));
    let p = path(&router, "203.0.113.53/32").unwrap();
    assert_eq!(p["stale"], true, "{p}");
    // The restarted warden announces it again; after its End-of-RIB it is fresh.
    let again = lab.start_warden(&text);
    poll(SESSION, Duration::from_millis(100), || {
        let p = path(&router, "203.0.113.53/32")?;
        (p["stale"] == false).then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "the route stayed stale: {:?}",
            path(&router, "203.0.113.53/32")
        )
    });
    // A clean stop still withdraws (a NOTIFICATION ends graceful restart).
    again.signal(Signal::SIGTERM).unwrap();
    wait_rib(&router, &nets(&[]), CHANGE);
}

#[test]
fn sighup_with_new_attributes_reaches_the_peer() {
    with_router("bgp-reload", |lab, router| {
        set_up(lab, "dns", true);
        let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4), ms(0));
        let dns = |community| {
            service(lab, "dns", &["203.0.113.53/32"])
                .announce(Announce::new().communities(&[community]))
        };
        let warden = lab.start_warden(&config(lab, bgp.clone(), vec![dns("65000:100")]));
        wait_rib(router, &nets(&["203.0.113.53/32"]), SESSION);
        warden.write_config(&config(lab, bgp, vec![dns("65000:200")]));
        warden.signal(Signal::SIGHUP).unwrap();
        poll(SESSION, Duration::from_millis(50), || {
            let p = path(router, "203.0.113.53/32")?;
            (communities(&p) == vec![(65000 << 16) | 200]).then_some(())
        })
        .unwrap_or_else(|| panic!("the router still has {:?}", path(router, "203.0.113.53/32")));
        assert!(warden.is_running());
    });
}

#[test]
fn drain_command_announces_graceful_shutdown_then_withdraws_and_undrain_restores() {
    with_router("bgp-drain-cli", |lab, router| {
        set_up(lab, "dns", true);
        set_up(lab, "ntp", true);
        // Both services have drain attributes; only the drained one may show them.
        let drain =
            Announce::new().drain(Announce::new().med(500).large_communities(&["65000:9:9"]));
        let services = vec![
            service(lab, "dns", &["203.0.113.53/32"]).announce(drain.clone()),
            service(lab, "ntp", &["198.51.100.123/32"]).announce(drain),
        ];
        let bgp = bgp_section(HOST_AS, router_peer(ROUTER_V4), secs(2));
        let warden = lab.start_warden(&config(lab, bgp, services));
        let both = nets(&["203.0.113.53/32", "198.51.100.123/32"]);
        wait_rib(router, &both, SESSION);

        // `drain` returns once the peer no longer has the prefix: after the drain time.
        let asked = Instant::now();
        let cli = std::thread::spawn({
            let (config, dir) = (lab.path("warden.toml"), lab.path("conf.d"));
            move || {
                std::process::Command::new(crate::lab::WARDEN_BIN)
                    .arg("--config")
                    .arg(config)
                    .arg("--config-dir")
                    .arg(dir)
                    .args(["drain", "dns", "--reason", "kernel upgrade"])
                    .output()
                    .expect("run drain")
            }
        });
        poll(CHANGE, Duration::from_millis(20), || {
            communities(&path(router, "203.0.113.53/32")?)
                .contains(&GRACEFUL_SHUTDOWN)
                .then_some(())
        })
        .expect("the router saw 65535:0 on the drained prefix");
        let drained = path(router, "203.0.113.53/32").expect("dns while draining");
        assert_eq!(attr(&drained, 4).unwrap()["metric"], 500, "{drained}");
        assert_eq!(
            attr(&drained, 32).unwrap()["value"][0],
            serde_json::json!({"ASN": 65000, "LocalData1": 9, "LocalData2": 9}),
            "{drained}"
        );
        let ntp = path(router, "198.51.100.123/32").expect("ntp");
        assert!(
            !communities(&ntp).contains(&GRACEFUL_SHUTDOWN)
                && attr(&ntp, 4).is_none()
                && attr(&ntp, 32).is_none(),
            "only the drained service is marked: {ntp}"
        );
        let out = cli.join().expect("drain thread");
        let returned = asked.elapsed();
        assert!(
            out.status.success(),
            "drain: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            returned >= Duration::from_secs(2),
            "drain returned after {returned:?}"
        );
        assert_eq!(router.rib().unwrap(), nets(&["198.51.100.123/32"]));
        eprintln!("bgp-drain-cli: drain returned {returned:?} after it was asked");

        let undrain = lab
            .warden_cli()
            .args(["undrain", "dns"])
            .output()
            .expect("run undrain");
        assert!(undrain.status.success());
        wait_rib(router, &both, CHANGE);
        let back = path(router, "203.0.113.53/32").expect("dns back");
        assert!(
            !communities(&back).contains(&GRACEFUL_SHUTDOWN) && attr(&back, 4).is_none(),
            "announced again without the mark or the drain MED: {back}"
        );
        assert!(warden.is_running());
    });
}
