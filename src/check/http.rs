//! `kind = "http"`: one HTTP(S) request; passes on an accepted status (any 2xx unless
//! `status` says otherwise) and, when asked, a body that contains a text or matches a
//! regular expression.
//!
//! TLS is rustls with the ring provider (no OpenSSL, no cmake). `host` keeps the URL's
//! address as the place to connect to and uses the name for everything else: the Host
//! header, SNI and the certificate's name. So `url = "https://127.0.0.1:8443/"` with
//! `host = "www.example.com"` checks this host's copy of www.example.com, whatever DNS says.
//! Redirects are not followed (a 301 is a status like any other), and proxies from the
//! environment are ignored: the check is about this host's service.
//!
//! Plain `http://` URLs go through the check's own HTTP/1.1 client (`super::http_client`), which
//! keeps one connection per check open between rounds; `https://` (and the rare plain
//! request it does not handle: credentials in the URL, a Content-Length or
//! Transfer-Encoding header of the check's own) goes through reqwest.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use regex::Regex;
use reqwest::{Client, Method, Url};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use super::http_client::{self, Destination, PlainClient};
use super::{CheckOutcome, Failed, Failure, timeout_reason};
use crate::config::{HttpSpec, StatusRange};
use crate::sys::pem::{load_certs, load_key};

/// Bytes of the body kept for `body_contains` / `body_regex`; the rest is not read.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct HttpCheck {
    transport: Transport,
    expect: Expectations,
}

/// How the request is made.
#[derive(Debug, Clone)]
enum Transport {
    /// Plain HTTP: the request rendered once, and the check's connection (shared by
    /// clones of the check).
    Plain(Arc<PlainClient>),
    Reqwest(Box<ReqwestRequest>),
}

#[derive(Debug, Clone)]
struct ReqwestRequest {
    /// The client and the URL to request, or why they could not be made (a CA file that
    /// became unreadable since validation): then every run fails with that reason.
    client: Result<(Client, Url), String>,
    method: Method,
    headers: Vec<(String, String)>,
    body: Option<String>,
}

/// What the response must look like: the pure part of the check.
#[derive(Debug, Clone)]
pub struct Expectations {
    pub status: Vec<StatusRange>,
    pub body_contains: Option<String>,
    pub body_regex: Option<Regex>,
}

impl Expectations {
    fn needs_body(&self) -> bool {
        self.body_contains.is_some() || self.body_regex.is_some()
    }

    /// The verdict on a status and (the first `BODY_LIMIT` bytes of) a body.
    pub fn judge(&self, status: u16, body: &[u8]) -> CheckOutcome {
        if !self.status.iter().any(|r| r.contains(status)) {
            return CheckOutcome::fail(Failure::Unexpected, format!("status {status}"));
        }
        let text = String::from_utf8_lossy(body);
        if let Some(want) = &self.body_contains
            && !text.contains(want.as_str())
        {
            return CheckOutcome::fail(
                Failure::Unexpected,
                format!("status {status}, but the body does not contain \"{want}\""),
            );
        }
        if let Some(re) = &self.body_regex
            && !re.is_match(&text)
        {
            return CheckOutcome::fail(
                Failure::Unexpected,
                format!(
                    "status {status}, but the body does not match /{}/",
                    re.as_str()
                ),
            );
        }
        CheckOutcome::pass(format!("status {status}"))
    }
}

impl HttpCheck {
    pub fn new(spec: &HttpSpec) -> Self {
        let headers: Vec<(String, String)> = spec
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let transport = match plain_client(spec, &headers) {
            Some(client) => Transport::Plain(Arc::new(client)),
            None => Transport::Reqwest(Box::new(ReqwestRequest {
                client: build_client(spec),
                // Validation accepted it; a method reqwest refuses fails every run instead.
                method: Method::from_bytes(spec.method.as_bytes()).unwrap_or(Method::GET),
                headers,
                body: spec.body.clone(),
            })),
        };
        HttpCheck {
            transport,
            expect: Expectations {
                status: spec.status.clone(),
                body_contains: spec.body_contains.clone(),
                body_regex: spec.body_regex.as_deref().and_then(|r| Regex::new(r).ok()),
            },
        }
    }

