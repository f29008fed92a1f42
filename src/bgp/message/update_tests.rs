//! Tests of `update`.
use super::*;
use crate::bgp::message::{Message, decode};

const FOUR: Codec = Codec {
    four_octet_as: true,
};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn v4(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn header(len: u16) -> Vec<u8> {
    let mut h = vec![0xff; 16];
    h.extend_from_slice(&len.to_be_bytes());
    h.push(2);
    h
}

#[test]
fn ipv4_announcement_is_byte_exact() {
    let update = Update {
        withdrawn: vec![],
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![65001, 65001])]),
            PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
            PathAttribute::Med(100),
            PathAttribute::Communities(vec![(65000 << 16) | 100, GRACEFUL_SHUTDOWN]),
            PathAttribute::LargeCommunities(vec![[65000, 1, 1]]),
        ],
        nlri: vec![v4("203.0.113.53/32"), v4("198.51.100.0/24")],
        errors: vec![],
    };
    let bytes = Message::Update(update.clone()).encode(FOUR);
    let mut expected = header(89);
    #[rustfmt::skip]
    expected.extend_from_slice(&[
        0, 0, // no withdrawn routes
        0, 57, // path attributes
        0x40, 1, 1, 0, // ORIGIN IGP
        0x40, 2, 10, 2, 2, 0, 0, 0xfd, 0xe9, 0, 0, 0xfd, 0xe9, // AS_PATH 65001 65001
        0x40, 3, 4, 192, 0, 2, 1, // NEXT_HOP
        0x80, 4, 4, 0, 0, 0, 100, // MED 100
        0xc0, 8, 8, 0xfd, 0xe8, 0, 100, 0xff, 0xff, 0, 0, // 65000:100 65535:0
        0xc0, 32, 12, 0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 0, 0, 1, // 65000:1:1
        32, 203, 0, 113, 53, 24, 198, 51, 100, // NLRI
    ]);
    assert_eq!(bytes, expected);
    assert_eq!(decode(&bytes, FOUR), Ok(Message::Update(update)));
}

#[test]
fn ipv6_goes_in_mp_reach_and_mp_unreach() {
    let next_hop = "2001:db8:1::1"
        .parse::<Ipv6Addr>()
        .unwrap()
        .octets()
        .to_vec();
    let update = Update {
        attributes: vec![
            PathAttribute::Origin(Origin::Igp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(vec![4_200_000_001])]),
            PathAttribute::MpReach {
                afi: AFI_IPV6,
                safi: 1,
                next_hop: next_hop.clone(),
                nlri: vec![net("2001:db8::53/128"), net("2001:db8:100::/48")],
            },
        ],
        ..Update::default()
    };
    let body = update.encode_body(FOUR);
    #[rustfmt::skip]
    let mp: Vec<u8> = [
        &[0x80, 14, 45, 0, 2, 1, 16][..], &next_hop, &[0],
        &[128], &"2001:db8::53".parse::<Ipv6Addr>().unwrap().octets(),
        &[48, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00],
    ].concat();
    assert!(body.ends_with(&mp), "{body:02x?}");
    assert_eq!(Update::decode_body(&body, FOUR), Ok(update));

    let withdraw = Update {
        attributes: vec![PathAttribute::MpUnreach {
            afi: AFI_IPV6,
            safi: 1,
            withdrawn: vec![net("2001:db8::53/128")],
        }],
        ..Update::default()
    };
    let body = withdraw.encode_body(FOUR);
    assert_eq!(&body[..4], &[0, 0, 0, 23]);
    assert_eq!(&body[4..10], &[0x80, 15, 20, 0, 2, 1]);
    assert_eq!(Update::decode_body(&body, FOUR), Ok(withdraw));
}

