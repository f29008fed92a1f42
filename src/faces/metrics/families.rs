//! The metric families, each group read from its part of the status board. Every family
//! here is documented in docs/metrics.md (a test keeps the two in step).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::check::Failure;
use crate::health::Health;
use crate::status::{Histogram, Snapshot};

/// Labels of one sample.
type Labels = Vec<(&'static str, String)>;

/// Encodes one snapshot.
#[derive(Debug)]
pub struct SnapshotCollector(pub Snapshot);

/// The session states of RFC 4271, as `bgp_peer_state` labels them.
const BGP_STATES: [&str; 6] = [
    "idle",
    "connect",
    "active",
    "opensent",
    "openconfirm",
    "established",
];

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn gauges(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, f64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in samples {
        if labels.is_empty() {
            metric.encode_gauge(&value)?;
        } else {
            metric.encode_family(&labels)?.encode_gauge(&value)?;
        }
    }
    Ok(())
}

/// The check failures' help text, naming every `reason` value.
fn failures_help() -> String {
    let reasons: Vec<&str> = Failure::ALL.iter().map(|f| f.label()).collect();
    format!(
        "Failed runs of the check, by class ({})",
        reasons.join(", ")
    )
}

fn counters(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in samples {
        metric
            .encode_family(&labels)?
            .encode_counter::<NoLabelSet, _, f64>(&value, None)?;
    }
    Ok(())
}

fn histograms<'h>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Labels, &'h Histogram)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (labels, h) in samples {
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &h.bucket_pairs(), None)?;
    }
    Ok(())
}

impl Collector for SnapshotCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        daemon_families(&mut e, s)?;
        service_families(&mut e, s)?;
        check_families(&mut e, s)?;
        backend_families(&mut e, s)?;
        bgp_session_families(&mut e, s)?;
        dns_families(&mut e, s)?;
        bgp_message_families(&mut e, s)
    }
}

/// The daemon itself: build, up, start time.
fn daemon_families(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let version = labels(&[("version", s.version.as_str())]);
    let info = e.encode_descriptor(
        "build",
        "anycast-warden's version; always 1",
        None,
        MetricType::Info,
    )?;
    prometheus_client::metrics::info::Info::new(version).encode(info)?;
    gauges(e, "up", "1 while the daemon runs", [(vec![], 1.0)])?;
    gauges(
        e,
        "start_time_seconds",
        "When the daemon started (Unix time)",
        [(vec![], s.started)],
    )?;

    Ok(())
}

/// Per service: announced prefixes, state, drains, dampening.
fn service_families(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let services = || s.services.iter();
    gauges(
        e,
        "service_announced",
        "1 when the routing daemon announces this prefix of the service (the last successful apply holds it)",
        services().flat_map(|(name, svc)| {
            svc.nets.iter().map(move |net| {
                (
                    labels(&[("service", name), ("prefix", &net.to_string())]),
                    f64::from(u8::from(s.announced(net))),
                )
            })
        }),
    )?;
    gauges(
        e,
        "service_state",
        "The service's health: 1 for its current state (unknown, up, down), 0 for the others",
        services().flat_map(|(name, svc)| {
            [Health::Unknown, Health::Up, Health::Down].map(|state| {
                (
                    labels(&[("service", name), ("state", state.as_str())]),
                    f64::from(u8::from(svc.state == state)),
                )
            })
        }),
    )?;
    gauges(
        e,
        "service_state_since_seconds",
        "When the service entered its current state (Unix time)",
        services().map(|(name, svc)| (labels(&[("service", name)]), svc.since)),
    )?;
    gauges(
        e,
        "service_drained",
        "1 while the service is drained for maintenance (withdrawn whatever its health)",
        services().map(|(name, _)| {
            (
                labels(&[("service", name)]),
                f64::from(u8::from(s.is_drained(name))),
            )
        }),
    )?;
    gauges(
        e,
        "service_disabled",
        "1 when the service is disabled in the configuration",
        services().map(|(name, svc)| {
            (
                labels(&[("service", name)]),
                f64::from(u8::from(svc.disabled)),
            )
        }),
    )?;
    counters(
        e,
        "service_transitions",
        "State changes of the service since the daemon started",
        services().map(|(name, svc)| (labels(&[("service", name)]), svc.transitions)),
    )?;
    let dampened =
        || services().filter_map(|(name, svc)| svc.dampening.as_ref().map(|d| (name, d)));
    gauges(
        e,
        "service_suppressed",
        "1 while flap dampening holds the service withdrawn whatever its health (services with dampening only)",
        dampened().map(|(name, d)| {
            (
                labels(&[("service", name)]),
                f64::from(u8::from(d.suppressed)),
            )
        }),
    )?;
    gauges(
        e,
        "service_dampening_penalty",
        "The service's flap penalty at its last round (each change of health adds 1000; it halves every half_life)",
        dampened().map(|(name, d)| (labels(&[("service", name)]), d.penalty)),
    )?;
    gauges(
        e,
        "service_reuse_time_seconds",
        "While suppressed: when the service will be announced again if it does not flap (Unix time)",
        dampened().filter_map(|(name, d)| d.reuse_at.map(|at| (labels(&[("service", name)]), at))),
    )?;

    Ok(())
}

