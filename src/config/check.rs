//! Validation of one `[[service.check]]`: the kind, the keys that kind takes (a key of
//! another kind is refused with the name of the kind that takes it), and the options
//! every kind shares (`tries`, `retry_interval`). Each kind's own keys are read in `check/`:
//! `exec`, `local` (file, address), `probe` (tcp, udp, tftp, icmp), `http` (http,
//! cabourotte), `tls` and `dns_query` (dns), with the reader they share in `checker`.

mod checker;
mod dns_query;
mod exec;
mod http;
mod local;
mod probe;
mod tls;

use std::ops::Range;
use std::time::Duration;

use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::model::*;
use super::raw::*;
use checker::Checker;

pub use checker::ServiceContext;
pub(super) use exec::run_as;
pub use http::DEFAULT_CABOUROTTE_URL;

/// Every kind, for "unknown kind" hints.
const CHECK_KINDS: &[&str] = &[
    "exec",
    "tcp",
    "file",
    "udp",
    "tftp",
    "address",
    "http",
    "tls",
    "dns",
    "icmp",
    "cabourotte",
];

/// Attempts per round at most: more would only hide a flapping service.
const MAX_TRIES: i64 = 100;

/// Validates one check; `None` (with errors pushed) when it is unusable.
pub fn validate_check(
    src: &SourceText,
    span: Range<usize>,
    raw: RawCheck,
    service: &ServiceContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<CheckConfig> {
    let kinds = CHECK_KINDS
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(kind) = raw.kind.as_ref() else {
        errors.push(
            src.error(span, "check has no kind")
                .with_hint(format!("add kind = \"tcp\" (one of {kinds})")),
        );
        return None;
    };
    let kind_name = kind.get_ref().as_str();
    if !CHECK_KINDS.contains(&kind_name) {
        errors.push(
            src.error(kind.span(), format!("unknown check kind \"{kind_name}\""))
                .with_hint(format!("write one of {kinds}")),
        );
        return None;
    }
    let before = errors.len();
    keys_of_other_kinds(src, &raw, kind_name, errors);
    let mut c = Checker {
        src,
        span: span.clone(),
        kind: kind_name,
        errors,
    };
    let (tries, retry_interval) = tries(&mut c, &raw, service.timeout);
    let spec = match kind_name {
        "exec" => exec::exec(&mut c, &raw, service.run_as),
        "tcp" => probe::tcp(&mut c, &raw),
        "file" => local::file(&mut c, &raw),
        "udp" => probe::udp(&mut c, &raw),
        "tftp" => probe::tftp(&mut c, &raw),
        "address" => local::address(&mut c, &raw, service),
        "http" => http::http(&mut c, &raw),
        "tls" => tls::tls(&mut c, &raw),
        "dns" => dns_query::dns(&mut c, &raw),
        "icmp" => probe::icmp(&mut c, &raw),
        "cabourotte" => http::cabourotte(&mut c, &raw),
        _ => None,
    };
    // A kind may return its spec beside the problems it found: any of them refuses the check.
    let spec = spec?;
    (errors.len() == before).then_some(CheckConfig {
        spec,
        tries,
        retry_interval,
    })
}

/// Refuses each key written that `kind` does not take, naming the kinds that do.
fn keys_of_other_kinds(
    src: &SourceText,
    raw: &RawCheck,
    kind: &str,
    errors: &mut Vec<ConfigError>,
) {
    for (key, key_span, owners) in kind_keys(raw) {
        if let Some(key_span) = key_span
            && !owners.contains(&kind)
        {
            let quoted: Vec<String> = owners.iter().map(|k| format!("\"{k}\"")).collect();
            let owners = match quoted.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("kind = {} or {last}", rest.join(", "))
                }
                _ => format!("kind = {}", quoted.join("")),
            };
            errors.push(
                src.error(
                    key_span,
                    format!("`{key}` does not apply to kind = \"{kind}\""),
                )
                .with_hint(format!(
                    "`{key}` belongs to {owners}; remove it or change the kind"
                )),
            );
        }
    }
}

