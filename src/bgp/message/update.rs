//! UPDATE (RFC 4271 §4.3) with the path attributes the speaker sends or must recognise:
//! ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, COMMUNITIES
//! (RFC 1997), MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760), AS4_PATH (RFC 6793) and
//! LARGE_COMMUNITY (RFC 8092).
//!
//! Decoding follows RFC 4271 §6.3: a malformed UPDATE yields the NOTIFICATION to send.
//! The speaker is announce-only, so a well-formed UPDATE is decoded and dropped.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::notification::{code, update_error};
use super::open::AS_TRANS;
use super::{AFI_IPV4, AFI_IPV6, Codec, Notification, Reader, SAFI_UNICAST};

/// Attribute flag bits.
pub mod flag {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes.
pub mod attr {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MED: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITY: u8 = 32;
}

/// The GRACEFUL_SHUTDOWN well-known community 65535:0 (RFC 8326).
pub const GRACEFUL_SHUTDOWN: u32 = 0xffff_0000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    Igp = 0,
    Egp = 1,
    Incomplete = 2,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AsSegment {
    Set(Vec<u32>),
    Sequence(Vec<u32>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathAttribute {
    Origin(Origin),
    AsPath(Vec<AsSegment>),
    NextHop(Ipv4Addr),
    Med(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator {
        asn: u32,
        address: Ipv4Addr,
    },
    Communities(Vec<u32>),
    /// Next hop as sent (4, 16 or 32 octets for the unicast families); NLRI decoded only
    /// for IPv4 and IPv6 unicast.
    MpReach {
        afi: u16,
        safi: u8,
        next_hop: Vec<u8>,
        nlri: Vec<IpNet>,
    },
    MpUnreach {
        afi: u16,
        safi: u8,
        withdrawn: Vec<IpNet>,
    },
    As4Path(Vec<AsSegment>),
    LargeCommunities(Vec<[u32; 3]>),
    /// Any other attribute, kept as sent.
    Other {
        flags: u8,
        code: u8,
        data: Vec<u8>,
    },
}

impl PathAttribute {
    pub fn code(&self) -> u8 {
        match self {
            PathAttribute::Origin(_) => attr::ORIGIN,
            PathAttribute::AsPath(_) => attr::AS_PATH,
            PathAttribute::NextHop(_) => attr::NEXT_HOP,
            PathAttribute::Med(_) => attr::MED,
            PathAttribute::LocalPref(_) => attr::LOCAL_PREF,
            PathAttribute::AtomicAggregate => attr::ATOMIC_AGGREGATE,
            PathAttribute::Aggregator { .. } => attr::AGGREGATOR,
            PathAttribute::Communities(_) => attr::COMMUNITIES,
            PathAttribute::MpReach { .. } => attr::MP_REACH_NLRI,
            PathAttribute::MpUnreach { .. } => attr::MP_UNREACH_NLRI,
            PathAttribute::As4Path(_) => attr::AS4_PATH,
            PathAttribute::LargeCommunities(_) => attr::LARGE_COMMUNITY,
            PathAttribute::Other { code, .. } => *code,
        }
    }

    /// The flags RFC 4271 §5 requires for a known type (optional / transitive bits).
    fn required_flags(code_: u8) -> Option<u8> {
        use flag::{OPTIONAL, TRANSITIVE};
        match code_ {
            attr::ORIGIN
            | attr::AS_PATH
            | attr::NEXT_HOP
            | attr::LOCAL_PREF
            | attr::ATOMIC_AGGREGATE => Some(TRANSITIVE),
            attr::MED | attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI => Some(OPTIONAL),
            attr::AGGREGATOR
            | attr::COMMUNITIES
            | attr::AS4_PATH
            | attr::AS4_AGGREGATOR
            | attr::LARGE_COMMUNITY => Some(OPTIONAL | TRANSITIVE),
            _ => None,
        }
    }

    fn encode(&self, codec: Codec, out: &mut Vec<u8>) {
        let mut v = Vec::new();
        let flags = match self {
            PathAttribute::Origin(o) => {
                v.push(*o as u8);
                flag::TRANSITIVE
            }
            PathAttribute::AsPath(segments) => {
                encode_segments(segments, codec.four_octet_as, &mut v);
                flag::TRANSITIVE
            }
            PathAttribute::NextHop(a) => {
                v.extend_from_slice(&a.octets());
                flag::TRANSITIVE
            }
            PathAttribute::Med(m) => {
                v.extend_from_slice(&m.to_be_bytes());
                flag::OPTIONAL
            }
            PathAttribute::LocalPref(p) => {
                v.extend_from_slice(&p.to_be_bytes());
                flag::TRANSITIVE
            }
            PathAttribute::AtomicAggregate => flag::TRANSITIVE,
            PathAttribute::Aggregator { asn, address } => {
                if codec.four_octet_as {
                    v.extend_from_slice(&asn.to_be_bytes());
                } else {
                    v.extend_from_slice(&u16::try_from(*asn).unwrap_or(AS_TRANS).to_be_bytes());
                }
                v.extend_from_slice(&address.octets());
                flag::OPTIONAL | flag::TRANSITIVE
            }
            PathAttribute::Communities(cs) => {
                for c in cs {
                    v.extend_from_slice(&c.to_be_bytes());
                }
                flag::OPTIONAL | flag::TRANSITIVE
            }
            PathAttribute::MpReach {
                afi,
                safi,
                next_hop,
                nlri,
            } => {
                v.extend_from_slice(&afi.to_be_bytes());
                v.push(*safi);
                v.push(next_hop.len() as u8);
                v.extend_from_slice(next_hop);
                v.push(0); // reserved
                for p in nlri {
                    encode_prefix(p, &mut v);
                }
                flag::OPTIONAL
            }
            PathAttribute::MpUnreach {
                afi,
                safi,
                withdrawn,
            } => {
                v.extend_from_slice(&afi.to_be_bytes());
                v.push(*safi);
                for p in withdrawn {
                    encode_prefix(p, &mut v);
                }
                flag::OPTIONAL
            }
            PathAttribute::As4Path(segments) => {
                encode_segments(segments, true, &mut v);
                flag::OPTIONAL | flag::TRANSITIVE
            }
            PathAttribute::LargeCommunities(cs) => {
                for c in cs {
                    for part in c {
                        v.extend_from_slice(&part.to_be_bytes());
                    }
                }
                flag::OPTIONAL | flag::TRANSITIVE
            }
            PathAttribute::Other { flags, data, .. } => {
                v.extend_from_slice(data);
                *flags & !flag::EXTENDED_LENGTH
            }
        };
        if v.len() > 255 {
            out.push(flags | flag::EXTENDED_LENGTH);
            out.push(self.code());
            out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        } else {
            out.push(flags);
            out.push(self.code());
            out.push(v.len() as u8);
        }
        out.extend_from_slice(&v);
    }

    /// Decodes one attribute's value; `whole` is the attribute as sent (flags, type,
    /// length, value), the data of most UPDATE error NOTIFICATIONs.
    fn decode(
        flags: u8,
        code_: u8,
        value: &[u8],
        whole: &[u8],
        codec: Codec,
    ) -> Result<Self, Notification> {
        let err = |sub: u8| Notification::new(code::UPDATE, sub, whole.to_vec());
        if let Some(required) = Self::required_flags(code_)
            && flags & (flag::OPTIONAL | flag::TRANSITIVE) != required
        {
            return Err(err(update_error::ATTRIBUTE_FLAGS));
        }
        let fixed = |n: usize| {
            if value.len() == n {
                Ok(())
            } else {
                Err(err(update_error::ATTRIBUTE_LENGTH))
            }
        };
        let u32_at =
            |i: usize| u32::from_be_bytes([value[i], value[i + 1], value[i + 2], value[i + 3]]);
        Ok(match code_ {
            attr::ORIGIN => {
                fixed(1)?;
                PathAttribute::Origin(match value[0] {
                    0 => Origin::Igp,
                    1 => Origin::Egp,
                    2 => Origin::Incomplete,
                    _ => return Err(err(update_error::INVALID_ORIGIN)),
                })
            }
            attr::AS_PATH => {
                PathAttribute::AsPath(decode_segments(value, codec.four_octet_as).ok_or_else(
                    || Notification::new(code::UPDATE, update_error::MALFORMED_AS_PATH, vec![]),
                )?)
            }
            attr::NEXT_HOP => {
                fixed(4)?;
                let a = Ipv4Addr::from(u32_at(0));
                if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
                    return Err(err(update_error::INVALID_NEXT_HOP));
                }
                PathAttribute::NextHop(a)
            }
            attr::MED => {
                fixed(4)?;
                PathAttribute::Med(u32_at(0))
            }
            attr::LOCAL_PREF => {
                fixed(4)?;
                PathAttribute::LocalPref(u32_at(0))
            }
            attr::ATOMIC_AGGREGATE => {
                fixed(0)?;
                PathAttribute::AtomicAggregate
            }
            attr::AGGREGATOR => {
                if codec.four_octet_as {
                    fixed(8)?;
                    PathAttribute::Aggregator {
                        asn: u32_at(0),
                        address: Ipv4Addr::from(u32_at(4)),
                    }
                } else {
                    fixed(6)?;
                    PathAttribute::Aggregator {
                        asn: u32::from(u16::from_be_bytes([value[0], value[1]])),
                        address: Ipv4Addr::from(u32_at(2)),
                    }
                }
            }
            attr::COMMUNITIES => {
                if !value.len().is_multiple_of(4) {
                    return Err(err(update_error::ATTRIBUTE_LENGTH));
                }
                PathAttribute::Communities((0..value.len() / 4).map(|i| u32_at(i * 4)).collect())
            }
            attr::LARGE_COMMUNITY => {
                if !value.len().is_multiple_of(12) {
                    return Err(err(update_error::ATTRIBUTE_LENGTH));
                }
                PathAttribute::LargeCommunities(
                    (0..value.len() / 12)
                        .map(|i| [u32_at(i * 12), u32_at(i * 12 + 4), u32_at(i * 12 + 8)])
                        .collect(),
                )
            }
            attr::AS4_PATH => PathAttribute::As4Path(
                decode_segments(value, true)
                    .ok_or_else(|| err(update_error::OPTIONAL_ATTRIBUTE))?,
            ),
            attr::MP_REACH_NLRI => {
                let bad = || err(update_error::OPTIONAL_ATTRIBUTE);
                let mut r = Reader::new(value);
                let afi = r.u16().ok_or_else(bad)?;
                let safi = r.u8().ok_or_else(bad)?;
                let nh_len = usize::from(r.u8().ok_or_else(bad)?);
                let next_hop = r.take(nh_len).ok_or_else(bad)?.to_vec();
                let _reserved = r.u8().ok_or_else(bad)?;
                let nlri = match known_afi(afi, safi) {
                    Some(v6) => {
                        // IPv4 routes may carry an IPv6 next hop (RFC 8950).
                        let ok_len: &[usize] = if v6 { &[16, 32] } else { &[4, 16, 32] };
                        if !ok_len.contains(&nh_len) {
                            return Err(bad());
                        }
                        decode_prefixes(r.rest(), v6).ok_or_else(bad)?
                    }
                    None => Vec::new(),
                };
                PathAttribute::MpReach {
                    afi,
                    safi,
                    next_hop,
                    nlri,
                }
            }
            attr::MP_UNREACH_NLRI => {
                let bad = || err(update_error::OPTIONAL_ATTRIBUTE);
                let mut r = Reader::new(value);
                let afi = r.u16().ok_or_else(bad)?;
                let safi = r.u8().ok_or_else(bad)?;
                let withdrawn = match known_afi(afi, safi) {
                    Some(v6) => decode_prefixes(r.rest(), v6).ok_or_else(bad)?,
                    None => Vec::new(),
                };
                PathAttribute::MpUnreach {
                    afi,
                    safi,
                    withdrawn,
                }
            }
            other => {
                if flags & flag::OPTIONAL == 0 {
                    return Err(err(update_error::UNRECOGNIZED_WELL_KNOWN));
                }
                PathAttribute::Other {
                    flags,
                    code: other,
                    data: value.to_vec(),
                }
            }
        })
    }
}

/// `Some(is_v6)` for the unicast families whose prefixes are decoded.
fn known_afi(afi: u16, safi: u8) -> Option<bool> {
    match (afi, safi) {
        (AFI_IPV4, SAFI_UNICAST) => Some(false),
        (AFI_IPV6, SAFI_UNICAST) => Some(true),
        _ => None,
    }
}

fn encode_segments(segments: &[AsSegment], four_octet: bool, out: &mut Vec<u8>) {
    for segment in segments {
        let (kind, asns) = match segment {
            AsSegment::Set(a) => (1u8, a),
            AsSegment::Sequence(a) => (2u8, a),
        };
        // A segment holds at most 255 AS numbers; longer ones are split.
        for chunk in asns.chunks(255) {
            out.push(kind);
            out.push(chunk.len() as u8);
            for asn in chunk {
                if four_octet {
                    out.extend_from_slice(&asn.to_be_bytes());
                } else {
                    out.extend_from_slice(&u16::try_from(*asn).unwrap_or(AS_TRANS).to_be_bytes());
                }
            }
        }
    }
}

fn decode_segments(value: &[u8], four_octet: bool) -> Option<Vec<AsSegment>> {
    let width = if four_octet { 4 } else { 2 };
    let mut r = Reader::new(value);
    let mut out = Vec::new();
    while !r.is_empty() {
        let kind = r.u8()?;
        let count = usize::from(r.u8()?);
        if count == 0 {
            return None;
        }
        let raw = r.take(count * width)?;
        let asns: Vec<u32> = raw
            .chunks(width)
            .map(|c| {
                if four_octet {
                    u32::from_be_bytes([c[0], c[1], c[2], c[3]])
                } else {
                    u32::from(u16::from_be_bytes([c[0], c[1]]))
                }
            })
            .collect();
        out.push(match kind {
            1 => AsSegment::Set(asns),
            2 => AsSegment::Sequence(asns),
            _ => return None,
        });
    }
    Some(out)
}

/// A prefix as NLRI: its length, then only the octets the length covers.
pub fn encode_prefix(prefix: &IpNet, out: &mut Vec<u8>) {
    let len = prefix.prefix_len();
    out.push(len);
    let bytes = usize::from(len).div_ceil(8);
    match prefix.network() {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()[..bytes]),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()[..bytes]),
    }
}

/// How many octets `prefix` takes as NLRI.
pub fn prefix_wire_len(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len()).div_ceil(8)
}

