//! OPEN (RFC 4271 §4.2) and the capabilities the speaker uses (RFC 5492): multiprotocol
//! (RFC 4760), route refresh (RFC 2918), extended next hop (RFC 8950), graceful restart
//! (RFC 4724), 4-octet AS (RFC 6793).

use std::net::Ipv4Addr;

use super::notification::{code, open_error};
use super::{Family, Notification, Reader};

/// Stands in for a 4-octet AS in 2-octet fields (RFC 6793).
pub const AS_TRANS: u16 = 23456;

/// Capability codes.
pub mod cap {
    pub const MULTIPROTOCOL: u8 = 1;
    pub const ROUTE_REFRESH: u8 = 2;
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    pub const GRACEFUL_RESTART: u8 = 64;
    pub const FOUR_OCTET_AS: u8 = 65;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capability {
    /// AFI and SAFI as sent; families other than IPv4/IPv6 unicast are kept raw.
    Multiprotocol {
        afi: u16,
        safi: u8,
    },
    RouteRefresh,
    /// RFC 8950: routes of (NLRI AFI, NLRI SAFI) may carry a next hop of Nexthop AFI.
    ExtendedNextHop(Vec<(u16, u16, u16)>),
    /// Restart time in seconds (12 bits), the Restart State bit, and the families whose
    /// forwarding state was kept (AFI, SAFI, forwarding-state bit).
    GracefulRestart {
        restarting: bool,
        restart_time: u16,
        families: Vec<(u16, u8, bool)>,
    },
    FourOctetAs(u32),
    /// Anything else, kept so it can be logged; never an error (RFC 5492 §3).
    Unknown {
        code: u8,
        data: Vec<u8>,
    },
}

impl Capability {
    pub fn family(family: Family) -> Self {
        let (afi, safi) = family.afi_safi();
        Capability::Multiprotocol { afi, safi }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let (code, value): (u8, Vec<u8>) = match self {
            Capability::Multiprotocol { afi, safi } => {
                let [a, b] = afi.to_be_bytes();
                (cap::MULTIPROTOCOL, vec![a, b, 0, *safi])
            }
            Capability::RouteRefresh => (cap::ROUTE_REFRESH, vec![]),
            Capability::ExtendedNextHop(tuples) => (
                cap::EXTENDED_NEXT_HOP,
                tuples
                    .iter()
                    .flat_map(|(afi, safi, nh_afi)| {
                        [afi.to_be_bytes(), safi.to_be_bytes(), nh_afi.to_be_bytes()]
                    })
                    .flatten()
                    .collect(),
            ),
            Capability::GracefulRestart {
                restarting,
                restart_time,
                families,
            } => {
                let flags_time = (u16::from(*restarting) << 15) | (restart_time & 0x0fff);
                let mut v = flags_time.to_be_bytes().to_vec();
                for (afi, safi, forwarding) in families {
                    v.extend_from_slice(&afi.to_be_bytes());
                    v.push(*safi);
                    v.push(if *forwarding { 0x80 } else { 0 });
                }
                (cap::GRACEFUL_RESTART, v)
            }
            Capability::FourOctetAs(asn) => (cap::FOUR_OCTET_AS, asn.to_be_bytes().to_vec()),
            Capability::Unknown { code, data } => (*code, data.clone()),
        };
        out.push(code);
        out.push(value.len() as u8);
        out.extend_from_slice(&value);
    }