#[test]
fn two_octet_sessions_carry_as_trans_and_as4_path() {
    let path = vec![AsSegment::Sequence(vec![4_200_000_001, 65001])];
    let mut out = Vec::new();
    PathAttribute::AsPath(path.clone()).encode(Codec::default(), &mut out);
    assert_eq!(out, [0x40, 2, 6, 2, 2, 0x5b, 0xa0, 0xfd, 0xe9]);
    let decoded = Update::decode_body(
        &Update {
            attributes: vec![PathAttribute::AsPath(path)],
            ..Update::default()
        }
        .encode_body(Codec::default()),
        Codec::default(),
    )
    .unwrap();
    assert_eq!(
        decoded.attributes,
        vec![PathAttribute::AsPath(vec![AsSegment::Sequence(vec![
            23456, 65001
        ])])]
    );
}

#[test]
fn end_of_rib_markers() {
    let v4 = Message::Update(Update::end_of_rib(AFI_IPV4, 1)).encode(FOUR);
    let mut expected = header(23);
    expected.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(v4, expected);
    let v6 = Message::Update(Update::end_of_rib(AFI_IPV6, 1)).encode(FOUR);
    let mut expected = header(29);
    expected.extend_from_slice(&[0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1]);
    assert_eq!(v6, expected);
    for bytes in [v4, v6] {
        let Ok(Message::Update(u)) = decode(&bytes, FOUR) else {
            panic!()
        };
        assert!(u.is_end_of_rib().is_some());
    }
}

#[test]
fn long_attributes_use_the_extended_length() {
    let cs: Vec<u32> = (0..100).collect();
    let mut out = Vec::new();
    PathAttribute::Communities(cs.clone()).encode(FOUR, &mut out);
    assert_eq!(&out[..4], &[0xd0, 8, 1, 144]);
    let update = Update {
        attributes: vec![PathAttribute::Communities(cs)],
        ..Update::default()
    };
    assert_eq!(
        Update::decode_body(&update.encode_body(FOUR), FOUR),
        Ok(update)
    );
}

/// A body with the given attribute bytes and one IPv4 prefix of NLRI.
fn with_attrs(attrs: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0];
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(&[24, 198, 51, 100]);
    b
}

const ORIGIN: [u8; 4] = [0x40, 1, 1, 0];
const AS_PATH: [u8; 7] = [0x40, 2, 4, 2, 1, 0xfd, 0xe8];
const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 192, 0, 2, 2];

fn err(sub: u8, data: &[u8]) -> Result<Update, Notification> {
    Err(Notification::new(3, sub, data.to_vec()))
}

/// What a treat-as-withdraw of [`with_attrs`] decodes to: its one prefix withdrawn.
fn withdrawal(attribute: u8, sub: u8, data: &[u8]) -> Result<Update, Notification> {
    Ok(Update {
        withdrawn: vec![v4("198.51.100.0/24")],
        errors: vec![AttributeError {
            revision: Revision::TreatAsWithdraw,
            attribute,
            rfc4271: Notification::new(3, sub, data.to_vec()),
        }],
        ..Update::default()
    })
}

