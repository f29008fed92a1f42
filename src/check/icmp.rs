//! `kind = "icmp"`: `count` echo requests to `host`, one after the other (each waits for
//! its reply up to an equal share of what is left of the timeout); passes when the loss
//! is at most `max_loss` percent and the average round trip at most `max_rtt`. The round
//! trips (min/avg/max/stddev) and the loss are kept for metrics.
//!
//! surge-ping opens an unprivileged ICMP datagram socket when the kernel allows it
//! (`net.ipv4.ping_group_range` includes the process's group) and a raw socket otherwise,
//! which needs CAP_NET_RAW; when neither works the reason says so.

use std::io::ErrorKind;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use surge_ping::{Client, Config, ICMP, PingIdentifier, PingSequence, SurgeError};

use super::{CheckMeasurements, CheckOutcome, Failed, Failure, IcmpStats, timeout_reason};
use crate::config::IcmpSpec;

/// The echo request's payload (as ping's, 56 bytes).
const PAYLOAD: [u8; 56] = [0; 56];

/// Round-trip statistics of `sent` requests and the replies' round trips.
pub fn stats(sent: u32, rtts: &[Duration]) -> IcmpStats {
    let received = u32::try_from(rtts.len()).unwrap_or(u32::MAX);
    if rtts.is_empty() {
        return IcmpStats {
            sent,
            received,
            rtt_min: Duration::ZERO,
            rtt_avg: Duration::ZERO,
            rtt_max: Duration::ZERO,
            rtt_stddev: Duration::ZERO,
        };
    }
    let secs: Vec<f64> = rtts.iter().map(Duration::as_secs_f64).collect();
    let n = secs.len() as f64;
    let avg = secs.iter().sum::<f64>() / n;
    let variance = secs.iter().map(|s| (s - avg).powi(2)).sum::<f64>() / n;
    IcmpStats {
        sent,
        received,
        rtt_min: rtts.iter().copied().min().unwrap_or_default(),
        rtt_avg: Duration::from_secs_f64(avg),
        rtt_max: rtts.iter().copied().max().unwrap_or_default(),
        rtt_stddev: Duration::from_secs_f64(variance.sqrt()),
    }
}

/// Rounded for reasons: "1.25ms".
fn ms(d: Duration) -> String {
    format!("{:.2}ms", d.as_secs_f64() * 1000.0)
}

/// The verdict on one round's statistics.
pub fn judge(stats: &IcmpStats, max_loss: u32, max_rtt: Option<Duration>) -> CheckOutcome {
    let loss = stats.loss_percent();
    let summary = format!(
        "{} of {} replies, rtt min/avg/max {}/{}/{}",
        stats.received,
        stats.sent,
        ms(stats.rtt_min),
        ms(stats.rtt_avg),
        ms(stats.rtt_max)
    );
    let outcome = if loss > f64::from(max_loss) {
        // No reply at all is a timeout; some replies, too few, an unexpected answer.
        let failure = if stats.received == 0 {
            Failure::Timeout
        } else {
            Failure::Unexpected
        };
        CheckOutcome::fail(failure, format!("{loss:.0} % loss ({summary})"))
    } else if let Some(limit) = max_rtt
        && stats.received > 0
        && stats.rtt_avg > limit
    {
        CheckOutcome::fail(
            Failure::Unexpected,
            format!(
                "average rtt {} over {} ({summary})",
                ms(stats.rtt_avg),
                humantime::format_duration(limit)
            ),
        )
    } else {
        CheckOutcome::pass(summary)
    };
    outcome.with_measurements(CheckMeasurements::Icmp(*stats))
}

/// Why no ICMP socket could be opened, naming what would allow one.
pub fn socket_error(host: IpAddr, e: &std::io::Error) -> String {
    if e.kind() == ErrorKind::PermissionDenied {
        // One sysctl governs ICMP datagram sockets of both families.
        format!(
            "cannot open an ICMPv{} socket: unprivileged ICMP is off for this group (sysctl net.ipv4.ping_group_range) and raw ICMP sockets need CAP_NET_RAW (run as root or give the service AmbientCapabilities=CAP_NET_RAW)",
            if host.is_ipv4() { "4" } else { "6" }
        )
    } else {
        format!("cannot open an ICMP socket: {e}")
    }
}

#[derive(Debug, Clone)]
pub struct IcmpCheck {
    host: String,
    count: u32,
    max_loss: u32,
    max_rtt: Option<Duration>,
}

