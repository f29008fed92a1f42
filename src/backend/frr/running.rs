//! Reads what matters to the warden out of FRR's `show running-config`: the BGP instances
//! with their `network` statements, and the static routes. Pure; everything else in the
//! text is skipped, so unknown FRR features never make the parse fail.
//!
//! The shapes read (FRR 8.4):
//! ```text
//! ip route 203.0.113.54/32 Null0 tag 4711          static route, default VRF
//! vrf blue                                         static routes of a VRF ...
//!  ip route 203.0.113.55/32 Null0 tag 4711
//! exit-vrf
//! router bgp 65001 [vrf blue]                      a BGP instance ...
//!  address-family ipv4 unicast                     ... its unicast address families ...
//!   network 203.0.113.53/32 [route-map X]          ... and their network statements
//!  exit-address-family
//! exit
//! ```

use std::collections::{BTreeMap, BTreeSet};

use ipnet::IpNet;

use super::Route;

/// The parts of FRR's running configuration the warden reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RunningConfig {
    /// `router bgp` instances by VRF (`None`: the default VRF).
    pub bgp: BTreeMap<Option<String>, BgpInstance>,
    /// Every `ip route` / `ipv6 route`, whoever made it.
    pub statics: Vec<StaticRoute>,
}

/// One `router bgp ASN [vrf V]`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BgpInstance {
    pub asn: u32,
    /// The `network` statements of its ipv4/ipv6 unicast address families.
    pub networks: BTreeSet<IpNet>,
}

/// One static route line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticRoute {
    pub route: Route,
    /// The first word after the prefix: `Null0`, `blackhole`, an address, an interface.
    pub nexthop: String,
    pub tag: Option<u32>,
}

impl RunningConfig {
    /// Network statements of every instance, as routes.
    pub fn networks(&self) -> BTreeSet<Route> {
        self.bgp
            .iter()
            .flat_map(|(vrf, instance)| {
                instance.networks.iter().map(move |prefix| Route {
                    vrf: vrf.clone(),
                    prefix: *prefix,
                })
            })
            .collect()
    }
}

/// The text is not FRR's running configuration (vtysh printed something else).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("vtysh's output does not look like FRR's running configuration (no \"end\" line)")]
pub struct NotRunningConfig;

/// Parses `show running-config`. Lines that are not understood are skipped.
pub fn parse(text: &str) -> Result<RunningConfig, NotRunningConfig> {
    // vtysh ends a complete configuration with "end"; without it, the output was cut or
    // is an error message, and reading it as "no routes" would re-add or forget routes.
    if !text.lines().any(|l| l.trim_end() == "end") {
        return Err(NotRunningConfig);
    }
    let mut config = RunningConfig::default();
    // Where we are: inside `vrf V`, inside `router bgp` (and its VRF), inside a unicast
    // address family of it.
    let mut in_vrf: Option<String> = None;
    let mut in_bgp: Option<Option<String>> = None;
    let mut in_unicast = false;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let indented = line.starts_with(' ');
        match words.as_slice() {
            [] | ["!", ..] => {}
            ["end"] => break,
            ["exit"] if !indented => {
                in_bgp = None;
                in_unicast = false;
            }
            ["exit-vrf"] => in_vrf = None,
            ["vrf", name] if !indented => in_vrf = Some((*name).to_string()),
            ["router", "bgp", asn, rest @ ..] if !indented => {
                in_unicast = false;
                in_bgp = None;
                let vrf = match rest {
                    [] => None,
                    ["vrf", name] => Some((*name).to_string()),
                    // `view NAME` and anything newer: not an instance the warden uses.
                    _ => continue,
                };
                if let Ok(asn) = asn.parse::<u32>() {
                    config.bgp.insert(
                        vrf.clone(),
                        BgpInstance {
                            asn,
                            networks: BTreeSet::new(),
                        },
                    );
                    in_bgp = Some(vrf);
                }
            }
            ["address-family", afi, safi] if in_bgp.is_some() => {
                in_unicast = matches!(*afi, "ipv4" | "ipv6") && *safi == "unicast";
            }
            ["address-family", ..] => in_unicast = false,
            ["exit-address-family"] => in_unicast = false,
            ["network", prefix, ..] if in_unicast => {
                if let (Some(vrf), Ok(prefix)) = (&in_bgp, prefix.parse::<IpNet>())
                    && let Some(instance) = config.bgp.get_mut(vrf)
                {
                    instance.networks.insert(prefix);
                }
            }
            ["ip" | "ipv6", "route", prefix, rest @ ..] if in_bgp.is_none() => {
                if let Some(route) = static_route(prefix, rest, in_vrf.as_deref()) {
                    config.statics.push(route);
                }
            }
            _ => {}
        }
    }
    Ok(config)
}

