//! Validation of the services: `[[service]]` (its name, prefixes, records, checks and
//! route attributes), `[defaults]` beneath it, and who owns which name, prefix and record
//! across the main file and the conf.d directory.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::time::Duration;

use ipnet::IpNet;
use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::model::*;
use super::raw::*;
use super::values::{Words, duration, interface, number, prefix_text};

/// Built-in values for what neither a service nor `[defaults]` sets.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 2;
pub const DEFAULT_INTERFACE: &str = "lo";

const MAX_RISE_FALL: i64 = 1000;

/// What the main file allows a service to use.
pub(super) struct ServiceScope {
    /// Whether the chosen backend has VRFs (FRR does, BIRD's include file does not).
    pub(super) vrfs_allowed: bool,
    /// Whether `[service.announce]` means anything (the built-in speaker only).
    pub(super) announce_allowed: bool,
    /// `Some` when the main file has `[dns]`, with its zone when that is valid.
    pub(super) dns: Option<Option<crate::dns::Name>>,
    /// Whether anything announces prefixes (false for a DNS-only file).
    pub(super) routing: bool,
}

/// Services accepted so far, and who owns which name, prefix and record.
pub(super) struct Collected {
    scope: ServiceScope,
    pub(super) services: Vec<ServiceConfig>,
    names: HashMap<String, String>,
    /// Keyed by the prefix alone: the announcer deals in prefixes, so one prefix cannot be
    /// announced in two VRFs.
    pub(super) owners: BTreeMap<IpNet, (String, String)>,
    /// Who owns which DNS record.
    record_owners: BTreeMap<crate::dns::AddressRecord, (String, String)>,
}

impl Collected {
    pub(super) fn new(scope: ServiceScope) -> Self {
        Collected {
            scope,
            services: Vec::new(),
            names: HashMap::new(),
            owners: BTreeMap::new(),
            record_owners: BTreeMap::new(),
        }
    }

    pub(super) fn add(
        &mut self,
        src: &SourceText,
        raw_services: Vec<Spanned<RawService>>,
        defaults: &ServiceDefaults,
        errors: &mut Vec<ConfigError>,
    ) {
        for raw in raw_services {
            let span = raw.span();
            let Some(service) = validate_service(
                src,
                span.clone(),
                raw.into_inner(),
                defaults,
                &self.scope,
                errors,
            ) else {
                continue;
            };
            if let Some(first) = self.names.get(&service.name) {
                errors.push(
                    src.error(span, format!("duplicate service name \"{}\"", service.name))
                        .with_hint(format!(
                            "it is first defined at {first}; give each service its own name"
                        )),
                );
                continue;
            }
            self.names
                .insert(service.name.clone(), service.origin.clone());
            for prefix in service.prefixes.iter().map(|p| &p.prefix) {
                if let Some((other, other_place)) = self.owners.get(prefix) {
                    errors.push(
                        src.error(
                            span.clone(),
                            format!(
                                "prefix {prefix} of service \"{}\" is also a prefix of service \"{other}\" ({other_place})",
                                service.name
                            ),
                        )
                        .with_hint("each prefix belongs to one service; a service may have several checks"),
                    );
                } else {
                    self.owners
                        .insert(*prefix, (service.name.clone(), service.origin.clone()));
                }
            }
            for record in &service.records {
                if let Some((other, other_place)) = self.record_owners.get(record) {
                    errors.push(
                        src.error(
                            span.clone(),
                            format!(
                                "record {record} of service \"{}\" is also a record of service \"{other}\" ({other_place})",
                                service.name
                            ),
                        )
                        .with_hint("each record belongs to one service; a service may have several checks"),
                    );
                } else {
                    self.record_owners.insert(
                        record.clone(),
                        (service.name.clone(), service.origin.clone()),
                    );
                }
            }
            self.services.push(service);
        }
    }
}

/// `[defaults]` resolved against the built-in defaults.
#[derive(Debug, Clone)]
pub(super) struct ServiceDefaults {
    interval: Duration,
    fast_interval: Option<Duration>,
    timeout: Duration,
    rise: u32,
    fall: u32,
    interface: String,
    ip_check: bool,
    disabled: bool,
    on_disabled: OnDisabled,
    dampening: Option<DampeningConfig>,
    /// Who exec checks run as (`user`, `group`), unless a check names its own.
    run_as: Option<RunAs>,
}