/// Per check: up, runs, failures by class, duration, measured values.
fn check_families(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let services = || s.services.iter();
    let checks = || {
        services().flat_map(|(name, svc)| {
            svc.checks
                .iter()
                .map(move |(check, c)| (name.as_str(), check.as_str(), c))
        })
    };
    gauges(
        e,
        "check_up",
        "1 when the check's last run passed",
        checks().map(|(service, check, c)| {
            (
                labels(&[("service", service), ("check", check)]),
                f64::from(u8::from(c.passed)),
            )
        }),
    )?;
    counters(
        e,
        "check_runs",
        "Runs of the check",
        checks()
            .map(|(service, check, c)| (labels(&[("service", service), ("check", check)]), c.runs)),
    )?;
    counters(
        e,
        "check_failures",
        &failures_help(),
        checks().flat_map(|(service, check, c)| {
            c.failures.iter().map(move |(reason, n)| {
                (
                    labels(&[
                        ("service", service),
                        ("check", check),
                        ("reason", reason.label()),
                    ]),
                    *n,
                )
            })
        }),
    )?;
    histograms(
        e,
        "check_duration_seconds",
        "How long the check took",
        checks()
            .filter(|(_, _, c)| c.duration.count > 0)
            .map(|(service, check, c)| {
                (
                    labels(&[("service", service), ("check", check)]),
                    &c.duration,
                )
            }),
    )?;
    gauges(
        e,
        "check_value",
        "A value the check measured (e.g. rtt_seconds, loss_ratio, tls_expiry_seconds)",
        checks().flat_map(|(service, check, c)| {
            c.values.iter().map(move |(name, v)| {
                (
                    labels(&[("service", service), ("check", check), ("name", name)]),
                    *v,
                )
            })
        }),
    )?;

    Ok(())
}

/// The routing side: applies, failures, latency, desired and applied prefixes.
fn backend_families(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let b = &s.backend;
    let backend = labels(&[("backend", b.kind.as_str())]);
    counters(
        e,
        "backend_applies",
        "Applies of the prefix set to the routing daemon",
        [(backend.clone(), b.applies)],
    )?;
    counters(
        e,
        "backend_apply_failures",
        "Applies that failed (they are retried)",
        [(backend.clone(), b.failures)],
    )?;
    histograms(
        e,
        "backend_apply_duration_seconds",
        "How long an apply took",
        [(backend.clone(), &b.duration)],
    )?;
    gauges(
        e,
        "backend_up",
        "1 when the last apply succeeded",
        [(
            backend.clone(),
            f64::from(u8::from(b.last_apply.as_ref().is_some_and(|a| a.ok))),
        )],
    )?;
    gauges(
        e,
        "backend_last_success_seconds",
        "When an apply last succeeded (Unix time; 0: never)",
        [(backend.clone(), b.last_success.unwrap_or(0.0))],
    )?;
    gauges(
        e,
        "desired_prefixes",
        "Prefixes the healthy, undrained services want announced",
        [(backend.clone(), b.desired.len() as f64)],
    )?;
    gauges(
        e,
        "applied_prefixes",
        "Prefixes the last successful apply announced (-1: unknown, after a failure)",
        [(backend, b.applied.as_ref().map_or(-1.0, |a| a.len() as f64))],
    )?;

    Ok(())
}

/// The built-in speaker's sessions (no samples with BIRD or FRR).
fn bgp_session_families(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    // The built-in speaker's peers (no samples with BIRD or FRR).
    let peers = || s.bgp_peers.iter();
    let peer = |p: &crate::status::BgpPeerView| labels(&[("peer", p.address.as_str())]);
    gauges(
        e,
        "bgp_peer_up",
        "1 while the session with the peer is Established",
        peers().map(|p| (peer(p), f64::from(u8::from(p.state == "established")))),
    )?;
    gauges(
        e,
        "bgp_peer_state",
        "The session's state: 1 for the current one (idle, connect, active, opensent, openconfirm, established), 0 for the others",
        peers().flat_map(|p| {
            BGP_STATES.map(|state| {
                (
                    labels(&[("peer", p.address.as_str()), ("state", state)]),
                    f64::from(u8::from(p.state == state)),
                )
            })
        }),
    )?;
    counters(
        e,
        "bgp_peer_flaps",
        "Times the session left Established",
        peers().map(|p| (peer(p), p.flaps)),
    )?;
    gauges(
        e,
        "bgp_peer_prefixes_announced",
        "Prefixes the peer has from the warden on the current session",
        peers().map(|p| (peer(p), p.prefixes_announced as f64)),
    )?;

    Ok(())
}