fn decode_prefixes(buf: &[u8], v6: bool) -> Option<Vec<IpNet>> {
    let max = if v6 { 128 } else { 32 };
    let mut r = Reader::new(buf);
    let mut out = Vec::new();
    while !r.is_empty() {
        let len = r.u8()?;
        if len > max {
            return None;
        }
        let raw = r.take(usize::from(len).div_ceil(8))?;
        let net = if v6 {
            let mut o = [0u8; 16];
            o[..raw.len()].copy_from_slice(raw);
            IpNet::V6(Ipv6Net::new(Ipv6Addr::from(o), len).ok()?.trunc())
        } else {
            let mut o = [0u8; 4];
            o[..raw.len()].copy_from_slice(raw);
            IpNet::V4(Ipv4Net::new(Ipv4Addr::from(o), len).ok()?.trunc())
        };
        out.push(net);
    }
    Some(out)
}

/// An UPDATE: withdrawn IPv4 routes, path attributes, IPv4 NLRI (other families travel
/// in MP_REACH_NLRI / MP_UNREACH_NLRI).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    pub withdrawn: Vec<Ipv4Net>,
    pub attributes: Vec<PathAttribute>,
    pub nlri: Vec<Ipv4Net>,
}

impl Update {
    /// The End-of-RIB marker of a family (RFC 4724 §2): an empty UPDATE for IPv4
    /// unicast, an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(afi: u16, safi: u8) -> Self {
        if (afi, safi) == (AFI_IPV4, SAFI_UNICAST) {
            Update::default()
        } else {
            Update {
                attributes: vec![PathAttribute::MpUnreach {
                    afi,
                    safi,
                    withdrawn: vec![],
                }],
                ..Update::default()
            }
        }
    }

    /// The family this is the End-of-RIB marker of, if it is one.
    pub fn is_end_of_rib(&self) -> Option<(u16, u8)> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some((AFI_IPV4, SAFI_UNICAST)),
            [
                PathAttribute::MpUnreach {
                    afi,
                    safi,
                    withdrawn,
                },
            ] if withdrawn.is_empty() => Some((*afi, *safi)),
            _ => None,
        }
    }

    pub fn encode_body(&self, codec: Codec) -> Vec<u8> {
        let mut withdrawn = Vec::new();
        for p in &self.withdrawn {
            encode_prefix(&IpNet::V4(*p), &mut withdrawn);
        }
        let mut attrs = Vec::new();
        for a in &self.attributes {
            a.encode(codec, &mut attrs);
        }
        let mut out = Vec::with_capacity(4 + withdrawn.len() + attrs.len() + 5 * self.nlri.len());
        out.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
        out.extend_from_slice(&withdrawn);
        out.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        out.extend_from_slice(&attrs);
        for p in &self.nlri {
            encode_prefix(&IpNet::V4(*p), &mut out);
        }
        out
    }

    pub fn decode_body(body: &[u8], codec: Codec) -> Result<Self, Notification> {
        let malformed =
            || Notification::new(code::UPDATE, update_error::MALFORMED_ATTRIBUTE_LIST, vec![]);
        let invalid_network =
            || Notification::new(code::UPDATE, update_error::INVALID_NETWORK_FIELD, vec![]);
        let mut r = Reader::new(body);
        let withdrawn_len = usize::from(r.u16().ok_or_else(malformed)?);
        let withdrawn_raw = r.take(withdrawn_len).ok_or_else(malformed)?;
        let attrs_len = usize::from(r.u16().ok_or_else(malformed)?);
        let attrs_raw = r.take(attrs_len).ok_or_else(malformed)?;
        let nlri_raw = r.rest();
        let withdrawn = v4_only(decode_prefixes(withdrawn_raw, false).ok_or_else(invalid_network)?);
        let nlri = v4_only(decode_prefixes(nlri_raw, false).ok_or_else(invalid_network)?);

        let mut attributes = Vec::new();
        let mut seen = BTreeSet::new();
        let mut a = Reader::new(attrs_raw);
        while !a.is_empty() {
            let start = attrs_raw.len() - a.remaining();
            let flags = a.u8().ok_or_else(malformed)?;
            let code_ = a.u8().ok_or_else(malformed)?;
            let len = if flags & flag::EXTENDED_LENGTH != 0 {
                usize::from(a.u16().ok_or_else(malformed)?)
            } else {
                usize::from(a.u8().ok_or_else(malformed)?)
            };
            // An attribute that runs past the list: RFC 4271 calls it an Attribute
            // Length Error; the list cannot be parsed further either way.
            let value = a.take(len).ok_or_else(|| {
                Notification::new(
                    code::UPDATE,
                    update_error::ATTRIBUTE_LENGTH,
                    attrs_raw[start..].to_vec(),
                )
            })?;
            let whole = &attrs_raw[start..attrs_raw.len() - a.remaining()];
            if !seen.insert(code_) {
                return Err(malformed());
            }
            attributes.push(PathAttribute::decode(flags, code_, value, whole, codec)?);
        }
        let has = |c: u8| seen.contains(&c);
        let reach = !nlri.is_empty() || has(attr::MP_REACH_NLRI);
        let mut required = vec![];
        if reach {
            required.extend([attr::ORIGIN, attr::AS_PATH]);
        }
        if !nlri.is_empty() {
            required.push(attr::NEXT_HOP);
        }
        if let Some(missing) = required.into_iter().find(|c| !has(*c)) {
            return Err(Notification::new(
                code::UPDATE,
                update_error::MISSING_WELL_KNOWN,
                vec![missing],
            ));
        }
        Ok(Update {
            withdrawn,
            attributes,
            nlri,
        })
    }
}