pub(super) fn validate_defaults(
    src: &SourceText,
    raw: RawServiceKeys,
    errors: &mut Vec<ConfigError>,
) -> ServiceDefaults {
    let builtin = ServiceDefaults {
        interval: DEFAULT_INTERVAL,
        fast_interval: None,
        timeout: DEFAULT_TIMEOUT,
        rise: DEFAULT_RISE,
        fall: DEFAULT_FALL,
        interface: DEFAULT_INTERFACE.to_string(),
        ip_check: true,
        disabled: false,
        on_disabled: OnDisabled::Withdraw,
        dampening: None,
        run_as: None,
    };
    service_keys(src, &raw, &builtin, errors)
}

const ON_DISABLED: Words<OnDisabled> = Words {
    what: "on_disabled",
    words: &[
        ("withdraw", OnDisabled::Withdraw),
        ("advertise", OnDisabled::Advertise),
    ],
    hint: "write on_disabled = \"withdraw\" or on_disabled = \"advertise\"",
};

fn service_keys(
    src: &SourceText,
    raw: &RawServiceKeys,
    base: &ServiceDefaults,
    errors: &mut Vec<ConfigError>,
) -> ServiceDefaults {
    let count = |key: &str, v: Option<&Spanned<i64>>, base: u32, errors: &mut Vec<ConfigError>| {
        number(
            src,
            key,
            v,
            1..=MAX_RISE_FALL,
            i64::from(base),
            &format!(
                "write {key} = 1 or more (at most {MAX_RISE_FALL}): the number of consecutive results needed"
            ),
            errors,
        ) as u32
    };
    let on_disabled = ON_DISABLED.read(src, raw.on_disabled.as_ref(), base.on_disabled, errors);
    // A bad name is kept: its error already makes the configuration invalid.
    let interface = raw.interface.as_ref().map_or_else(
        || base.interface.clone(),
        |v| interface(src, v, errors).unwrap_or_else(|| v.get_ref().clone()),
    );
    ServiceDefaults {
        interval: duration(src, "interval", raw.interval.as_ref(), false, errors)
            .unwrap_or(base.interval),
        fast_interval: match raw.fast_interval.as_ref() {
            None => base.fast_interval,
            Some(_) => duration(
                src,
                "fast_interval",
                raw.fast_interval.as_ref(),
                false,
                errors,
            ),
        },
        timeout: duration(src, "timeout", raw.timeout.as_ref(), false, errors)
            .unwrap_or(base.timeout),
        rise: count("rise", raw.rise.as_ref(), base.rise, errors),
        fall: count("fall", raw.fall.as_ref(), base.fall, errors),
        interface,
        ip_check: raw
            .ip_check
            .as_ref()
            .map_or(base.ip_check, |v| *v.get_ref()),
        disabled: raw
            .disabled
            .as_ref()
            .map_or(base.disabled, |v| *v.get_ref()),
        on_disabled,
        dampening: super::dampening::validate_dampening(
            src,
            raw.dampening.as_ref(),
            base.dampening,
            errors,
        ),
        // The pair is inherited whole: a level that names a user decides the group too.
        run_as: match super::check::run_as(src, raw.user.as_ref(), raw.group.as_ref(), errors) {
            Ok(Some(own)) => Some(own),
            Ok(None) | Err(()) => base.run_as.clone(),
        },
    }
}

