//! Renders a plan as the commands that make FRR carry it out: one batch of configuration
//! lines for `vtysh -f` (the whole apply in a single vtysh run), or the command lists for
//! bgpd's and staticd's vty sockets. Pure.
//!
//! Every word comes from validated data: prefixes are `IpNet` (printed by ipnet), VRF
//! names passed `valid_vrf_name`, the AS and the tag are integers. Nothing a user typed is
//! copied into the batch as text.
//!
//! Additions come before removals, so a route that moves (a mode switch) stays announced.
//! `vtysh -f` runs every line even after one fails and reports each failure with its line
//! number, so one rejected line does not hold back the others.

use std::collections::BTreeMap;
use std::fmt::Write;

use ipnet::IpNet;

use super::Route;
use super::plan::{NetworkChange, Plan};

/// A `router bgp ASN [vrf V]`, keyed by VRF and AS.
type Instance<'a> = (&'a Option<String>, u32);

/// The batch for `plan`; empty when there is nothing to change.
pub fn batch(plan: &Plan, tag: u32) -> String {
    let mut out = String::new();
    for route in &plan.add_statics {
        writeln!(out, "{}", static_line("", route, tag)).ok();
    }
    for ((vrf, asn), lines) in &instances(plan) {
        writeln!(out, "{}", router_line(vrf, *asn)).ok();
        for (afi, family) in families(lines) {
            writeln!(out, " address-family {afi} unicast").ok();
            for line in family {
                writeln!(out, "  {line}").ok();
            }
            writeln!(out, " exit-address-family").ok();
        }
        writeln!(out, "exit").ok();
    }
    for route in &plan.remove_statics {
        writeln!(out, "{}", static_line("no ", route, tag)).ok();
    }
    out
}

/// The commands for `plan` as they go over FRR's vty sockets: each to the daemon that
/// owns it, since no vtysh sorts them. Empty lists when there is nothing to change.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VtyBatches {
    /// `network` statements, for bgpd.
    pub bgpd: Vec<String>,
    /// Static routes, for staticd.
    pub staticd: Vec<String>,
}

/// The vty commands for `plan`. A daemon's vty starts in view mode, so each list opens
/// with `enable`. Every BGP instance is entered from the top (`end`, `configure
/// terminal`), so a command the daemon refuses (say `router bgp` with the wrong AS) cannot
/// leave the following ones in the wrong node: `exit` from a node that was never entered
/// would climb one level too far.
///
/// The changes sit between `XFRR_start_configuration` and `XFRR_end_configuration`, as
/// `vtysh -f` sends them: staticd then commits its northbound changes once at the end
/// instead of once per command (500 static routes: 3.3 s without, 0.14 s with, FRR 8.4).
///
/// One batch, in this form, is the cheapest way to staticd (FRR 8.4.4, profiled with perf;
/// docs/frr.md): its commit diffs, validates and copies staticd's whole
/// configuration, so every extra batch costs about 0.06 ms per route staticd holds (splitting
/// 1,000 changes into batches of 100: 426 ms against 309 ms), and each line costs about
/// 0.16 ms (`no ip route`) or 0.27 ms (`ip route`) of libyang path handling whatever its
/// form: `blackhole` for `Null0`, no `tag`, a trailing `vrf default`, reversed or shuffled
/// order all measured within noise of this one.
pub fn vty_batches(plan: &Plan, tag: u32) -> VtyBatches {
    let mut batches = VtyBatches::default();
    let statics: Vec<String> = plan
        .add_statics
        .iter()
        .map(|route| static_line("", route, tag))
        .chain(
            plan.remove_statics
                .iter()
                .map(|route| static_line("no ", route, tag)),
        )
        .collect();
    if !statics.is_empty() {
        batches.staticd = words(&["enable", "configure terminal", "XFRR_start_configuration"]);
        batches.staticd.extend(statics);
        batches
            .staticd
            .extend(words(&["XFRR_end_configuration", "end"]));
    }
    let instances = instances(plan);
    if !instances.is_empty() {
        batches.bgpd = words(&["enable", "configure terminal", "XFRR_start_configuration"]);
        for (i, ((vrf, asn), lines)) in instances.iter().enumerate() {
            if i > 0 {
                batches.bgpd.push("configure terminal".to_string());
            }
            batches.bgpd.push(router_line(vrf, *asn));
            for (afi, family) in families(lines) {
                batches.bgpd.push(format!("address-family {afi} unicast"));
                batches.bgpd.extend(family);
                batches.bgpd.push("exit-address-family".to_string());
            }
            batches.bgpd.push("end".to_string());
        }
        batches.bgpd.extend(words(&[
            "configure terminal",
            "XFRR_end_configuration",
            "end",
        ]));
    }
    batches
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

/// The network changes grouped by instance: `router bgp ASN [vrf V]` once each, with its
/// changes as (add, prefix).
fn instances(plan: &Plan) -> BTreeMap<Instance<'_>, Vec<(bool, IpNet)>> {
    let mut instances: BTreeMap<Instance<'_>, Vec<(bool, IpNet)>> = BTreeMap::new();
    let changes = plan
        .add_networks
        .iter()
        .map(|c| (true, c))
        .chain(plan.remove_networks.iter().map(|c| (false, c)));
    for (add, NetworkChange { asn, route }) in changes {
        instances
            .entry((&route.vrf, *asn))
            .or_default()
            .push((add, route.prefix));
    }
    instances
}

