//! Validation of the routing tables `[bird]` and `[frr]` (`[bgp]` is in `bgp.rs`), and the
//! choice of the one backend that announces the prefixes.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::model::*;
use super::raw::*;
use super::values::{Words, duration, number, parse_prefix};

pub const DEFAULT_INCLUDE_FILE: &str = "/var/lib/anycast-warden/bird/anycast-prefixes.conf";
pub const DEFAULT_INCLUDE_FILE6: &str = "/var/lib/anycast-warden/bird6/anycast-prefixes.conf";
/// Documentation prefixes: never routed in production, so safe as BIRD 1.6's filler.
pub const DEFAULT_DUMMY_PREFIX: &str = "192.0.2.255/32";
pub const DEFAULT_DUMMY_PREFIX6: &str = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128";

/// The backend chosen, and what it lets a service use.
pub(super) struct Backend {
    pub(super) routing: Routing,
    /// `[frr]` is in the file: prefixes may name a VRF.
    pub(super) vrfs_allowed: bool,
    /// `[bgp]` is in the file: services may have `[service.announce]`.
    pub(super) announce_allowed: bool,
}

/// `[bird]`, `[frr]` and `[bgp]`, of which one may be written: `[bgp]` chooses the speaker,
/// `[frr]` FRR, and `[bird]` (or none of them) BIRD, unless the file has `[dns]` and none
/// of the three (DNS-only).
pub(super) fn validate_routing(
    src: &SourceText,
    bird: Option<RawBird>,
    frr: Option<Spanned<RawFrr>>,
    bgp: Option<Spanned<RawBgp>>,
    has_dns: bool,
    errors: &mut Vec<ConfigError>,
) -> Backend {
    let has_bird = bird.is_some();
    let bird = validate_bird(src, bird.unwrap_or_default(), errors);
    let frr = frr.map(|raw| {
        if has_bird {
            errors.push(
                src
                    .error(raw.span(), "the file has both [bird] and [frr]")
                    .with_hint("one routing daemon announces the prefixes: keep the table of the one this host runs and remove the other"),
            );
        }
        validate_frr(src, raw.into_inner(), errors)
    });
    let bgp = bgp.map(|raw| {
        if has_bird || frr.is_some() {
            errors.push(
                src
                    .error(raw.span(), format!("the file has [bgp] and {}", if has_bird { "[bird]" } else { "[frr]" }))
                    .with_hint("one backend announces the prefixes: [bgp] is the built-in speaker for hosts without a routing daemon; keep it or the routing daemon's table, not both"),
            );
        }
        super::bgp::validate_bgp(src, raw, errors)
    });
    let vrfs_allowed = frr.is_some();
    let announce_allowed = bgp.is_some();
    // Both tables at once are refused above; this only decides which one counts.
    let routing = match (bgp, frr) {
        (Some(bgp), _) => Routing::Bgp(bgp),
        (None, Some(frr)) => Routing::Frr(frr),
        (None, None) if has_dns && !has_bird => Routing::None,
        (None, None) => Routing::Bird(bird),
    };
    Backend {
        routing,
        vrfs_allowed,
        announce_allowed,
    }
}

/// BIRD's dummy prefixes are always in the sets, so no service may have one.
pub(super) fn dummy_prefixes_unowned(
    src: &SourceText,
    routing: &Routing,
    owners: &BTreeMap<IpNet, (String, String)>,
    errors: &mut Vec<ConfigError>,
) {
    let dummies = routing.bird().map_or([None, None], |bird| {
        [
            bird.dummy_prefix.map(IpNet::V4),
            bird.dummy_prefix6.map(IpNet::V6),
        ]
    });
    for dummy in dummies.into_iter().flatten() {
        if let Some((service, place)) = owners.get(&dummy) {
            errors.push(
                ConfigError::whole_file(
                    &src.path,
                    format!(
                        "dummy prefix {dummy} is also a prefix of service \"{service}\" ({place})"
                    ),
                )
                .with_hint("choose a dummy prefix that no service announces"),
            );
        }
    }
}

