//! The kinds that ask over HTTP: `http` (a request whose answer must match) and
//! `cabourotte` (the latest result of a check that Cabourotte runs).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde_spanned::Spanned;

use super::checker::{Checker, pem_file, url};
use crate::config::model::*;
use crate::config::raw::*;

pub(super) fn http(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    const EXAMPLE: &str = "http://127.0.0.1:8080/health";
    let parsed = url(c, raw.url.as_ref(), &["http", "https"], EXAMPLE);
    let method = method(c, raw);
    let headers = headers(c, raw);
    let status = statuses(c, raw);
    let body_regex = body_regex(c, raw);
    let host = host(c, raw, parsed.as_ref());
    let tls = tls_options(c, raw, parsed.as_ref());
    let source = raw
        .source
        .as_ref()
        .and_then(|s| match s.get_ref().trim().parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                c.error(
                    s.span(),
                    format!("\"{}\" is not an IP address", s.get_ref()),
                    "write the local address to connect from, e.g. source = \"203.0.113.53\"",
                );
                None
            }
        });
    Some(CheckSpec::Http(Box::new(HttpSpec {
        url: parsed?.to_string(),
        method,
        headers,
        body: raw.body.as_ref().map(|b| b.get_ref().clone()),
        status,
        body_contains: raw.body_contains.as_ref().map(|b| b.get_ref().clone()),
        body_regex,
        host,
        insecure: tls.insecure,
        ca_file: tls.ca_file,
        client_cert: tls.client_cert,
        client_key: tls.client_key,
        source,
    })))
}

/// `method`: in capitals, GET unless written.
fn method(c: &mut Checker<'_>, raw: &RawCheck) -> String {
    let Some(m) = raw.method.as_ref() else {
        return "GET".to_string();
    };
    let name = m.get_ref();
    if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_uppercase()) {
        c.error(
            m.span(),
            format!("\"{name}\" is not an HTTP method"),
            format!(
                "write the method in capitals, e.g. method = \"{}\"",
                if name.is_empty() {
                    "GET".to_string()
                } else {
                    name.to_ascii_uppercase()
                }
            ),
        );
    }
    name.clone()
}

/// `headers`: names and values that HTTP allows.
fn headers(c: &mut Checker<'_>, raw: &RawCheck) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    let Some(h) = raw.headers.as_ref() else {
        return headers;
    };
    for (name, value) in h.get_ref() {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            c.error(
                value.span(),
                format!("\"{name}\" is not an HTTP header name"),
                "write headers = { \"X-Health\" = \"1\" } (letters, digits and '-')",
            );
        } else if reqwest::header::HeaderValue::from_str(value.get_ref()).is_err() {
            c.error(
                value.span(),
                format!("the value of header {name} is not valid in HTTP"),
                "write visible ASCII text without line breaks",
            );
        } else {
            headers.insert(name.clone(), value.get_ref().clone());
        }
    }
    headers
}

/// `status`: one status or range, or a list of them; any 2xx unless written.
fn statuses(c: &mut Checker<'_>, raw: &RawCheck) -> Vec<StatusRange> {
    let Some(s) = raw.status.as_ref() else {
        return vec![StatusRange::SUCCESS];
    };
    let items: Vec<&RawStatusItem> = match s.get_ref() {
        RawStatus::One(item) => vec![item],
        RawStatus::Many(items) => items.iter().collect(),
    };
    let mut ranges = Vec::new();
    for item in &items {
        let parsed = match item {
            RawStatusItem::Code(n) => n.to_string().parse::<StatusRange>(),
            RawStatusItem::Text(t) => t.parse::<StatusRange>(),
        };
        match parsed {
            Ok(r) => ranges.push(r),
            Err(()) => {
                let shown = match item {
                    RawStatusItem::Code(n) => n.to_string(),
                    RawStatusItem::Text(t) => format!("\"{t}\""),
                };
                c.error(
                    s.span(),
                    format!("status {shown} is not an HTTP status or range"),
                    "write status = 200, status = \"200-299\", status = \"2xx\" or a list, e.g. status = [200, \"301-302\"] (statuses are 100 to 599)",
                );
            }
        }
    }
    if items.is_empty() {
        c.error(
            s.span(),
            "status is an empty list",
            "list the accepted statuses, e.g. status = [200, 204], or remove status to accept any 2xx",
        );
    }
    ranges
}

