//! Prometheus metrics, rendered from the status board at every scrape (and every textfile
//! write): nothing is counted twice, and a removed service's series simply disappear.
//!
//! ```text
//!  StatusBoard ──snapshot──▶ SnapshotCollector ──OpenMetrics text──▶ GET /metrics when asked for (endpoint.rs)
//!                                                    │
//!                                                    └─▶ text004 ──0.0.4──▶ GET /metrics by default
//!                                                                       └▶ textfile, atomically (textfile.rs)
//! ```
//! One registry renders both formats: the Prometheus text format 0.0.4 is converted from
//! the OpenMetrics text (prometheus-client has no 0.0.4 encoder), so the two never differ
//! in what they say. Every series is documented in docs/metrics.md.

pub mod endpoint;
pub mod text004;
pub mod textfile;

use std::fmt::Write as _;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::check::Failure;
use crate::config::MetricsSettings;
use crate::health::Health;
use crate::status::{Histogram, Snapshot, StatusBoard};

/// Labels of one sample.
type Labels = Vec<(&'static str, String)>;

/// The two exposition formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4: what node_exporter's textfile collector and
    /// `promtool check metrics` read, and what `/metrics` answers by default.
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers that ask for it in their Accept header.
    OpenMetrics,
}

impl Format {
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// The exposition of a snapshot in the Prometheus text format 0.0.4 (the textfile's and
/// `/metrics`' default).
pub fn render(snapshot: &Snapshot) -> String {
    text004::from_openmetrics(&render_openmetrics(snapshot))
}

/// The exposition of a snapshot in `format`.
pub fn render_as(snapshot: &Snapshot, format: Format) -> String {
    match format {
        Format::Prometheus => render(snapshot),
        Format::OpenMetrics => render_openmetrics(snapshot),
    }
}

/// The exposition of a snapshot in the OpenMetrics text format, as prometheus-client
/// encodes the registry.
pub fn render_openmetrics(snapshot: &Snapshot) -> String {
    let mut registry = Registry::with_prefix("anycast_warden");
    registry.register_collector(Box::new(SnapshotCollector(snapshot.clone())));
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        // Only a formatter error of String, which does not happen; say so in the output.
        let _ = writeln!(out, "# encoding failed");
    }
    out
}

/// Starts the HTTP endpoint and the textfile writer, each when configured. Fails when the
/// listen address cannot be bound (the daemon then does not start). Returns the textfile
/// writer, which the daemon awaits at exit: it removes the file once `cancel` fires, and
/// a runtime shutting down under it would leave the file (or recreate it mid-write).
pub async fn spawn(
    settings: &MetricsSettings,
    board: StatusBoard,
    cancel: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    if let Some(addr) = settings.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("[metrics] listen = \"{addr}\": cannot bind: {e}"))?;
        tracing::info!(listen = %addr, "serving metrics on http://{addr}/metrics");
        tokio::spawn(endpoint::serve(listener, board.clone(), cancel.clone()));
    }
    Ok(settings.textfile.as_ref().map(|path| {
        tokio::spawn(textfile::run(
            path.clone(),
            settings.textfile_interval,
            board,
            cancel,
        ))
    }))
}

