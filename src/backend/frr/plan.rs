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
use super::running::{RunningConfig, StaticRoute};

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

impl RunningConfig {
    /// What FRR's running configuration is once it has taken every line of `plan`'s batch
    /// (rendered with `tag`): the warden's static routes added and removed, the network
    /// statements added to and removed from their instances, nothing else touched. This is
    /// what the backend plans the next apply against instead of reading FRR again.
    pub fn with_plan_applied(&self, plan: &Plan, tag: u32) -> RunningConfig {
        let mut next = self.clone();
        let is_removed = |s: &StaticRoute| {
            s.tag == Some(tag)
                && s.nexthop.eq_ignore_ascii_case("Null0")
                && plan.remove_statics.contains(&s.route)
        };
        next.statics.retain(|s| !is_removed(s));
        next.statics
            .extend(plan.add_statics.iter().map(|route| StaticRoute {
                route: route.clone(),
                nexthop: "Null0".to_string(),
                tag: Some(tag),
            }));
        for change in &plan.remove_networks {
            if let Some(instance) = next.bgp.get_mut(&change.route.vrf) {
                instance.networks.remove(&change.route.prefix);
            }
        }
        // The plan adds only to instances that exist.
        for change in &plan.add_networks {
            if let Some(instance) = next.bgp.get_mut(&change.route.vrf) {
                instance.networks.insert(change.route.prefix);
            }
        }
        next
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
    let is_ours =
        |s: &&StaticRoute| s.tag == Some(inputs.tag) && s.nexthop.eq_ignore_ascii_case("Null0");
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
#[path = "plan_tests.rs"]
mod tests;
