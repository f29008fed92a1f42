//! Validation of `[bgp]`, `[[bgp.peer]]` and `[service.announce]`: the built-in speaker.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::model::*;
use super::raw::*;
use super::values::{duration, number};

pub const DEFAULT_HOLD_TIME: Duration = Duration::from_secs(90);
pub const DEFAULT_CONNECT_RETRY: Duration = Duration::from_secs(2);
pub const DEFAULT_DRAIN_TIME: Duration = Duration::from_secs(5);
pub const DEFAULT_BGP_PORT: u16 = 179;
/// Longest AS_PATH prepend; more only makes paths absurd.
pub const MAX_PREPEND: i64 = 16;

fn asn(
    src: &SourceText,
    v: Option<&Spanned<i64>>,
    what: &str,
    at: std::ops::Range<usize>,
    errors: &mut Vec<ConfigError>,
) -> u32 {
    match v {
        None => {
            errors.push(
                src.error(at, format!("{what} has no asn"))
                    .with_hint("add asn = 65001 (1 to 4294967295; 4-octet AS numbers work)"),
            );
            0
        }
        Some(v) => match u32::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                errors.push(
                    src.error(
                        v.span(),
                        format!("asn = {} is not an AS number", v.get_ref()),
                    )
                    .with_hint("write an AS number from 1 to 4294967295, e.g. asn = 65001"),
                );
                0
            }
        },
    }
}

fn parse_address(
    src: &SourceText,
    key: &str,
    v: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<IpAddr> {
    match v.get_ref().parse::<IpAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            errors.push(
                src.error(
                    v.span(),
                    format!("{key} = \"{}\" is not an IP address", v.get_ref()),
                )
                .with_hint(format!(
                    "write an IPv4 or IPv6 address, e.g. {key} = \"192.0.2.2\" or \"2001:db8::2\""
                )),
            );
            None
        }
    }
}

/// [`number`] with the hint "write KEY = FIRST to LAST (`hint`)".
fn small_number(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<i64>>,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
    hint: &str,
    errors: &mut Vec<ConfigError>,
) -> i64 {
    let hint = format!(
        "write {key} = {} to {} ({hint})",
        range.start(),
        range.end()
    );
    number(src, key, v, range, default, &hint, errors)
}

pub fn validate_bgp(
    src: &SourceText,
    raw: Spanned<RawBgp>,
    errors: &mut Vec<ConfigError>,
) -> BgpSettings {
    let span = raw.span();
    let raw = raw.into_inner();
    let local_asn = asn(src, raw.asn.as_ref(), "[bgp]", span.clone(), errors);
    let router_id = router_id(src, &span, raw.router_id.as_ref(), errors);
    let (hold_time, keepalive) = hold_time_and_keepalive(src, &raw, errors);
    let connect_retry = duration(
        src,
        "connect_retry",
        raw.connect_retry.as_ref(),
        false,
        errors,
    )
    .unwrap_or(DEFAULT_CONNECT_RETRY);
    let drain_time = duration(src, "drain_time", raw.drain_time.as_ref(), true, errors)
        .unwrap_or(DEFAULT_DRAIN_TIME);
    let graceful_restart = graceful_restart(src, raw.graceful_restart.as_ref(), errors);
    let listen_port = small_number(
        src,
        "listen_port",
        raw.listen_port.as_ref(),
        1..=65535,
        i64::from(DEFAULT_BGP_PORT),
        "a TCP port",
        errors,
    ) as u16;
    let peers = peers(src, span, raw.peer, errors);
    BgpSettings {
        asn: local_asn,
        router_id,
        hold_time,
        keepalive,
        connect_retry,
        listen: raw.listen.is_none_or(Spanned::into_inner),
        listen_port,
        drain_time,
        graceful_restart,
        peers,
    }
}

