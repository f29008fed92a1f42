//! `[dns]`, `[dns.agreement]` and the services' `records`: validation and the validated
//! form. The TSIG secret file is read here, so `check` and a reload refuse a bad key.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::raw::{RawAgreement, RawDns, RawDuration, RawRecord};
use super::values::{DnsProtocol, Words, duration, duration_text, number};
use crate::dns::tsig::{Algorithm, Key};
use crate::dns::{AddressRecord, Name};

pub const DEFAULT_DNS_TTL: Duration = Duration::from_secs(30);
pub const DEFAULT_DNS_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_DNS_VERIFY_INTERVAL: Duration = Duration::from_secs(60);
pub const DEFAULT_MIN_AGREE: usize = 2;
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
pub const DEFAULT_KEY_PREFIX: &str = "/anycast-warden/";

/// `[dns]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DnsSettings {
    /// The primary that accepts dynamic updates.
    #[serde(serialize_with = "display")]
    pub server: SocketAddr,
    #[serde(serialize_with = "display")]
    pub zone: Name,
    /// The TSIG key (name, algorithm and the secret read from `tsig_secret_file`).
    #[serde(rename = "tsig_key_name", serialize_with = "key_name")]
    pub key: Key,
    pub tsig_secret_file: PathBuf,
    #[serde(serialize_with = "algorithm")]
    pub tsig_algorithm: Algorithm,
    /// TTL of added records.
    #[serde(with = "duration_text")]
    pub ttl: Duration,
    /// Log what would change and change nothing.
    pub dry_run: bool,
    /// Never delete a record when fewer than this many would stay in its RRset.
    pub min_records: usize,
    pub protocol: DnsProtocol,
    /// How long to wait for one answer before the round is retried.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// How often the zone is read again to repair changes made behind the warden's back.
    #[serde(with = "duration_text")]
    pub verify_interval: Duration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<AgreementConfig>,
}

/// `[dns.agreement]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgreementConfig {
    pub etcd_endpoints: Vec<String>,
    pub monitor_id: String,
    pub min_agree: usize,
    #[serde(with = "duration_text")]
    pub lease_ttl: Duration,
    pub key_prefix: String,
}

fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn key_name<S: serde::Serializer>(k: &Key, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&k.name)
}

fn algorithm<S: serde::Serializer>(a: &Algorithm, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(a.name())
}

/// `records` as the user writes them.
pub fn serialize_records<S: serde::Serializer>(
    records: &[AddressRecord],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    #[derive(Serialize)]
    struct Out<'a> {
        name: &'a str,
        #[serde(rename = "type")]
        rtype: &'a str,
        value: String,
    }
    let mut seq = s.serialize_seq(Some(records.len()))?;
    for r in records {
        seq.serialize_element(&Out {
            name: r.name.as_str(),
            rtype: r.type_name(),
            value: r.addr.to_string(),
        })?;
    }
    seq.end()
}

fn required<'a, T>(
    src: &SourceText,
    table: &Spanned<RawDns>,
    key: &str,
    example: &str,
    v: Option<&'a Spanned<T>>,
    errors: &mut Vec<ConfigError>,
) -> Option<&'a Spanned<T>> {
    if v.is_none() {
        errors.push(
            src.error(table.span(), format!("[dns] has no {key}"))
                .with_hint(format!("add {key} = {example}")),
        );
    }
    v
}

/// The host's name: the default monitor id.
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "anycast-warden".to_string())
}

const PROTOCOLS: Words<DnsProtocol> = Words {
    what: "protocol",
    words: &[("udp", DnsProtocol::Udp), ("tcp", DnsProtocol::Tcp)],
    hint: "write protocol = \"udp\" (the default; a truncated answer is asked again over TCP) or protocol = \"tcp\"",
};

