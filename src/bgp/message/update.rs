//! UPDATE (RFC 4271 §4.3) with the path attributes the speaker sends or must recognise:
//! ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, ATOMIC_AGGREGATE, AGGREGATOR, COMMUNITIES
//! (RFC 1997), MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760), AS4_PATH (RFC 6793) and
//! LARGE_COMMUNITY (RFC 8092).
//!
//! Decoding follows RFC 4271 §6.3: a malformed UPDATE yields the NOTIFICATION to send.
//! The speaker is announce-only, so a well-formed UPDATE is decoded and dropped.
//!
//! A codec, kept in one file on purpose (about 870 lines): encoding and decoding of every
//! attribute sit side by side so that each one's wire layout is read in one place, and
//! `decode_value` is the one match over attribute type codes that RFC 7606's per-attribute
//! error handling hangs on. The tests are in `update_tests.rs`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::notification::{code, update_error};
use super::open::AS_TRANS;
use super::revised::{AttributeError, Handling, Revision};
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
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
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
            attr::MED
            | attr::ORIGINATOR_ID
            | attr::CLUSTER_LIST
            | attr::MP_REACH_NLRI
            | attr::MP_UNREACH_NLRI => Some(OPTIONAL),
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

    /// Decodes one attribute; `whole` is the attribute as sent (flags, type, length,
    /// value), the data of most UPDATE error NOTIFICATIONs. A malformed attribute is a
    /// [`Fault`] that says how RFC 7606 handles it.
    fn decode(
        flags: u8,
        code_: u8,
        value: &[u8],
        whole: &[u8],
        codec: Codec,
    ) -> Result<Self, Fault> {
        let decoded = Self::decode_value(flags, code_, value, whole, codec)?;
        if let Some(required) = Self::required_flags(code_)
            && flags & (flag::OPTIONAL | flag::TRANSITIVE) != required
        {
            // RFC 7606 §3 (a): malformed, handled as the attribute's own errors are;
            // an MP attribute that could be read still tells which routes to withdraw.
            let mp = matches!(code_, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI);
            return Err(Fault {
                handling: if mp {
                    Handling::Withdraw
                } else {
                    handling_of(code_)
                },
                notification: Notification::new(
                    code::UPDATE,
                    update_error::ATTRIBUTE_FLAGS,
                    whole.to_vec(),
                ),
                located: mp.then_some(decoded),
            });
        }
        Ok(decoded)
    }

    fn decode_value(
        flags: u8,
        code_: u8,
        value: &[u8],
        whole: &[u8],
        codec: Codec,
    ) -> Result<Self, Fault> {
        let err = |sub: u8| Notification::new(code::UPDATE, sub, whole.to_vec());
        // The attribute's own RFC 7606 handling.
        let bad = |sub: u8| Fault::new(handling_of(code_), err(sub));
        // The routes cannot be located any more: the session ends.
        let reset = |sub: u8| Fault::new(Handling::Reset, err(sub));
        let fixed = |n: usize| {
            if value.len() == n {
                Ok(())
            } else {
                Err(bad(update_error::ATTRIBUTE_LENGTH))
            }
        };
        // A non-zero multiple of `n` octets (RFC 7606 §7.8, RFC 8092 §6).
        let multiple = |n: usize| {
            if !value.is_empty() && value.len().is_multiple_of(n) {
                Ok(())
            } else {
                Err(bad(update_error::ATTRIBUTE_LENGTH))
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
                    _ => return Err(bad(update_error::INVALID_ORIGIN)),
                })
            }
            attr::AS_PATH => PathAttribute::AsPath(
                decode_segments(value, codec.four_octet_as).ok_or_else(|| {
                    Fault::new(
                        Handling::Withdraw,
                        Notification::new(code::UPDATE, update_error::MALFORMED_AS_PATH, vec![]),
                    )
                })?,
            ),
            attr::NEXT_HOP => {
                fixed(4)?;
                let a = Ipv4Addr::from(u32_at(0));
                // RFC 4271 §6.3: a semantically wrong next hop voids the routes, not
                // the session.
                if a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
                    return Err(bad(update_error::INVALID_NEXT_HOP));
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
                multiple(4)?;
                PathAttribute::Communities((0..value.len() / 4).map(|i| u32_at(i * 4)).collect())
            }
            attr::LARGE_COMMUNITY => {
                multiple(12)?;
                PathAttribute::LargeCommunities(
                    (0..value.len() / 12)
                        .map(|i| [u32_at(i * 12), u32_at(i * 12 + 4), u32_at(i * 12 + 8)])
                        .collect(),
                )
            }
            attr::AS4_PATH => PathAttribute::As4Path(
                decode_segments(value, true)
                    .ok_or_else(|| bad(update_error::OPTIONAL_ATTRIBUTE))?,
            ),
            attr::MP_REACH_NLRI => {
                let structure = || reset(update_error::OPTIONAL_ATTRIBUTE);
                let mut r = Reader::new(value);
                let afi = r.u16().ok_or_else(structure)?;
                let safi = r.u8().ok_or_else(structure)?;
                let nh_len = usize::from(r.u8().ok_or_else(structure)?);
                let next_hop = r.take(nh_len).ok_or_else(structure)?.to_vec();
                let _reserved = r.u8().ok_or_else(structure)?;
                let nlri = match known_afi(afi, safi) {
                    Some(v6) => {
                        // RFC 7606 §7.11: a next hop of the wrong length hides where the
                        // NLRI starts. IPv4 routes may carry an IPv6 next hop (RFC 8950).
                        let ok_len: &[usize] = if v6 { &[16, 32] } else { &[4, 16, 32] };
                        if !ok_len.contains(&nh_len) {
                            return Err(structure());
                        }
                        decode_prefixes(r.rest(), v6).ok_or_else(structure)?
                    }
                    None => Vec::new(),
                };
                let reach = PathAttribute::MpReach {
                    afi,
                    safi,
                    next_hop,
                    nlri,
                };
                if reach.has_invalid_next_hop() {
                    return Err(Fault {
                        handling: Handling::Withdraw,
                        notification: err(update_error::INVALID_NEXT_HOP),
                        located: Some(reach),
                    });
                }
                reach
            }
            attr::MP_UNREACH_NLRI => {
                let structure = || reset(update_error::OPTIONAL_ATTRIBUTE);
                let mut r = Reader::new(value);
                let afi = r.u16().ok_or_else(structure)?;
                let safi = r.u8().ok_or_else(structure)?;
                let withdrawn = match known_afi(afi, safi) {
                    Some(v6) => decode_prefixes(r.rest(), v6).ok_or_else(structure)?,
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
                    // RFC 7606 leaves RFC 4271's answer to this one.
                    return Err(reset(update_error::UNRECOGNIZED_WELL_KNOWN));
                }
                // Attributes kept raw whose length RFC 7606 (§7.9, §7.10) and RFC 6793
                // still check.
                match other {
                    attr::ORIGINATOR_ID | attr::AS4_AGGREGATOR => {
                        fixed(if other == attr::ORIGINATOR_ID { 4 } else { 8 })?
                    }
                    attr::CLUSTER_LIST => multiple(4)?,
                    _ => {}
                }
                PathAttribute::Other {
                    flags,
                    code: other,
                    data: value.to_vec(),
                }
            }
        })
    }

    /// An MP_REACH_NLRI next hop no router can use: unspecified or multicast (the
    /// global one of a 32-octet IPv6 next hop; the link-local one is not checked).
    fn has_invalid_next_hop(&self) -> bool {
        let PathAttribute::MpReach {
            afi,
            safi,
            next_hop,
            ..
        } = self
        else {
            return false;
        };
        if known_afi(*afi, *safi).is_none() {
            return false;
        }
        match next_hop.len() {
            4 => {
                let a = Ipv4Addr::new(next_hop[0], next_hop[1], next_hop[2], next_hop[3]);
                a.is_unspecified() || a.is_multicast() || a.is_broadcast()
            }
            16 | 32 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(&next_hop[..16]);
                let a = Ipv6Addr::from(o);
                a.is_unspecified() || a.is_multicast()
            }
            _ => false,
        }
    }
}