const BIRD_VARIANTS: Words<BirdVariant> = Words {
    what: "BIRD variant",
    words: &[("bird2", BirdVariant::Bird2), ("bird1", BirdVariant::Bird1)],
    hint: "write variant = \"bird2\" (BIRD 2.x) or variant = \"bird1\" (BIRD 1.6: bird and bird6)",
};

fn validate_bird(src: &SourceText, raw: RawBird, errors: &mut Vec<ConfigError>) -> BirdSettings {
    let variant = BIRD_VARIANTS.read(src, raw.variant.as_ref(), BirdVariant::Bird2, errors);
    let bird1 = variant == BirdVariant::Bird1;
    if !bird1 {
        bird6_keys_refused(src, &raw, errors);
    }
    let (set_name, set_name6) = set_names(src, &raw, errors);
    let reconfigure = command(
        src,
        "reconfigure",
        raw.reconfigure.as_ref(),
        &["birdc", "configure"],
        errors,
    );
    let reconfigure6 = bird1.then(|| {
        command(
            src,
            "reconfigure6",
            raw.reconfigure6.as_ref(),
            &["birdc6", "configure"],
            errors,
        )
    });
    let dummy_prefix = match dummy_for_family(src, raw.dummy_prefix.as_ref(), false, bird1, errors)
    {
        Some(IpNet::V4(net)) => Some(net),
        _ => None,
    };
    let dummy_prefix6 = match dummy_for_family(src, raw.dummy_prefix6.as_ref(), true, bird1, errors)
    {
        Some(IpNet::V6(net)) => Some(net),
        _ => None,
    };
    let keep_changes = number(
        src,
        "keep_changes",
        raw.keep_changes.as_ref(),
        0..=100_000,
        0,
        "write a count from 0 (no history) to 100000, e.g. keep_changes = 128",
        errors,
    ) as u32;
    let reconfigure_timeout = duration(
        src,
        "reconfigure_timeout",
        raw.reconfigure_timeout.as_ref(),
        false,
        errors,
    )
    .unwrap_or(Duration::from_secs(5));
    let (include_file, include_file6) = include_files(src, &raw, bird1, errors);
    BirdSettings {
        variant,
        include_file,
        include_file6,
        set_name,
        set_name6,
        control_socket: raw.control_socket.map(|p| PathBuf::from(p.into_inner())),
        control_socket6: if bird1 {
            raw.control_socket6.map(|p| PathBuf::from(p.into_inner()))
        } else {
            None
        },
        reconfigure,
        reconfigure6,
        reconfigure_timeout,
        dummy_prefix,
        dummy_prefix6,
        keep_changes,
    }
}

/// BIRD 2 has one daemon for both families: the keys of bird6 are refused.
fn bird6_keys_refused(src: &SourceText, raw: &RawBird, errors: &mut Vec<ConfigError>) {
    let v6_only: [(&str, Option<Range<usize>>); 3] = [
        (
            "include_file6",
            raw.include_file6.as_ref().map(Spanned::span),
        ),
        (
            "control_socket6",
            raw.control_socket6.as_ref().map(Spanned::span),
        ),
        ("reconfigure6", raw.reconfigure6.as_ref().map(Spanned::span)),
    ];
    for (key, span) in v6_only {
        if let Some(span) = span {
            errors.push(
                src.error(span, format!("{key} is only for variant = \"bird1\""))
                    .with_hint(
                        "BIRD 2 takes IPv4 and IPv6 from one file and one socket; remove this line",
                    ),
            );
        }
    }
}

/// `set_name` and `set_name6`: two different BIRD symbols.
fn set_names(src: &SourceText, raw: &RawBird, errors: &mut Vec<ConfigError>) -> (String, String) {
    let set_name = symbol(
        src,
        "set_name",
        raw.set_name.as_ref(),
        "ANYCAST_PREFIXES",
        errors,
    );
    let set_name6 = symbol(
        src,
        "set_name6",
        raw.set_name6.as_ref(),
        "ANYCAST6_PREFIXES",
        errors,
    );
    if set_name == set_name6
        && let Some(s) = raw.set_name6.as_ref().or(raw.set_name.as_ref())
    {
        errors.push(
                src.error(s.span(), format!("set_name and set_name6 are both \"{set_name}\""))
                    .with_hint("the IPv4 and IPv6 sets need different names, e.g. ANYCAST_PREFIXES and ANYCAST6_PREFIXES"),
            );
    }
    (set_name, set_name6)
}