impl IcmpCheck {
    pub fn new(spec: &IcmpSpec) -> Self {
        IcmpCheck {
            host: spec.host.clone(),
            count: spec.count,
            max_loss: spec.max_loss,
            max_rtt: spec.max_rtt,
        }
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        let deadline = Instant::now() + timeout;
        let host = match tokio::time::timeout(timeout, resolve(&self.host)).await {
            Ok(Ok(ip)) => ip,
            Ok(Err(failed)) => return failed.into(),
            Err(_) => return CheckOutcome::fail(Failure::Timeout, timeout_reason(timeout)),
        };
        let config = match host {
            IpAddr::V4(_) => Config::default(),
            IpAddr::V6(_) => Config::builder().kind(ICMP::V6).build(),
        };
        let client = match Client::new(&config) {
            Ok(c) => c,
            Err(e) => return CheckOutcome::fail(Failure::Other, socket_error(host, &e)),
        };
        let mut pinger = client.pinger(host, PingIdentifier(rand::random())).await;
        let mut rtts = Vec::new();
        for seq in 0..self.count {
            let left = deadline.saturating_duration_since(Instant::now());
            let share = left / (self.count - seq);
            if share.is_zero() {
                break;
            }
            pinger.timeout(share);
            let seq16 = u16::try_from(seq).unwrap_or(u16::MAX);
            match pinger.ping(PingSequence(seq16), &PAYLOAD).await {
                Ok((_, rtt)) => rtts.push(rtt),
                Err(SurgeError::Timeout { .. }) => {}
                Err(SurgeError::IOError(e)) if rtts.is_empty() && seq == 0 => {
                    // Sending failed outright (no route, network unreachable): say so.
                    let mut outcome = judge(&stats(self.count, &[]), self.max_loss, self.max_rtt);
                    outcome.failure = Some(match Failure::of_io(&e) {
                        Failure::Other => Failure::Connect,
                        f => f,
                    });
                    outcome.detail = format!("send to {host}: {e}");
                    return outcome;
                }
                Err(_) => {}
            }
        }
        judge(&stats(self.count, &rtts), self.max_loss, self.max_rtt)
    }
}

/// An address as written, or the first address of a name.
async fn resolve(host: &str) -> Result<IpAddr, Failed> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| Failed::new(Failure::Resolve, format!("cannot resolve {host}: {e}")))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| Failed::new(Failure::Resolve, format!("{host} resolved to no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn statistics() {
        let s = stats(5, &[d(1), d(2), d(3)]);
        assert_eq!((s.sent, s.received), (5, 3));
        assert_eq!((s.rtt_min, s.rtt_avg, s.rtt_max), (d(1), d(2), d(3)));
        // Population standard deviation of 1, 2, 3 ms: sqrt(2/3) ms.
        let sd = s.rtt_stddev.as_secs_f64() * 1000.0;
        assert!((sd - (2.0f64 / 3.0).sqrt()).abs() < 1e-6, "{sd}");
        let none = stats(3, &[]);
        assert_eq!((none.received, none.rtt_avg), (0, Duration::ZERO));
    }

    #[test]
    fn verdicts() {
        let s = stats(5, &[d(1), d(2), d(3)]);
        let out = judge(&s, 0, None);
        assert!(!out.passed());
        assert!(
            out.detail.starts_with("40 % loss (3 of 5 replies"),
            "{}",
            out.detail
        );
        assert!(matches!(out.measurements, Some(CheckMeasurements::Icmp(m)) if m == s));
        assert!(judge(&s, 40, None).passed());
        let out = judge(&s, 40, Some(d(1)));
        assert!(!out.passed());
        assert!(
            out.detail.starts_with("average rtt 2.00ms over 1ms"),
            "{}",
            out.detail
        );
        assert!(judge(&s, 50, Some(d(2))).passed());
        assert!(!judge(&stats(3, &[]), 99, None).passed());
    }

    #[test]
    fn permission_error_names_the_capability() {
        let e = std::io::Error::from(ErrorKind::PermissionDenied);
        let reason = socket_error("192.0.2.1".parse().unwrap(), &e);
        assert!(reason.contains("CAP_NET_RAW"), "{reason}");
        assert!(reason.contains("net.ipv4.ping_group_range"), "{reason}");
        let reason = socket_error("2001:db8::1".parse().unwrap(), &e);
        assert!(
            reason.starts_with("cannot open an ICMPv6 socket"),
            "{reason}"
        );
    }
}
