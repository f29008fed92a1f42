//! Health checks: one file per kind, all behind `Check::run`, which never takes longer
//! than the timeout it is given (a check that overruns counts as failed).
//!
//! `Check::run` owns what every kind shares: `tries` attempts within one timeout, with
//! `retry_interval` between them, and the elapsed time. A kind's own `run` makes one
//! attempt bounded by the time it is given, and says in one line why it failed.
//!
//! ```text
//!  service round ──Check::run(timeout)──▶ tries × kind.run ──▶ CheckOutcome { failure: Option<Failure>, detail, .. }
//! ```
//! A failure's class ([`Failure`]) is decided where it happens, next to its text; status
//! and metrics use the class.

pub mod address;
pub mod cabourotte;
pub mod dns;
pub mod exec;
pub mod exec_slots;
pub mod failure;
pub mod file;
pub mod http;
pub mod http_client;
pub mod icmp;
pub mod tcp;
pub mod tftp;
pub mod tls;
pub mod udp;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{CheckConfig, CheckSpec};
use address::AddressBook;
pub use failure::{Failed, Failure};

/// The result of one check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// `None` when it passed; else the class of the failure, decided where it happened.
    pub failure: Option<Failure>,
    /// Why it failed, in one line (with captured output for exec), or a short note when it
    /// passed.
    pub detail: String,
    pub elapsed: Duration,
    /// Numbers a kind measured on the way (ICMP round trips, certificate expiry), for
    /// metrics; `None` for kinds that measure nothing.
    pub measurements: Option<CheckMeasurements>,
}

/// What a check measured, beyond passing or failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckMeasurements {
    Icmp(IcmpStats),
    /// Seconds until the certificate's `not_after` (negative: expired).
    TlsExpiry {
        seconds_left: i64,
    },
}

/// One round of ICMP echo requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpStats {
    pub sent: u32,
    pub received: u32,
    /// Round trips of the replies; all zero when none came back.
    pub rtt_min: Duration,
    pub rtt_avg: Duration,
    pub rtt_max: Duration,
    pub rtt_stddev: Duration,
}

impl IcmpStats {
    /// Lost requests in percent (0–100).
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 100.0;
        }
        f64::from(self.sent - self.received.min(self.sent)) * 100.0 / f64::from(self.sent)
    }
}

impl CheckOutcome {
    pub fn pass(detail: impl Into<String>) -> Self {
        CheckOutcome {
            failure: None,
            detail: detail.into(),
            elapsed: Duration::ZERO,
            measurements: None,
        }
    }

    pub fn fail(failure: Failure, detail: impl Into<String>) -> Self {
        CheckOutcome {
            failure: Some(failure),
            detail: detail.into(),
            elapsed: Duration::ZERO,
            measurements: None,
        }
    }

    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    pub fn with_measurements(mut self, m: CheckMeasurements) -> Self {
        self.measurements = Some(m);
        self
    }
}

impl From<Failed> for CheckOutcome {
    fn from(f: Failed) -> Self {
        CheckOutcome::fail(f.failure, f.detail)
    }
}

impl<T: Into<CheckOutcome>> From<Result<T, Failed>> for CheckOutcome {
    fn from(r: Result<T, Failed>) -> Self {
        match r {
            Ok(v) => v.into(),
            Err(f) => f.into(),
        }
    }
}

/// "timeout after 2s": the one wording every kind uses when its time ran out.
pub fn timeout_reason(limit: Duration) -> String {
    format!(
        "timeout after {}",
        humantime::format_duration(round_ms(limit))
    )
}

