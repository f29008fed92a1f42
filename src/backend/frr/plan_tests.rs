//! Tests of `plan`.
use super::super::running::BgpInstance;
use super::*;
use ipnet::IpNet;

fn route(vrf: Option<&str>, p: &str) -> Route {
    Route {
        vrf: vrf.map(str::to_string),
        prefix: p.parse::<IpNet>().unwrap(),
    }
}

fn running() -> RunningConfig {
    let mut c = RunningConfig::default();
    c.bgp.insert(
        None,
        BgpInstance {
            asn: 65001,
            networks: ["203.0.113.1/32", "203.0.113.2/32", "2001:db8::1/128"]
                .iter()
                .map(|p| p.parse().unwrap())
                .collect(),
        },
    );
    c.bgp.insert(
        Some("blue".into()),
        BgpInstance {
            asn: 65001,
            networks: BTreeSet::new(),
        },
    );
    let st = |vrf: Option<&str>, p: &str, nh: &str, tag: Option<u32>| StaticRoute {
        route: route(vrf, p),
        nexthop: nh.into(),
        tag,
    };
    c.statics = vec![
        st(None, "198.51.100.1/32", "Null0", Some(4711)),
        st(None, "198.51.100.2/32", "Null0", None),
        st(None, "198.51.100.3/32", "192.0.2.2", Some(4711)),
        st(Some("blue"), "198.51.100.4/32", "Null0", Some(4711)),
    ];
    c
}

fn inputs<'a>(
    mode: FrrMode,
    desired: &'a BTreeSet<Route>,
    running: &'a RunningConfig,
    recorded: &'a BTreeSet<Route>,
) -> Inputs<'a> {
    Inputs {
        mode,
        asn: None,
        tag: 4711,
        desired,
        running,
        recorded_networks: recorded,
    }
}

#[test]
fn network_mode_adds_missing_and_removes_only_recorded_statements() {
    let running = running();
    // 203.0.113.1 is the warden's; 203.0.113.2 and 2001:db8::1 are hand-made.
    let recorded = [route(None, "203.0.113.1/32"), route(None, "203.0.113.9/32")].into();
    let desired = [
        route(None, "203.0.113.2/32"),
        route(None, "203.0.113.3/32"),
        route(Some("blue"), "2001:db8::3/128"),
    ]
    .into();
    let p = plan(inputs(FrrMode::Network, &desired, &running, &recorded));
    assert_eq!(
        p.add_networks,
        vec![
            NetworkChange {
                asn: 65001,
                route: route(None, "203.0.113.3/32")
            },
            NetworkChange {
                asn: 65001,
                route: route(Some("blue"), "2001:db8::3/128")
            },
        ]
    );
    // Recorded and present, no longer desired: removed. Recorded but gone (FRR
    // restarted): forgotten. Hand-made: untouched, reported when desired.
    assert_eq!(
        p.remove_networks,
        vec![NetworkChange {
            asn: 65001,
            route: route(None, "203.0.113.1/32")
        }]
    );
    assert_eq!(p.hand_made, vec![route(None, "203.0.113.2/32")]);
    // Network mode withdraws the warden's static routes (e.g. after a mode switch),
    // and nothing else.
    assert_eq!(
        p.remove_statics,
        vec![
            route(None, "198.51.100.1/32"),
            route(Some("blue"), "198.51.100.4/32")
        ]
    );
    assert!(p.add_statics.is_empty() && p.problems.is_empty());
    assert_eq!(
        p.networks_after(),
        [
            route(None, "203.0.113.3/32"),
            route(Some("blue"), "2001:db8::3/128")
        ]
        .into()
    );
    assert_eq!(p.networks_during().len(), 3);
}

