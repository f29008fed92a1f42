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
}