    #[cfg(test)]
    fn is_plain(&self) -> bool {
        matches!(self.transport, Transport::Plain(_))
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        let exchange = async {
            match &self.transport {
                Transport::Plain(client) => {
                    // The body is read up to the limit even when no rule looks at it, so
                    // the connection is at the next response for the next round.
                    let response = client
                        .exchange(self.expect.needs_body(), BODY_LIMIT)
                        .await?;
                    Ok(self.expect.judge(response.status, &response.body))
                }
                Transport::Reqwest(request) => self.reqwest(request).await,
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result.into(),
            Err(_) => CheckOutcome::fail(Failure::Timeout, timeout_reason(timeout)),
        }
    }

    async fn reqwest(&self, r: &ReqwestRequest) -> Result<CheckOutcome, Failed> {
        let (client, url) = r.client.as_ref().map_err(Failed::other)?;
        let mut request = client.request(r.method.clone(), url.clone());
        for (name, value) in &r.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &r.body {
            request = request.body(body.clone());
        }
        let mut response = request.send().await.map_err(|e| describe_error(&e))?;
        let status = response.status().as_u16();
        // Read the body (up to the limit) even when no rule looks at it: a connection
        // whose response was read to the end goes back to the pool for the next round.
        let keep = self.expect.needs_body();
        let mut body = Vec::new();
        let mut read = 0;
        while read < BODY_LIMIT {
            match response.chunk().await.map_err(|e| describe_error(&e))? {
                Some(chunk) => {
                    read += chunk.len();
                    if keep {
                        body.extend_from_slice(&chunk);
                    }
                }
                None => break,
            }
        }
        body.truncate(BODY_LIMIT);
        Ok(self.expect.judge(status, &body))
    }
}

/// The plain HTTP client for a check it can serve exactly as reqwest would, or `None`:
/// https, credentials in the URL (reqwest turns them into basic auth), or framing headers
/// of the check's own.
fn plain_client(spec: &HttpSpec, headers: &[(String, String)]) -> Option<PlainClient> {
    let url = Url::parse(&spec.url).ok()?;
    if url.scheme() != "http" || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let framing = ["content-length", "transfer-encoding"];
    if headers
        .iter()
        .any(|(k, _)| framing.iter().any(|f| k.eq_ignore_ascii_case(f)))
    {
        return None;
    }
    let port = url.port_or_known_default()?;
    let destination = match url.host()? {
        url::Host::Ipv4(a) => Destination::Address(std::net::SocketAddr::new(a.into(), port)),
        url::Host::Ipv6(a) => Destination::Address(std::net::SocketAddr::new(a.into(), port)),
        url::Host::Domain(name) => Destination::Name(name.to_string(), port),
    };
    let mut sent = url.clone();
    if let Some(name) = &spec.host {
        sent.set_host(Some(name)).ok()?;
    }
    let request =
        http_client::request::render(&spec.method, &sent, headers, spec.body.as_deref()).ok()?;
    Some(PlainClient::new(request, destination, spec.source))
}

/// A reqwest error as the check reports it: its innermost cause, with "connect: " in front
/// when the connection failed.
fn describe_error(e: &reqwest::Error) -> Failed {
    let f = reqwest_failure(e);
    if e.is_connect() {
        Failed::new(f.failure, format!("connect: {}", f.detail))
    } else {
        f
    }
}

/// The innermost cause of a reqwest error, which says what went wrong ("connection
/// refused", "invalid peer certificate: UnknownIssuer") without the URL repeated around it;
/// classed by reqwest's own flags and the I/O error in the chain, if any.
pub fn reqwest_failure(e: &reqwest::Error) -> Failed {
    let mut cause: &dyn std::error::Error = e;
    let mut io_failure = None;
    loop {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            io_failure.get_or_insert(Failure::of_io(io));
        }
        match cause.source() {
            Some(inner) => cause = inner,
            None => break,
        }
    }
    let root = cause.to_string();
    let failure = if e.is_timeout() {
        Failure::Timeout
    } else if e.is_connect() {
        // A TLS or DNS failure while connecting carries no telling I/O kind.
        io_failure
            .filter(|f| *f != Failure::Other)
            .unwrap_or(Failure::Connect)
    } else {
        io_failure.unwrap_or(Failure::Other)
    };
    Failed::new(failure, root)
}

/// The client for one check, and the URL it requests (with `host`, the URL carries the
/// name and the client resolves that name to the URL's original address).
fn build_client(spec: &HttpSpec) -> Result<(Client, Url), String> {
    let mut url = Url::parse(&spec.url).map_err(|e| format!("bad url {}: {e}", spec.url))?;
    let defaults = !spec.insecure
        && spec.ca_file.is_none()
        && spec.client_cert.is_none()
        && spec.source.is_none()
        && spec.host.is_none();
    if defaults {
        return Ok((default_client()?, url));
    }
    let mut builder = client_builder(tls_config(spec)?);
    if let Some(source) = spec.source {
        builder = builder.local_address(source);
    }
    if let Some(name) = &spec.host {
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("{} has no port", spec.url))?;
        let ip = match url.host() {
            Some(url::Host::Ipv4(a)) => std::net::IpAddr::V4(a),
            Some(url::Host::Ipv6(a)) => std::net::IpAddr::V6(a),
            _ => return Err(format!("with host, {} must name an address", spec.url)),
        };
        url.set_host(Some(name))
            .map_err(|e| format!("host {name}: {e}"))?;
        builder = builder.resolve(name, std::net::SocketAddr::new(ip, port));
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    Ok((client, url))
}