#[test]
fn static_mode_owns_only_tagged_null0_routes() {
    let running = running();
    let recorded = [route(None, "203.0.113.1/32")].into();
    let desired = [
        route(None, "198.51.100.1/32"), // already ours
        route(None, "198.51.100.2/32"), // hand-made Null0 without tag
        route(None, "198.51.100.3/32"), // hand-made with our tag but a real nexthop
        route(Some("blue"), "2001:db8::5/128"),
    ]
    .into();
    let p = plan(inputs(FrrMode::Static, &desired, &running, &recorded));
    assert_eq!(p.add_statics, vec![route(Some("blue"), "2001:db8::5/128")]);
    assert_eq!(
        p.remove_statics,
        vec![route(Some("blue"), "198.51.100.4/32")]
    );
    assert_eq!(
        p.hand_made,
        vec![
            route(None, "198.51.100.2/32"),
            route(None, "198.51.100.3/32")
        ]
    );
    // The recorded network statement goes: static mode announces none.
    assert_eq!(p.remove_networks.len(), 1);
    assert!(p.networks_after().is_empty());
}

#[test]
fn nothing_to_do_when_frr_matches() {
    let running = running();
    let recorded = [route(None, "203.0.113.1/32")].into();
    let desired = [route(None, "203.0.113.1/32")].into();
    let mut i = inputs(FrrMode::Network, &desired, &running, &recorded);
    i.tag = 1; // no static route is ours then
    let p = plan(i);
    assert!(p.is_empty(), "{p:?}");
    assert_eq!(
        p.to_string(),
        "+0 -0 static routes, +0 -0 network statements"
    );
}

#[test]
fn missing_instance_and_wrong_asn_are_problems_but_the_rest_goes_ahead() {
    let running = running();
    let recorded = BTreeSet::new();
    let desired = [
        route(Some("red"), "203.0.113.5/32"),
        route(None, "203.0.113.6/32"),
        route(None, "203.0.113.7/32"),
        route(Some("blue"), "203.0.113.8/32"),
    ]
    .into();
    let mut i = inputs(FrrMode::Network, &desired, &running, &recorded);
    let p = plan(i);
    assert_eq!(
        p.problems,
        vec![Problem::NoBgpInstance {
            route: route(Some("red"), "203.0.113.5/32")
        }]
    );
    assert_eq!(p.add_networks.len(), 3);
    assert!(p.problems[0].to_string().contains("vrf red"));

    i.asn = Some(65002);
    let p = plan(i);
    // One problem per instance, whatever the number of prefixes.
    assert_eq!(p.problems.len(), 3, "{:?}", p.problems);
    assert!(p.add_networks.is_empty());
    assert!(
        p.problems[0]
            .to_string()
            .contains("`router bgp 65001` in the default VRF")
    );
}

#[test]
fn applied_plan_adds_and_removes_exactly_its_changes() {
    let running = running();
    let recorded = [route(None, "203.0.113.1/32")].into();
    let desired = [
        route(None, "198.51.100.1/32"),
        route(None, "198.51.100.2/32"),
        route(Some("blue"), "2001:db8::5/128"),
    ]
    .into();
    let p = plan(inputs(FrrMode::Static, &desired, &running, &recorded));
    let after = running.with_plan_applied(&p, 4711);
    let mut expected = running.clone();
    // 203.0.113.1 was the warden's network statement; the blue static route from
    // before is no longer desired; 2001:db8::5 is new. Hand-made routes stay.
    expected
        .bgp
        .get_mut(&None)
        .unwrap()
        .networks
        .remove(&"203.0.113.1/32".parse().unwrap());
    expected
        .statics
        .retain(|s| s.route != route(Some("blue"), "198.51.100.4/32"));
    expected.statics.push(StaticRoute {
        route: route(Some("blue"), "2001:db8::5/128"),
        nexthop: "Null0".into(),
        tag: Some(4711),
    });
    assert_eq!(after, expected);

    let desired = [
        route(None, "203.0.113.5/32"),
        route(Some("blue"), "203.0.113.6/32"),
    ]
    .into();
    let p = plan(inputs(
        FrrMode::Network,
        &desired,
        &after,
        &p.networks_after(),
    ));
    let after = after.with_plan_applied(&p, 4711);
    assert!(
        after.bgp[&None]
            .networks
            .contains(&"203.0.113.5/32".parse().unwrap())
    );
    assert_eq!(
        after.bgp[&Some("blue".to_string())].networks,
        ["203.0.113.6/32".parse().unwrap()].into()
    );
    // Network mode removed the warden's static route, only that one.
    assert!(
        !after
            .statics
            .iter()
            .any(|s| s.tag == Some(4711) && s.nexthop == "Null0")
    );
    assert_eq!(after.statics.len(), 2);

    assert_eq!(running.with_plan_applied(&Plan::default(), 4711), running);
}