fn v4_only(prefixes: Vec<IpNet>) -> Vec<Ipv4Net> {
    prefixes
        .into_iter()
        .filter_map(|p| match p {
            IpNet::V4(n) => Some(n),
            IpNet::V6(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn malformed_updates_get_their_subcodes() {
        let ok = [&ORIGIN[..], &AS_PATH, &NEXT_HOP].concat();
        let two = Codec::default();
        assert!(Update::decode_body(&with_attrs(&ok), two).is_ok());
        // Withdrawn routes length runs past the message.
        assert_eq!(Update::decode_body(&[0, 9, 0, 0], two), err(1, &[]));
        // Attribute list length runs past the message.
        assert_eq!(Update::decode_body(&[0, 0, 0, 9, 0], two), err(1, &[]));
        // Missing NEXT_HOP, ORIGIN.
        let no_nh = [&ORIGIN[..], &AS_PATH].concat();
        assert_eq!(Update::decode_body(&with_attrs(&no_nh), two), err(3, &[3]));
        let no_origin = [&AS_PATH[..], &NEXT_HOP].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&no_origin), two),
            err(3, &[1])
        );
        // ORIGIN 7.
        let bad_origin = [&[0x40, 1, 1, 7][..], &AS_PATH, &NEXT_HOP].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&bad_origin), two),
            err(6, &[0x40, 1, 1, 7])
        );
        // ORIGIN marked optional.
        let flags = [&[0xc0, 1, 1, 0][..], &AS_PATH, &NEXT_HOP].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&flags), two),
            err(4, &[0xc0, 1, 1, 0])
        );
        // NEXT_HOP of 3 octets.
        let short_nh = [&ORIGIN[..], &AS_PATH, &[0x40, 3, 3, 192, 0, 2]].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&short_nh), two),
            err(5, &[0x40, 3, 3, 192, 0, 2])
        );
        // NEXT_HOP 0.0.0.0.
        let zero_nh = [&ORIGIN[..], &AS_PATH, &[0x40, 3, 4, 0, 0, 0, 0]].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&zero_nh), two),
            err(8, &[0x40, 3, 4, 0, 0, 0, 0])
        );
        // AS_PATH segment claims 3 AS numbers, holds 1.
        let bad_path = [&ORIGIN[..], &[0x40, 2, 4, 2, 3, 0xfd, 0xe8], &NEXT_HOP].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&bad_path), two),
            err(11, &[])
        );
        // The same attribute twice.
        let twice = [&ok[..], &ORIGIN].concat();
        assert_eq!(Update::decode_body(&with_attrs(&twice), two), err(1, &[]));
        // An unknown well-known attribute.
        let unknown = [&ok[..], &[0x40, 99, 0]].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&unknown), two),
            err(2, &[0x40, 99, 0])
        );
        // An unknown optional one is fine.
        let optional = [&ok[..], &[0xc0, 99, 1, 5]].concat();
        assert!(Update::decode_body(&with_attrs(&optional), two).is_ok());
        // Attribute length past the end of the list.
        let overrun = [&ok[..], &[0x80, 4, 9, 0]].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&overrun), two),
            err(5, &[0x80, 4, 9, 0])
        );
        // A /33 in the NLRI.
        let mut b = with_attrs(&ok);
        let n = b.len();
        b[n - 4] = 33;
        assert_eq!(Update::decode_body(&b, two), err(10, &[]));
        // Communities of 5 octets.
        let bad_comm = [&ok[..], &[0xc0, 8, 5, 0, 0, 0, 0, 0]].concat();
        assert_eq!(
            Update::decode_body(&with_attrs(&bad_comm), two),
            err(5, &[0xc0, 8, 5, 0, 0, 0, 0, 0])
        );
        // MP_REACH with a next hop of 3 octets.
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
            };
            let bytes = Message::Update(update.clone()).encode(codec);
            assert_eq!(
                decode(&bytes, codec),
                Ok(Message::Update(update)),
                "round {round}"
            );
        }
    }
}