/// `router_id`: required, a non-zero IPv4 address.
fn router_id(
    src: &SourceText,
    span: &std::ops::Range<usize>,
    v: Option<&Spanned<String>>,
    errors: &mut Vec<ConfigError>,
) -> Ipv4Addr {
    let Some(v) = v else {
        errors.push(src.error(span.clone(), "[bgp] has no router_id").with_hint(
            "add router_id = \"192.0.2.1\" (an IPv4 address unique in your AS, usually the host's)",
        ));
        return Ipv4Addr::UNSPECIFIED;
    };
    match v.get_ref().parse::<Ipv4Addr>() {
        Ok(a) if !a.is_unspecified() => a,
        _ => {
            errors.push(
                src.error(v.span(), format!("router_id = \"{}\" is not a BGP identifier", v.get_ref()))
                    .with_hint("write a non-zero IPv4 address, e.g. router_id = \"192.0.2.1\" (also on IPv6-only hosts)"),
            );
            Ipv4Addr::UNSPECIFIED
        }
    }
}

/// `hold_time` (0, or 3 s to 65535 s in whole seconds) and `keepalive` (whole seconds,
/// shorter than the hold time).
fn hold_time_and_keepalive(
    src: &SourceText,
    raw: &RawBgp,
    errors: &mut Vec<ConfigError>,
) -> (Duration, Option<Duration>) {
    let hold_time = match duration(src, "hold_time", raw.hold_time.as_ref(), true, errors) {
        None => DEFAULT_HOLD_TIME,
        Some(d) => {
            let ok = d.subsec_nanos() == 0 && (d.is_zero() || (3..=65535).contains(&d.as_secs()));
            if !ok {
                if let Some(v) = raw.hold_time.as_ref() {
                    errors.push(
                        src.error(
                            v.span(),
                            "hold_time must be 0 or 3 s to 65535 s, in whole seconds",
                        )
                        .with_hint("write e.g. hold_time = \"90s\" (\"0s\" turns keepalives off)"),
                    );
                }
                DEFAULT_HOLD_TIME
            } else {
                d
            }
        }
    };
    let keepalive = duration(src, "keepalive", raw.keepalive.as_ref(), false, errors);
    if let (Some(k), Some(v)) = (keepalive, raw.keepalive.as_ref())
        && (k.subsec_nanos() != 0 || k >= hold_time)
    {
        errors.push(
            src.error(
                v.span(),
                "keepalive must be whole seconds and shorter than hold_time",
            )
            .with_hint("leave it out (a third of the hold time) or write e.g. keepalive = \"10s\""),
        );
    }
    (hold_time, keepalive)
}

/// `graceful_restart`: RFC 4724's restart time, whole seconds up to 4095.
fn graceful_restart(
    src: &SourceText,
    v: Option<&Spanned<RawDuration>>,
    errors: &mut Vec<ConfigError>,
) -> Option<Duration> {
    let graceful_restart = duration(src, "graceful_restart", v, false, errors);
    if let (Some(d), Some(v)) = (graceful_restart, v)
        && (d.subsec_nanos() != 0 || d.as_secs() > 4095)
    {
        errors.push(
            src.error(v.span(), "graceful_restart must be whole seconds, at most 4095 s")
                .with_hint("write e.g. graceful_restart = \"120s\" (RFC 4724's restart time has 12 bits), or leave it out"),
        );
    }
    graceful_restart
}