/// A malformed attribute: how RFC 7606 handles it, the NOTIFICATION RFC 4271 would send,
/// and the attribute as far as it could be read (an MP_REACH_NLRI with a bad next hop
/// still tells which routes to withdraw).
#[derive(Debug)]
struct Fault {
    handling: Handling,
    notification: Notification,
    located: Option<PathAttribute>,
}

impl Fault {
    fn new(handling: Handling, notification: Notification) -> Self {
        Fault {
            handling,
            notification,
            located: None,
        }
    }
}

/// RFC 7606 §7 (and RFC 6793 §6): what a malformed attribute of this type calls for.
/// The MP attributes' structural errors are resets, decided where they are found.
fn handling_of(code_: u8) -> Handling {
    match code_ {
        attr::ATOMIC_AGGREGATE | attr::AGGREGATOR | attr::AS4_PATH | attr::AS4_AGGREGATOR => {
            Handling::Discard
        }
        _ => Handling::Withdraw,
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
    /// Decoding only: the malformed parts RFC 7606 handled without a NOTIFICATION
    /// (never encoded; empty for a well-formed UPDATE).
    pub errors: Vec<AttributeError>,
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
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() || !self.errors.is_empty() {
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

    /// Decodes an UPDATE body. `Err`: the NOTIFICATION that ends the session; errors
    /// RFC 7606 handles without one are in [`Update::errors`] (a treat-as-withdraw turns
    /// the routes into withdrawals and drops the attributes).
    pub fn decode_body(body: &[u8], codec: Codec) -> Result<Self, Notification> {
        let malformed =
            || Notification::new(code::UPDATE, update_error::MALFORMED_ATTRIBUTE_LIST, vec![]);
        let invalid_network =
            || Notification::new(code::UPDATE, update_error::INVALID_NETWORK_FIELD, vec![]);
        // Lengths that do not fit the message, and NLRI that cannot be parsed, leave
        // nothing to locate the routes by (RFC 7606 §4, §5.3): session reset.
        let mut r = Reader::new(body);
        let withdrawn_len = usize::from(r.u16().ok_or_else(malformed)?);
        let withdrawn_raw = r.take(withdrawn_len).ok_or_else(malformed)?;
        let attrs_len = usize::from(r.u16().ok_or_else(malformed)?);
        let attrs_raw = r.take(attrs_len).ok_or_else(malformed)?;
        let nlri_raw = r.rest();
        let withdrawn = v4_only(decode_prefixes(withdrawn_raw, false).ok_or_else(invalid_network)?);
        let nlri = v4_only(decode_prefixes(nlri_raw, false).ok_or_else(invalid_network)?);

        let mut attributes = Vec::new();
        let mut errors = Vec::new();
        let mut seen = BTreeSet::new();
        // An attribute list cut short (RFC 7606 §4): the attribute and type, if known.
        let mut cut_short: Option<(u8, Notification)> = None;
        let mut a = Reader::new(attrs_raw);
        while !a.is_empty() {
            let start = attrs_raw.len() - a.remaining();
            // Fewer octets than an attribute header, or a value past the list's end.
            let header = (|| {
                let flags = a.u8()?;
                let code_ = a.u8()?;
                let len = if flags & flag::EXTENDED_LENGTH != 0 {
                    usize::from(a.u16()?)
                } else {
                    usize::from(a.u8()?)
                };
                Some((flags, code_, len))
            })();
            let Some((flags, code_, len)) = header else {
                cut_short = Some((0, malformed()));
                break;
            };
            let Some(value) = a.take(len) else {
                cut_short = Some((
                    code_,
                    Notification::new(
                        code::UPDATE,
                        update_error::ATTRIBUTE_LENGTH,
                        attrs_raw[start..].to_vec(),
                    ),
                ));
                break;
            };
            let whole = &attrs_raw[start..attrs_raw.len() - a.remaining()];
            if !seen.insert(code_) {
                // RFC 7606 §3 (g): two MP attributes of a kind cannot be told apart; any
                // other repeat is dropped.
                if matches!(code_, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI) {
                    return Err(malformed());
                }
                errors.push(AttributeError {
                    revision: Revision::AttributeDiscard,
                    attribute: code_,
                    rfc4271: malformed(),
                });
                continue;
            }
            match PathAttribute::decode(flags, code_, value, whole, codec) {
                Ok(attribute) => attributes.push(attribute),
                Err(fault) => {
                    let Some(revision) = fault.handling.revision() else {
                        return Err(fault.notification);
                    };
                    errors.push(AttributeError {
                        revision,
                        attribute: code_,
                        rfc4271: fault.notification,
                    });
                    attributes.extend(fault.located);
                }
            }
        }
        let has = |c: u8| seen.contains(&c);
        if let Some((attribute, notification)) = cut_short {
            // Treat-as-withdraw needs the routes: the NLRI and withdrawn fields, or an MP
            // attribute before the cut. With none of them an MP_REACH_NLRI may hide
            // behind it (RFC 7606 §5).
            let located = !withdrawn.is_empty()
                || !nlri.is_empty()
                || has(attr::MP_REACH_NLRI)
                || has(attr::MP_UNREACH_NLRI);
            if !located {
                return Err(notification);
            }
            errors.push(AttributeError {
                revision: Revision::TreatAsWithdraw,
                attribute,
                rfc4271: notification,
            });
        }
        let reach = !nlri.is_empty() || has(attr::MP_REACH_NLRI);
        let mut required = vec![];
        if reach {
            required.extend([attr::ORIGIN, attr::AS_PATH]);
        }
        if !nlri.is_empty() {
            required.push(attr::NEXT_HOP);
        }
        // RFC 7606 §3 (d): a missing well-known attribute voids the routes only.
        if let Some(missing) = required.into_iter().find(|c| !has(*c)) {
            errors.push(AttributeError {
                revision: Revision::TreatAsWithdraw,
                attribute: missing,
                rfc4271: Notification::new(
                    code::UPDATE,
                    update_error::MISSING_WELL_KNOWN,
                    vec![missing],
                ),
            });
        }
        let update = Update {
            withdrawn,
            attributes,
            nlri,
            errors,
        };
        Ok(
            if update
                .errors
                .iter()
                .any(|e| e.revision == Revision::TreatAsWithdraw)
            {
                update.into_withdrawal()
            } else {
                update
            },
        )
    }

    /// RFC 7606 treat-as-withdraw: every route the UPDATE carries, withdrawn; IPv4 in
    /// the withdrawn routes field, IPv6 in MP_UNREACH_NLRI; no other attribute.
    fn into_withdrawal(self) -> Update {
        let mut v4 = self.withdrawn;
        v4.extend(self.nlri);
        let mut v6 = Vec::new();
        for a in self.attributes {
            let (PathAttribute::MpReach { nlri: routes, .. }
            | PathAttribute::MpUnreach {
                withdrawn: routes, ..
            }) = a
            else {
                continue;
            };
            for p in routes {
                match p {
                    IpNet::V4(n) => v4.push(n),
                    IpNet::V6(_) => v6.push(p),
                }
            }
        }
        let attributes = if v6.is_empty() {
            vec![]
        } else {
            vec![PathAttribute::MpUnreach {
                afi: AFI_IPV6,
                safi: SAFI_UNICAST,
                withdrawn: v6,
            }]
        };
        Update {
            withdrawn: v4,
            attributes,
            nlri: vec![],
            errors: self.errors,
        }
    }

    /// The strongest RFC 7606 approach the decoder applied, if any.
    pub fn revision(&self) -> Option<Revision> {
        self.errors.iter().map(|e| e.revision).max()
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
#[path = "update_tests.rs"]
mod tests;