/// What FRR holds for one prefix as a static route.
#[derive(Debug, Clone, Copy)]
enum StaticState {
    None,
    Ours,
    /// `Null0` without the tag.
    HandMade,
    /// The tag, but a real nexthop.
    HandMadeTagged,
    /// The warden's and a hand-made one.
    Both,
}

const STATIC_STATES: [StaticState; 5] = [
    StaticState::None,
    StaticState::Ours,
    StaticState::HandMade,
    StaticState::HandMadeTagged,
    StaticState::Both,
];

/// The static routes (nexthop, tag) of a state.
fn static_lines(state: StaticState) -> Vec<(&'static str, Option<u32>)> {
    let ours = ("Null0", Some(4711));
    match state {
        StaticState::None => vec![],
        StaticState::Ours => vec![ours],
        StaticState::HandMade => vec![("Null0", None)],
        StaticState::HandMadeTagged => vec![("192.0.2.2", Some(4711))],
        StaticState::Both => vec![ours, ("Null0", None)],
    }
}

/// The static routes that are not the warden's, in a comparable form.
fn foreign_statics(c: &RunningConfig) -> Vec<(Route, String, Option<u32>)> {
    let mut v: Vec<_> = c
        .statics
        .iter()
        .filter(|s| !(s.tag == Some(4711) && s.nexthop == "Null0"))
        .map(|s| (s.route.clone(), s.nexthop.clone(), s.tag))
        .collect();
    v.sort();
    v
}

fn ours_statics(c: &RunningConfig) -> BTreeSet<Route> {
    c.statics
        .iter()
        .filter(|s| s.tag == Some(4711) && s.nexthop == "Null0")
        .map(|s| s.route.clone())
        .collect()
}

