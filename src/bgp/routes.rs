//! The routes the speaker announces and the UPDATEs that carry them to one peer. Pure.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net};

use super::message::update::{GRACEFUL_SHUTDOWN, prefix_wire_len};
use super::message::{
    AsSegment, Codec, Family, HEADER_LEN, MAX_MESSAGE_LEN, Origin, PathAttribute, Update,
};

/// The attributes of one announced prefix, as its service configures them.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteAttrs {
    /// RFC 1997 communities, as `(asn << 16) | value`.
    pub communities: Vec<u32>,
    /// RFC 8092 large communities.
    pub large_communities: Vec<[u32; 3]>,
    pub med: Option<u32>,
    /// Extra copies of the local AS in AS_PATH (eBGP only).
    pub prepend: u8,
}

/// What changes while a route drains, besides GRACEFUL_SHUTDOWN (always added).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainAttrs {
    /// Added to the route's own.
    pub communities: Vec<u32>,
    pub large_communities: Vec<[u32; 3]>,
    /// Instead of the route's own.
    pub med: Option<u32>,
    pub prepend: Option<u8>,
}

impl RouteAttrs {
    /// The same route marked for draining: GRACEFUL_SHUTDOWN (RFC 8326) and the
    /// service's drain communities added, its drain MED and prepend instead of its own.
    pub fn draining(&self, drain: &DrainAttrs) -> RouteAttrs {
        let mut out = self.clone();
        for c in drain.communities.iter().chain([&GRACEFUL_SHUTDOWN]) {
            if !out.communities.contains(c) {
                out.communities.push(*c);
            }
        }
        for c in &drain.large_communities {
            if !out.large_communities.contains(c) {
                out.large_communities.push(*c);
            }
        }
        out.med = drain.med.or(out.med);
        out.prepend = drain.prepend.unwrap_or(out.prepend);
        out
    }
}

/// Everything the speaker announces: prefix → attributes.
pub type RouteSet = BTreeMap<IpNet, Arc<RouteAttrs>>;

/// What the UPDATEs to one peer depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerContext {
    pub local_as: u32,
    pub ibgp: bool,
    pub codec: Codec,
    /// Families negotiated on the session.
    pub families: Vec<Family>,
    /// Next hops for IPv4 and IPv6 routes; a family without one is not announced.
    pub next_hop_v4: Option<Ipv4Addr>,
    pub next_hop_v6: Option<Ipv6Addr>,
    /// RFC 8950 was negotiated: IPv4 routes may carry the IPv6 next hop.
    pub ipv4_over_ipv6: bool,
    /// A link-local address sent after the global IPv6 next hop (RFC 2545 §3: a
    /// 32-octet next hop, for peers on the same link).
    pub next_hop_v6_link_local: Option<Ipv6Addr>,
}

impl PeerContext {
    /// Whether routes of `family` can be sent on this session.
    pub fn can_send(&self, family: Family) -> bool {
        self.families.contains(&family)
            && match family {
                Family::Ipv4Unicast => self.next_hop_v4.is_some() || self.v4_via_v6().is_some(),
                Family::Ipv6Unicast => self.next_hop_v6.is_some(),
            }
    }

    /// The IPv6 next hop of IPv4 routes, when they travel in MP_REACH_NLRI (RFC 8950):
    /// negotiated, and an IPv6 next hop to give. It wins over an IPv4 one, which is
    /// there for peers that do not take RFC 8950.
    pub fn v4_via_v6(&self) -> Option<Ipv6Addr> {
        self.next_hop_v6.filter(|_| self.ipv4_over_ipv6)
    }

    /// An MP_REACH_NLRI next hop: the global address, then the link-local one if any.
    fn mp_next_hop(&self, global: Ipv6Addr) -> Vec<u8> {
        let mut out = global.octets().to_vec();
        if let Some(ll) = self.next_hop_v6_link_local {
            out.extend_from_slice(&ll.octets());
        }
        out
    }
}

/// The part of `routes` this peer can receive.
pub fn for_peer(ctx: &PeerContext, routes: &RouteSet) -> RouteSet {
    routes
        .iter()
        .filter(|(p, _)| ctx.can_send(Family::of(p)))
        .map(|(p, a)| (*p, a.clone()))
        .collect()
}

/// What changed between two sets: routes to (re-)announce and prefixes to withdraw.
pub fn diff(old: &RouteSet, new: &RouteSet) -> (RouteSet, Vec<IpNet>) {
    let announce = new
        .iter()
        .filter(|(p, a)| old.get(p) != Some(a))
        .map(|(p, a)| (*p, a.clone()))
        .collect();
    let withdraw = old
        .keys()
        .filter(|p| !new.contains_key(p))
        .copied()
        .collect();
    (announce, withdraw)
}

/// Path attributes for routes of `family` with `attrs` (MP_REACH_NLRI not included).
fn base_attributes(ctx: &PeerContext, family: Family, attrs: &RouteAttrs) -> Vec<PathAttribute> {
    let mut out = vec![PathAttribute::Origin(Origin::Igp)];
    if ctx.ibgp {
        out.push(PathAttribute::AsPath(vec![]));
    } else {
        let path = vec![ctx.local_as; 1 + usize::from(attrs.prepend)];
        out.push(PathAttribute::AsPath(vec![AsSegment::Sequence(
            path.clone(),
        )]));
        // A 2-octet peer sees AS_TRANS for a 4-octet AS; AS4_PATH carries the truth.
        if !ctx.codec.four_octet_as && ctx.local_as > u32::from(u16::MAX) {
            out.push(PathAttribute::As4Path(vec![AsSegment::Sequence(path)]));
        }
    }
    if family == Family::Ipv4Unicast
        && ctx.v4_via_v6().is_none()
        && let Some(nh) = ctx.next_hop_v4
    {
        out.push(PathAttribute::NextHop(nh));
    }
    if let Some(med) = attrs.med {
        out.push(PathAttribute::Med(med));
    }
    if ctx.ibgp {
        out.push(PathAttribute::LocalPref(100));
    }
    if !attrs.communities.is_empty() {
        out.push(PathAttribute::Communities(attrs.communities.clone()));
    }
    if !attrs.large_communities.is_empty() {
        out.push(PathAttribute::LargeCommunities(
            attrs.large_communities.clone(),
        ));
    }
    out
}

