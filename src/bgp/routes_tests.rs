//! Tests of `routes`.
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