/// Encodes one snapshot.
#[derive(Debug)]
struct SnapshotCollector(Snapshot);

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
        let version = labels(&[("version", s.version.as_str())]);
        let info = e.encode_descriptor(
            "build",
            "anycast-warden's version; always 1",
            None,
            MetricType::Info,
        )?;
        prometheus_client::metrics::info::Info::new(version).encode(info)?;
        gauges(&mut e, "up", "1 while the daemon runs", [(vec![], 1.0)])?;
        gauges(
            &mut e,
            "start_time_seconds",
            "When the daemon started (Unix time)",
            [(vec![], s.started)],
        )?;

        let services = || s.services.iter();
        gauges(
            &mut e,
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
            &mut e,
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
            &mut e,
            "service_state_since_seconds",
            "When the service entered its current state (Unix time)",
            services().map(|(name, svc)| (labels(&[("service", name)]), svc.since)),
        )?;
        gauges(
            &mut e,
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
            &mut e,
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
            &mut e,
            "service_transitions",
            "State changes of the service since the daemon started",
            services().map(|(name, svc)| (labels(&[("service", name)]), svc.transitions)),
        )?;
        let dampened =
            || services().filter_map(|(name, svc)| svc.dampening.as_ref().map(|d| (name, d)));
        gauges(
            &mut e,
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
            &mut e,
            "service_dampening_penalty",
            "The service's flap penalty at its last round (each change of health adds 1000; it halves every half_life)",
            dampened().map(|(name, d)| (labels(&[("service", name)]), d.penalty)),
        )?;
        gauges(
            &mut e,
            "service_reuse_time_seconds",
            "While suppressed: when the service will be announced again if it does not flap (Unix time)",
            dampened()
                .filter_map(|(name, d)| d.reuse_at.map(|at| (labels(&[("service", name)]), at))),
        )?;

        let checks = || {
            services().flat_map(|(name, svc)| {
                svc.checks
                    .iter()
                    .map(move |(check, c)| (name.as_str(), check.as_str(), c))
            })
        };
        gauges(
            &mut e,
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
            &mut e,
            "check_runs",
            "Runs of the check",
            checks().map(|(service, check, c)| {
                (labels(&[("service", service), ("check", check)]), c.runs)
            }),
        )?;
        counters(
            &mut e,
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
            &mut e,
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
            &mut e,
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

        let b = &s.backend;
        let backend = labels(&[("backend", b.kind.as_str())]);
        counters(
            &mut e,
            "backend_applies",
            "Applies of the prefix set to the routing daemon",
            [(backend.clone(), b.applies)],
        )?;
        counters(
            &mut e,
            "backend_apply_failures",
            "Applies that failed (they are retried)",
            [(backend.clone(), b.failures)],
        )?;
        histograms(
            &mut e,
            "backend_apply_duration_seconds",
            "How long an apply took",
            [(backend.clone(), &b.duration)],
        )?;
        gauges(
            &mut e,
            "backend_up",
            "1 when the last apply succeeded",
            [(
                backend.clone(),
                f64::from(u8::from(b.last_apply.as_ref().is_some_and(|a| a.ok))),
            )],
        )?;
        gauges(
            &mut e,
            "backend_last_success_seconds",
            "When an apply last succeeded (Unix time; 0: never)",
            [(backend.clone(), b.last_success.unwrap_or(0.0))],
        )?;
        gauges(
            &mut e,
            "desired_prefixes",
            "Prefixes the healthy, undrained services want announced",
            [(backend.clone(), b.desired.len() as f64)],
        )?;
        gauges(
            &mut e,
            "applied_prefixes",
            "Prefixes the last successful apply announced (-1: unknown, after a failure)",
            [(backend, b.applied.as_ref().map_or(-1.0, |a| a.len() as f64))],
        )?;

        // The built-in speaker's peers (no samples with BIRD or FRR).
        let peers = || s.bgp_peers.iter();
        let peer = |p: &crate::status::BgpPeerView| labels(&[("peer", p.address.as_str())]);
        gauges(
            &mut e,
            "bgp_peer_up",
            "1 while the session with the peer is Established",
            peers().map(|p| (peer(p), f64::from(u8::from(p.state == "established")))),
        )?;
        gauges(
            &mut e,
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
            &mut e,
            "bgp_peer_flaps",
            "Times the session left Established",
            peers().map(|p| (peer(p), p.flaps)),
        )?;
        gauges(
            &mut e,
            "bgp_peer_prefixes_announced",
            "Prefixes the peer has from the warden on the current session",
            peers().map(|p| (peer(p), p.prefixes_announced as f64)),
        )?;

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
            &mut e,
            "dns_updates",
            "DNS UPDATE rounds by result: ok, dry_run (only logged), refused, tsig, prerequisite (the RRset changed meanwhile), unreachable, malformed, error",
            dns.into_iter().flat_map(|d| {
                d.updates
                    .iter()
                    .map(|(result, n)| (labels(&[("result", result.as_str())]), *n))
            }),
        )?;
        counters(
            &mut e,
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
            &mut e,
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
            &mut e,
            "dns_record_down",
            "1 while this warden sees the record's endpoint down",
            records().map(|r| (record(r), f64::from(u8::from(r.verdict == Health::Down)))),
        )?;
        gauges(
            &mut e,
            "dns_deletion_held",
            "1 while a deletion is held back (min_records, or no agreement of the other monitors)",
            records().map(|r| (record(r), f64::from(u8::from(r.held.is_some())))),
        )?;
        gauges(
            &mut e,
            "dns_dry_run",
            "1 while dry_run is on (changes are only logged)",
            dns.map(|d| (labels(&[]), f64::from(u8::from(d.dry_run)))),
        )?;
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
                &mut e,
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
            &mut e,
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
            &mut e,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckOutcome;
    use crate::health::Transition;
    use crate::status::{RoundReport, ServiceRegistration};
    use std::time::Duration;

    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn speaker_peers_become_series() {
        let mut s = Snapshot::default();
        s.backend.kind = "bgp".into();
        s.bgp_peers = vec![crate::status::BgpPeerView {
            address: "192.0.2.2".into(),
            asn: 65000,
            state: "established".into(),
            flaps: 2,
            established_since: Some(1.0),
            families: vec!["ipv4-unicast".into()],
            sent: [("update".to_string(), 7), ("keepalive".to_string(), 3)].into(),
            received: [("keepalive".to_string(), 4)].into(),
            prefixes_announced: 5,
            update_errors: [
                ("treat-as-withdraw".to_string(), 3),
                ("attribute-discard".to_string(), 1),
            ]
            .into(),
            last_error: Some(crate::status::BgpErrorView {
                sent: true,
                code: 6,
                subcode: 2,
                text: "Cease".into(),
                at: 42.0,
            }),
        }];
        let text = render(&s);
        let p = "peer=\"192.0.2.2\"";
        for (series, want) in [
            (format!("anycast_warden_bgp_peer_up{{{p}}}"), 1.0),
            (
                format!("anycast_warden_bgp_peer_state{{{p},state=\"established\"}}"),
                1.0,
            ),
            (
                format!("anycast_warden_bgp_peer_state{{{p},state=\"idle\"}}"),
                0.0,
            ),
            (format!("anycast_warden_bgp_peer_flaps_total{{{p}}}"), 2.0),
            (
                format!("anycast_warden_bgp_peer_prefixes_announced{{{p}}}"),
                5.0,
            ),
            (
                format!("anycast_warden_bgp_messages_sent_total{{{p},type=\"update\"}}"),
                7.0,
            ),
            (
                format!("anycast_warden_bgp_messages_received_total{{{p},type=\"keepalive\"}}"),
                4.0,
            ),
            (
                format!(
                    "anycast_warden_bgp_update_errors_total{{{p},handling=\"treat-as-withdraw\"}}"
                ),
                3.0,
            ),
            (
                format!(
                    "anycast_warden_bgp_peer_last_notification_seconds{{{p},code=\"6\",subcode=\"2\",direction=\"sent\"}}"
                ),
                42.0,
            ),
        ] {
            assert_eq!(sample(&text, &series), Some(want), "{series}\n{text}");
        }
    }

    #[test]
    fn renders_every_documented_family() {
        let mut s = Snapshot::default();
        s.backend.kind = "bird".into();
        s.register(
            "dns",
            ServiceRegistration {
                prefixes: vec!["203.0.113.53/32".into()],
                nets: vec!["203.0.113.53/32".parse().unwrap()],
                state: Health::Unknown,
                disabled: false,
                wants_announce: false,
            },
        );
        let mut outcome = CheckOutcome::fail(Failure::ExitStatus, "exit status 1");
        outcome.elapsed = Duration::from_millis(30);
        s.record_round(
            "dns",
            &RoundReport {
                passed: false,
                reason: "exec false: exit status 1",
                transition: Some(Transition {
                    from: Health::Unknown,
                    to: Health::Down,
                    streak: 1,
                }),
                wants_announce: false,
                ip_check: None,
                outcomes: &[("exec false".into(), outcome)],
            },
        );
        s.record_apply(&Default::default(), Ok(()), Duration::from_millis(2));
        let openmetrics = render_openmetrics(&s);
        assert!(openmetrics.ends_with("# EOF\n"), "{openmetrics}");
        let text = render(&s);
        assert!(!text.contains("# EOF"), "{text}");
        for line in [
            "# TYPE anycast_warden_build_info gauge\n",
            "# TYPE anycast_warden_service_transitions_total counter\n",
            "# TYPE anycast_warden_check_duration_seconds histogram\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
        for (series, value) in [
            (r#"anycast_warden_build_info{version="0.1.0"}"#, 1.0),
            ("anycast_warden_up", 1.0),
            (
                r#"anycast_warden_service_announced{service="dns",prefix="203.0.113.53/32"}"#,
                0.0,
            ),
            (
                r#"anycast_warden_service_state{service="dns",state="down"}"#,
                1.0,
            ),
            (
                r#"anycast_warden_service_state{service="dns",state="up"}"#,
                0.0,
            ),
            (r#"anycast_warden_service_drained{service="dns"}"#, 0.0),
            (
                r#"anycast_warden_service_transitions_total{service="dns"}"#,
                1.0,
            ),
            (
                r#"anycast_warden_check_up{service="dns",check="exec false"}"#,
                0.0,
            ),
            (
                r#"anycast_warden_check_failures_total{service="dns",check="exec false",reason="exit_status"}"#,
                1.0,
            ),
            (
                r#"anycast_warden_check_duration_seconds_count{service="dns",check="exec false"}"#,
                1.0,
            ),
            (
                r#"anycast_warden_check_duration_seconds_bucket{le="0.05",service="dns",check="exec false"}"#,
                1.0,
            ),
            (
                r#"anycast_warden_check_duration_seconds_bucket{le="0.025",service="dns",check="exec false"}"#,
                0.0,
            ),
            (
                r#"anycast_warden_backend_applies_total{backend="bird"}"#,
                1.0,
            ),
            (
                r#"anycast_warden_backend_apply_failures_total{backend="bird"}"#,
                0.0,
            ),
            (
                r#"anycast_warden_backend_apply_duration_seconds_count{backend="bird"}"#,
                1.0,
            ),
            (r#"anycast_warden_backend_up{backend="bird"}"#, 1.0),
            (r#"anycast_warden_desired_prefixes{backend="bird"}"#, 0.0),
            (r#"anycast_warden_applied_prefixes{backend="bird"}"#, 0.0),
        ] {
            for text in [&text, &openmetrics] {
                assert_eq!(sample(text, series), Some(value), "{series} in\n{text}");
            }
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let mut s = Snapshot::default();
        s.register(
            "dns",
            ServiceRegistration {
                prefixes: vec![],
                nets: vec![],
                state: Health::Up,
                disabled: false,
                wants_announce: true,
            },
        );
        s.services
            .get_mut("dns")
            .unwrap()
            .checks
            .insert("exec sh -c 'echo \"x\\y\"'".into(), Default::default());
        let text = render(&s);
        assert!(
            text.contains(r#"check="exec sh -c 'echo \"x\\y\"'""#),
            "{text}"
        );
    }
}