/// `body_regex`: a regular expression the regex crate compiles.
fn body_regex(c: &mut Checker<'_>, raw: &RawCheck) -> Option<String> {
    let r = raw.body_regex.as_ref()?;
    match regex::Regex::new(r.get_ref()) {
        Ok(_) => Some(r.get_ref().clone()),
        Err(e) => {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("").trim().to_string();
            c.error(
                r.span(),
                format!("body_regex is not a regular expression: {first}"),
                "write a regular expression of the Rust regex crate, e.g. body_regex = \"\\\"status\\\": *\\\"ok\\\"\"",
            );
            None
        }
    }
}

/// `host`: a host name, sent instead of the URL's host, which must then be an address.
fn host(c: &mut Checker<'_>, raw: &RawCheck, parsed: Option<&url::Url>) -> Option<String> {
    let h = raw.host.as_ref()?;
    let name = c.host_name(
        h,
        "write the name alone, without scheme or port, e.g. host = \"www.example.com\"",
    )?;
    // The URL says where to connect; the name replaces its host everywhere else.
    if let Some(u) = parsed
        && !matches!(u.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
    {
        let at = raw.url.as_ref().map_or(h.span(), Spanned::span);
        c.error(
            at,
            "with host, the URL must name the address to connect to",
            format!(
                "write the address in the URL and the name in host, e.g. url = \"{}://127.0.0.1{}\" with host = \"{name}\"",
                u.scheme(),
                u.path()
            ),
        );
    }
    Some(name)
}

/// The keys of an https request's TLS.
struct TlsOptions {
    insecure: bool,
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

/// `insecure` or `ca_file`, and `client_cert` with `client_key`: PEM files that load now,
/// and only for an https URL.
fn tls_options(c: &mut Checker<'_>, raw: &RawCheck, parsed: Option<&url::Url>) -> TlsOptions {
    let insecure = raw.insecure.as_ref().is_some_and(|v| *v.get_ref());
    let ca_file = pem_file(
        c,
        "ca_file",
        raw.ca_file.as_ref(),
        crate::sys::pem::load_certs,
    );
    if insecure && let Some(ca) = raw.ca_file.as_ref() {
        c.error(
            ca.span(),
            "ca_file and insecure = true are both set",
            "insecure accepts any certificate, so ca_file would not matter: remove one of them",
        );
    }
    let client_cert = pem_file(
        c,
        "client_cert",
        raw.client_cert.as_ref(),
        crate::sys::pem::load_certs,
    );
    let client_key = pem_file(
        c,
        "client_key",
        raw.client_key.as_ref(),
        crate::sys::pem::load_key,
    );
    match (raw.client_cert.as_ref(), raw.client_key.as_ref()) {
        (Some(v), None) => c.error(
            v.span(),
            "client_cert without client_key",
            "add client_key = \"/etc/anycast-warden/client.key\" (the certificate's private key, PEM)",
        ),
        (None, Some(v)) => c.error(
            v.span(),
            "client_key without client_cert",
            "add client_cert = \"/etc/anycast-warden/client.pem\" (the certificate chain, PEM)",
        ),
        _ => {}
    }
    if let Some(u) = parsed
        && u.scheme() == "http"
    {
        let tls_keys = [
            ("insecure", raw.insecure.as_ref().map(Spanned::span)),
            ("ca_file", raw.ca_file.as_ref().map(Spanned::span)),
            ("client_cert", raw.client_cert.as_ref().map(Spanned::span)),
        ];
        for (key, span) in tls_keys {
            if let Some(span) = span {
                c.error(
                    span,
                    format!("{key} needs an https URL"),
                    "write url = \"https://...\" or remove the TLS options",
                );
            }
        }
    }
    TlsOptions {
        insecure,
        ca_file,
        client_cert,
        client_key,
    }
}

/// Where Cabourotte's API listens unless `url` says otherwise (its default, and the Python
/// anycastd's).
pub const DEFAULT_CABOUROTTE_URL: &str = "http://127.0.0.1:9013";

pub(super) fn cabourotte(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let base = match raw.url.as_ref() {
        None => Some(DEFAULT_CABOUROTTE_URL.to_string()),
        Some(_) => url(
            c,
            raw.url.as_ref(),
            &["http", "https"],
            DEFAULT_CABOUROTTE_URL,
        )
        .map(|u| u.as_str().trim_end_matches('/').to_string()),
    };
    let name = c.text("name", raw.name.as_ref(), "dns");
    let (url, name) = (base?, name?);
    Some(CheckSpec::Cabourotte(CabourotteSpec { url, name }))
}
