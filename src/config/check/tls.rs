//! The `tls` kind: a certificate's expiry and names, from a PEM file or a TLS server.

use std::net::IpAddr;
use std::time::Duration;

use serde_spanned::Spanned;

use super::checker::{Checker, pem_file, valid_host_name};
use crate::config::model::*;
use crate::config::raw::*;

pub(super) fn tls(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let source = certificate_source(c, raw);
    let min_validity = c
        .duration("min_validity", raw.min_validity.as_ref(), true)
        .unwrap_or(Duration::ZERO);
    let dns_names = dns_names(c, raw);
    let ip_addresses = ip_addresses(c, raw);
    let common_name = non_empty(c, "common_name", raw.common_name.as_ref());
    let issuer = non_empty(c, "issuer", raw.issuer.as_ref());
    Some(CheckSpec::Tls(Box::new(TlsSpec {
        source: source?,
        min_validity,
        common_name,
        dns_names,
        ip_addresses,
        issuer,
    })))
}

/// `file` (a PEM file, read now) or `target` with an optional `server_name`: one of them.
fn certificate_source(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CertificateSource> {
    match (raw.file.as_ref(), raw.target.as_ref()) {
        (Some(f), None) => {
            if let Some(n) = raw.server_name.as_ref() {
                c.error(
                    n.span(),
                    "server_name needs target",
                    "server_name is the SNI name sent to a server; a file is read as it is: remove server_name",
                );
            }
            pem_file(c, "file", Some(f), crate::sys::pem::load_certs).map(CertificateSource::File)
        }
        (None, Some(_)) => {
            let target = c.target(raw.target.as_ref(), "127.0.0.1:443");
            let server_name = raw.server_name.as_ref().and_then(|n| {
                c.host_name(
                    n,
                    "write the name the server's certificate is for, e.g. server_name = \"www.example.com\"",
                )
            });
            target.map(|target| CertificateSource::Server {
                target,
                server_name,
            })
        }
        (Some(f), Some(_)) => {
            c.error(
                f.span(),
                "a tls check has both file and target",
                "check a certificate file (file = \"/etc/ssl/certs/www.pem\") or a server's (target = \"127.0.0.1:443\"), one per check",
            );
            None
        }
        (None, None) => {
            c.error(
                c.span.clone(),
                "tls check has neither file nor target",
                "add file = \"/etc/ssl/certs/www.pem\" (a PEM file) or target = \"127.0.0.1:443\" (a TLS server)",
            );
            None
        }
    }
}

/// `dns_names`: host names, a leading "*." for a wildcard entry.
fn dns_names(c: &mut Checker<'_>, raw: &RawCheck) -> Vec<String> {
    each_of(
        c,
        raw.dns_names.as_ref(),
        "a DNS name",
        "write names as in the certificate, e.g. dns_names = [\"www.example.com\", \"*.example.net\"]",
        // A leading "*." asks for a wildcard entry.
        |name| valid_host_name(name.strip_prefix("*.").unwrap_or(name)).then(|| name.to_string()),
    )
}

/// `ip_addresses`: addresses the certificate must name.
fn ip_addresses(c: &mut Checker<'_>, raw: &RawCheck) -> Vec<IpAddr> {
    each_of(
        c,
        raw.ip_addresses.as_ref(),
        "an IP address",
        "write addresses, e.g. ip_addresses = [\"203.0.113.53\", \"2001:db8::53\"]",
        |text| text.trim().parse().ok(),
    )
}

/// What `read` makes of each entry of the list `v`; one it refuses is the error "\"TEXT\"
/// is not WHAT" (at the list: its entries have no places of their own).
fn each_of<T>(
    c: &mut Checker<'_>,
    v: Option<&Spanned<Vec<String>>>,
    what: &str,
    hint: &str,
    read: impl Fn(&str) -> Option<T>,
) -> Vec<T> {
    let mut out = Vec::new();
    let Some(list) = v else {
        return out;
    };
    for text in list.get_ref() {
        match read(text) {
            Some(value) => out.push(value),
            None => c.error(list.span(), format!("\"{text}\" is not {what}"), hint),
        }
    }
    out
}

/// `common_name` or `issuer`: not empty when written.
fn non_empty(c: &mut Checker<'_>, key: &str, v: Option<&Spanned<String>>) -> Option<String> {
    v.and_then(|v| {
        if v.get_ref().trim().is_empty() {
            c.error(
                v.span(),
                format!("{key} is empty"),
                format!("write the expected {key} or remove the line"),
            );
            None
        } else {
            Some(v.get_ref().clone())
        }
    })
}