/// Every `[[bgp.peer]]`: at least one, one per address.
fn peers(
    src: &SourceText,
    span: std::ops::Range<usize>,
    raw: Vec<Spanned<RawBgpPeer>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<BgpPeer> {
    if raw.is_empty() {
        errors.push(src.error(span, "[bgp] has no peers").with_hint(
            "add a peer:\n    [[bgp.peer]]\n    address = \"192.0.2.2\"\n    asn = 65000",
        ));
    }
    let mut peers = Vec::new();
    let mut seen: BTreeMap<IpAddr, String> = BTreeMap::new();
    for p in raw {
        let place = src.place(p.span());
        if let Some(peer) = validate_peer(src, p, errors) {
            if let Some(first) = seen.get(&peer.address) {
                errors.push(
                    ConfigError::whole_file(
                        &src.path,
                        format!("peer {} is configured twice ({place})", peer.address),
                    )
                    .with_hint(format!(
                        "it is first configured at {first}; one [[bgp.peer]] per address"
                    )),
                );
            }
            seen.insert(peer.address, place);
            peers.push(peer);
        }
    }
    peers
}

/// IPv4, IPv6, or IPv6 link-local: a peer takes one next hop of each (the link-local one
/// follows the global one in a 32-octet MP_REACH_NLRI next hop, RFC 2545).
fn next_hop_kind(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => 0,
        IpAddr::V6(v6) if v6.is_unicast_link_local() => 2,
        IpAddr::V6(_) => 1,
    }
}

fn validate_peer(
    src: &SourceText,
    raw: Spanned<RawBgpPeer>,
    errors: &mut Vec<ConfigError>,
) -> Option<BgpPeer> {
    let before = errors.len();
    let span = raw.span();
    let raw = raw.into_inner();
    let address = match raw.address.as_ref() {
        None => {
            errors.push(
                src.error(span.clone(), "[[bgp.peer]] has no address")
                    .with_hint("add address = \"192.0.2.2\" (the peer's IPv4 or IPv6 address)"),
            );
            None
        }
        Some(v) => parse_address(src, "address", v, errors),
    };
    let peer_asn = asn(src, raw.asn.as_ref(), "[[bgp.peer]]", span.clone(), errors);
    let source = peer_source(src, raw.source.as_ref(), address, errors);
    let md5_password = raw.md5_password.as_ref().map(|v| {
        let pw = v.get_ref();
        if pw.is_empty() || pw.len() > 80 {
            errors.push(
                src.error(v.span(), "md5_password must be 1 to 80 bytes")
                    .with_hint("write the password the peer has (Linux TCP MD5 keys are at most 80 bytes), or leave the key out"),
            );
        }
        pw.clone()
    });
    let port = small_number(
        src,
        "port",
        raw.port.as_ref(),
        1..=65535,
        179,
        "the peer's TCP port",
        errors,
    ) as u16;
    let multihop = small_number(
        src,
        "multihop",
        raw.multihop.as_ref(),
        1..=255,
        1,
        "the TTL of the session's packets: 1 for a directly connected peer",
        errors,
    ) as u8;
    let families = families(src, raw.families.as_ref(), errors);
    let next_hop = next_hops(src, raw.next_hop.as_ref(), errors);
    let extended_next_hop = raw.extended_next_hop.as_ref().is_some_and(|v| {
        if *v.get_ref() && !families.contains(&BgpFamily::Ipv4) {
            errors.push(
                src.error(
                    v.span(),
                    "extended_next_hop carries IPv4 routes, and this peer gets none",
                )
                .with_hint("add \"ipv4\" to families, or remove extended_next_hop"),
            );
        }
        *v.get_ref()
    });
    (errors.len() == before).then(|| BgpPeer {
        address: address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        asn: peer_asn,
        source,
        port,
        passive: raw.passive.is_some_and(Spanned::into_inner),
        md5_password,
        multihop,
        families,
        next_hop,
        extended_next_hop,
    })
}

/// A peer's `source`: a local address of the peer address's family, or an interface.
fn peer_source(
    src: &SourceText,
    v: Option<&Spanned<String>>,
    address: Option<IpAddr>,
    errors: &mut Vec<ConfigError>,
) -> Option<BgpSource> {
    let v = v?;
    let text = v.get_ref();
    let Ok(a) = text.parse::<IpAddr>() else {
        // Not an address: an interface name, as `ip link` shows it.
        if text.is_empty() || text.len() > 15 || text.contains(['/', ' ', ':']) {
            errors.push(
                src.error(v.span(), format!("source = \"{text}\" is neither an IP address nor an interface name"))
                    .with_hint("write a local address, e.g. source = \"192.0.2.1\", or an interface, e.g. source = \"eth0\""),
            );
            return None;
        }
        return Some(BgpSource::Interface(text.clone()));
    };
    if address.is_some_and(|p| p.is_ipv4() != a.is_ipv4()) {
        errors.push(
            src.error(v.span(), "source and address are of different IP versions")
                .with_hint("the session runs over the peer address's family: give a local address of the same family"),
        );
    }
    Some(BgpSource::Address(a))
}