    fn decode(code_: u8, value: &[u8]) -> Result<Self, Notification> {
        // A capability of the wrong length is a malformed OPEN (subcode 0: unspecific).
        let malformed = || Notification::new(code::OPEN, 0, vec![]);
        let mut r = Reader::new(value);
        Ok(match code_ {
            cap::MULTIPROTOCOL => {
                if value.len() != 4 {
                    return Err(malformed());
                }
                let afi = r.u16().ok_or_else(malformed)?;
                let _reserved = r.u8();
                let safi = r.u8().ok_or_else(malformed)?;
                Capability::Multiprotocol { afi, safi }
            }
            cap::ROUTE_REFRESH => {
                if !value.is_empty() {
                    return Err(malformed());
                }
                Capability::RouteRefresh
            }
            cap::EXTENDED_NEXT_HOP => {
                if value.is_empty() || !value.len().is_multiple_of(6) {
                    return Err(malformed());
                }
                let mut tuples = Vec::new();
                while !r.is_empty() {
                    let afi = r.u16().ok_or_else(malformed)?;
                    let safi = r.u16().ok_or_else(malformed)?;
                    let nh_afi = r.u16().ok_or_else(malformed)?;
                    tuples.push((afi, safi, nh_afi));
                }
                Capability::ExtendedNextHop(tuples)
            }
            cap::GRACEFUL_RESTART => {
                if value.len() < 2 || !(value.len() - 2).is_multiple_of(4) {
                    return Err(malformed());
                }
                let flags_time = r.u16().ok_or_else(malformed)?;
                let mut families = Vec::new();
                while !r.is_empty() {
                    let afi = r.u16().ok_or_else(malformed)?;
                    let safi = r.u8().ok_or_else(malformed)?;
                    let flags = r.u8().ok_or_else(malformed)?;
                    families.push((afi, safi, flags & 0x80 != 0));
                }
                Capability::GracefulRestart {
                    restarting: flags_time & 0x8000 != 0,
                    restart_time: flags_time & 0x0fff,
                    families,
                }
            }
            cap::FOUR_OCTET_AS => {
                if value.len() != 4 {
                    return Err(malformed());
                }
                Capability::FourOctetAs(r.u32().ok_or_else(malformed)?)
            }
            other => Capability::Unknown {
                code: other,
                data: value.to_vec(),
            },
        })
    }
}

/// An OPEN message (version 4 is implied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// The 2-octet "My Autonomous System" field (AS_TRANS for a 4-octet AS).
    pub my_as: u16,
    pub hold_time: u16,
    pub router_id: Ipv4Addr,
    pub capabilities: Vec<Capability>,
}

impl Open {
    /// An OPEN for `asn` that announces the 4-octet AS capability.
    pub fn new(
        asn: u32,
        hold_time: u16,
        router_id: Ipv4Addr,
        mut capabilities: Vec<Capability>,
    ) -> Self {
        capabilities.push(Capability::FourOctetAs(asn));
        Open {
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            router_id,
            capabilities,
        }
    }

    /// The sender's AS: from the 4-octet AS capability when present.
    pub fn asn(&self) -> u32 {
        self.capabilities
            .iter()
            .find_map(|c| match c {
                Capability::FourOctetAs(asn) => Some(*asn),
                _ => None,
            })
            .unwrap_or(u32::from(self.my_as))
    }

    pub fn has(&self, wanted: &Capability) -> bool {
        self.capabilities.contains(wanted)
    }

    /// Whether the sender takes IPv4 unicast routes with an IPv6 next hop (RFC 8950).
    pub fn ipv4_over_ipv6(&self) -> bool {
        self.capabilities.iter().any(|c| {
            matches!(c, Capability::ExtendedNextHop(t)
                if t.contains(&(super::AFI_IPV4, u16::from(super::SAFI_UNICAST), super::AFI_IPV6)))
        })
    }

    pub fn four_octet_as(&self) -> bool {
        self.capabilities
            .iter()
            .any(|c| matches!(c, Capability::FourOctetAs(_)))
    }

    /// The families the sender announced; none at all means IPv4 unicast (RFC 4760 §8).
    pub fn families(&self) -> Vec<Family> {
        let mut any_mp = false;
        let mut out = Vec::new();
        for c in &self.capabilities {
            if let Capability::Multiprotocol { afi, safi } = c {
                any_mp = true;
                if let Some(f) = Family::from_afi_safi(*afi, *safi) {
                    out.push(f);
                }
            }
        }
        if !any_mp {
            out.push(Family::Ipv4Unicast);
        }
        out
    }