/// The nearest whole millisecond, so reasons do not print nanoseconds.
fn round_ms(d: Duration) -> Duration {
    let ms = (d + Duration::from_micros(500)).as_millis();
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// What checks get from the daemon when they are built.
#[derive(Debug, Clone)]
pub struct CheckContext {
    /// Passed to exec checks as `ANYCAST_WARDEN_SERVICE`.
    pub service: String,
    /// The host's addresses, shared with `ip_check`.
    pub addresses: Arc<AddressBook>,
}

/// One kind's runnable form.
#[derive(Debug, Clone)]
enum Probe {
    Exec(exec::ExecCheck),
    Tcp(tcp::TcpCheck),
    File(file::FileCheck),
    Udp(udp::UdpCheck),
    Tftp(tftp::TftpCheck),
    Address(address::AddressCheck),
    Http(Box<http::HttpCheck>),
    Tls(Box<tls::TlsCheck>),
    Dns(Box<dns::DnsCheck>),
    Icmp(icmp::IcmpCheck),
    Cabourotte(Box<cabourotte::CabourotteCheck>),
}

/// A runnable check, built from its configuration.
#[derive(Debug, Clone)]
pub struct Check {
    probe: Probe,
    tries: u32,
    retry_interval: Duration,
    description: String,
}

impl Check {
    pub fn new(config: &CheckConfig, ctx: &CheckContext) -> Self {
        let probe = match &config.spec {
            CheckSpec::Exec(s) => Probe::Exec(exec::ExecCheck::new(s, &ctx.service)),
            CheckSpec::Tcp(s) => Probe::Tcp(tcp::TcpCheck::new(s)),
            CheckSpec::File(s) => Probe::File(file::FileCheck::new(s)),
            CheckSpec::Udp(s) => Probe::Udp(udp::UdpCheck::new(s)),
            CheckSpec::Tftp(s) => Probe::Tftp(tftp::TftpCheck::new(s)),
            CheckSpec::Address(s) => {
                Probe::Address(address::AddressCheck::new(s, ctx.addresses.clone()))
            }
            CheckSpec::Http(s) => Probe::Http(Box::new(http::HttpCheck::new(s))),
            CheckSpec::Tls(s) => Probe::Tls(Box::new(tls::TlsCheck::new(s))),
            CheckSpec::Dns(s) => Probe::Dns(Box::new(dns::DnsCheck::new(s))),
            CheckSpec::Icmp(s) => Probe::Icmp(icmp::IcmpCheck::new(s)),
            CheckSpec::Cabourotte(s) => {
                Probe::Cabourotte(Box::new(cabourotte::CabourotteCheck::new(s)))
            }
        };
        Check {
            probe,
            tries: config.tries.max(1),
            retry_interval: config.retry_interval,
            description: describe(&config.spec),
        }
    }

    /// Short text naming the check, for logs.
    pub fn describe(&self) -> String {
        self.description.clone()
    }

    /// Up to `tries` attempts, all within `timeout`; the first pass wins, else the last
    /// failure's reason (with the number of attempts made).
    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut attempts = 0;
        let mut outcome = CheckOutcome::fail(Failure::Timeout, timeout_reason(timeout));
        while attempts < self.tries {
            // The first attempt gets the whole timeout, so its reason names the configured
            // one; later ones get what is left.
            let left = if attempts == 0 {
                timeout
            } else {
                deadline.saturating_duration_since(Instant::now())
            };
            if left.is_zero() {
                break;
            }
            attempts += 1;
            outcome = self.attempt(left).await;
            if outcome.passed() || attempts == self.tries {
                break;
            }
            let pause = self
                .retry_interval
                .min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
        }
        if !outcome.passed() && self.tries > 1 {
            outcome.detail = format!("{} ({attempts} of {} tries)", outcome.detail, self.tries);
        }
        outcome.elapsed = started.elapsed();
        outcome
    }

    /// One attempt, cut off at `limit` whatever the kind does.
    async fn attempt(&self, limit: Duration) -> CheckOutcome {
        let once = async {
            match &self.probe {
                Probe::Exec(c) => c.run(limit).await,
                Probe::Tcp(c) => c.run(limit).await,
                Probe::File(c) => c.run().await,
                Probe::Udp(c) => c.run(limit).await,
                Probe::Tftp(c) => c.run(limit).await,
                Probe::Address(c) => c.run(),
                Probe::Http(c) => c.run(limit).await,
                Probe::Tls(c) => c.run(limit).await,
                Probe::Dns(c) => c.run(limit).await,
                Probe::Icmp(c) => c.run(limit).await,
                Probe::Cabourotte(c) => c.run(limit).await,
            }
        };
        // Kinds bound their own I/O (exec must also kill its process group); this only
        // catches one that does not.
        match tokio::time::timeout(limit + Duration::from_millis(50), once).await {
            Ok(outcome) => outcome,
            Err(_) => CheckOutcome::fail(Failure::Timeout, timeout_reason(limit)),
        }
    }
}