/// A peer's `families`: both unless written, each once.
fn families(
    src: &SourceText,
    v: Option<&Spanned<Vec<Spanned<String>>>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<BgpFamily> {
    let mut families = Vec::new();
    match v {
        None => families = vec![BgpFamily::Ipv4, BgpFamily::Ipv6],
        Some(list) if list.get_ref().is_empty() => errors.push(
            src.error(list.span(), "families is empty")
                .with_hint("write families = [\"ipv4\", \"ipv6\"] or one of them"),
        ),
        Some(list) => {
            for f in list.get_ref() {
                let family = match f.get_ref().as_str() {
                    "ipv4" => BgpFamily::Ipv4,
                    "ipv6" => BgpFamily::Ipv6,
                    other => {
                        errors.push(
                            src.error(f.span(), format!("unknown family \"{other}\""))
                                .with_hint("write \"ipv4\" or \"ipv6\" (unicast)"),
                        );
                        continue;
                    }
                };
                if families.contains(&family) {
                    errors.push(
                        src.error(f.span(), "family listed twice")
                            .with_hint("list each family once"),
                    );
                } else {
                    families.push(family);
                }
            }
        }
    }
    families
}

/// A peer's `next_hop`: "self" (none), or unicast addresses, at most one of each kind.
fn next_hops(
    src: &SourceText,
    v: Option<&Spanned<RawNextHop>>,
    errors: &mut Vec<ConfigError>,
) -> Vec<IpAddr> {
    let mut next_hop: Vec<IpAddr> = Vec::new();
    let Some(v) = v else {
        return next_hop;
    };
    let texts: Vec<&str> = match v.get_ref() {
        RawNextHop::One(s) if s == "self" => vec![],
        RawNextHop::One(s) => vec![s.as_str()],
        RawNextHop::Many(list) => list.iter().map(String::as_str).collect(),
    };
    for t in texts {
        match t.parse::<IpAddr>() {
            Ok(a) if a.is_unspecified() || a.is_multicast() => errors.push(
                src.error(v.span(), format!("{a} cannot be a next hop"))
                    .with_hint("write \"self\" or the host's own unicast address"),
            ),
            Ok(a) if next_hop.iter().any(|b| next_hop_kind(b) == next_hop_kind(&a)) => errors.push(
                src.error(v.span(), "two next hops of the same family")
                    .with_hint("write at most one IPv4, one IPv6 and one IPv6 link-local address, e.g. next_hop = [\"192.0.2.1\", \"2001:db8:1::1\"]"),
            ),
            Ok(a) => next_hop.push(a),
            Err(_) => errors.push(
                src.error(v.span(), format!("next_hop \"{t}\" is not \"self\" or an IP address"))
                    .with_hint("write next_hop = \"self\" (the session's own address) or addresses, e.g. [\"192.0.2.1\", \"2001:db8:1::1\"]"),
            ),
        }
    }
    next_hop
}

/// `[service.announce]`; `allowed`: whether the speaker is the backend.
pub fn validate_announce(
    src: &SourceText,
    raw: Option<&Spanned<RawAnnounce>>,
    allowed: bool,
    errors: &mut Vec<ConfigError>,
) -> AnnounceAttrs {
    let Some(raw) = raw else {
        return AnnounceAttrs::default();
    };
    if !allowed {
        errors.push(
            src.error(raw.span(), "[service.announce] needs the built-in BGP speaker")
                .with_hint("route attributes are set by the routing daemon's own configuration with [bird] or [frr]; remove [service.announce], or use [bgp]"),
        );
        return AnnounceAttrs::default();
    }
    let r = raw.get_ref();
    // In file order, so the errors are too.
    let communities_ = COMMUNITIES.read(src, r.communities.as_deref(), errors);
    let large = LARGE_COMMUNITIES.read(src, r.large_communities.as_deref(), errors);
    let med_ = med(src, r.med.as_ref(), false, errors);
    let prepend = small_number(
        src,
        "prepend",
        r.prepend.as_ref(),
        0..=MAX_PREPEND,
        0,
        "extra copies of the local AS in AS_PATH",
        errors,
    ) as u8;
    let drain = r.drain.as_ref().map(|d| {
        let d = d.get_ref();
        DrainAttrs {
            communities: COMMUNITIES.read(src, d.communities.as_deref(), errors),
            large_communities: LARGE_COMMUNITIES.read(src, d.large_communities.as_deref(), errors),
            med: med(src, d.med.as_ref(), true, errors),
            prepend: d.prepend.as_ref().map(|v| {
                small_number(
                    src,
                    "prepend",
                    Some(v),
                    0..=MAX_PREPEND,
                    0,
                    "extra copies of the local AS in AS_PATH while draining, instead of the service's prepend",
                    errors,
                ) as u8
            }),
        }
    });
    AnnounceAttrs {
        communities: communities_,
        large_communities: large,
        med: med_,
        prepend,
        drain,
    }
}

/// How a list of route attributes is read: an entry `parse` refuses is the error
/// "\"TEXT\" is not a WHAT" with `hint`.
struct AttributeList<T: 'static> {
    what: &'static str,
    hint: &'static str,
    parse: fn(&str) -> Option<T>,
}