/// `dummy_prefix` (`v6` false) or `dummy_prefix6`: a prefix of that family; unwritten,
/// BIRD 1.6's default (its sets must never be empty) and none for BIRD 2.
fn dummy_for_family(
    src: &SourceText,
    v: Option<&Spanned<String>>,
    v6: bool,
    bird1: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<IpNet> {
    let (key, family, other_family, other_key, default) = if v6 {
        (
            "dummy_prefix6",
            "IPv6",
            "IPv4",
            "dummy_prefix",
            DEFAULT_DUMMY_PREFIX6,
        )
    } else {
        (
            "dummy_prefix",
            "IPv4",
            "IPv6",
            "dummy_prefix6",
            DEFAULT_DUMMY_PREFIX,
        )
    };
    let Some(p) = v else {
        return if bird1 { default.parse().ok() } else { None };
    };
    let net = parse_prefix(src, p, errors)?;
    if net.addr().is_ipv6() != v6 {
        errors.push(
            src.error(p.span(), format!("{key} must be an {family} prefix"))
                .with_hint(format!(
                    "put {other_family} prefixes in {other_key}, e.g. {key} = \"{default}\""
                )),
        );
        return None;
    }
    Some(net)
}

/// `include_file`, and for BIRD 1.6 `include_file6`: two different files.
fn include_files(
    src: &SourceText,
    raw: &RawBird,
    bird1: bool,
    errors: &mut Vec<ConfigError>,
) -> (PathBuf, Option<PathBuf>) {
    let include_file = raw.include_file.as_ref().map_or_else(
        || PathBuf::from(DEFAULT_INCLUDE_FILE),
        |p| PathBuf::from(p.get_ref()),
    );
    let include_file6 = bird1.then(|| {
        raw.include_file6.as_ref().map_or_else(
            || PathBuf::from(DEFAULT_INCLUDE_FILE6),
            |p| PathBuf::from(p.get_ref()),
        )
    });
    if include_file6.as_ref() == Some(&include_file) {
        errors.push(
            ConfigError::whole_file(
                &src.path,
                "include_file and include_file6 are the same file",
            )
            .with_hint("bird and bird6 each need their own include file, e.g. in two directories"),
        );
    }
    (include_file, include_file6)
}

/// The tag marking the warden's static routes unless `tag` says otherwise.
pub const DEFAULT_FRR_TAG: u32 = 4711;
pub const DEFAULT_VTYSH: &str = "/usr/bin/vtysh";

const FRR_TRANSPORTS: Words<FrrTransport> = Words {
    what: "FRR transport",
    words: &[("vty", FrrTransport::Vty), ("vtysh", FrrTransport::Vtysh)],
    hint: "write transport = \"vty\" (FRR's vty sockets, the default and fastest) or transport = \"vtysh\" (one vtysh process per apply)",
};

const FRR_MODES: Words<FrrMode> = Words {
    what: "FRR mode",
    words: &[("network", FrrMode::Network), ("static", FrrMode::Static)],
    hint: "write mode = \"network\" (network statements, for addresses on lo) or mode = \"static\" (tagged static routes for `redistribute static`)",
};

fn validate_frr(src: &SourceText, raw: RawFrr, errors: &mut Vec<ConfigError>) -> FrrSettings {
    let transport = FRR_TRANSPORTS.read(src, raw.transport.as_ref(), FrrTransport::Vty, errors);
    let mode = FRR_MODES.read(src, raw.mode.as_ref(), FrrMode::Network, errors);
    let asn = raw.asn.as_ref().and_then(|v| match u32::try_from(*v.get_ref()) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            errors.push(
                src.error(v.span(), format!("asn = {} is not an AS number", v.get_ref()))
                    .with_hint("write the AS of `router bgp` in frr.conf (1 to 4294967295), e.g. asn = 65001, or leave it out to read it from FRR"),
            );
            None
        }
    });
    let tag = number(
        src,
        "tag",
        raw.tag.as_ref(),
        1..=i64::from(u32::MAX),
        i64::from(DEFAULT_FRR_TAG),
        &format!(
            "write a route tag from 1 to 4294967295 that no hand-made route uses, e.g. tag = {DEFAULT_FRR_TAG}"
        ),
        errors,
    ) as u32;
    let pathspace = pathspace(src, &raw, errors);
    let vtysh = match raw.vtysh.as_ref() {
        None => PathBuf::from(DEFAULT_VTYSH),
        Some(v) if v.get_ref().trim().is_empty() => {
            errors.push(
                src.error(v.span(), "vtysh is empty")
                    .with_hint(format!("write vtysh = \"{DEFAULT_VTYSH}\"")),
            );
            PathBuf::from(DEFAULT_VTYSH)
        }
        Some(v) => PathBuf::from(v.get_ref()),
    };
    FrrSettings {
        transport,
        vtysh,
        vty_socket: raw.vty_socket.map(|p| PathBuf::from(p.into_inner())),
        pathspace,
        mode,
        asn,
        tag,
        timeout: duration(src, "timeout", raw.timeout.as_ref(), false, errors)
            .unwrap_or(Duration::from_secs(5)),
        verify_interval: duration(
            src,
            "verify_interval",
            raw.verify_interval.as_ref(),
            true,
            errors,
        )
        .unwrap_or(Duration::from_secs(10)),
    }
}