/// Short text naming a configured check, for logs and `anycast-warden check`.
pub fn describe(spec: &CheckSpec) -> String {
    match spec {
        CheckSpec::Exec(s) => format!("exec {}", s.command),
        CheckSpec::Tcp(s) => format!("tcp {}", s.target),
        CheckSpec::File(s) if s.absent => format!("file {} absent", s.path.display()),
        CheckSpec::File(s) => format!("file {}", s.path.display()),
        CheckSpec::Udp(s) => format!("udp {}", s.target),
        CheckSpec::Tftp(s) => format!("tftp {}/{}", s.target, s.file),
        CheckSpec::Address(s) => format!("address {} on {}", s.address, s.interface),
        CheckSpec::Http(s) => match &s.host {
            Some(host) => format!("http {} {} (host {host})", s.method, s.url),
            None => format!("http {} {}", s.method, s.url),
        },
        CheckSpec::Tls(s) => match &s.source {
            crate::config::CertificateSource::File(path) => format!("tls {}", path.display()),
            crate::config::CertificateSource::Server {
                target,
                server_name: Some(name),
            } => format!("tls {target} ({name})"),
            crate::config::CertificateSource::Server { target, .. } => format!("tls {target}"),
        },
        CheckSpec::Dns(s) => format!("dns {} {} @{}", s.query, s.record, s.server),
        CheckSpec::Icmp(s) => format!("icmp {}", s.host),
        CheckSpec::Cabourotte(s) => format!("cabourotte {} at {}", s.name, s.url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CheckConfig, ExecCommand, ExecSpec};

    fn shell(line: &str, tries: u32, retry_ms: u64) -> Check {
        let config = CheckConfig {
            spec: CheckSpec::Exec(ExecSpec {
                command: ExecCommand::Shell(line.into()),
                shell: true,
                run_as: None,
            }),
            tries,
            retry_interval: Duration::from_millis(retry_ms),
        };
        Check::new(
            &config,
            &CheckContext {
                service: "t".into(),
                addresses: AddressBook::uncached(),
            },
        )
    }

    #[tokio::test]
    async fn a_later_try_that_passes_makes_the_check_pass() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("n");
        // Fails on the first run, passes on the second.
        let line = format!(
            "if [ -e {0} ]; then exit 0; else touch {0}; exit 1; fi",
            marker.display()
        );
        let outcome = shell(&line, 3, 10).run(Duration::from_secs(5)).await;
        assert!(outcome.passed(), "{}", outcome.detail);
        let outcome = shell("exit 1", 1, 10).run(Duration::from_secs(5)).await;
        assert!(!outcome.passed());
        assert!(!outcome.detail.contains("tries"), "{}", outcome.detail);
    }

    #[tokio::test]
    async fn all_tries_failing_says_how_many_were_made() {
        let outcome = shell("exit 3", 3, 10).run(Duration::from_secs(5)).await;
        assert!(!outcome.passed());
        assert!(
            outcome.detail.ends_with("(3 of 3 tries)"),
            "{}",
            outcome.detail
        );
    }

    #[tokio::test]
    async fn tries_share_one_timeout() {
        let started = Instant::now();
        let outcome = shell("sleep 5", 3, 10)
            .run(Duration::from_millis(400))
            .await;
        assert!(!outcome.passed());
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(
            outcome.detail.contains("1 of 3 tries"),
            "{}",
            outcome.detail
        );
    }

    fn check(spec: CheckSpec) -> Check {
        Check::new(
            &CheckConfig {
                spec,
                tries: 1,
                retry_interval: Duration::ZERO,
            },
            &CheckContext {
                service: "t".into(),
                addresses: AddressBook::uncached(),
            },
        )
    }

    /// Each failure gets its class where it happens, from real checks on loopback.
    #[tokio::test]
    async fn failures_are_classed_where_they_happen() {
        use crate::config::{FileSpec, TcpSpec, UdpSpec};
        // A port with nothing behind it: bound, then released.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let udp_closed = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let argv = |args: &[&str]| {
            CheckSpec::Exec(ExecSpec {
                command: ExecCommand::Argv(args.iter().map(ToString::to_string).collect()),
                shell: false,
                run_as: None,
            })
        };
        let cases = [
            (argv(&["false"]), Failure::ExitStatus),
            (argv(&["sleep", "5"]), Failure::Timeout),
            (argv(&["/nonexistent/check"]), Failure::Start),
            (
                CheckSpec::Tcp(TcpSpec {
                    target: closed.to_string(),
                }),
                Failure::Refused,
            ),
            (
                // No port: the lookup fails at once, without asking a resolver.
                CheckSpec::Tcp(TcpSpec {
                    target: "nowhere".into(),
                }),
                Failure::Resolve,
            ),
            (
                CheckSpec::Udp(UdpSpec {
                    target: udp_closed.to_string(),
                    payload: "ping".into(),
                    expect: None,
                }),
                Failure::Refused,
            ),
            (
                CheckSpec::File(FileSpec {
                    path: "/nonexistent/maintenance-off".into(),
                    absent: false,
                }),
                Failure::Unexpected,
            ),
        ];
        for (spec, want) in cases {
            let what = describe(&spec);
            let outcome = check(spec).run(Duration::from_millis(500)).await;
            assert_eq!(outcome.failure, Some(want), "{what}: {}", outcome.detail);
        }
    }

    #[test]
    fn timeout_reason_is_short() {
        assert_eq!(timeout_reason(Duration::from_secs(2)), "timeout after 2s");
        assert_eq!(
            timeout_reason(Duration::from_nanos(1_500_000_123)),
            "timeout after 1s 500ms"
        );
    }

    #[test]
    fn loss_percent() {
        let s = IcmpStats {
            sent: 5,
            received: 3,
            rtt_min: Duration::ZERO,
            rtt_avg: Duration::ZERO,
            rtt_max: Duration::ZERO,
            rtt_stddev: Duration::ZERO,
        };
        assert!((s.loss_percent() - 40.0).abs() < 1e-9);
    }
}
