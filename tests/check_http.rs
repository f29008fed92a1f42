//! The http kind against HTTP and HTTPS servers this test runs on loopback, with
//! certificates from a test CA. Each check is built from configuration text, so every
//! option goes through validation as an operator's would.

mod support;

use anycast_warden::check::CheckOutcome;
use support::{Ca, http_server, https_server, in_days, write};

/// Runs the one check of a service written as `body` (keys of `[[service.check]]`).
async fn run(body: &str, timeout: &str) -> CheckOutcome {
    support::run_check("http", body, timeout).await
}

async fn passes(body: &str) -> CheckOutcome {
    let out = run(body, "2s").await;
    assert!(out.passed, "{body}: {}", out.detail);
    out
}

async fn fails(body: &str) -> String {
    let out = run(body, "2s").await;
    assert!(!out.passed, "{body}: passed: {}", out.detail);
    out.detail
}

#[tokio::test]
async fn status_any_2xx_by_default_or_as_listed() {
    let (addr, _) = http_server("127.0.0.1:0").await;
    passes(&format!("url = \"http://{addr}/ok\"")).await;
    assert_eq!(
        fails(&format!("url = \"http://{addr}/503\"")).await,
        "status 503"
    );
    // Redirects are not followed: the status is what counts.
    assert_eq!(
        fails(&format!("url = \"http://{addr}/redirect\"")).await,
        "status 301"
    );
    passes(&format!("url = \"http://{addr}/redirect\"\nstatus = 301")).await;
    passes(&format!(
        "url = \"http://{addr}/503\"\nstatus = [200, \"500-503\"]"
    ))
    .await;
    assert_eq!(
        fails(&format!("url = \"http://{addr}/ok\"\nstatus = \"5xx\"")).await,
        "status 200"
    );
}

#[tokio::test]
async fn body_contains_and_body_regex() {
    let (addr, _) = http_server("127.0.0.1:0").await;
    passes(&format!(
        "url = \"http://{addr}/ok\"\nbody_contains = \"ok\""
    ))
    .await;
    assert_eq!(
        fails(&format!(
            "url = \"http://{addr}/ok\"\nbody_contains = \"healthy\""
        ))
        .await,
        "status 200, but the body does not contain \"healthy\""
    );
    passes(&format!(
        "url = \"http://{addr}/json\"\nbody_regex = '\"status\": *\"up\"'"
    ))
    .await;
    let reason = fails(&format!(
        "url = \"http://{addr}/json\"\nbody_regex = '\"status\": *\"down\"'"
    ))
    .await;
    assert!(reason.contains("does not match"), "{reason}");
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    passes(&format!(
        "url = \"http://{addr}/echo\"\nmethod = \"POST\"\nheaders = {{ \"X-Check\" = \"warden\" }}\nbody = \"hello\"\nbody_contains = \"hello\""
    ))
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("x-check"), Some("warden"));
    assert_eq!(seen.body, "hello");
    // GET by default, and an unknown path is the server's 404.
    assert_eq!(
        fails(&format!("url = \"http://{addr}/nothing\"")).await,
        "status 404"
    );
    assert_eq!(log.lock().unwrap().pop().unwrap().method, "GET");
}

#[tokio::test]
async fn host_sends_the_name_to_the_url_address() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    passes(&format!("url = \"http://{addr}/ok\"")).await;
    let plain = log.lock().unwrap().pop().unwrap();
    assert_eq!(plain.header("host"), Some(addr.to_string().as_str()));
    passes(&format!(
        "url = \"http://{addr}/ok\"\nhost = \"www.example.com\""
    ))
    .await;
    let named = log.lock().unwrap().pop().unwrap();
    assert_eq!(
        named.header("host"),
        Some(format!("www.example.com:{}", addr.port()).as_str())
    );
}

#[tokio::test]
async fn timeout_refused_and_source_address() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    let out = run(&format!("url = \"http://{addr}/slow\""), "300ms").await;
    assert!(!out.passed);
    assert_eq!(out.detail, "timeout after 300ms");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let reason = fails(&format!("url = \"http://{closed}/ok\"")).await;
    assert!(
        reason.starts_with("connect: ") && reason.contains("refused"),
        "{reason}"
    );
    // All of 127.0.0.0/8 is on lo, so 127.0.0.2 is a local address to connect from.
    passes(&format!(
        "url = \"http://{addr}/ok\"\nsource = \"127.0.0.2\""
    ))
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.peer.unwrap().ip().to_string(), "127.0.0.2");
    // A documentation address is on no interface here: the connect fails.
    let reason = fails(&format!(
        "url = \"http://{addr}/ok\"\nsource = \"192.0.2.1\""
    ))
    .await;
    assert!(reason.starts_with("connect: "), "{reason}");
}

#[tokio::test]
async fn https_with_ca_file_sni_and_certificate_names() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warden Test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let leaf = ca.issue(
        "www.example.com",
        &["www.example.com", "127.0.0.1"],
        in_days(90),
    );
    let (addr, log) = https_server(&leaf, None).await;
    let ca_line = format!("ca_file = \"{}\"", ca_file.display());
    // The certificate names 127.0.0.1 too, so the bare address verifies.
    passes(&format!("url = \"https://{addr}/ok\"\n{ca_line}")).await;
    // With host: SNI and the certificate check use the name.
    passes(&format!(
        "url = \"https://{addr}/ok\"\nhost = \"www.example.com\"\n{ca_line}"
    ))
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.sni.as_deref(), Some("www.example.com"));
    assert_eq!(
        seen.header("host"),
        Some(format!("www.example.com:{}", addr.port()).as_str())
    );
    let reason = fails(&format!(
        "url = \"https://{addr}/ok\"\nhost = \"other.example.com\"\n{ca_line}"
    ))
    .await;
    assert!(reason.contains("certificate"), "{reason}");
    // The system's CAs do not know the test CA; insecure accepts anything.
    let reason = fails(&format!("url = \"https://{addr}/ok\"")).await;
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    passes(&format!("url = \"https://{addr}/ok\"\ninsecure = true")).await;
    // Status and body rules apply over TLS too.
    assert_eq!(
        fails(&format!("url = \"https://{addr}/503\"\n{ca_line}")).await,
        "status 503"
    );
}

#[tokio::test]
async fn https_expired_certificate_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warden Test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let leaf = ca.issue("www.example.com", &["127.0.0.1"], in_days(-1));
    let (addr, _) = https_server(&leaf, None).await;
    let reason = fails(&format!(
        "url = \"https://{addr}/ok\"\nca_file = \"{}\"",
        ca_file.display()
    ))
    .await;
    assert!(reason.contains("certificate expired"), "{reason}");
}

#[tokio::test]
async fn https_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warden Test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let server = ca.issue("server", &["127.0.0.1"], in_days(90));
    let client = ca.issue("warden", &["warden.example.com"], in_days(90));
    let cert = write(dir.path(), "client.pem", &client.cert_pem);
    let key = write(dir.path(), "client.key", &client.key_pem);
    let (addr, _) = https_server(&server, Some(&ca)).await;
    let base = format!(
        "url = \"https://{addr}/ok\"\nca_file = \"{}\"",
        ca_file.display()
    );
    passes(&format!(
        "{base}\nclient_cert = \"{}\"\nclient_key = \"{}\"",
        cert.display(),
        key.display()
    ))
    .await;
    fails(&base).await;
}
