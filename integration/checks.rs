//! Checks that need root: ICMP echo to addresses inside a network namespace this test
//! creates (`awchk*`, joined to the test's namespace by a veth pair, addresses from
//! 198.51.100.0/24 and 2001:db8:3::/48 only). Without root it prints SKIPPED, unless
//! CI=true, where that fails (the lab's policy).

#[path = "../tests/support/check.rs"]
mod check_support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anycast_warden::check::{CheckMeasurements, CheckOutcome};

use crate::lab::machine::Claim;
use crate::lab::needs::{missing, skip_outside_ci};
use crate::lab::process::run;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A namespace with one veth end, the other end in the test's namespace. Removed on drop,
/// also when the test panics.
struct CheckNet {
    ns: String,
    link: String,
    /// The namespace's addresses (its side of 198.51.100.N/29 and 2001:db8:3:N::/64).
    v4: String,
    v6: String,
    /// An address of the same subnets that nobody has.
    absent_v4: String,
}

impl CheckNet {
    fn new() -> CheckNet {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let ns = format!("awchk{}-{n}", std::process::id() % 10_000);
        let base = 8 * (n % 32);
        let net = CheckNet {
            link: format!("{ns}a"),
            v4: format!("198.51.100.{}", base + 2),
            v6: format!("2001:db8:3:{n:x}::2"),
            absent_v4: format!("198.51.100.{}", base + 5),
            ns,
        };
        if let Err(e) = net.build(base, n) {
            panic!("cannot build {}: {e}", net.ns);
        }
        net
    }

    fn build(&self, base: u32, n: u32) -> Result<(), String> {
        let (ns, link) = (self.ns.as_str(), self.link.as_str());
        let peer = format!("{ns}b");
        run("ip", &["netns", "add", ns])?;
        run(
            "ip",
            &["link", "add", link, "type", "veth", "peer", "name", &peer],
        )?;
        run("ip", &["link", "set", &peer, "netns", ns])?;
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("198.51.100.{}/29", base + 1),
                "dev",
                link,
            ],
        )?;
        run(
            "ip",
            &[
                "-6",
                "addr",
                "add",
                &format!("2001:db8:3:{n:x}::1/64"),
                "dev",
                link,
                "nodad",
            ],
        )?;
        run(
            "ip",
            &[
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/29", self.v4),
                "dev",
                &peer,
            ],
        )?;
        run(
            "ip",
            &[
                "-n",
                ns,
                "-6",
                "addr",
                "add",
                &format!("{}/64", self.v6),
                "dev",
                &peer,
                "nodad",
            ],
        )?;
        run("ip", &["link", "set", link, "up"])?;
        run("ip", &["-n", ns, "link", "set", &peer, "up"])?;
        run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        Ok(())
    }

    /// Takes the namespace's side of the link down: nothing answers any more.
    fn cut(&self) {
        run(
            "ip",
            &[
                "-n",
                &self.ns,
                "link",
                "set",
                &format!("{}b", self.ns),
                "down",
            ],
        )
        .unwrap();
    }
}

impl Drop for CheckNet {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes both.
        let _ = run("ip", &["link", "del", &self.link]);
        let _ = run("ip", &["netns", "del", &self.ns]);
    }
}

/// A shared claim on the machine, or `None` after SKIPPED (a failure with `CI=true`)
/// without root or `ip`.
fn can_run(test: &str) -> Option<Claim> {
    if let Some(why) = missing(&[]) {
        skip_outside_ci(test, &why);
        return None;
    }
    Some(Claim::shared())
}

async fn icmp(body: &str, timeout: &str) -> CheckOutcome {
    check_support::run_check("icmp", body, timeout).await
}

fn stats(out: &CheckOutcome) -> anycast_warden::check::IcmpStats {
    match out.measurements {
        Some(CheckMeasurements::Icmp(s)) => s,
        ref other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn icmp_echo_v4_and_v6_into_a_namespace() {
    let Some(_machine) = can_run("icmp_echo_v4_and_v6_into_a_namespace") else {
        return;
    };
    let net = CheckNet::new();
    for host in [&net.v4, &net.v6] {
        let out = icmp(&format!("host = \"{host}\"\ncount = 3"), "2s").await;
        assert!(out.passed(), "{host}: {}", out.detail);
        let s = stats(&out);
        assert_eq!((s.sent, s.received), (3, 3), "{host}");
        assert!(s.rtt_min > Duration::ZERO && s.rtt_min <= s.rtt_avg && s.rtt_avg <= s.rtt_max);
        assert!(
            out.detail.starts_with("3 of 3 replies, rtt min/avg/max "),
            "{}",
            out.detail
        );
    }
    // A round trip on a veth takes microseconds, never less than one.
    let out = icmp(&format!("host = \"{}\"\nmax_rtt = \"1us\"", net.v4), "2s").await;
    assert!(!out.passed());
    assert!(out.detail.starts_with("average rtt "), "{}", out.detail);
    let out = icmp(&format!("host = \"{}\"\nmax_rtt = \"1s\"", net.v4), "2s").await;
    assert!(out.passed(), "{}", out.detail);
}

#[tokio::test]
async fn icmp_loss_fails_and_max_loss_allows_it() {
    let Some(_machine) = can_run("icmp_loss_fails_and_max_loss_allows_it") else {
        return;
    };
    let net = CheckNet::new();
    // Nobody has this address: every request is lost (no ARP answer).
    let out = icmp(&format!("host = \"{}\"\ncount = 2", net.absent_v4), "1s").await;
    assert!(!out.passed());
    assert!(
        out.detail.starts_with("100 % loss (0 of 2 replies"),
        "{}",
        out.detail
    );
    assert_eq!(stats(&out).received, 0);
    // The namespace goes away behind its link: a working check starts failing.
    let body = format!("host = \"{}\"\ncount = 2", net.v4);
    assert!(icmp(&body, "1s").await.passed());
    net.cut();
    let out = icmp(&body, "1s").await;
    assert!(!out.passed());
    assert!(out.detail.starts_with("100 % loss"), "{}", out.detail);
    // max_loss = 100 tolerates it all (a check that only measures).
    assert!(
        icmp(&format!("{body}\nmax_loss = 100"), "1s")
            .await
            .passed()
    );
}
