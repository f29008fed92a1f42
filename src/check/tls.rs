//! `kind = "tls"`: a certificate's expiry and names, read from a PEM file or from what a
//! TLS server shows. Fails `min_validity` before `not_after`, and when the expected common
//! name, DNS names, IP addresses or issuer are missing. The chain is not verified (the
//! `http` kind does that): this kind answers "is the certificate in place still good for
//! long enough", and its seconds until expiry go to metrics.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{CheckMeasurements, CheckOutcome, Failed, Failure, timeout_reason};
use crate::config::{CertificateSource, TlsSpec};
use crate::sys::pem::load_certs;

/// What the certificate must satisfy: the pure part of the check.
#[derive(Debug, Clone)]
pub struct Rules {
    pub min_validity: Duration,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    pub issuer: Option<String>,
}

/// "3 d", "5 h", "12 min", "40 s": how far away an expiry is, for one-line reasons.
pub fn span_text(seconds: u64) -> String {
    match seconds {
        s if s >= 86_400 => format!("{} d", s / 86_400),
        s if s >= 3_600 => format!("{} h", s / 3_600),
        s if s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Whether a certificate's DNS name (maybe "*.example.com") covers `wanted`. A wanted
/// name that is itself a wildcard needs the same wildcard entry.
pub fn name_matches(entry: &str, wanted: &str) -> bool {
    if entry.eq_ignore_ascii_case(wanted) {
        return true;
    }
    match (entry.strip_prefix("*."), wanted.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            label != "*" && !label.is_empty() && suffix.eq_ignore_ascii_case(rest)
        }
        _ => false,
    }
}

impl Rules {
    /// The verdict on one DER certificate at `now` (seconds since the epoch). Every broken
    /// rule is named, in one line; the seconds until expiry are measured either way.
    pub fn judge(&self, der: &[u8], now: i64) -> CheckOutcome {
        let cert = match X509Certificate::from_der(der) {
            Ok((_, cert)) => cert,
            Err(e) => {
                return CheckOutcome::fail(
                    Failure::Unexpected,
                    format!("cannot parse the certificate: {e}"),
                );
            }
        };
        let not_after = cert.validity().not_after.timestamp();
        let not_before = cert.validity().not_before.timestamp();
        let left = not_after - now;
        let mut problems = Vec::new();
        if now < not_before {
            problems.push(format!(
                "not valid for another {}",
                span_text((not_before - now).unsigned_abs())
            ));
        }
        if left < 0 {
            problems.push(format!("expired {} ago", span_text(left.unsigned_abs())));
        } else if (left as u64) < self.min_validity.as_secs() {
            problems.push(format!("expires in {}", span_text(left as u64)));
        }
        let subject_cn = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or("");
        if let Some(cn) = &self.common_name
            && cn != subject_cn
        {
            problems.push(format!("common name is \"{subject_cn}\", not \"{cn}\""));
        }
        let mut dns = Vec::new();
        let mut ips = Vec::new();
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(n) => dns.push(n.to_string()),
                    GeneralName::IPAddress(b) => {
                        if let Ok(a) = <[u8; 4]>::try_from(*b) {
                            ips.push(IpAddr::from(a));
                        } else if let Ok(a) = <[u8; 16]>::try_from(*b) {
                            ips.push(IpAddr::from(a));
                        }
                    }
                    _ => {}
                }
            }
        }
        let missing: Vec<&str> = self
            .dns_names
            .iter()
            .filter(|w| !dns.iter().any(|e| name_matches(e, w)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            problems.push(format!("not for {}", missing.join(", ")));
        }
        let missing: Vec<String> = self
            .ip_addresses
            .iter()
            .filter(|a| !ips.contains(a))
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            problems.push(format!("not for {}", missing.join(", ")));
        }
        if let Some(wanted) = &self.issuer {
            let issuer_cn = cert
                .issuer()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or("");
            let issuer_dn = cert.issuer().to_string();
            if wanted != issuer_cn && *wanted != issuer_dn {
                problems.push(format!("issued by \"{issuer_dn}\", not \"{wanted}\""));
            }
        }
        let outcome = if problems.is_empty() {
            CheckOutcome::pass(format!("expires in {}", span_text(left.max(0) as u64)))
        } else {
            CheckOutcome::fail(Failure::Unexpected, problems.join("; "))
        };
        outcome.with_measurements(CheckMeasurements::TlsExpiry { seconds_left: left })
    }
}

#[derive(Debug, Clone)]
pub struct TlsCheck {
    source: CertificateSource,
    rules: Rules,
}

impl TlsCheck {
    pub fn new(spec: &TlsSpec) -> Self {
        TlsCheck {
            source: spec.source.clone(),
            rules: Rules {
                min_validity: spec.min_validity,
                common_name: spec.common_name.clone(),
                dns_names: spec.dns_names.clone(),
                ip_addresses: spec.ip_addresses.clone(),
                issuer: spec.issuer.clone(),
            },
        }
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        let der = match &self.source {
            CertificateSource::File(path) => {
                // A small local file: read in place (the caller's timeout still applies).
                match load_certs(path) {
                    Ok(mut certs) => certs.swap_remove(0),
                    Err(reason) => return CheckOutcome::fail(Failure::Other, reason),
                }
            }
            CertificateSource::Server {
                target,
                server_name,
            } => match tokio::time::timeout(timeout, fetch(target, server_name.as_deref())).await {
                Ok(Ok(der)) => der,
                Ok(Err(failed)) => return failed.into(),
                Err(_) => return CheckOutcome::fail(Failure::Timeout, timeout_reason(timeout)),
            },
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.rules.judge(&der, now)
    }
}

/// The certificate a server shows in a handshake. Any certificate is accepted: this kind
/// inspects it rather than trusting it.
async fn fetch(target: &str, server_name: Option<&str>) -> Result<CertificateDer<'static>, Failed> {
    let addr = super::udp::resolve(target).await?;
    let config = tls_inspect_config().map_err(Failed::other)?;
    // Without a name, SNI is left out (an IP address is never sent as SNI).
    let name = match server_name {
        Some(n) => ServerName::try_from(n.to_string())
            .map_err(|e| Failed::other(format!("server_name {n}: {e}")))?,
        None => ServerName::IpAddress(addr.ip().into()),
    };
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| Failed::io(&e, format!("connect to {addr}: {e}")))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| {
            // A refused or reset handshake keeps its class; a TLS alert is a connect failure.
            let failure = match Failure::of_io(&e) {
                Failure::Other => Failure::Connect,
                f => f,
            };
            Failed::new(failure, format!("TLS handshake with {addr}: {e}"))
        })?;
    tls.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned())
        .ok_or_else(|| Failed::unexpected(format!("{addr} showed no certificate")))
}

fn tls_inspect_config() -> Result<ClientConfig, String> {
    let mut config = super::http::rustls_config(true, None, None)?;
    config.alpn_protocols.clear();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(span_text(3 * 86_400 + 5), "3 d");
        assert_eq!(span_text(7_200), "2 h");
        assert_eq!(span_text(600), "10 min");
        assert_eq!(span_text(5), "5 s");
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_matches("www.example.com", "WWW.example.com"));
        assert!(name_matches("*.example.com", "www.example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(name_matches("*.example.com", "*.example.com"));
        assert!(!name_matches("www.example.com", "*.example.com"));
    }
}
