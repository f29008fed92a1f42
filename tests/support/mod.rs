//! Servers and certificates that the check tests run on loopback: a small HTTP/1.1 server
//! (plain or TLS) that records what it was sent, and a CA that issues test certificates.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

pub mod check;

/// A test CA.
pub struct Ca {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as PEM and as rustls wants them.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl Leaf {
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    pub fn pem(&self) -> String {
        self.issuer.as_ref().pem()
    }

    /// A certificate for `names` (DNS names or IP addresses) with common name `cn`,
    /// valid from a day ago until `not_after`.
    pub fn issue(&self, cn: &str, names: &[&str], not_after: OffsetDateTime) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.not_before = OffsetDateTime::now_utc() - time::Duration::days(30);
        params.not_after = not_after;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

/// `days` from now (negative: in the past).
pub fn in_days(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + time::Duration::days(days)
}

/// What the server was sent.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// TLS only: the SNI name the client sent.
    pub sni: Option<String>,
    pub peer: Option<SocketAddr>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// Paths the server knows: `/ok` 200 "all ok", `/json` 200 `{"status": "up"}`,
/// `/503` 503, `/redirect` 301, `/slow` answers after 10 s, `/echo` 200 with the request
/// body; as Cabourotte's API, `/result/dns` a passing result, `/result/ntp` a failing
/// one; anything else 404.
fn respond(path: &str, body: &str) -> (u16, String, Duration) {
    match path {
        "/ok" => (200, "all ok".into(), Duration::ZERO),
        "/json" => (200, r#"{"status": "up"}"#.into(), Duration::ZERO),
        "/503" => (503, "down".into(), Duration::ZERO),
        "/redirect" => (301, String::new(), Duration::ZERO),
        "/slow" => (200, "late".into(), Duration::from_secs(10)),
        "/echo" => (200, body.into(), Duration::ZERO),
        "/result/dns" => (
            200,
            r#"{"name":"dns","summary":"dns check","success":true,"healthcheck-timestamp":1700000000,"message":"success","duration":2,"source":"configuration"}"#.into(),
            Duration::ZERO,
        ),
        "/result/ntp" => (
            200,
            r#"{"name":"ntp","summary":"ntp check","success":false,"healthcheck-timestamp":1700000000,"message":"exit status 1","duration":5,"source":"configuration"}"#.into(),
            Duration::ZERO,
        ),
        "/result/slow" => (200, "{}".into(), Duration::from_secs(10)),
        _ => (404, "not found".into(), Duration::ZERO),
    }
}

async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, mut seen: Seen, log: Log) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                // A client that only wanted the handshake (the tls kind): log the SNI.
                log.lock().unwrap().push(seen);
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    seen.method = first.next().unwrap_or("").to_string();
    seen.path = first.next().unwrap_or("").to_string();
    for line in lines.filter(|l| !l.is_empty()) {
        if let Some((k, v)) = line.split_once(':') {
            seen.headers
                .push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length: usize = seen
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    seen.body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let (status, body, delay) = respond(&seen.path, &seen.body);
    log.lock().unwrap().push(seen);
    tokio::time::sleep(delay).await;
    let reply = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A plain HTTP server on `bind` (port 0: any).
pub async fn http_server(bind: &str) -> (SocketAddr, Log) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let l = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let seen = Seen {
                peer: Some(peer),
                ..Seen::default()
            };
            tokio::spawn(serve_one(stream, seen, l.clone()));
        }
    });
    (addr, log)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTPS server showing `leaf` (with `ca`'s certificate in the chain); with
/// `client_ca`, clients must present a certificate issued by it.
pub async fn https_server(leaf: &Leaf, client_ca: Option<&Ca>) -> (SocketAddr, Log) {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.issuer.as_ref().der().clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(vec![leaf.der.clone()], leaf.key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let l = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let l = l.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to log.
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let seen = Seen {
                    peer: Some(peer),
                    sni: tls.get_ref().1.server_name().map(str::to_string),
                    ..Seen::default()
                };
                serve_one(tls, seen, l).await;
            });
        }
    });
    (addr, log)
}

/// Writes `text` to `name` in `dir` and returns the path.
pub fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}