/// Validates `[dns]`; `None` when it has errors (they are in `errors`).
pub fn validate_dns(
    src: &SourceText,
    raw: &Spanned<RawDns>,
    errors: &mut Vec<ConfigError>,
) -> Option<DnsSettings> {
    let before = errors.len();
    let t = raw.get_ref();
    let server = required(
        src,
        raw,
        "server",
        "\"192.0.2.53:53\"",
        t.server.as_ref(),
        errors,
    )
    .and_then(|v| primary(src, v, errors));
    let zone = required(
        src,
        raw,
        "zone",
        "\"example.net.\"",
        t.zone.as_ref(),
        errors,
    )
    .and_then(|v| fqdn(src, "zone", v, errors));
    let (key, secret_file) = tsig_key(src, raw, errors);
    let min_records = number(
        src,
        "min_records",
        t.min_records.as_ref(),
        0..=1000,
        1,
        "write how many records of a name must always stay, 0 to 1000; e.g. min_records = 1",
        errors,
    ) as usize;
    let protocol = PROTOCOLS.read(src, t.protocol.as_ref(), DnsProtocol::Udp, errors);
    let ttl = record_ttl(src, t.ttl.as_ref(), errors);
    let timeout =
        duration(src, "timeout", t.timeout.as_ref(), false, errors).unwrap_or(DEFAULT_DNS_TIMEOUT);
    let verify_interval = duration(
        src,
        "verify_interval",
        t.verify_interval.as_ref(),
        true,
        errors,
    )
    .unwrap_or(DEFAULT_DNS_VERIFY_INTERVAL);
    let agreement = t
        .agreement
        .as_ref()
        .and_then(|a| validate_agreement(src, a, errors));
    if errors.len() != before {
        return None;
    }
    let key = key?;
    Some(DnsSettings {
        server: server?,
        zone: zone?,
        tsig_algorithm: key.algorithm,
        key,
        tsig_secret_file: secret_file?,
        ttl,
        dry_run: t.dry_run.as_ref().is_none_or(|v| *v.get_ref()),
        min_records,
        protocol,
        timeout,
        verify_interval,
        agreement,
    })
}

/// `server`: the primary's address; a bare address means port 53.
fn primary(
    src: &SourceText,
    v: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<SocketAddr> {
    let text = v.get_ref().trim();
    let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    });
    if parsed.is_none() {
        errors.push(
            src.error(v.span(), format!("server = \"{text}\" is not an address"))
                .with_hint("write the primary's address and port, e.g. server = \"192.0.2.53:53\" or \"[2001:db8::53]:53\""),
        );
    }
    parsed
}

/// The TSIG key from `tsig_key_name`, `tsig_algorithm` and the secret file (whose BIND key
/// statement may name the key and its algorithm too: then they must agree), and the file.
fn tsig_key(
    src: &SourceText,
    raw: &Spanned<RawDns>,
    errors: &mut Vec<ConfigError>,
) -> (Option<Key>, Option<PathBuf>) {
    let t = raw.get_ref();
    let algorithm_key = t.tsig_algorithm.as_ref().and_then(|v| {
        let a = Algorithm::parse(v.get_ref());
        if a.is_none() {
            errors.push(
                src.error(v.span(), format!("unknown tsig_algorithm \"{}\"", v.get_ref()))
                    .with_hint("write tsig_algorithm = \"hmac-sha256\" (the default), \"hmac-sha512\", \"hmac-sha384\" or, for old servers, \"hmac-sha1\""),
            );
        }
        a
    });
    let secret_file = required(
        src,
        raw,
        "tsig_secret_file",
        "\"/etc/anycast-warden/tsig.key\" (the base64 secret, or a BIND key statement as tsig-keygen writes it)",
        t.tsig_secret_file.as_ref(),
        errors,
    );
    let key_file = secret_file.and_then(|v| read_key_file(src, v, errors));
    let key_name = tsig_key_name(src, raw, key_file.as_ref(), errors);
    let file_algorithm = key_file.as_ref().and_then(|k| k.algorithm);
    if let (Some(a), Some(f), Some(v)) = (algorithm_key, file_algorithm, t.tsig_algorithm.as_ref())
        && a != f
    {
        errors.push(
            src.error(
                v.span(),
                format!(
                    "tsig_algorithm \"{}\" but the key file says {}",
                    a.name(),
                    f.name()
                ),
            )
            .with_hint("remove tsig_algorithm to use the file's, or make them agree"),
        );
    }
    let algorithm = algorithm_key
        .or(file_algorithm)
        .unwrap_or(Algorithm::HmacSha256);
    let key = match (key_name, key_file) {
        (Some(name), Some(file)) => Some(Key {
            name,
            algorithm,
            secret: file.secret,
        }),
        _ => None,
    };
    (key, secret_file.map(|v| PathBuf::from(v.get_ref())))
}

