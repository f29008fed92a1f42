//! A check built from a one-service configuration, as the daemon would build it, for tests
//! that run checks without the daemon (also the ICMP checks of the e2e tests).

use std::path::Path;
use std::time::Duration;

/// Runs the check of a one-service configuration: `kind`, then the keys in `body`, with the
/// service's `timeout` ("2s").
pub async fn run_check(
    kind: &str,
    body: &str,
    timeout: &str,
) -> anycast_warden::check::CheckOutcome {
    let (check, timeout) = build_check(kind, body, timeout);
    check.run(timeout).await
}

/// The check of a one-service configuration (as `run_check` writes it) and the service's
/// timeout, for tests that run one check several times.
pub fn build_check(
    kind: &str,
    body: &str,
    timeout: &str,
) -> (anycast_warden::check::Check, Duration) {
    use anycast_warden::check::address::AddressBook;
    use anycast_warden::check::{Check, CheckContext};
    let text = format!(
        "[[service]]\nname = \"svc\"\nprefixes = [\"203.0.113.80\"]\nip_check = false\ntimeout = \"{timeout}\"\n[[service.check]]\nkind = \"{kind}\"\n{body}"
    );
    let config = anycast_warden::config::load_str(Path::new("t.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let service = &config.services[0];
    let ctx = CheckContext {
        service: service.name.clone(),
        addresses: AddressBook::uncached(),
    };
    (Check::new(&service.checks[0], &ctx), service.timeout)
}