/// Room for the body of one UPDATE.
const MAX_BODY: usize = MAX_MESSAGE_LEN - HEADER_LEN;

fn encoded_len(attrs: &[PathAttribute], codec: Codec) -> usize {
    Update {
        attributes: attrs.to_vec(),
        ..Update::default()
    }
    .encode_body(codec)
    .len()
}

/// The UPDATEs that announce `announce` and withdraw `withdraw`, packed up to the
/// message size limit: withdrawals first, then one run per family and attribute set.
/// Routes of a family the peer cannot take are left out.
pub fn updates(ctx: &PeerContext, announce: &RouteSet, withdraw: &[IpNet]) -> Vec<Update> {
    let mut out = Vec::new();
    // Withdrawals: IPv4 in the plain field, IPv6 in MP_UNREACH_NLRI.
    let (w4, w6): (Vec<IpNet>, Vec<IpNet>) = withdraw
        .iter()
        .filter(|p| ctx.can_send(Family::of(p)))
        .partition(|p| matches!(p, IpNet::V4(_)));
    for chunk in pack(&w4, MAX_BODY - 4) {
        out.push(Update {
            withdrawn: v4_only(&chunk),
            ..Update::default()
        });
    }
    // 4 (lengths) + 4 (attribute header, extended length) + 3 (AFI, SAFI).
    for chunk in pack(&w6, MAX_BODY - 11) {
        out.push(Update {
            attributes: vec![PathAttribute::MpUnreach {
                afi: super::message::AFI_IPV6,
                safi: super::message::SAFI_UNICAST,
                withdrawn: chunk,
            }],
            ..Update::default()
        });
    }
    // Announcements grouped by family and attributes.
    let mut groups: BTreeMap<(Family, &RouteAttrs), Vec<IpNet>> = BTreeMap::new();
    for (prefix, attrs) in announce {
        let family = Family::of(prefix);
        if ctx.can_send(family) {
            groups.entry((family, attrs)).or_default().push(*prefix);
        }
    }
    for ((family, attrs), prefixes) in groups {
        let base = base_attributes(ctx, family, attrs);
        let base_len = encoded_len(&base, ctx.codec);
        // Attribute header (4, extended) + AFI/SAFI (3) + next hop (1 + 16 or 32) +
        // reserved.
        let mp_overhead = 4 + 3 + 1 + 32 + 1;
        // Prefixes of one family behind MP_REACH_NLRI (RFC 4760) with next hop `nh`.
        let mp_reach = |afi: u16, nh: Ipv6Addr, out: &mut Vec<Update>| {
            for chunk in pack(&prefixes, MAX_BODY - base_len - mp_overhead) {
                let mut attributes = base.clone();
                attributes.push(PathAttribute::MpReach {
                    afi,
                    safi: super::message::SAFI_UNICAST,
                    next_hop: ctx.mp_next_hop(nh),
                    nlri: chunk,
                });
                out.push(Update {
                    attributes,
                    ..Update::default()
                });
            }
        };
        match family {
            Family::Ipv4Unicast if let Some(nh) = ctx.v4_via_v6() => {
                mp_reach(super::message::AFI_IPV4, nh, &mut out);
            }
            Family::Ipv4Unicast => {
                for chunk in pack(&prefixes, MAX_BODY - base_len) {
                    out.push(Update {
                        withdrawn: vec![],
                        attributes: base.clone(),
                        nlri: v4_only(&chunk),
                        ..Update::default()
                    });
                }
            }
            Family::Ipv6Unicast => {
                let Some(nh) = ctx.next_hop_v6 else { continue };
                mp_reach(super::message::AFI_IPV6, nh, &mut out);
            }
        }
    }
    out
}

/// The IPv4 prefixes of `chunk`, for the plain NLRI and withdrawn fields.
fn v4_only(chunk: &[IpNet]) -> Vec<Ipv4Net> {
    chunk
        .iter()
        .filter_map(|p| match p {
            IpNet::V4(n) => Some(*n),
            IpNet::V6(_) => None,
        })
        .collect()
}

/// Splits `prefixes` into runs whose NLRI encoding fits in `room` octets.
fn pack(prefixes: &[IpNet], room: usize) -> Vec<Vec<IpNet>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut used = 0;
    for p in prefixes {
        let len = prefix_wire_len(p);
        if used + len > room && !current.is_empty() {
            out.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(*p);
        used += len;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The next hops for a session: configured ones win; "self" is the session's own local
/// address for its family. The other family has no "self" (an IPv4 session has no IPv6
/// address to offer) and needs an explicit next hop.
pub fn next_hops(
    local: IpAddr,
    v4: Option<Ipv4Addr>,
    v6: Option<Ipv6Addr>,
) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
    let local = match local {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        a => a,
    };
    match local {
        IpAddr::V4(a) => (v4.or(Some(a)), v6),
        IpAddr::V6(a) => (v4, v6.or(Some(a))),
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