/// The secret file, read now so that `check` and a reload refuse a bad key.
fn read_key_file(
    src: &SourceText,
    v: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<crate::dns::key_file::KeyFile> {
    let path = v.get_ref();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            errors.push(
                src.error(
                    v.span(),
                    format!("cannot read tsig_secret_file \"{path}\": {e}"),
                )
                .with_hint(
                    "point it at a file only the warden can read holding the key's base64 secret",
                ),
            );
            return None;
        }
    };
    match crate::dns::key_file::parse(&text) {
        Ok(k) => Some(k),
        Err(why) => {
            errors.push(
                src.error(v.span(), format!("tsig_secret_file \"{path}\": {why}"))
                    .with_hint("write the base64 secret on one line, or `key \"warden\" { algorithm hmac-sha256; secret \"...\"; };` as `tsig-keygen warden` prints it"),
            );
            None
        }
    }
}

/// `tsig_key_name`, or the name the key file gives; both written, they must agree.
fn tsig_key_name(
    src: &SourceText,
    raw: &Spanned<RawDns>,
    key_file: Option<&crate::dns::key_file::KeyFile>,
    errors: &mut Vec<ConfigError>,
) -> Option<Name> {
    match (
        raw.get_ref().tsig_key_name.as_ref(),
        key_file.and_then(|k| k.name.clone()),
    ) {
        (Some(v), from_file) => {
            let name = fqdn_relaxed(src, "tsig_key_name", v, errors);
            if let (Some(n), Some(f)) = (&name, from_file.as_deref())
                && Name::parse(&absolute(f)).ok().as_ref() != Some(n)
            {
                errors.push(
                    src.error(v.span(), format!("tsig_key_name \"{}\" but the key file names key \"{f}\"", v.get_ref()))
                        .with_hint("write the name the server knows the key by in both places, or leave tsig_key_name out to take the file's"),
                );
            }
            name
        }
        (None, Some(f)) => Name::parse(&absolute(&f)).ok(),
        (None, None) => {
            if key_file.is_some() {
                errors.push(
                    src.error(raw.span(), "[dns] has no tsig_key_name")
                        .with_hint("add tsig_key_name = \"warden\" (the key's name on the server)"),
                );
            }
            None
        }
    }
}

/// `ttl` of the records added: whole seconds that fit in 31 bits.
fn record_ttl(
    src: &SourceText,
    v: Option<&Spanned<RawDuration>>,
    errors: &mut Vec<ConfigError>,
) -> Duration {
    let ttl = duration(src, "ttl", v, true, errors).unwrap_or(DEFAULT_DNS_TTL);
    if (ttl.as_secs() > u64::from(i32::MAX as u32) || ttl.subsec_nanos() != 0)
        && let Some(v) = v
    {
        errors.push(
            src.error(v.span(), "ttl must be whole seconds up to 68 years")
                .with_hint("write e.g. ttl = \"30s\""),
        );
    }
    ttl
}

fn absolute(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// A key name: written with or without the final dot (BIND writes it without).
fn fqdn_relaxed(
    src: &SourceText,
    key: &str,
    v: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<Name> {
    match Name::parse(&absolute(v.get_ref().trim())) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push(
                src.error(v.span(), format!("{key}: {e}"))
                    .with_hint(format!(
                        "write the key's name as the server knows it, e.g. {key} = \"warden\""
                    )),
            );
            None
        }
    }
}

