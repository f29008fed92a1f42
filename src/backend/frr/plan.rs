//! The reconcile diff: from the desired routes, what FRR's running configuration shows and
//! what the warden owns, the changes that make FRR announce exactly the desired routes
//! without touching a route the warden did not create. Pure.
//!
//! Ownership:
//! - static routes: a route is the warden's when it is `Null0` with the configured tag;
//! - network statements carry no mark, so the warden records those it adds (a file in the
//!   state directory) and owns a statement only while it is both recorded and present in
//!   the running configuration (a statement that vanished, e.g. with an FRR restart, is
//!   forgotten and, if still desired, added and recorded again).
//!
//! A desired prefix that FRR already has through a route the warden does not own is left
//! alone (it is announced anyway, and taking it over would delete the hand-made route at
//! the next withdrawal); it is reported so that the operator knows the warden cannot
//! withdraw it.
//!
//! Both modes are reconciled every time: the other mode's desired set is empty, so after a
//! switch of `mode` the routes of the old mode are removed.

use std::collections::BTreeSet;
use std::fmt;

use crate::config::FrrMode;

use super::Route;
use super::running::RunningConfig;

/// What the plan is computed from.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub mode: FrrMode,
    /// `asn` from the configuration, checked against the running instances.
    pub asn: Option<u32>,
    pub tag: u32,
    pub desired: &'a BTreeSet<Route>,
    pub running: &'a RunningConfig,
    /// The network statements the warden recorded as its own.
    pub recorded_networks: &'a BTreeSet<Route>,
}

/// A `network` statement to add or remove, with the AS of its `router bgp`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NetworkChange {
    pub asn: u32,
    pub route: Route,
}

/// Why a desired route cannot be put into FRR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error(
        "FRR has no `router bgp` {} for {route}: add it to frr.conf (the warden never creates BGP instances)",
        vrf_words(&route.vrf)
    )]
    NoBgpInstance { route: Route },
    #[error(
        "FRR runs `router bgp {running}` {}, but the configuration says asn = {configured}: fix asn in [frr], or leave it out to use FRR's",
        vrf_words(vrf)
    )]
    AsnMismatch {
        vrf: Option<String>,
        configured: u32,
        running: u32,
    },
}

fn vrf_words(vrf: &Option<String>) -> String {
    match vrf {
        None => "in the default VRF".to_string(),
        Some(v) => format!("vrf {v}"),
    }
}

/// The changes for one apply.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub add_statics: Vec<Route>,
    pub remove_statics: Vec<Route>,
    pub add_networks: Vec<NetworkChange>,
    pub remove_networks: Vec<NetworkChange>,
    /// Desired, but FRR has a route to it that the warden does not own: left alone.
    pub hand_made: Vec<Route>,
    /// Desired, but impossible now; everything else is still applied.
    pub problems: Vec<Problem>,
    /// The owned network statements that remain present (recorded ∩ running).
    pub networks_kept: BTreeSet<Route>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.add_statics.is_empty()
            && self.remove_statics.is_empty()
            && self.add_networks.is_empty()
            && self.remove_networks.is_empty()
    }

    /// The network statements the warden owns once the plan has been applied.
    pub fn networks_after(&self) -> BTreeSet<Route> {
        let removed: BTreeSet<&Route> = self.remove_networks.iter().map(|c| &c.route).collect();
        self.networks_kept
            .iter()
            .filter(|r| !removed.contains(r))
            .chain(self.add_networks.iter().map(|c| &c.route))
            .cloned()
            .collect()
    }

    /// What to record before running the plan: everything owned now or about to be, so a
    /// crash in between leaves no statement the warden made but forgot.
    pub fn networks_during(&self) -> BTreeSet<Route> {
        self.networks_kept
            .iter()
            .chain(self.add_networks.iter().map(|c| &c.route))
            .cloned()
            .collect()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "+{} -{} static routes, +{} -{} network statements",
            self.add_statics.len(),
            self.remove_statics.len(),
            self.add_networks.len(),
            self.remove_networks.len()
        )
    }
}

/// Computes the plan.
pub fn plan(inputs: Inputs<'_>) -> Plan {
    let mut plan = Plan::default();
    let none = BTreeSet::new();
    let (want_statics, want_networks) = match inputs.mode {
        FrrMode::Static => (inputs.desired, &none),
        FrrMode::Network => (&none, inputs.desired),
    };

    // Static routes: ours carry the tag and go to Null0, exactly as the warden writes them.
    let is_ours = |s: &&super::running::StaticRoute| {
        s.tag == Some(inputs.tag) && s.nexthop.eq_ignore_ascii_case("Null0")
    };
    let ours: BTreeSet<&Route> = inputs
        .running
        .statics
        .iter()
        .filter(is_ours)
        .map(|s| &s.route)
        .collect();
    // Any other static route to the same prefix: the warden's would share its path (and
    // tag) in staticd, so it would take the hand-made one over; keep away from it.
    let foreign: BTreeSet<&Route> = inputs
        .running
        .statics
        .iter()
        .filter(|s| !is_ours(s))
        .map(|s| &s.route)
        .collect();
    for route in want_statics {
        if ours.contains(route) {
            continue;
        }
        if foreign.contains(route) {
            plan.hand_made.push(route.clone());
        } else {
            plan.add_statics.push(route.clone());
        }
    }
    plan.remove_statics = ours
        .into_iter()
        .filter(|r| !want_statics.contains(*r))
        .cloned()
        .collect();

    // Network statements.
    let present = inputs.running.networks();
    plan.networks_kept = inputs
        .recorded_networks
        .intersection(&present)
        .cloned()
        .collect();
    let mut asn_checked: BTreeSet<Option<String>> = BTreeSet::new();
    for route in want_networks {
        if plan.networks_kept.contains(route) {
            continue;
        }
        if present.contains(route) {
            plan.hand_made.push(route.clone());
            continue;
        }
        let Some(instance) = inputs.running.bgp.get(&route.vrf) else {
            plan.problems.push(Problem::NoBgpInstance {
                route: route.clone(),
            });
            continue;
        };
        if let Some(configured) = inputs.asn
            && configured != instance.asn
        {
            // One problem per instance, not per prefix.
            if asn_checked.insert(route.vrf.clone()) {
                plan.problems.push(Problem::AsnMismatch {
                    vrf: route.vrf.clone(),
                    configured,
                    running: instance.asn,
                });
            }
            continue;
        }
        plan.add_networks.push(NetworkChange {
            asn: instance.asn,
            route: route.clone(),
        });
    }
    for route in &plan.networks_kept {
        if want_networks.contains(route) {
            continue;
        }
        // Present, so its instance exists.
        if let Some(instance) = inputs.running.bgp.get(&route.vrf) {
            plan.remove_networks.push(NetworkChange {
                asn: instance.asn,
                route: route.clone(),
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::super::running::{BgpInstance, StaticRoute};
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
}
