//! Renders a plan as one batch of configuration lines for `vtysh -f`: the whole apply in a
//! single vtysh run. Pure.
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
        static_line(&mut out, "", route, tag);
    }
    // Grouped by instance and address family: `router bgp ASN [vrf V]` once each.
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
    for ((vrf, asn), lines) in &instances {
        match vrf {
            None => writeln!(out, "router bgp {asn}"),
            Some(vrf) => writeln!(out, "router bgp {asn} vrf {vrf}"),
        }
        .ok();
        for (afi, want_v4) in [("ipv4", true), ("ipv6", false)] {
            let family: Vec<&(bool, IpNet)> = lines
                .iter()
                .filter(|(_, p)| matches!(p, IpNet::V4(_)) == want_v4)
                .collect();
            if family.is_empty() {
                continue;
            }
            writeln!(out, " address-family {afi} unicast").ok();
            // Additions first, as for static routes.
            for (_, prefix) in family.iter().filter(|(add, _)| *add) {
                writeln!(out, "  network {prefix}").ok();
            }
            for (_, prefix) in family.iter().filter(|(add, _)| !*add) {
                writeln!(out, "  no network {prefix}").ok();
            }
            writeln!(out, " exit-address-family").ok();
        }
        writeln!(out, "exit").ok();
    }
    for route in &plan.remove_statics {
        static_line(&mut out, "no ", route, tag);
    }
    out
}

/// `[no ]ip route P Null0 tag T [vrf V]` (`ipv6 route` for IPv6).
fn static_line(out: &mut String, no: &str, route: &Route, tag: u32) {
    let family = match route.prefix {
        IpNet::V4(_) => "ip",
        IpNet::V6(_) => "ipv6",
    };
    write!(out, "{no}{family} route {} Null0 tag {tag}", route.prefix).ok();
    if let Some(vrf) = &route.vrf {
        write!(out, " vrf {vrf}").ok();
    }
    out.push('\n');
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
    }
}