/// RFC 7606 §4, §5.3, §3 (g), §7.11: the routes cannot be located, or two MP
/// attributes of a kind; RFC 4271 §6.3 for an unrecognised well-known attribute.
#[test]
fn errors_that_hide_the_routes_reset_the_session() {
    let ok = [&ORIGIN[..], &AS_PATH, &NEXT_HOP].concat();
    let two = Codec::default();
    assert!(Update::decode_body(&with_attrs(&ok), two).is_ok());
    // Withdrawn routes length runs past the message.
    assert_eq!(Update::decode_body(&[0, 9, 0, 0], two), err(1, &[]));
    // Attribute list length runs past the message.
    assert_eq!(Update::decode_body(&[0, 0, 0, 9, 0], two), err(1, &[]));
    // An unknown well-known attribute.
    let unknown = [&ok[..], &[0x40, 99, 0]].concat();
    assert_eq!(
        Update::decode_body(&with_attrs(&unknown), two),
        err(2, &[0x40, 99, 0])
    );
    // A /33 in the NLRI, and in the withdrawn routes.
    let mut b = with_attrs(&ok);
    let n = b.len();
    b[n - 4] = 33;
    assert_eq!(Update::decode_body(&b, two), err(10, &[]));
    assert_eq!(Update::decode_body(&[0, 2, 33, 1, 0, 0], two), err(10, &[]));
    // MP_REACH with a next hop of 3 octets: where its NLRI starts is unknown.
    let bad_mp = [
        &ORIGIN[..],
        &AS_PATH,
        &[0x80, 14, 8, 0, 2, 1, 3, 1, 2, 3, 0],
    ]
    .concat();
    assert_eq!(
        Update::decode_body(&[&[0, 0, 0, bad_mp.len() as u8][..], &bad_mp].concat(), two),
        err(9, &[0x80, 14, 8, 0, 2, 1, 3, 1, 2, 3, 0])
    );
    // MP_REACH too short for its AFI/SAFI, and with a /129 in its NLRI.
    let short_mp = [0x80, 14, 2, 0, 2];
    assert_eq!(
        Update::decode_body(&[&[0, 0, 0, 5][..], &short_mp].concat(), two),
        err(9, &short_mp)
    );
    #[rustfmt::skip]
    let long_prefix: Vec<u8> = [
        &ORIGIN[..], &AS_PATH,
        &[0x80, 14, 22, 0, 2, 1, 16, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 129],
    ].concat();
    assert_eq!(
        Update::decode_body(
            &[&[0, 0, 0, long_prefix.len() as u8][..], &long_prefix].concat(),
            two
        ),
        err(9, &long_prefix[11..])
    );
    // MP_UNREACH with an unparseable prefix.
    let bad_unreach = [0x80, 15, 5, 0, 2, 1, 64, 0x20];
    assert_eq!(
        Update::decode_body(&[&[0, 0, 0, 8][..], &bad_unreach].concat(), two),
        err(9, &bad_unreach)
    );
    // MP_UNREACH twice.
    let twice = [0x80, 15, 3, 0, 2, 1, 0x80, 15, 3, 0, 1, 1];
    assert_eq!(
        Update::decode_body(&[&[0, 0, 0, 12][..], &twice].concat(), two),
        err(1, &[])
    );
    // The attribute list is cut short and no route is in sight (an MP_REACH_NLRI
    // could follow the cut).
    assert_eq!(
        Update::decode_body(&[0, 0, 0, 3, 0x80, 4, 9], two),
        err(5, &[0x80, 4, 9])
    );
    assert_eq!(
        Update::decode_body(&[0, 0, 0, 2, 0x80, 4], two),
        err(1, &[])
    );
}