fn fqdn(
    src: &SourceText,
    key: &str,
    v: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<Name> {
    match Name::parse(v.get_ref().trim()) {
        Ok(n) => Some(n),
        Err(e) => {
            let text = v.get_ref().trim();
            errors.push(
                src.error(v.span(), format!("{key}: {e}"))
                    .with_hint(format!(
                        "write a fully qualified name with the final dot, e.g. {key} = \"{}\"",
                        absolute(if text.is_empty() { "example.net" } else { text })
                    )),
            );
            None
        }
    }
}

fn validate_agreement(
    src: &SourceText,
    raw: &Spanned<RawAgreement>,
    errors: &mut Vec<ConfigError>,
) -> Option<AgreementConfig> {
    let before = errors.len();
    let t = raw.get_ref();
    let endpoints = etcd_endpoints(src, raw, errors);
    let monitor_id = match t.monitor_id.as_ref() {
        None => hostname(),
        Some(v) => {
            let id = v.get_ref().trim();
            if id.is_empty() || id.len() > 128 || id.contains('/') {
                errors.push(
                    src.error(v.span(), format!("monitor_id \"{id}\" is not usable"))
                        .with_hint("write 1 to 128 characters without '/', unique per warden, e.g. monitor_id = \"fra1\" (the default is the host name)"),
                );
            }
            id.to_string()
        }
    };
    let min_agree = number(
        src,
        "min_agree",
        t.min_agree.as_ref(),
        1..=100,
        DEFAULT_MIN_AGREE as i64,
        "write how many live monitors must see a record down before it is deleted, 1 to 100; e.g. min_agree = 2",
        errors,
    ) as usize;
    let lease_ttl = duration(src, "lease_ttl", t.lease_ttl.as_ref(), false, errors)
        .unwrap_or(DEFAULT_LEASE_TTL);
    if lease_ttl < Duration::from_secs(2)
        && let Some(v) = t.lease_ttl.as_ref()
    {
        errors.push(
            src.error(v.span(), "lease_ttl is shorter than 2s")
                .with_hint("etcd leases are whole seconds, and a vote must outlive a keepalive: write e.g. lease_ttl = \"10s\""),
        );
    }
    let key_prefix = match t.key_prefix.as_ref() {
        None => DEFAULT_KEY_PREFIX.to_string(),
        Some(v) => {
            let p = v.get_ref().trim();
            if p.is_empty() {
                errors.push(
                    src.error(v.span(), "key_prefix is empty")
                        .with_hint(format!("write e.g. key_prefix = \"{DEFAULT_KEY_PREFIX}\"")),
                );
            }
            p.to_string()
        }
    };
    (errors.len() == before).then_some(AgreementConfig {
        etcd_endpoints: endpoints,
        monitor_id,
        min_agree,
        lease_ttl,
        key_prefix,
    })
}

/// `etcd_endpoints`: required, each an http(s) URL with a host and a port.
fn etcd_endpoints(
    src: &SourceText,
    raw: &Spanned<RawAgreement>,
    errors: &mut Vec<ConfigError>,
) -> Vec<String> {
    match raw.get_ref().etcd_endpoints.as_ref() {
        None => {
            errors.push(
                src.error(raw.span(), "[dns.agreement] has no etcd_endpoints")
                    .with_hint("add etcd_endpoints = [\"http://192.0.2.1:2379\"] (every member of the etcd cluster)"),
            );
            Vec::new()
        }
        Some(list) if list.get_ref().is_empty() => {
            errors.push(src.error(list.span(), "etcd_endpoints is empty").with_hint(
                "list the etcd members, e.g. etcd_endpoints = [\"http://192.0.2.1:2379\"]",
            ));
            Vec::new()
        }
        Some(list) => list
            .get_ref()
            .iter()
            .filter_map(|e| {
                let text = e.get_ref().trim();
                let ok = url::Url::parse(text).ok().is_some_and(|u| {
                    matches!(u.scheme(), "http" | "https")
                        && u.host().is_some()
                        && u.port_or_known_default().is_some()
                });
                if ok {
                    Some(text.to_string())
                } else {
                    errors.push(
                        src.error(e.span(), format!("\"{text}\" is not an etcd endpoint URL"))
                            .with_hint("write e.g. \"http://192.0.2.1:2379\""),
                    );
                    None
                }
            })
            .collect(),
    }
}

/// A service's `records`; `zone` is `[dns]`'s zone (`None`: the main file has no `[dns]`).
pub fn validate_records(
    src: &SourceText,
    list: &Spanned<Vec<Spanned<RawRecord>>>,
    zone: Option<&Name>,
    has_dns: bool,
    errors: &mut Vec<ConfigError>,
) -> Vec<AddressRecord> {
    if !has_dns {
        errors.push(
            src.error(list.span(), "records need [dns] in the main file")
                .with_hint("add a [dns] table (server, zone, tsig_key_name, tsig_secret_file) to the main configuration file"),
        );
        return Vec::new();
    }
    if list.get_ref().is_empty() {
        errors.push(
            src.error(list.span(), "records is empty")
                .with_hint("list at least one record, e.g. records = [{ name = \"www.example.net.\", type = \"A\", value = \"198.51.100.10\" }]"),
        );
    }
    let mut out: Vec<AddressRecord> = Vec::new();
    for entry in list.get_ref() {
        let Some(record) = record(src, entry, zone, errors) else {
            continue;
        };
        if out.contains(&record) {
            errors.push(
                src.error(entry.span(), format!("record {record} is listed twice"))
                    .with_hint("remove the second one"),
            );
            continue;
        }
        out.push(record);
    }
    out
}

/// One entry of `records`: a name in the zone, and an address of its type.
fn record(
    src: &SourceText,
    entry: &Spanned<RawRecord>,
    zone: Option<&Name>,
    errors: &mut Vec<ConfigError>,
) -> Option<AddressRecord> {
    let r = entry.get_ref();
    let missing = |key: &str| {
        src.error(entry.span(), format!("record has no `{key}`"))
            .with_hint(
                "write { name = \"www.example.net.\", type = \"A\", value = \"198.51.100.10\" }",
            )
    };
    let (Some(name), Some(rtype), Some(value)) = (&r.name, &r.rtype, &r.value) else {
        for (key, present) in [
            ("name", r.name.is_some()),
            ("type", r.rtype.is_some()),
            ("value", r.value.is_some()),
        ] {
            if !present {
                errors.push(missing(key));
            }
        }
        return None;
    };
    let parsed_name = fqdn(src, "name", name, errors)?;
    if let Some(zone) = zone
        && !parsed_name.is_in(zone)
    {
        errors.push(
            src.error(name.span(), format!("{parsed_name} is not in zone {zone}"))
                .with_hint(format!(
                    "the warden updates only [dns] zone {zone}: write a name ending in .{zone}"
                )),
        );
        return None;
    }
    let want_v6 = match rtype.get_ref().to_ascii_uppercase().as_str() {
        "A" => false,
        "AAAA" => true,
        other => {
            errors.push(
                src.error(rtype.span(), format!("unsupported record type \"{other}\""))
                    .with_hint(
                        "write type = \"A\" (an IPv4 address) or type = \"AAAA\" (an IPv6 address)",
                    ),
            );
            return None;
        }
    };
    let addr = match value.get_ref().trim().parse::<IpAddr>() {
        Ok(a) if a.is_ipv6() == want_v6 => a,
        Ok(a) => {
            let fits = if a.is_ipv6() { "AAAA" } else { "A" };
            errors.push(
                src.error(
                    value.span(),
                    format!("{a} does not fit type {}", rtype.get_ref()),
                )
                .with_hint(format!("write type = \"{fits}\" for this address")),
            );
            return None;
        }
        Err(_) => {
            errors.push(
                src.error(
                    value.span(),
                    format!("\"{}\" is not an IP address", value.get_ref()),
                )
                .with_hint(
                    "write the address the name should point at, e.g. value = \"198.51.100.10\"",
                ),
            );
            return None;
        }
    };
    Some(AddressRecord {
        name: parsed_name,
        addr,
    })
}
