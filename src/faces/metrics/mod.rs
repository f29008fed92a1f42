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
mod families;
pub mod text004;
pub mod textfile;

use std::fmt::Write as _;

use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::config::MetricsSettings;
use crate::status::{Snapshot, StatusBoard};
use families::SnapshotCollector;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{CheckOutcome, Failure};
    use crate::health::Health;
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