/// RFC 7606 §7: attributes that take part in route selection void the routes,
/// the session stays.
#[test]
fn malformed_route_attributes_are_treated_as_withdraw() {
    let two = Codec::default();
    let cases: Vec<(&str, Vec<u8>, Result<Update, Notification>)> = vec![
        (
            "missing NEXT_HOP",
            [&ORIGIN[..], &AS_PATH].concat(),
            withdrawal(3, 3, &[3]),
        ),
        (
            "missing ORIGIN",
            [&AS_PATH[..], &NEXT_HOP].concat(),
            withdrawal(1, 3, &[1]),
        ),
        (
            "ORIGIN 7",
            [&[0x40, 1, 1, 7][..], &AS_PATH, &NEXT_HOP].concat(),
            withdrawal(1, 6, &[0x40, 1, 1, 7]),
        ),
        (
            "ORIGIN of 2 octets",
            [&[0x40, 1, 2, 0, 0][..], &AS_PATH, &NEXT_HOP].concat(),
            withdrawal(1, 5, &[0x40, 1, 2, 0, 0]),
        ),
        (
            "ORIGIN marked optional",
            [&[0xc0, 1, 1, 0][..], &AS_PATH, &NEXT_HOP].concat(),
            withdrawal(1, 4, &[0xc0, 1, 1, 0]),
        ),
        (
            "AS_PATH segment claims 3 AS numbers, holds 1",
            [&ORIGIN[..], &[0x40, 2, 4, 2, 3, 0xfd, 0xe8], &NEXT_HOP].concat(),
            withdrawal(2, 11, &[]),
        ),
        (
            "NEXT_HOP of 3 octets",
            [&ORIGIN[..], &AS_PATH, &[0x40, 3, 3, 192, 0, 2]].concat(),
            withdrawal(3, 5, &[0x40, 3, 3, 192, 0, 2]),
        ),
        (
            "NEXT_HOP 0.0.0.0",
            [&ORIGIN[..], &AS_PATH, &[0x40, 3, 4, 0, 0, 0, 0]].concat(),
            withdrawal(3, 8, &[0x40, 3, 4, 0, 0, 0, 0]),
        ),
        (
            "MED of 2 octets",
            [&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x80, 4, 2, 0, 1]].concat(),
            withdrawal(4, 5, &[0x80, 4, 2, 0, 1]),
        ),
        (
            "LOCAL_PREF of 5 octets",
            [
                &ORIGIN[..],
                &AS_PATH,
                &NEXT_HOP,
                &[0x40, 5, 5, 0, 0, 0, 100, 0],
            ]
            .concat(),
            withdrawal(5, 5, &[0x40, 5, 5, 0, 0, 0, 100, 0]),
        ),
        (
            "COMMUNITIES of 5 octets",
            [
                &ORIGIN[..],
                &AS_PATH,
                &NEXT_HOP,
                &[0xc0, 8, 5, 0, 0, 0, 0, 0],
            ]
            .concat(),
            withdrawal(8, 5, &[0xc0, 8, 5, 0, 0, 0, 0, 0]),
        ),
        (
            "COMMUNITIES empty",
            [&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0xc0, 8, 0]].concat(),
            withdrawal(8, 5, &[0xc0, 8, 0]),
        ),
        (
            "LARGE_COMMUNITY of 8 octets",
            [
                &ORIGIN[..],
                &AS_PATH,
                &NEXT_HOP,
                &[0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2],
            ]
            .concat(),
            withdrawal(32, 5, &[0xc0, 32, 8, 0, 0, 0, 1, 0, 0, 0, 2]),
        ),
        (
            "ORIGINATOR_ID of 3 octets",
            [&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x80, 9, 3, 192, 0, 2]].concat(),
            withdrawal(9, 5, &[0x80, 9, 3, 192, 0, 2]),
        ),
        (
            "CLUSTER_LIST of 2 octets",
            [&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x80, 10, 2, 0, 1]].concat(),
            withdrawal(10, 5, &[0x80, 10, 2, 0, 1]),
        ),
        (
            "attribute length past the end of the list",
            [&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x80, 4, 9, 0]].concat(),
            withdrawal(4, 5, &[0x80, 4, 9, 0]),
        ),
        (
            "two octets left, too few for an attribute header",
            [&ORIGIN[..], &AS_PATH, &NEXT_HOP, &[0x80, 4]].concat(),
            withdrawal(0, 1, &[]),
        ),
    ];
    for (what, attrs, expected) in cases {
        assert_eq!(
            Update::decode_body(&with_attrs(&attrs), two),
            expected,
            "{what}"
        );
    }
}