/// The settings every check's client has.
fn client_builder(tls: ClientConfig) -> reqwest::ClientBuilder {
    Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("anycast-warden/", env!("CARGO_PKG_VERSION")))
        // Keep-alive saves a connection per round at short intervals. An idle connection
        // is closed before the shortest common server keep-alive (Apache's 5 s), so a
        // request never races the server closing it.
        .pool_idle_timeout(Duration::from_secs(4))
}

/// The one client of every check with default settings (system CAs, no client
/// certificate, no source address, no host override): one connection pool and one TLS
/// setup instead of one per service, which at 1,000 services is most of the memory.
pub fn default_client() -> Result<Client, String> {
    static CLIENT: OnceLock<Result<Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            client_builder(rustls_config(false, None, None)?)
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))
        })
        .clone()
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's trusted CAs, read once for every check.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            Arc::new(store)
        })
        .clone()
}

/// rustls settings from the check's TLS keys.
pub fn tls_config(spec: &HttpSpec) -> Result<ClientConfig, String> {
    let client = spec.client_cert.as_deref().zip(spec.client_key.as_deref());
    rustls_config(spec.insecure, spec.ca_file.as_deref(), client)
}

/// rustls settings: which server certificates to accept (any, those of the CAs in
/// `ca_file`, or those of the system's CAs) and the client certificate and key to show.
pub fn rustls_config(
    insecure: bool,
    ca_file: Option<&std::path::Path>,
    client: Option<(&std::path::Path, &std::path::Path)>,
) -> Result<ClientConfig, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
    } else if let Some(ca_file) = ca_file {
        let mut store = RootCertStore::empty();
        for cert in load_certs(ca_file)? {
            store
                .add(cert)
                .map_err(|e| format!("{}: {e}", ca_file.display()))?;
        }
        builder.with_root_certificates(store)
    } else {
        builder.with_root_certificates(system_roots())
    };
    let mut config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| format!("client certificate {}: {e}", cert.display()))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `insecure = true`: any certificate is accepted, but the handshake's signatures are
/// still checked (the server must hold the key of the certificate it shows).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(status: &[&str], contains: Option<&str>, regex: Option<&str>) -> Expectations {
        Expectations {
            status: status.iter().map(|s| s.parse().unwrap()).collect(),
            body_contains: contains.map(str::to_string),
            body_regex: regex.map(|r| Regex::new(r).unwrap()),
        }
    }

    #[test]
    fn status_must_be_in_a_range() {
        let e = expect(&["200-299"], None, None);
        assert!(e.judge(204, b"").passed());
        let out = e.judge(503, b"");
        assert!(!out.passed());
        assert_eq!(out.detail, "status 503");
        let e = expect(&["200", "301-302"], None, None);
        assert!(e.judge(302, b"").passed());
        assert!(!e.judge(201, b"").passed());
    }

    fn spec(url: &str) -> HttpSpec {
        HttpSpec {
            url: url.into(),
            method: "GET".into(),
            headers: Default::default(),
            body: None,
            status: vec![StatusRange::SUCCESS],
            body_contains: None,
            body_regex: None,
            host: None,
            insecure: false,
            ca_file: None,
            client_cert: None,
            client_key: None,
            source: None,
        }
    }

    #[test]
    fn plain_http_uses_the_own_client() {
        assert!(HttpCheck::new(&spec("http://127.0.0.1:8080/health")).is_plain());
        assert!(HttpCheck::new(&spec("http://[::1]/")).is_plain());
        assert!(HttpCheck::new(&spec("http://localhost:8080/")).is_plain());
        let mut named = spec("http://127.0.0.1/");
        named.host = Some("www.example.com".into());
        named.source = Some("127.0.0.2".parse().unwrap());
        assert!(HttpCheck::new(&named).is_plain());
        // What reqwest does and the own client does not.
        assert!(!HttpCheck::new(&spec("https://127.0.0.1/")).is_plain());
        assert!(!HttpCheck::new(&spec("http://user:secret@127.0.0.1/")).is_plain());
        let mut framed = spec("http://127.0.0.1/");
        framed.headers.insert("Content-Length".into(), "0".into());
        assert!(!HttpCheck::new(&framed).is_plain());
    }

    #[test]
    fn body_contains_and_regex() {
        let e = expect(&["2xx"], Some("ok"), None);
        assert!(e.judge(200, b"all ok").passed());
        assert_eq!(
            e.judge(200, b"degraded").detail,
            "status 200, but the body does not contain \"ok\""
        );
        let e = expect(&["2xx"], None, Some(r#""status": *"up""#));
        assert!(e.judge(200, br#"{"status": "up"}"#).passed());
        assert_eq!(
            e.judge(200, br#"{"status":"down"}"#).detail,
            "status 200, but the body does not match /\"status\": *\"up\"/"
        );
        // The status is judged first.
        assert_eq!(e.judge(500, br#"{"status": "up"}"#).detail, "status 500");
    }
}