/// `pathspace` (`vtysh -N`): a name that is safe in a path, and not beside `vty_socket`.
fn pathspace(src: &SourceText, raw: &RawFrr, errors: &mut Vec<ConfigError>) -> Option<String> {
    let pathspace = raw.pathspace.as_ref().map(|v| {
        let name = v.get_ref();
        // vtysh puts it into a path: no separators, no leading dash (an option).
        let ok = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && name != "."
            && name != "..";
        if !ok {
            errors.push(
                src.error(v.span(), format!("\"{name}\" is not an FRR path space name"))
                    .with_hint("write the name FRR was started with (-N NAME): letters, digits, '.', '_' or '-'"),
            );
        }
        name.clone()
    });
    if let (Some(_), Some(p)) = (raw.vty_socket.as_ref(), raw.pathspace.as_ref()) {
        errors.push(
            src.error(p.span(), "pathspace and vty_socket are both set")
                .with_hint("vtysh then looks for the sockets in VTY_SOCKET/PATHSPACE/; set only vty_socket (the directory the daemons were given with --vty_socket)"),
        );
    }
    pathspace
}

/// A BIRD symbol name for a prefix set.
fn symbol(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<String>>,
    default: &str,
    errors: &mut Vec<ConfigError>,
) -> String {
    let Some(v) = v else {
        return default.to_string();
    };
    let name = v.get_ref();
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        errors.push(
            src.error(v.span(), format!("\"{name}\" is not a BIRD symbol name"))
                .with_hint(format!("use letters, digits and '_', starting with a letter, e.g. {key} = \"{default}\"")),
        );
    }
    name.clone()
}

fn command(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<Vec<String>>>,
    default: &[&str],
    errors: &mut Vec<ConfigError>,
) -> Vec<String> {
    match v {
        None => default.iter().map(|s| s.to_string()).collect(),
        Some(v) if v.get_ref().first().is_none_or(String::is_empty) => {
            errors.push(
                src.error(v.span(), format!("{key} is empty"))
                    .with_hint(format!(
                        "write {key} = [{}]",
                        default
                            .iter()
                            .map(|s| format!("\"{s}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            default.iter().map(|s| s.to_string()).collect()
        }
        Some(v) => v.get_ref().clone(),
    }
}