/// An MP_REACH_NLRI whose routes can be read: they are withdrawn, with the IPv4
/// NLRI field's and the MP_UNREACH_NLRI's.
#[test]
fn mp_reach_errors_that_leave_the_routes_readable_withdraw_them() {
    let two = Codec::default();
    let nh: [u8; 16] = "2001:db8:1::1".parse::<Ipv6Addr>().unwrap().octets();
    let prefix = [48, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00];
    let mp = |flags: u8, next_hop: &[u8]| -> Vec<u8> {
        let mut v = vec![
            flags,
            14,
            (5 + next_hop.len() + prefix.len()) as u8,
            0,
            2,
            1,
        ];
        v.push(next_hop.len() as u8);
        v.extend_from_slice(next_hop);
        v.push(0);
        v.extend_from_slice(&prefix);
        v
    };
    let expected = |sub: u8, data: Vec<u8>| Update {
        withdrawn: vec![v4("198.51.100.0/24")],
        attributes: vec![PathAttribute::MpUnreach {
            afi: AFI_IPV6,
            safi: 1,
            withdrawn: vec![net("2001:db8:100::/48"), net("2001:db8::/32")],
        }],
        errors: vec![AttributeError {
            revision: Revision::TreatAsWithdraw,
            attribute: 14,
            rfc4271: Notification::new(3, sub, data),
        }],
        ..Update::default()
    };
    let unreach = [0x80, 15, 8, 0, 2, 1, 32, 0x20, 0x01, 0x0d, 0xb8];
    for (what, bad_mp, sub) in [
        ("MP_REACH_NLRI marked transitive", mp(0xc0, &nh), 4),
        ("MP_REACH_NLRI next hop ::", mp(0x80, &[0; 16]), 8),
        (
            "MP_REACH_NLRI next hop ff02::1",
            mp(0x80, &{
                let mut m = [0u8; 16];
                m[0] = 0xff;
                m[1] = 2;
                m[15] = 1;
                m
            }),
            8,
        ),
    ] {
        let attrs = [&ORIGIN[..], &AS_PATH, &NEXT_HOP, &bad_mp, &unreach].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&attrs), two),
            Ok(expected(sub, bad_mp.clone())),
            "{what}"
        );
    }
    // The withdrawal encodes to what it says: one IPv4 prefix withdrawn, two IPv6
    // ones in MP_UNREACH_NLRI.
    #[rustfmt::skip]
    assert_eq!(
        expected(8, vec![]).encode_body(two),
        vec![
            0, 4, 24, 198, 51, 100,
            0, 18, 0x80, 15, 15, 0, 2, 1,
            48, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00,
            32, 0x20, 0x01, 0x0d, 0xb8,
        ]
    );
    // Cut short after the MP_REACH_NLRI: its routes are known, so they go.
    let cut = [&ORIGIN[..], &AS_PATH, &mp(0x80, &nh), &[0xc0, 8, 200, 0]].concat();
    let body = [&[0, 0, 0, cut.len() as u8][..], &cut].concat();
    assert_eq!(
        Update::decode_body(&body, two),
        Ok(Update {
            attributes: vec![PathAttribute::MpUnreach {
                afi: AFI_IPV6,
                safi: 1,
                withdrawn: vec![net("2001:db8:100::/48")],
            }],
            errors: vec![AttributeError {
                revision: Revision::TreatAsWithdraw,
                attribute: 8,
                rfc4271: Notification::new(3, 5, vec![0xc0, 8, 200, 0]),
            }],
            ..Update::default()
        })
    );
}

/// RFC 7606 §7.6, §7.7, RFC 6793 §6, RFC 7606 §3 (g): dropped, the routes stand.
#[test]
fn attributes_outside_route_selection_are_discarded() {
    let ok = [&ORIGIN[..], &AS_PATH, &NEXT_HOP].concat();
    let two = Codec::default();
    let good = Update::decode_body(&with_attrs(&ok), two).unwrap();
    for (what, extra, code_, sub) in [
        ("ATOMIC_AGGREGATE of 1 octet", vec![0x40, 6, 1, 0], 6, 5),
        ("ATOMIC_AGGREGATE marked optional", vec![0xc0, 6, 0], 6, 4),
        (
            "AGGREGATOR of 5 octets",
            vec![0xc0, 7, 5, 0xfd, 0xe8, 192, 0, 2],
            7,
            5,
        ),
        (
            "AS4_PATH with an empty segment",
            vec![0xc0, 17, 2, 2, 0],
            17,
            9,
        ),
        (
            "AS4_AGGREGATOR of 6 octets",
            vec![0xc0, 18, 6, 0, 0, 0xfd, 0xe8, 192, 0],
            18,
            5,
        ),
        ("ORIGIN again", ORIGIN.to_vec(), 1, 1),
    ] {
        let attrs = [&ok[..], &extra].concat();
        let data = if sub == 1 { vec![] } else { extra.clone() };
        assert_eq!(
            Update::decode_body(&with_attrs(&attrs), two),
            Ok(Update {
                errors: vec![AttributeError {
                    revision: Revision::AttributeDiscard,
                    attribute: code_,
                    rfc4271: Notification::new(3, sub, data),
                }],
                ..good.clone()
            }),
            "{what}"
        );
    }
    // An unknown optional attribute is no error at all.
    let optional = [&ok[..], &[0xc0, 99, 1, 5]].concat();
    let u = Update::decode_body(&with_attrs(&optional), two).unwrap();
    assert!(u.errors.is_empty() && u.revision().is_none());
    // Discard and withdraw in one UPDATE: the withdrawal wins.
    let both = [&ok[..], &[0x40, 6, 1, 0], &[0x80, 4, 2, 0, 1]].concat();
    let u = Update::decode_body(&with_attrs(&both), two).unwrap();
    assert_eq!(u.revision(), Some(Revision::TreatAsWithdraw));
    assert_eq!(u.errors.len(), 2);
    assert!(u.nlri.is_empty() && u.attributes.is_empty());
    assert!(u.is_end_of_rib().is_none());
}