/// A kind-specific key: its name, where it is written (if it is), the kinds that take it.
type KindKey = (&'static str, Option<Range<usize>>, &'static [&'static str]);

/// Each kind-specific key as written, and the kinds that take it.
fn kind_keys(raw: &RawCheck) -> Vec<KindKey> {
    fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
        v.as_ref().map(Spanned::span)
    }
    vec![
        ("command", at(&raw.command), &["exec"]),
        ("shell", at(&raw.shell), &["exec"]),
        ("user", at(&raw.user), &["exec"]),
        ("group", at(&raw.group), &["exec"]),
        ("target", at(&raw.target), &["tcp", "udp", "tftp", "tls"]),
        ("path", at(&raw.path), &["file"]),
        ("absent", at(&raw.absent), &["file"]),
        ("payload", at(&raw.payload), &["udp"]),
        ("expect", at(&raw.expect), &["udp", "dns"]),
        ("file", at(&raw.file), &["tftp", "tls"]),
        ("address", at(&raw.address), &["address"]),
        ("interface", at(&raw.interface), &["address"]),
        ("url", at(&raw.url), &["http", "cabourotte"]),
        ("method", at(&raw.method), &["http"]),
        ("headers", at(&raw.headers), &["http"]),
        ("body", at(&raw.body), &["http"]),
        ("status", at(&raw.status), &["http"]),
        ("body_contains", at(&raw.body_contains), &["http"]),
        ("body_regex", at(&raw.body_regex), &["http"]),
        ("host", at(&raw.host), &["http", "icmp"]),
        ("insecure", at(&raw.insecure), &["http"]),
        ("ca_file", at(&raw.ca_file), &["http"]),
        ("client_cert", at(&raw.client_cert), &["http"]),
        ("client_key", at(&raw.client_key), &["http"]),
        ("source", at(&raw.source), &["http"]),
        ("server_name", at(&raw.server_name), &["tls"]),
        ("min_validity", at(&raw.min_validity), &["tls"]),
        ("common_name", at(&raw.common_name), &["tls"]),
        ("dns_names", at(&raw.dns_names), &["tls"]),
        ("ip_addresses", at(&raw.ip_addresses), &["tls"]),
        ("issuer", at(&raw.issuer), &["tls"]),
        ("query", at(&raw.query), &["dns"]),
        ("record", at(&raw.record), &["dns"]),
        ("server", at(&raw.server), &["dns"]),
        ("protocol", at(&raw.protocol), &["dns"]),
        ("rcode", at(&raw.rcode), &["dns"]),
        ("count", at(&raw.count), &["icmp"]),
        ("max_loss", at(&raw.max_loss), &["icmp"]),
        ("max_rtt", at(&raw.max_rtt), &["icmp"]),
        ("name", at(&raw.name), &["cabourotte"]),
    ]
}

/// `tries` and `retry_interval`; every retry must still fit in the service's timeout.
fn tries(c: &mut Checker<'_>, raw: &RawCheck, timeout: Duration) -> (u32, Duration) {
    let tries = c.number(
        "tries",
        raw.tries.as_ref(),
        1..=MAX_TRIES,
        1,
        &format!(
            "write tries = 1 or more (at most {MAX_TRIES}): the attempts per round, e.g. tries = 3"
        ),
    ) as u32;
    let retry_interval = c
        .duration("retry_interval", raw.retry_interval.as_ref(), true)
        .unwrap_or(DEFAULT_RETRY_INTERVAL);
    if tries > 1 && retry_interval * (tries - 1) >= timeout {
        let at = raw
            .retry_interval
            .as_ref()
            .map(Spanned::span)
            .or(raw.tries.as_ref().map(Spanned::span))
            .unwrap_or(c.span.clone());
        c.error(
            at,
            format!(
                "tries = {tries} with retry_interval = \"{}\" does not fit in the timeout ({})",
                duration_text::format(retry_interval),
                duration_text::format(timeout)
            ),
            "all tries share the service's timeout: shorten retry_interval, lower tries or raise timeout",
        );
    }
    (tries, retry_interval)
}
