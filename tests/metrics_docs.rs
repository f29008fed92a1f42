//! The metrics reference in docs/metrics.md, what the daemon renders, and what the Grafana
//! dashboard in contrib/ queries must agree: every documented series is rendered, every
//! rendered family is documented, and the dashboard uses only documented series.

use std::collections::BTreeSet;
use std::time::Duration;

use anycast_warden::check::{CheckOutcome, Failure};
use anycast_warden::faces::metrics::{render, render_openmetrics};
use anycast_warden::health::{Health, Transition};
use anycast_warden::status::{DampeningStatus, RoundReport, ServiceRegistration, Snapshot};

fn names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("anycast_warden_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// Series documented in docs/metrics.md's table (first column).
fn documented() -> BTreeSet<String> {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"))
        .expect("docs/metrics.md is readable");
    page.lines()
        .filter(|l| l.starts_with("| `anycast_warden_"))
        .map(|l| {
            l.trim_start_matches("| `")
                .split('`')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn populated() -> Snapshot {
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
    outcome.elapsed = Duration::from_millis(3);
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
            ip_check: Some(&CheckOutcome::pass("assigned")),
            outcomes: &[("exec false".into(), outcome)],
        },
    );
    s.services
        .get_mut("dns")
        .unwrap()
        .checks
        .get_mut("exec false")
        .unwrap()
        .values
        .insert("rtt_seconds".into(), 0.01);
    s.set_dampening(
        "dns",
        Some(DampeningStatus {
            penalty: 2500.0,
            suppressed: true,
            reuse_at: Some(1.0e9),
        }),
    );
    s.record_apply(&Default::default(), Ok(()), Duration::from_millis(2));
    s
}

/// Family names from the `# TYPE` lines of the Prometheus text format 0.0.4 (the
/// textfile's and `/metrics`' default), which name families as their samples are named.
fn rendered() -> BTreeSet<String> {
    render(&populated())
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// Family names from OpenMetrics `# TYPE` lines, with the suffix samples carry (`_total`,
/// `_info`).
fn rendered_openmetrics() -> BTreeSet<String> {
    render_openmetrics(&populated())
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .map(|l| {
            let mut parts = l.split(' ');
            let name = parts.next().unwrap();
            match parts.next() {
                Some("counter") => format!("{name}_total"),
                Some("info") => format!("{name}_info"),
                _ => name.to_string(),
            }
        })
        .collect()
}

#[test]
fn every_documented_series_is_rendered_and_every_rendered_one_documented() {
    let documented = documented();
    assert!(documented.len() >= 20, "{documented:?}");
    assert_eq!(documented, rendered(), "Prometheus text format 0.0.4");
    assert_eq!(documented, rendered_openmetrics(), "OpenMetrics");
}

#[test]
fn the_grafana_dashboard_queries_only_documented_series() {
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/contrib/grafana/anycast-warden.json"
    ))
    .unwrap();
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    let documented = documented();
    for name in names_in(&dashboard) {
        let family = name.strip_suffix("_bucket").unwrap_or(&name);
        assert!(
            documented.contains(family),
            "the dashboard uses {name}, which docs/metrics.md does not document"
        );
    }
}