fn validate_service(
    src: &SourceText,
    span: Range<usize>,
    raw: RawService,
    defaults: &ServiceDefaults,
    scope: &ServiceScope,
    errors: &mut Vec<ConfigError>,
) -> Option<ServiceConfig> {
    let before = errors.len();
    let name = service_name(src, &span, raw.name.as_ref(), errors);
    let keys = service_keys(src, &raw.keys(), defaults, errors);
    let records = raw.records.as_ref().map_or_else(Vec::new, |list| {
        super::dns::validate_records(
            src,
            list,
            scope.dns.as_ref().and_then(Option::as_ref),
            scope.dns.is_some(),
            errors,
        )
    });
    let mut prefixes = service_prefixes(src, &span, &name, &raw, scope, errors);
    fast_interval_fits(src, &span, &raw, &keys, errors);
    let announce =
        super::bgp::validate_announce(src, raw.announce.as_ref(), scope.announce_allowed, errors);
    let mut checks = service_checks(src, raw.check, &keys, errors);
    if checks.is_empty() && errors.len() == before && !keys.disabled {
        errors.push(
            src.error(span.clone(), format!("service \"{name}\" has no checks"))
                .with_hint("add a check, e.g.\n    [[service.check]]\n    kind = \"tcp\"\n    target = \"127.0.0.1:53\""),
        );
    }
    // The configuration lives as long as the daemon, once per service: drop the room
    // that growing the vectors left (three unused checks of about 120 bytes each).
    prefixes.shrink_to_fit();
    checks.shrink_to_fit();
    (errors.len() == before).then(|| ServiceConfig {
        name,
        prefixes,
        records,
        interval: keys.interval,
        fast_interval: keys.fast_interval,
        timeout: keys.timeout,
        rise: keys.rise,
        fall: keys.fall,
        interface: keys.interface,
        ip_check: keys.ip_check,
        disabled: keys.disabled,
        on_disabled: keys.on_disabled,
        dampening: keys.dampening,
        checks,
        announce,
        origin: src.place(span),
    })
}

/// `name`: required, 1 to 64 letters, digits, '.', '_' or '-'.
fn service_name(
    src: &SourceText,
    span: &Range<usize>,
    v: Option<&Spanned<String>>,
    errors: &mut Vec<ConfigError>,
) -> String {
    let Some(n) = v else {
        errors.push(
            src.error(span.clone(), "service has no name")
                .with_hint("add name = \"dns\" (letters, digits, '.', '_' and '-')"),
        );
        return String::new();
    };
    let name = n.get_ref();
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !ok {
        errors.push(
            src.error(n.span(), format!("\"{name}\" is not a valid service name"))
                .with_hint(
                    "use 1 to 64 letters, digits, '.', '_' or '-', e.g. name = \"dns-resolver\"",
                ),
        );
    }
    name.clone()
}

/// `prefixes`: only where a backend announces them, required unless the service has
/// `records`, each prefix once.
fn service_prefixes(
    src: &SourceText,
    span: &Range<usize>,
    name: &str,
    raw: &RawService,
    scope: &ServiceScope,
    errors: &mut Vec<ConfigError>,
) -> Vec<ServicePrefix> {
    let mut prefixes: Vec<ServicePrefix> = Vec::new();
    if let Some(list) = raw.prefixes.as_ref()
        && !scope.routing
    {
        errors.push(
            src.error(list.span(), format!("service \"{name}\" has prefixes, but no backend announces them"))
                .with_hint("this file has [dns] only: add [bird], [frr] or [bgp] for the prefixes, or use records = [...] instead"),
        );
    }
    match raw.prefixes.as_ref() {
        None if raw.records.is_some() => {}
        None => errors.push(
            src.error(span.clone(), format!("service \"{name}\" has no prefixes"))
                .with_hint(
                    "add prefixes = [\"203.0.113.53/32\"] (a bare address means /32 or /128), or with [dns] records = [{ name = \"www.example.net.\", type = \"A\", value = \"198.51.100.10\" }]",
                ),
        ),
        Some(list) if list.get_ref().is_empty() => errors.push(
            src.error(
                list.span(),
                format!("service \"{name}\" has an empty prefixes list"),
            )
            .with_hint("list at least one prefix, e.g. prefixes = [\"203.0.113.53/32\"]"),
        ),
        Some(list) => {
            for p in list.get_ref() {
                if let Some(entry) = service_prefix(src, p, scope.vrfs_allowed, errors) {
                    if prefixes.iter().any(|q| q.prefix == entry.prefix) {
                        errors.push(
                            src.error(p.span(), format!("prefix {} is listed twice", entry.prefix))
                                .with_hint(
                                    "remove the second one (a prefix is announced in one VRF)",
                                ),
                        );
                    } else {
                        prefixes.push(entry);
                    }
                }
            }
        }
    }
    prefixes
}