const COMMUNITIES: AttributeList<Community> = AttributeList {
    what: "community",
    hint: "write two numbers from 0 to 65535 joined by ':', e.g. \"65000:100\"",
    parse: |t| {
        colon_numbers::<u16, 2>(t).map(|[a, b]| Community((u32::from(a) << 16) | u32::from(b)))
    },
};

const LARGE_COMMUNITIES: AttributeList<LargeCommunity> = AttributeList {
    what: "large community",
    hint: "write three numbers from 0 to 4294967295 joined by ':', e.g. \"65000:1:1\"",
    parse: |t| colon_numbers::<u32, 3>(t).map(LargeCommunity),
};

impl<T> AttributeList<T> {
    fn read(
        &self,
        src: &SourceText,
        list: Option<&[Spanned<String>]>,
        errors: &mut Vec<ConfigError>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for c in list.unwrap_or_default() {
            match (self.parse)(c.get_ref()) {
                Some(value) => out.push(value),
                None => errors.push(
                    src.error(
                        c.span(),
                        format!("\"{}\" is not a {}", c.get_ref(), self.what),
                    )
                    .with_hint(self.hint),
                ),
            }
        }
        out
    }
}

/// "65000:100" as `[65000, 100]`: exactly N numbers of type T joined by ':'.
fn colon_numbers<T: std::str::FromStr, const N: usize>(text: &str) -> Option<[T; N]> {
    let parts: Vec<T> = text
        .split(':')
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// `med`; `draining`: in `[service.announce.drain]` (the hint says what it means there).
fn med(
    src: &SourceText,
    v: Option<&Spanned<i64>>,
    draining: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<u32> {
    let v = v?;
    match u32::try_from(*v.get_ref()) {
        Ok(m) => Some(m),
        Err(_) => {
            errors.push(
                src.error(v.span(), format!("med = {} is out of range", v.get_ref()))
                    .with_hint(if draining {
                        "write a MED from 0 to 4294967295 (higher is less preferred: a draining route usually gets a higher one than the service's)"
                    } else {
                        "write a MED from 0 to 4294967295 (lower is preferred)"
                    }),
            );
            None
        }
    }
}
