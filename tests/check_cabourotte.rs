//! The cabourotte kind against a stand-in for Cabourotte's result API on loopback
//! (`GET /result/NAME` answering the JSON result Cabourotte keeps for each check).

use crate::support::http_server;
use anycast_warden::check::CheckOutcome;

async fn run(body: &str, timeout: &str) -> CheckOutcome {
    crate::support::check::run_check("cabourotte", body, timeout).await
}

#[tokio::test]
async fn passing_failing_and_unknown_checks() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    let out = run(&format!("url = \"http://{addr}\"\nname = \"dns\""), "2s").await;
    assert!(out.passed(), "{}", out.detail);
    assert_eq!(log.lock().unwrap().pop().unwrap().path, "/result/dns");
    // A trailing slash in the URL makes no difference.
    assert!(
        run(&format!("url = \"http://{addr}/\"\nname = \"dns\""), "2s")
            .await
            .passed()
    );
    assert_eq!(log.lock().unwrap().pop().unwrap().path, "/result/dns");
    let out = run(&format!("url = \"http://{addr}\"\nname = \"ntp\""), "2s").await;
    assert!(!out.passed());
    assert_eq!(out.detail, "Cabourotte: exit status 1");
    let out = run(&format!("url = \"http://{addr}\"\nname = \"web\""), "2s").await;
    assert!(!out.passed());
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
    assert!(!out.passed());
    assert_eq!(out.detail, "Cabourotte: timeout after 300ms");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let out = run(&format!("url = \"http://{closed}\"\nname = \"dns\""), "2s").await;
    assert!(!out.passed());
    assert!(out.detail.contains("refused"), "{}", out.detail);
}