/// Every combination, over three prefixes (default VRF, VRF blue, VRF red without a BGP
/// instance), of the static routes FRR has for each, whether it has a network
/// statement for it, whether the record claims it, which are desired, the mode and the
/// configured AS: the plan, applied to the running configuration with
/// `with_plan_applied`, leaves FRR announcing exactly what it should through the
/// warden's own routes, leaves every other route as it was, and planning again against
/// the result finds nothing left to do.
#[test]
fn applied_plan_converges_and_touches_only_the_wardens_routes() {
    let universe = [
        route(None, "203.0.113.1/32"),
        route(Some("blue"), "203.0.113.2/32"),
        route(Some("red"), "203.0.113.3/32"),
    ];
    // Per prefix: 5 static states × network statement present or not × recorded or
    // not; red has no instance, so never a network statement.
    let per_prefix = STATIC_STATES.len() * 2 * 2;
    let cases = per_prefix.pow(universe.len() as u32);
    let mut checked = 0;
    for case in 0..cases {
        let mut running = RunningConfig::default();
        running.bgp.insert(
            None,
            BgpInstance {
                asn: 65001,
                networks: BTreeSet::new(),
            },
        );
        running.bgp.insert(
            Some("blue".into()),
            BgpInstance {
                asn: 65001,
                networks: BTreeSet::new(),
            },
        );
        let mut recorded = BTreeSet::new();
        let mut rest = case;
        let mut possible = true;
        for r in &universe {
            let digit = rest % per_prefix;
            rest /= per_prefix;
            let state = STATIC_STATES[digit % STATIC_STATES.len()];
            let network = (digit / STATIC_STATES.len()) % 2 == 1;
            let record = digit / (STATIC_STATES.len() * 2) == 1;
            for (nexthop, tag) in static_lines(state) {
                running.statics.push(StaticRoute {
                    route: r.clone(),
                    nexthop: nexthop.into(),
                    tag,
                });
            }
            if network {
                match running.bgp.get_mut(&r.vrf) {
                    Some(instance) => {
                        instance.networks.insert(r.prefix);
                    }
                    None => possible = false,
                }
            }
            if record {
                recorded.insert(r.clone());
            }
        }
        if !possible {
            continue;
        }
        for wanted in 0..(1u32 << universe.len()) {
            let desired: BTreeSet<Route> = universe
                .iter()
                .enumerate()
                .filter(|(i, _)| wanted & (1 << i) != 0)
                .map(|(_, r)| r.clone())
                .collect();
            for mode in [FrrMode::Network, FrrMode::Static] {
                for asn in [None, Some(65001), Some(65002)] {
                    let mut i = inputs(mode, &desired, &running, &recorded);
                    i.asn = asn;
                    check_applied(i, &universe);
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 20 * 20 * 10 * 8 * 2 * 3);
}

fn check_applied(i: Inputs<'_>, universe: &[Route]) {
    let running = i.running;
    let p = plan(i);
    let after = running.with_plan_applied(&p, i.tag);
    let recorded_after = p.networks_after();
    let why = || format!("{i:?}\n{p:?}\n{after:?}");

    // Hand-made routes are exactly as they were.
    assert_eq!(
        foreign_statics(&after),
        foreign_statics(running),
        "{}",
        why()
    );
    let present_before = running.networks();
    let present_after = after.networks();
    for r in present_before.difference(i.recorded_networks) {
        assert!(
            present_after.contains(r),
            "hand-made network gone: {r}\n{}",
            why()
        );
    }
    // Nothing appears that the warden does not then own.
    for r in present_after.difference(&present_before) {
        assert!(recorded_after.contains(r), "{r}\n{}", why());
    }
    assert!(recorded_after.is_subset(&present_after), "{}", why());

    // The warden's own routes are exactly the desired ones it may make.
    let blocked: BTreeSet<&Route> = p.hand_made.iter().collect();
    let makeable = |r: &&Route| !blocked.contains(r);
    let ours = ours_statics(&after);
    match i.mode {
        FrrMode::Static => {
            let want: BTreeSet<Route> = i.desired.iter().filter(makeable).cloned().collect();
            assert_eq!(ours, want, "{}", why());
            assert!(recorded_after.is_empty(), "{}", why());
        }
        FrrMode::Network => {
            assert!(ours.is_empty(), "{}", why());
            for r in universe {
                let owned = recorded_after.contains(r);
                // A statement already owned stays whatever `asn` says; a new one
                // needs its instance, with the configured AS.
                let should = i.desired.contains(r)
                    && !blocked.contains(r)
                    && (p.networks_kept.contains(r)
                        || after
                            .bgp
                            .get(&r.vrf)
                            .is_some_and(|b| i.asn.is_none_or(|a| a == b.asn)));
                assert_eq!(owned, should, "{r}\n{}", why());
            }
        }
    }

    // One apply is enough: nothing left to do, the same routes reported.
    let again = plan(Inputs {
        running: &after,
        recorded_networks: &recorded_after,
        ..i
    });
    assert!(again.is_empty(), "{again:?}\n{}", why());
    assert_eq!(again.hand_made, p.hand_made, "{}", why());
    assert_eq!(again.problems, p.problems, "{}", why());
    assert_eq!(again.networks_kept, recorded_after, "{}", why());
}