/// `fast_interval` is the quicker pace: not longer than `interval`.
fn fast_interval_fits(
    src: &SourceText,
    span: &Range<usize>,
    raw: &RawService,
    keys: &ServiceDefaults,
    errors: &mut Vec<ConfigError>,
) {
    if let Some(fast) = keys.fast_interval
        && fast > keys.interval
    {
        let at = raw
            .fast_interval
            .as_ref()
            .map_or(span.clone(), Spanned::span);
        errors.push(
                src.error(
                    at,
                    format!(
                        "fast_interval ({}) is longer than interval ({})",
                        duration_text::format(fast),
                        duration_text::format(keys.interval)
                    ),
                )
                .with_hint("fast_interval is the quicker pace used to confirm a change; make it shorter than interval"),
            );
    }
}

/// Each `[[service.check]]`, with what it inherits from the service.
fn service_checks(
    src: &SourceText,
    raw: Vec<Spanned<RawCheck>>,
    keys: &ServiceDefaults,
    errors: &mut Vec<ConfigError>,
) -> Vec<CheckConfig> {
    let service = super::check::ServiceContext {
        timeout: keys.timeout,
        interface: &keys.interface,
        run_as: keys.run_as.as_ref(),
    };
    let mut checks = Vec::new();
    for check in raw {
        let check_span = check.span();
        if let Some(spec) =
            super::check::validate_check(src, check_span, check.into_inner(), &service, errors)
        {
            checks.push(spec);
        }
    }
    checks
}

/// One entry of `prefixes`: a string, or a table with `prefix` and an optional `vrf`.
fn service_prefix(
    src: &SourceText,
    p: &Spanned<RawPrefix>,
    vrfs_allowed: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<ServicePrefix> {
    let table = match p.get_ref() {
        RawPrefix::Plain(text) => {
            return prefix_text(src, p.span(), text, errors).map(ServicePrefix::from);
        }
        RawPrefix::Table(table) => table,
    };
    const EXAMPLE: &str = "{ prefix = \"203.0.113.123/32\", vrf = \"blue\" }";
    let before = errors.len();
    for key in table
        .keys()
        .filter(|k| !matches!(k.as_str(), "prefix" | "vrf"))
    {
        errors.push(
            src.error(p.span(), format!("unknown key `{key}` in a prefix table"))
                .with_hint(format!(
                    "a prefix table has `prefix` and optionally `vrf`: {EXAMPLE}"
                )),
        );
    }
    let text = match table.get("prefix") {
        Some(toml::Value::String(text)) => Some(text.as_str()),
        Some(_) => {
            errors.push(
                src.error(p.span(), "`prefix` must be a string")
                    .with_hint(format!("write {EXAMPLE}")),
            );
            None
        }
        None => {
            errors.push(
                src.error(p.span(), "prefix table has no `prefix`")
                    .with_hint(format!("write {EXAMPLE}")),
            );
            None
        }
    };
    let vrf = match table.get("vrf") {
        None => None,
        Some(toml::Value::String(name)) if name == "default" => None,
        Some(toml::Value::String(name)) if valid_vrf_name(name) => {
            if !vrfs_allowed {
                errors.push(
                    src.error(p.span(), format!("prefix in VRF \"{name}\", but BIRD's include file has no VRFs"))
                        .with_hint("VRFs need the FRR backend ([frr] in the main file); with BIRD, write the prefix as a plain string and export it from the VRF's protocol in bird.conf"),
                );
            }
            Some(name.clone())
        }
        Some(toml::Value::String(name)) => {
            errors.push(
                src.error(p.span(), format!("\"{name}\" is not a VRF name"))
                    .with_hint("write the VRF's name as `ip link` shows it: 1 to 15 letters, digits, '.', '_' or '-', e.g. vrf = \"blue\""),
            );
            None
        }
        Some(_) => {
            errors.push(
                src.error(p.span(), "`vrf` must be a string")
                    .with_hint(format!("write {EXAMPLE}")),
            );
            None
        }
    };
    let prefix = prefix_text(src, p.span(), text?, errors)?;
    (errors.len() == before).then_some(ServicePrefix { prefix, vrf })
}

/// A VRF name that is safe on a vtysh command line: a Linux interface name (at most 15
/// bytes) made of characters that need no quoting.
pub fn valid_vrf_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('-')
}