/// `PREFIX [from SRC] NEXTHOP ... [tag T] ... [vrf V]`, the words after `ip route`.
fn static_route(prefix: &str, rest: &[&str], block_vrf: Option<&str>) -> Option<StaticRoute> {
    let prefix = prefix.parse::<IpNet>().ok()?;
    let rest = match rest {
        ["from", _source, more @ ..] => more,
        _ => rest,
    };
    let nexthop = (*rest.first()?).to_string();
    let after = |key: &str| {
        rest.windows(2)
            .find(|pair| pair[0] == key)
            .map(|pair| pair[1])
    };
    let tag = after("tag").and_then(|t| t.parse::<u32>().ok());
    // Inside `vrf V ... exit-vrf` the route belongs to V; FRR also accepts a trailing
    // `vrf V` on a top-level line. `nexthop-vrf` is the nexthop's VRF, not the route's.
    let vrf = block_vrf.or_else(|| after("vrf")).map(str::to_string);
    Some(StaticRoute {
        route: Route { vrf, prefix },
        nexthop,
        tag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from FRR 8.4.4 (Debian 12) after the warden and a human both added routes.
    const FRR_8_4: &str = include_str!("testdata/running-config-8.4.txt");

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn route(vrf: Option<&str>, p: &str) -> Route {
        Route {
            vrf: vrf.map(str::to_string),
            prefix: net(p),
        }
    }

    #[test]
    fn reads_bgp_instances_and_their_networks() {
        let c = parse(FRR_8_4).unwrap();
        assert_eq!(c.bgp.len(), 2);
        assert_eq!(c.bgp[&None].asn, 65001);
        assert_eq!(
            c.bgp[&None].networks,
            [
                net("203.0.113.53/32"),
                net("203.0.113.99/32"),
                net("2001:db8::53/128")
            ]
            .into()
        );
        let blue = &c.bgp[&Some("blue".to_string())];
        assert_eq!(blue.asn, 65001);
        assert_eq!(blue.networks, [net("203.0.113.7/32")].into());
        // The VPN address family's network is not a unicast announcement.
        assert!(!c.networks().contains(&route(None, "198.51.100.77/32")));
    }

    #[test]
    fn reads_static_routes_with_tags_and_vrfs() {
        let c = parse(FRR_8_4).unwrap();
        let statics: Vec<(Route, &str, Option<u32>)> = c
            .statics
            .iter()
            .map(|s| (s.route.clone(), s.nexthop.as_str(), s.tag))
            .collect();
        assert_eq!(
            statics,
            vec![
                (route(None, "198.51.100.9/32"), "Null0", None),
                (route(None, "203.0.113.54/32"), "Null0", Some(4711)),
                (route(None, "203.0.113.56/32"), "192.0.2.2", Some(99)),
                (route(None, "2001:db8::54/128"), "Null0", Some(4711)),
                (route(None, "2001:db8::57/128"), "Null0", Some(4711)),
                (route(Some("blue"), "203.0.113.55/32"), "Null0", Some(4711)),
                (route(Some("blue"), "2001:db8::55/128"), "Null0", Some(4711)),
            ]
        );
    }

    #[test]
    fn empty_frr_has_nothing() {
        let text = "Building configuration...\n\nCurrent configuration:\n!\nfrr version 8.4.4\nfrr defaults traditional\nhostname h\n!\nend\n";
        assert_eq!(parse(text).unwrap(), RunningConfig::default());
    }

    #[test]
    fn output_without_end_is_refused() {
        assert_eq!(
            parse("Exiting: failed to connect to any daemons.\n"),
            Err(NotRunningConfig)
        );
        let cut = FRR_8_4.replace("\nend", "\n");
        assert_eq!(parse(&cut), Err(NotRunningConfig));
    }

    #[test]
    fn trailing_vrf_and_source_forms() {
        let text = "ip route 203.0.113.8/32 Null0 tag 4711 vrf red\nipv6 route 2001:db8::8/128 from 2001:db8::/64 Null0 tag 7\nrouter bgp 65009 view v\n address-family ipv4 unicast\n  network 203.0.113.9/32\n exit-address-family\nexit\nend\n";
        let c = parse(text).unwrap();
        assert_eq!(c.statics[0].route, route(Some("red"), "203.0.113.8/32"));
        assert_eq!(c.statics[1].nexthop, "Null0");
        assert_eq!(c.statics[1].tag, Some(7));
        // Views are not instances the warden writes to.
        assert!(c.bgp.is_empty());
    }
}