#[test]
fn prefix_lengths_cover_only_their_octets() {
    let mut out = Vec::new();
    encode_prefix(&net("0.0.0.0/0"), &mut out);
    encode_prefix(&net("10.0.0.0/9"), &mut out);
    assert_eq!(out, [0, 9, 10, 0]);
    assert_eq!(prefix_wire_len(&net("2001:db8::/33")), 6);
}

/// Random well-formed UPDATEs (deterministic xorshift) encode and decode back to
/// themselves, with both AS number widths.
#[test]
fn random_updates_round_trip() {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..500 {
        let four = round % 2 == 0;
        let codec = Codec {
            four_octet_as: four,
        };
        let n4 = (next() % 20) as usize;
        let nlri: Vec<Ipv4Net> = (0..n4)
            .map(|_| {
                Ipv4Net::new(Ipv4Addr::from(next() as u32), (next() % 33) as u8)
                    .unwrap()
                    .trunc()
            })
            .collect();
        let withdrawn: Vec<Ipv4Net> = (0..(next() % 5))
            .map(|_| Ipv4Net::new(Ipv4Addr::from(next() as u32), 32).unwrap())
            .collect();
        let asn = |v: u64| if four { v as u32 } else { (v as u16) as u32 };
        let mut attributes = vec![
            PathAttribute::Origin(Origin::Egp),
            PathAttribute::AsPath(vec![AsSegment::Sequence(
                (0..1 + next() % 4).map(|_| asn(next())).collect(),
            )]),
            PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1 + (next() % 200) as u8)),
        ];
        if next() % 2 == 0 {
            attributes.push(PathAttribute::Med(next() as u32));
        }
        if next() % 2 == 0 {
            attributes.push(PathAttribute::Communities(
                (0..1 + next() % 70).map(|_| next() as u32).collect(),
            ));
        }
        if next() % 2 == 0 {
            attributes.push(PathAttribute::LargeCommunities(
                (0..1 + next() % 3)
                    .map(|_| [next() as u32, next() as u32, next() as u32])
                    .collect(),
            ));
        }
        if next() % 2 == 0 {
            let v6: Vec<IpNet> = (0..1 + next() % 10)
                .map(|_| {
                    let a = Ipv6Addr::from(((next() as u128) << 64) | next() as u128);
                    IpNet::V6(Ipv6Net::new(a, (next() % 129) as u8).unwrap().trunc())
                })
                .collect();
            attributes.push(PathAttribute::MpReach {
                afi: AFI_IPV6,
                safi: 1,
                next_hop: "2001:db8:1::1"
                    .parse::<Ipv6Addr>()
                    .unwrap()
                    .octets()
                    .to_vec(),
                nlri: v6,
            });
        }
        let update = Update {
            withdrawn,
            attributes,
            nlri,
            errors: vec![],
        };
        let bytes = Message::Update(update.clone()).encode(codec);
        assert_eq!(
            decode(&bytes, codec),
            Ok(Message::Update(update)),
            "round {round}"
        );
    }
}