fn router_line(vrf: &Option<String>, asn: u32) -> String {
    match vrf {
        None => format!("router bgp {asn}"),
        Some(vrf) => format!("router bgp {asn} vrf {vrf}"),
    }
}

/// An instance's changes by address family (`ipv4`, `ipv6`; empty ones left out) as
/// `[no ]network P` lines, additions first so a route that moves stays announced.
fn families(lines: &[(bool, IpNet)]) -> Vec<(&'static str, Vec<String>)> {
    [("ipv4", true), ("ipv6", false)]
        .into_iter()
        .filter_map(|(afi, want_v4)| {
            let family: Vec<&(bool, IpNet)> = lines
                .iter()
                .filter(|(_, p)| matches!(p, IpNet::V4(_)) == want_v4)
                .collect();
            let additions = family
                .iter()
                .filter(|(add, _)| *add)
                .map(|(_, p)| format!("network {p}"));
            let removals = family
                .iter()
                .filter(|(add, _)| !*add)
                .map(|(_, p)| format!("no network {p}"));
            let rendered: Vec<String> = additions.chain(removals).collect();
            (!rendered.is_empty()).then_some((afi, rendered))
        })
        .collect()
}

/// `[no ]ip route P Null0 tag T [vrf V]` (`ipv6 route` for IPv6).
fn static_line(no: &str, route: &Route, tag: u32) -> String {
    let family = match route.prefix {
        IpNet::V4(_) => "ip",
        IpNet::V6(_) => "ipv6",
    };
    let mut line = format!("{no}{family} route {} Null0 tag {tag}", route.prefix);
    if let Some(vrf) = &route.vrf {
        write!(line, " vrf {vrf}").ok();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(vrf: Option<&str>, p: &str) -> Route {
        Route {
            vrf: vrf.map(str::to_string),
            prefix: p.parse().unwrap(),
        }
    }

    fn change(vrf: Option<&str>, p: &str) -> NetworkChange {
        NetworkChange {
            asn: 65001,
            route: route(vrf, p),
        }
    }

    #[test]
    fn static_mode_with_vrf_and_v6() {
        let plan = Plan {
            add_statics: vec![
                route(None, "203.0.113.54/32"),
                route(None, "2001:db8::54/128"),
                route(Some("blue"), "203.0.113.55/32"),
            ],
            remove_statics: vec![route(Some("blue"), "2001:db8::55/128")],
            ..Plan::default()
        };
        assert_eq!(
            batch(&plan, 4711),
            "ip route 203.0.113.54/32 Null0 tag 4711\n\
             ipv6 route 2001:db8::54/128 Null0 tag 4711\n\
             ip route 203.0.113.55/32 Null0 tag 4711 vrf blue\n\
             no ipv6 route 2001:db8::55/128 Null0 tag 4711 vrf blue\n"
        );
    }

    #[test]
    fn network_mode_groups_by_instance_and_family() {
        let plan = Plan {
            add_networks: vec![
                change(None, "203.0.113.53/32"),
                change(None, "2001:db8::53/128"),
                change(Some("blue"), "203.0.113.123/32"),
            ],
            remove_networks: vec![change(None, "203.0.113.54/32")],
            ..Plan::default()
        };
        assert_eq!(
            batch(&plan, 4711),
            "router bgp 65001\n \
             address-family ipv4 unicast\n  \
             network 203.0.113.53/32\n  \
             no network 203.0.113.54/32\n \
             exit-address-family\n \
             address-family ipv6 unicast\n  \
             network 2001:db8::53/128\n \
             exit-address-family\n\
             exit\n\
             router bgp 65001 vrf blue\n \
             address-family ipv4 unicast\n  \
             network 203.0.113.123/32\n \
             exit-address-family\n\
             exit\n"
        );
    }

    #[test]
    fn empty_plan_renders_nothing() {
        assert_eq!(batch(&Plan::default(), 1), "");
        assert_eq!(vty_batches(&Plan::default(), 1), VtyBatches::default());
    }

    #[test]
    fn vty_batches_send_statics_to_staticd_and_networks_to_bgpd() {
        let plan = Plan {
            add_statics: vec![
                route(None, "203.0.113.54/32"),
                route(Some("blue"), "2001:db8::54/128"),
            ],
            remove_statics: vec![route(None, "203.0.113.55/32")],
            add_networks: vec![
                change(None, "203.0.113.53/32"),
                change(None, "2001:db8::53/128"),
                change(Some("blue"), "203.0.113.123/32"),
            ],
            remove_networks: vec![change(None, "203.0.113.56/32")],
            ..Plan::default()
        };
        let batches = vty_batches(&plan, 4711);
        assert_eq!(
            batches.staticd,
            words(&[
                "enable",
                "configure terminal",
                "XFRR_start_configuration",
                "ip route 203.0.113.54/32 Null0 tag 4711",
                "ipv6 route 2001:db8::54/128 Null0 tag 4711 vrf blue",
                "no ip route 203.0.113.55/32 Null0 tag 4711",
                "XFRR_end_configuration",
                "end",
            ])
        );
        assert_eq!(
            batches.bgpd,
            words(&[
                "enable",
                "configure terminal",
                "XFRR_start_configuration",
                "router bgp 65001",
                "address-family ipv4 unicast",
                "network 203.0.113.53/32",
                "no network 203.0.113.56/32",
                "exit-address-family",
                "address-family ipv6 unicast",
                "network 2001:db8::53/128",
                "exit-address-family",
                "end",
                "configure terminal",
                "router bgp 65001 vrf blue",
                "address-family ipv4 unicast",
                "network 203.0.113.123/32",
                "exit-address-family",
                "end",
                "configure terminal",
                "XFRR_end_configuration",
                "end",
            ])
        );
    }

    #[test]
    fn vty_batches_leave_out_a_daemon_with_nothing_to_do() {
        let statics_only = Plan {
            add_statics: vec![route(None, "203.0.113.54/32")],
            ..Plan::default()
        };
        assert!(vty_batches(&statics_only, 1).bgpd.is_empty());
        let networks_only = Plan {
            remove_networks: vec![change(None, "203.0.113.53/32")],
            ..Plan::default()
        };
        let batches = vty_batches(&networks_only, 1);
        assert!(batches.staticd.is_empty());
        assert_eq!(batches.bgpd.len(), 11, "{:?}", batches.bgpd);
    }
}
