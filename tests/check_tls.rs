//! The tls kind: certificates from a test CA, read from files and from a TLS server this
//! test runs on loopback. Valid, soon-expiring, expired and wrong-name certificates.

use std::path::Path;

use crate::support::{Ca, Leaf, https_server, in_days, write};
use anycast_warden::check::address::AddressBook;
use anycast_warden::check::{Check, CheckContext, CheckMeasurements, CheckOutcome};
use anycast_warden::config::load_str;

async fn run(body: &str, timeout: &str) -> CheckOutcome {
    crate::support::check::run_check("tls", body, timeout).await
}

async fn passes(body: &str) -> CheckOutcome {
    let out = run(body, "2s").await;
    assert!(out.passed(), "{body}: {}", out.detail);
    out
}

async fn fails(body: &str) -> String {
    let out = run(body, "2s").await;
    assert!(!out.passed(), "{body}: passed: {}", out.detail);
    out.detail
}

fn seconds_left(out: &CheckOutcome) -> i64 {
    match out.measurements {
        Some(CheckMeasurements::TlsExpiry { seconds_left }) => seconds_left,
        ref other => panic!("{other:?}"),
    }
}

/// A CA, a certificate for www.example.com / *.example.net / 192.0.2.10 valid for `days`
/// less an hour (so whole days round down the same way in every run), and the
/// certificate's PEM file.
fn setup(dir: &Path, days: i64) -> (Ca, Leaf, String) {
    let ca = Ca::new("Warden Test CA");
    let leaf = ca.issue(
        "www.example.com",
        &["www.example.com", "*.example.net", "192.0.2.10"],
        in_days(days) - time::Duration::hours(1),
    );
    // A chain file: the certificate first, then its CA.
    let path = write(dir, "www.pem", &format!("{}{}", leaf.cert_pem, ca.pem()));
    (ca, leaf, format!("file = \"{}\"", path.display()))
}

#[tokio::test]
async fn expiry_against_min_validity() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, valid) = setup(dir.path(), 90);
    let out = passes(&format!("{valid}\nmin_validity = \"7d\"")).await;
    let left = seconds_left(&out);
    assert!((89 * 86_400..90 * 86_400).contains(&left), "{left}");
    assert_eq!(out.detail, "expires in 89 d");

    let soon = tempfile::tempdir().unwrap();
    let (_, _, soon) = setup(soon.path(), 3);
    // Without min_validity, a certificate passes until it expires.
    passes(&soon).await;
    let out = run(&format!("{soon}\nmin_validity = \"7d\""), "2s").await;
    assert!(!out.passed());
    assert_eq!(out.detail, "expires in 2 d");
    assert!(seconds_left(&out) > 2 * 86_400);

    let old = tempfile::tempdir().unwrap();
    let (_, _, expired) = setup(old.path(), -1);
    let out = run(&expired, "2s").await;
    assert!(!out.passed());
    assert_eq!(out.detail, "expired 1 d ago");
    assert!(seconds_left(&out) < 0);
}

#[tokio::test]
async fn names_addresses_and_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, file) = setup(dir.path(), 90);
    passes(&format!(
        "{file}\ncommon_name = \"www.example.com\"\ndns_names = [\"www.example.com\", \"api.example.net\"]\nip_addresses = [\"192.0.2.10\"]\nissuer = \"Warden Test CA\""
    ))
    .await;
    passes(&format!("{file}\nissuer = \"CN=Warden Test CA\"")).await;
    assert_eq!(
        fails(&format!("{file}\ncommon_name = \"mail.example.com\"")).await,
        "common name is \"www.example.com\", not \"mail.example.com\""
    );
    assert_eq!(
        fails(&format!(
            "{file}\ndns_names = [\"www.example.com\", \"example.net\", \"a.b.example.net\"]"
        ))
        .await,
        "not for example.net, a.b.example.net"
    );
    assert_eq!(
        fails(&format!("{file}\nip_addresses = [\"192.0.2.11\"]")).await,
        "not for 192.0.2.11"
    );
    assert_eq!(
        fails(&format!("{file}\nissuer = \"Other CA\"")).await,
        "issued by \"CN=Warden Test CA\", not \"Other CA\""
    );
    // Every broken rule is named.
    assert_eq!(
        fails(&format!(
            "{file}\nmin_validity = \"100d\"\nip_addresses = [\"192.0.2.11\"]"
        ))
        .await,
        "expires in 89 d; not for 192.0.2.11"
    );
}

#[tokio::test]
async fn certificate_of_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let (_, leaf, _) = setup(dir.path(), 90);
    let (addr, log) = https_server(&leaf, None).await;
    let out = passes(&format!(
        "target = \"{addr}\"\nserver_name = \"www.example.com\"\nmin_validity = \"30d\"\ndns_names = [\"www.example.com\"]"
    ))
    .await;
    assert!(seconds_left(&out) > 89 * 86_400);
    // The check only shakes hands: the server saw the SNI name and no request.
    // The server logs when the client hangs up, which may be just after the check ends.
    let mut seen = None;
    for _ in 0..100 {
        seen = log.lock().unwrap().pop();
        if seen.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let seen = seen.expect("the server saw the handshake");
    assert_eq!(seen.sni.as_deref(), Some("www.example.com"));
    assert_eq!(seen.method, "");
    // The wrong certificate for the name being served.
    let other = Ca::new("Warden Test CA").issue("other", &["other.example.org"], in_days(90));
    let (wrong, _) = https_server(&other, None).await;
    assert_eq!(
        fails(&format!(
            "target = \"{wrong}\"\ndns_names = [\"www.example.com\"]"
        ))
        .await,
        "not for www.example.com"
    );
}

#[tokio::test]
async fn unreachable_and_silent_servers() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let reason = fails(&format!("target = \"{closed}\"")).await;
    assert!(
        reason.starts_with(&format!("connect to {closed}: ")),
        "{reason}"
    );
    // Accepts the connection but never answers the handshake.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let out = run(
        &format!("target = \"{}\"", silent.local_addr().unwrap()),
        "300ms",
    )
    .await;
    assert!(!out.passed());
    assert_eq!(out.detail, "timeout after 300ms");
    // A file that went away since validation.
    let dir = tempfile::tempdir().unwrap();
    let (_, _, file) = setup(dir.path(), 90);
    let path = dir.path().join("www.pem");
    let text = format!(
        "[[service]]\nname = \"w\"\nprefixes = [\"203.0.113.80\"]\n[[service.check]]\nkind = \"tls\"\n{file}\n"
    );
    let config = load_str(Path::new("t.toml"), &text).unwrap();
    std::fs::remove_file(&path).unwrap();
    let ctx = CheckContext {
        service: "w".into(),
        addresses: AddressBook::uncached(),
    };
    let out = Check::new(&config.services[0].checks[0], &ctx)
        .run(std::time::Duration::from_secs(1))
        .await;
    assert!(!out.passed());
    assert!(out.detail.starts_with("cannot read "), "{}", out.detail);
}
