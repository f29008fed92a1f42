//! The cabourotte kind against a stand-in for Cabourotte's result API on loopback
//! (`GET /result/NAME` answering the JSON result Cabourotte keeps for each check).

mod support;

use std::path::Path;

use anycast_warden::check::address::AddressBook;
use anycast_warden::check::{Check, CheckContext, CheckOutcome};
use anycast_warden::config::load_str;
use support::http_server;

async fn run(body: &str, timeout: &str) -> CheckOutcome {
    let text = format!(
        "[[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.53\"]\nip_check = false\ntimeout = \"{timeout}\"\n[[service.check]]\nkind = \"cabourotte\"\n{body}"
    );
    let config = load_str(Path::new("t.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let service = &config.services[0];
    let ctx = CheckContext {
        service: service.name.clone(),
        addresses: AddressBook::uncached(),
    };
    Check::new(&service.checks[0], &ctx)
        .run(service.timeout)
        .await
}

#[tokio::test]
async fn passing_failing_and_unknown_checks() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    let out = run(&format!("url = \"http://{addr}\"\nname = \"dns\""), "2s").await;
    assert!(out.passed, "{}", out.detail);
    assert_eq!(log.lock().unwrap().pop().unwrap().path, "/result/dns");
    // A trailing slash in the URL makes no difference.
    assert!(
        run(&format!("url = \"http://{addr}/\"\nname = \"dns\""), "2s")
            .await
            .passed
    );
    assert_eq!(log.lock().unwrap().pop().unwrap().path, "/result/dns");
    let out = run(&format!("url = \"http://{addr}\"\nname = \"ntp\""), "2s").await;
    assert!(!out.passed);
    assert_eq!(out.detail, "Cabourotte: exit status 1");
    let out = run(&format!("url = \"http://{addr}\"\nname = \"web\""), "2s").await;
    assert!(!out.passed);
    assert_eq!(out.detail, "Cabourotte has no check named \"web\"");
}

#[tokio::test]
async fn unreachable_or_slow_api_fails() {
    let (addr, _) = http_server("127.0.0.1:0").await;
    let out = run(
        &format!("url = \"http://{addr}\"\nname = \"slow\""),
        "300ms",
    )
    .await;
    assert!(!out.passed);
    assert_eq!(out.detail, "Cabourotte: timeout after 300ms");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = run(&format!("url = \"http://{closed}\"\nname = \"dns\""), "2s").await;
    assert!(!out.passed);
    assert!(out.detail.contains("refused"), "{}", out.detail);
}