/// DNS failover (no samples without `[dns]`).
fn dns_families(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    // DNS failover (no samples without [dns]).
    let dns = s.dns.as_ref();
    let records = || dns.into_iter().flat_map(|d| d.records.values());
    let record = |r: &crate::status::DnsRecordStatus| {
        labels(&[
            ("name", r.name.as_str()),
            ("type", r.rtype.as_str()),
            ("value", r.value.as_str()),
        ])
    };
    counters(
        e,
        "dns_updates",
        "DNS UPDATE rounds by result: ok, dry_run (only logged), refused, tsig, prerequisite (the RRset changed meanwhile), unreachable, malformed, error",
        dns.into_iter().flat_map(|d| {
            d.updates
                .iter()
                .map(|(result, n)| (labels(&[("result", result.as_str())]), *n))
        }),
    )?;
    counters(
        e,
        "dns_record_changes",
        "Records added to or deleted from the zone, by action",
        dns.into_iter().flat_map(|d| {
            ["add", "delete"].map(|action| {
                (
                    labels(&[("action", action)]),
                    d.changes.get(action).copied().unwrap_or(0),
                )
            })
        }),
    )?;
    gauges(
        e,
        "dns_record_in_zone",
        "1 when the primary has the record, 0 when not, -1 before the zone was read",
        records().map(|r| {
            (
                record(r),
                r.in_zone.map_or(-1.0, |i| f64::from(u8::from(i))),
            )
        }),
    )?;
    gauges(
        e,
        "dns_record_down",
        "1 while this warden sees the record's endpoint down",
        records().map(|r| (record(r), f64::from(u8::from(r.verdict == Health::Down)))),
    )?;
    gauges(
        e,
        "dns_deletion_held",
        "1 while a deletion is held back (min_records, or no agreement of the other monitors)",
        records().map(|r| (record(r), f64::from(u8::from(r.held.is_some())))),
    )?;
    gauges(
        e,
        "dns_dry_run",
        "1 while dry_run is on (changes are only logged)",
        dns.map(|d| (labels(&[]), f64::from(u8::from(d.dry_run)))),
    )?;
    Ok(())
}

/// The built-in speaker's messages and errors per peer.
fn bgp_message_families(e: &mut DescriptorEncoder, s: &Snapshot) -> Result<(), std::fmt::Error> {
    let peers = || s.bgp_peers.iter();
    for (name, help, pick) in [
        (
            "bgp_messages_sent",
            "BGP messages sent to the peer, by type",
            (|p: &crate::status::BgpPeerView| &p.sent)
                as fn(&crate::status::BgpPeerView) -> &std::collections::BTreeMap<String, u64>,
        ),
        (
            "bgp_messages_received",
            "BGP messages received from the peer, by type",
            |p: &crate::status::BgpPeerView| &p.received,
        ),
    ] {
        counters(
            e,
            name,
            help,
            peers().flat_map(|p| {
                pick(p).iter().map(move |(kind, n)| {
                    (
                        labels(&[("peer", p.address.as_str()), ("type", kind.as_str())]),
                        *n,
                    )
                })
            }),
        )?;
    }
    counters(
        e,
        "bgp_update_errors",
        "Malformed UPDATEs from the peer that kept the session (RFC 7606), by handling: treat-as-withdraw (UPDATEs), attribute-discard (attributes)",
        peers().flat_map(|p| {
            p.update_errors.iter().map(move |(handling, n)| {
                (
                    labels(&[
                        ("peer", p.address.as_str()),
                        ("handling", handling.as_str()),
                    ]),
                    *n,
                )
            })
        }),
    )?;
    gauges(
        e,
        "bgp_peer_last_notification_seconds",
        "When the session's last NOTIFICATION was sent or received (Unix time), with its code, subcode and direction (sent, received)",
        peers().filter_map(|p| {
            p.last_error.as_ref().map(|n| {
                (
                    labels(&[
                        ("peer", p.address.as_str()),
                        ("code", &n.code.to_string()),
                        ("subcode", &n.subcode.to_string()),
                        ("direction", if n.sent { "sent" } else { "received" }),
                    ]),
                    n.at,
                )
            })
        }),
    )?;
    Ok(())
}