    pub fn encode_body(&self) -> Vec<u8> {
        let mut caps = Vec::new();
        for c in &self.capabilities {
            c.encode(&mut caps);
        }
        let mut out = vec![4];
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.router_id.octets());
        if caps.is_empty() {
            out.push(0);
        } else {
            // One Capabilities parameter carrying all of them (RFC 5492 allows either).
            out.push(caps.len() as u8 + 2);
            out.push(2);
            out.push(caps.len() as u8);
            out.extend_from_slice(&caps);
        }
        out
    }

    pub fn decode_body(body: &[u8]) -> Result<Self, Notification> {
        let malformed = || Notification::new(code::OPEN, 0, vec![]);
        let mut r = Reader::new(body);
        let version = r.u8().ok_or_else(malformed)?;
        if version != 4 {
            return Err(Notification::new(
                code::OPEN,
                open_error::UNSUPPORTED_VERSION,
                vec![0, 4],
            ));
        }
        let my_as = r.u16().ok_or_else(malformed)?;
        let hold_time = r.u16().ok_or_else(malformed)?;
        if hold_time == 1 || hold_time == 2 {
            return Err(Notification::new(
                code::OPEN,
                open_error::UNACCEPTABLE_HOLD_TIME,
                vec![],
            ));
        }
        let id = r.u32().ok_or_else(malformed)?;
        if id == 0 {
            return Err(Notification::new(
                code::OPEN,
                open_error::BAD_BGP_IDENTIFIER,
                vec![],
            ));
        }
        let params_len = usize::from(r.u8().ok_or_else(malformed)?);
        if params_len != r.remaining() {
            return Err(malformed());
        }
        let mut params = Reader::new(r.rest());
        let mut capabilities = Vec::new();
        while !params.is_empty() {
            let kind = params.u8().ok_or_else(malformed)?;
            let len = usize::from(params.u8().ok_or_else(malformed)?);
            let value = params.take(len).ok_or_else(malformed)?;
            if kind != 2 {
                return Err(Notification::new(
                    code::OPEN,
                    open_error::UNSUPPORTED_OPTIONAL_PARAMETER,
                    vec![],
                ));
            }
            let mut caps = Reader::new(value);
            while !caps.is_empty() {
                let c = caps.u8().ok_or_else(malformed)?;
                let l = usize::from(caps.u8().ok_or_else(malformed)?);
                let v = caps.take(l).ok_or_else(malformed)?;
                capabilities.push(Capability::decode(c, v)?);
            }
        }
        Ok(Open {
            my_as,
            hold_time,
            router_id: Ipv4Addr::from(id),
            capabilities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::message::{Codec, Message, decode};

    fn sample() -> Open {
        Open::new(
            65001,
            90,
            Ipv4Addr::new(192, 0, 2, 1),
            vec![
                Capability::family(Family::Ipv4Unicast),
                Capability::family(Family::Ipv6Unicast),
                Capability::RouteRefresh,
            ],
        )
    }

    /// Byte for byte what the speaker sends (checked against Wireshark's dissection of
    /// the same fields).
    const SAMPLE: [u8; 51] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x00, 0x33, 0x01, // header: 51 bytes, OPEN
        0x04, 0xfd, 0xe9, 0x00, 0x5a, 0xc0, 0x00, 0x02, 0x01, // v4, AS 65001, hold 90, id
        0x16, 0x02, 0x14, // parameters 22 bytes: capabilities, 20 bytes
        0x01, 0x04, 0x00, 0x01, 0x00, 0x01, // MP ipv4 unicast
        0x01, 0x04, 0x00, 0x02, 0x00, 0x01, // MP ipv6 unicast
        0x02, 0x00, // route refresh
        0x41, 0x04, 0x00, 0x00, 0xfd, 0xe9, // 4-octet AS 65001
    ];

    #[test]
    fn open_is_byte_exact_and_round_trips() {
        let bytes = Message::Open(sample()).encode(Codec::default());
        assert_eq!(bytes, SAMPLE);
        assert_eq!(
            decode(&SAMPLE, Codec::default()),
            Ok(Message::Open(sample()))
        );
    }

    #[test]
    fn four_octet_as_goes_in_the_capability() {
        let open = Open::new(4_200_000_001, 9, Ipv4Addr::new(192, 0, 2, 1), vec![]);
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_001);
        let back = Open::decode_body(&open.encode_body()).unwrap();
        assert_eq!(back.asn(), 4_200_000_001);
        assert_eq!(back.families(), vec![Family::Ipv4Unicast]);
    }

    #[test]
    fn graceful_restart_round_trips() {
        let gr = Capability::GracefulRestart {
            restarting: true,
            restart_time: 120,
            families: vec![(1, 1, true), (2, 1, false)],
        };
        let open = Open::new(65001, 90, Ipv4Addr::new(192, 0, 2, 1), vec![gr.clone()]);
        let body = open.encode_body();
        // flags+time 0x8078, then 0001 01 80, 0002 01 00
        let needle = [64, 10, 0x80, 0x78, 0, 1, 1, 0x80, 0, 2, 1, 0];
        assert!(body.windows(needle.len()).any(|w| w == needle));
        assert!(Open::decode_body(&body).unwrap().has(&gr));
    }

    #[test]
    fn extended_next_hop_is_byte_exact() {
        let c = Capability::ExtendedNextHop(vec![(1, 1, 2)]);
        let mut out = Vec::new();
        c.encode(&mut out);
        assert_eq!(out, [5, 6, 0, 1, 0, 1, 0, 2]);
        assert_eq!(Capability::decode(5, &out[2..]), Ok(c.clone()));
        let open = Open::new(65001, 90, Ipv4Addr::new(192, 0, 2, 1), vec![c]);
        assert!(open.ipv4_over_ipv6());
        assert!(
            Open::decode_body(&open.encode_body())
                .unwrap()
                .ipv4_over_ipv6()
        );
        // IPv4 VPN over IPv6 only: not what the speaker needs.
        let vpn = Open::new(
            65001,
            90,
            Ipv4Addr::new(192, 0, 2, 1),
            vec![Capability::ExtendedNextHop(vec![(1, 128, 2)])],
        );
        assert!(!vpn.ipv4_over_ipv6());
        assert!(Capability::decode(5, &[0, 1, 0, 1, 0]).is_err());
        assert!(Capability::decode(5, &[]).is_err());
    }

    #[test]
    fn unknown_capabilities_are_kept_not_refused() {
        let mut body = sample().encode_body();
        // Append an enhanced route refresh capability (70, length 0) into the parameter.
        body[9] += 2;
        body[11] += 2;
        body.extend_from_slice(&[70, 0]);
        let open = Open::decode_body(&body).unwrap();
        assert!(open.has(&Capability::Unknown {
            code: 70,
            data: vec![]
        }));
    }

    #[test]
    fn malformed_opens_get_their_subcodes() {
        let good = sample().encode_body();
        let mut v3 = good.clone();
        v3[0] = 3;
        assert_eq!(
            Open::decode_body(&v3),
            Err(Notification::new(2, 1, vec![0, 4]))
        );
        let mut hold2 = good.clone();
        hold2[3..5].copy_from_slice(&[0, 2]);
        assert_eq!(
            Open::decode_body(&hold2),
            Err(Notification::new(2, 6, vec![]))
        );
        let mut id0 = good.clone();
        id0[5..9].copy_from_slice(&[0; 4]);
        assert_eq!(
            Open::decode_body(&id0),
            Err(Notification::new(2, 3, vec![]))
        );
        let mut auth = good.clone();
        auth[10] = 1; // optional parameter type 1 (authentication, deprecated)
        assert_eq!(
            Open::decode_body(&auth),
            Err(Notification::new(2, 4, vec![]))
        );
        let mut short = good.clone();
        short[9] += 1;
        assert_eq!(
            Open::decode_body(&short),
            Err(Notification::new(2, 0, vec![]))
        );
        let mut bad_mp = good.clone();
        bad_mp[13] = 3; // MP capability of length 3
        assert!(Open::decode_body(&bad_mp).is_err());
        assert!(Open::decode_body(&good[..5]).is_err());
    }
}
