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
mod tests {
    use super::*;
    use crate::bgp::message::{Message, decode};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ctx(ibgp: bool) -> PeerContext {
        PeerContext {
            local_as: 65001,
            ibgp,
            codec: Codec {
                four_octet_as: true,
            },
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            next_hop_v4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            next_hop_v6: Some("2001:db8:1::1".parse().unwrap()),
            ipv4_over_ipv6: false,
            next_hop_v6_link_local: None,
        }
    }

    fn set(prefixes: &[&str], attrs: RouteAttrs) -> RouteSet {
        let attrs = Arc::new(attrs);
        prefixes.iter().map(|p| (net(p), attrs.clone())).collect()
    }

    #[test]
    fn ebgp_routes_carry_the_path_with_prepends_and_the_service_attributes() {
        let attrs = RouteAttrs {
            communities: vec![(65000 << 16) | 100],
            large_communities: vec![[65000, 1, 1]],
            med: Some(100),
            prepend: 2,
        };
        let u = updates(&ctx(false), &set(&["203.0.113.53/32"], attrs), &[]);
        assert_eq!(u.len(), 1);
        assert_eq!(
            u[0].attributes,
            vec![
                PathAttribute::Origin(Origin::Igp),
                PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65001; 3])]),
                PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
                PathAttribute::Med(100),
                PathAttribute::Communities(vec![(65000 << 16) | 100]),
                PathAttribute::LargeCommunities(vec![[65000, 1, 1]]),
            ]
        );
    }

    #[test]
    fn ibgp_routes_have_an_empty_path_and_local_pref() {
        let u = updates(
            &ctx(true),
            &set(&["203.0.113.53/32"], RouteAttrs::default()),
            &[],
        );
        assert!(u[0].attributes.contains(&PathAttribute::AsPath(vec![])));
        assert!(u[0].attributes.contains(&PathAttribute::LocalPref(100)));
    }

    #[test]
    fn ipv6_uses_mp_reach_with_the_v6_next_hop_and_withdrawals_use_mp_unreach() {
        let u = updates(
            &ctx(false),
            &set(&["2001:db8::53/128"], RouteAttrs::default()),
            &[net("2001:db8::54/128"), net("203.0.113.54/32")],
        );
        assert_eq!(u.len(), 3);
        assert_eq!(u[0].withdrawn, vec!["203.0.113.54/32".parse().unwrap()]);
        assert!(
            matches!(&u[1].attributes[..], [PathAttribute::MpUnreach { afi: 2, withdrawn, .. }] if withdrawn == &vec![net("2001:db8::54/128")])
        );
        assert!(u[2].attributes.iter().any(
            |a| matches!(a, PathAttribute::MpReach { afi: 2, next_hop, nlri, .. }
            if next_hop.len() == 16 && nlri == &vec![net("2001:db8::53/128")])
        ));
        assert!(
            !u[2]
                .attributes
                .iter()
                .any(|a| matches!(a, PathAttribute::NextHop(_)))
        );
    }

    #[test]
    fn families_without_a_session_or_next_hop_are_left_out() {
        let mut c = ctx(false);
        c.next_hop_v6 = None;
        let u = updates(
            &c,
            &set(
                &["2001:db8::53/128", "203.0.113.53/32"],
                RouteAttrs::default(),
            ),
            &[net("2001:db8::54/128")],
        );
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].nlri.len(), 1);
        c.families = vec![Family::Ipv6Unicast];
        assert!(updates(&c, &set(&["203.0.113.53/32"], RouteAttrs::default()), &[]).is_empty());
    }

    #[test]
    fn ten_thousand_prefixes_pack_into_full_messages_that_decode() {
        let attrs = Arc::new(RouteAttrs::default());
        let mut routes = RouteSet::new();
        for i in 0..10_000u32 {
            let a = Ipv4Addr::from(0xc633_0000 + i); // 198.51.x.y
            routes.insert(
                IpNet::V4(ipnet::Ipv4Net::new(a, 32).unwrap()),
                attrs.clone(),
            );
            let b: Ipv6Addr = format!("2001:db8::{i:x}").parse().unwrap();
            routes.insert(
                IpNet::V6(ipnet::Ipv6Net::new(b, 128).unwrap()),
                attrs.clone(),
            );
        }
        let c = ctx(false);
        let u = updates(&c, &routes, &[]);
        let mut seen = 0;
        for update in &u {
            let bytes = Message::Update(update.clone()).encode(c.codec);
            assert!(bytes.len() <= MAX_MESSAGE_LEN, "{}", bytes.len());
            let Ok(Message::Update(back)) = decode(&bytes, c.codec) else {
                panic!("does not decode")
            };
            seen += back.nlri.len();
            for a in &back.attributes {
                if let PathAttribute::MpReach { nlri, .. } = a {
                    seen += nlri.len();
                }
            }
        }
        assert_eq!(seen, 20_000);
        // Nearly full messages: 4077-byte bodies hold ~800 /32s or ~230 /128s.
        assert!(u.len() < 13 + 46, "{}", u.len());
    }

    #[test]
    fn diff_reannounces_changed_attributes() {
        let old = set(&["203.0.113.1/32", "203.0.113.2/32"], RouteAttrs::default());
        let mut new = set(&["203.0.113.2/32", "203.0.113.3/32"], RouteAttrs::default());
        new.insert(
            net("203.0.113.2/32"),
            Arc::new(RouteAttrs::default().draining(&DrainAttrs::default())),
        );
        let (announce, withdraw) = diff(&old, &new);
        assert_eq!(
            announce.keys().copied().collect::<Vec<_>>(),
            vec![net("203.0.113.2/32"), net("203.0.113.3/32")]
        );
        assert_eq!(withdraw, vec![net("203.0.113.1/32")]);
        assert!(
            announce[&net("203.0.113.2/32")]
                .communities
                .contains(&GRACEFUL_SHUTDOWN)
        );
    }

    #[test]
    fn draining_adds_graceful_shutdown_and_the_drain_attributes() {
        let own = RouteAttrs {
            communities: vec![(65000 << 16) | 100],
            large_communities: vec![[65000, 1, 1]],
            med: Some(100),
            prepend: 1,
        };
        // Without drain attributes: only 65535:0.
        assert_eq!(
            own.draining(&DrainAttrs::default()),
            RouteAttrs {
                communities: vec![(65000 << 16) | 100, GRACEFUL_SHUTDOWN],
                ..own.clone()
            }
        );
        let drain = DrainAttrs {
            communities: vec![(65000 << 16) | 666, (65000 << 16) | 100],
            large_communities: vec![[65000, 9, 9]],
            med: Some(1000),
            prepend: Some(3),
        };
        let drained = own.draining(&drain);
        assert_eq!(
            drained,
            RouteAttrs {
                communities: vec![(65000 << 16) | 100, (65000 << 16) | 666, GRACEFUL_SHUTDOWN],
                large_communities: vec![[65000, 1, 1], [65000, 9, 9]],
                med: Some(1000),
                prepend: 3,
            }
        );
        // On the wire (eBGP): four copies of the AS, MED 1000, both communities.
        let u = updates(&ctx(false), &set(&["203.0.113.53/32"], drained), &[]);
        let body = u[0].encode_body(Codec {
            four_octet_as: true,
        });
        #[rustfmt::skip]
        let path_med_communities: &[u8] = &[
            0x40, 2, 18, 2, 4, 0, 0, 0xfd, 0xe9, 0, 0, 0xfd, 0xe9, 0, 0, 0xfd, 0xe9, 0, 0, 0xfd, 0xe9,
            0x40, 3, 4, 192, 0, 2, 1,
            0x80, 4, 4, 0, 0, 0x03, 0xe8,
            0xc0, 8, 12, 0xfd, 0xe8, 0, 100, 0xfd, 0xe8, 0x02, 0x9a, 0xff, 0xff, 0, 0,
        ];
        assert!(
            body.windows(path_med_communities.len())
                .any(|w| w == path_med_communities),
            "{body:02x?}"
        );
        // A drain without a MED keeps the service's.
        let keep = own.draining(&DrainAttrs {
            prepend: Some(0),
            ..DrainAttrs::default()
        });
        assert_eq!((keep.med, keep.prepend), (Some(100), 0));
    }

    /// RFC 8950: with extended next hop negotiated, IPv4 routes go in MP_REACH_NLRI
    /// (AFI 1, SAFI 1) with the 16-octet IPv6 next hop and no NEXT_HOP attribute.
    #[test]
    fn ipv4_routes_carry_the_ipv6_next_hop_when_extended_next_hop_was_negotiated() {
        let mut c = ctx(false);
        c.next_hop_v4 = None; // an IPv6 session: no IPv4 address of its own
        assert!(!c.can_send(Family::Ipv4Unicast));
        c.ipv4_over_ipv6 = true;
        assert!(c.can_send(Family::Ipv4Unicast));
        let u = updates(&c, &set(&["203.0.113.53/32"], RouteAttrs::default()), &[]);
        assert_eq!(u.len(), 1);
        let body = u[0].encode_body(c.codec);
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[0, 0, 0, 42][..],
            &[0x40, 1, 1, 0],
            &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9],
            &[0x80, 14, 26, 0, 1, 1, 16],
            &"2001:db8:1::1".parse::<Ipv6Addr>().unwrap().octets(),
            &[0, 32, 203, 0, 113, 53],
        ].concat();
        assert_eq!(body, expected);
        // It decodes back; the withdrawal stays in the plain IPv4 field.
        assert_eq!(Update::decode_body(&body, c.codec), Ok(u[0].clone()));
        let w = updates(&c, &RouteSet::new(), &[net("203.0.113.53/32")]);
        assert_eq!(w[0].withdrawn, vec!["203.0.113.53/32".parse().unwrap()]);
        // An IPv4 next hop as well: still the IPv6 one while negotiated; the IPv4 one
        // when the peer did not agree.
        c.next_hop_v4 = Some(Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(c.v4_via_v6(), c.next_hop_v6);
        c.ipv4_over_ipv6 = false;
        let u = updates(&c, &set(&["203.0.113.53/32"], RouteAttrs::default()), &[]);
        assert!(
            u[0].attributes
                .contains(&PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)))
        );
    }

    /// RFC 2545 §3: with a link-local next hop configured, the MP_REACH_NLRI next hop is
    /// 32 octets, global first.
    #[test]
    fn a_link_local_next_hop_follows_the_global_one() {
        let mut c = ctx(false);
        c.next_hop_v6_link_local = Some("fe80::1".parse().unwrap());
        let u = updates(&c, &set(&["2001:db8::53/128"], RouteAttrs::default()), &[]);
        let body = u[0].encode_body(c.codec);
        #[rustfmt::skip]
        let mp: Vec<u8> = [
            &[0x80, 14, 54, 0, 2, 1, 32][..],
            &"2001:db8:1::1".parse::<Ipv6Addr>().unwrap().octets(),
            &"fe80::1".parse::<Ipv6Addr>().unwrap().octets(),
            &[0, 128],
            &"2001:db8::53".parse::<Ipv6Addr>().unwrap().octets(),
        ].concat();
        assert!(body.ends_with(&mp), "{body:02x?}");
        assert_eq!(Update::decode_body(&body, c.codec), Ok(u[0].clone()));
        // IPv4 over IPv6 (RFC 8950) takes the same 32 octets.
        c.ipv4_over_ipv6 = true;
        let u = updates(&c, &set(&["203.0.113.53/32"], RouteAttrs::default()), &[]);
        assert!(u[0].attributes.iter().any(
            |a| matches!(a, PathAttribute::MpReach { afi: 1, next_hop, .. } if next_hop.len() == 32)
        ));
    }

    #[test]
    fn two_octet_peers_get_as4_path_for_a_four_octet_as() {
        let mut c = ctx(false);
        c.local_as = 4_200_000_001;
        c.codec.four_octet_as = false;
        let u = updates(&c, &set(&["203.0.113.53/32"], RouteAttrs::default()), &[]);
        assert!(
            u[0].attributes
                .contains(&PathAttribute::As4Path(vec![AsSegment::Sequence(vec![
                    4_200_000_001
                ])]))
        );
    }

    #[test]
    fn next_hop_self_is_the_session_address_of_its_family() {
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8:1::1".parse().unwrap();
        assert_eq!(
            next_hops(v4, None, None),
            (Some(Ipv4Addr::new(192, 0, 2, 1)), None)
        );
        assert_eq!(
            next_hops(mapped, None, None).0,
            Some(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            next_hops(v6, None, None),
            (None, Some("2001:db8:1::1".parse().unwrap()))
        );
        let explicit: Ipv6Addr = "2001:db8:1::9".parse().unwrap();
        assert_eq!(next_hops(v4, None, Some(explicit)).1, Some(explicit));
    }
}
