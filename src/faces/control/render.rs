//! What `anycast-warden status` prints: a table for people, a Nagios/Icinga plugin line.
//! Pure functions of a snapshot and the current time.

use std::fmt::Write as _;
use std::time::Duration;

use crate::health::Health;
use crate::status::Snapshot;

/// Nagios plugin exit codes.
pub const NAGIOS_OK: u8 = 0;
pub const NAGIOS_WARNING: u8 = 1;
pub const NAGIOS_CRITICAL: u8 = 2;
pub const NAGIOS_UNKNOWN: u8 = 3;

/// "4m 12s" for a span of seconds (at most two units).
pub fn age(seconds: f64) -> String {
    let secs = seconds.max(0.0).round() as u64;
    let text = humantime::format_duration(Duration::from_secs(secs)).to_string();
    text.split(' ').take(2).collect::<Vec<_>>().join(" ")
}

/// The status table.
pub fn table(s: &Snapshot, now: f64) -> String {
    let mut rows: Vec<[String; 5]> = vec![[
        "SERVICE".into(),
        "STATE".into(),
        "FOR".into(),
        "ANNOUNCED".into(),
        "LAST CHECK".into(),
    ]];
    for (name, svc) in &s.services {
        let mut state = svc.state.to_string();
        if svc.disabled {
            state.push_str(" (disabled)");
        }
        if let Some(d) = svc.drained.as_ref().or(s.drain_all.as_ref()) {
            if d.reason.is_empty() {
                state.push_str(" DRAINED");
            } else {
                state.push_str(&format!(" DRAINED: {}", d.reason));
            }
        }
        if let Some(d) = svc.dampening.as_ref().filter(|d| d.suppressed) {
            state.push_str(&format!(" SUPPRESSED (flapping, penalty {:.0}", d.penalty));
            if let Some(at) = d.reuse_at {
                state.push_str(&format!(", reused in {}", age(at - now)));
            }
            state.push(')');
        }
        let announced: Vec<String> = svc
            .nets
            .iter()
            .filter(|n| s.announced(n))
            .map(ToString::to_string)
            .collect();
        let last = match &svc.last_round {
            None if svc.disabled => "not checked (disabled)".to_string(),
            None => "no check yet".to_string(),
            Some(r) if r.passed => format!("passed {} ago", age(now - r.at)),
            Some(r) => format!("failed {} ago: {}", age(now - r.at), r.reason),
        };
        rows.push([
            name.clone(),
            state,
            age(now - svc.since),
            if announced.is_empty() {
                "-".into()
            } else {
                announced.join(" ")
            },
            last,
        ]);
    }
    let mut widths = [0usize; 4];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        for (w, cell) in widths.iter().zip(row.iter()) {
            let _ = write!(out, "{cell:<w$}  ");
        }
        let _ = writeln!(out, "{}", row[4]);
    }
    out.push('\n');
    out.push_str(&backend_line(s, now));
    out.push('\n');
    for peer in &s.bgp_peers {
        out.push_str(&peer_line(peer, now));
        out.push('\n');
    }
    if let Some(dns) = &s.dns {
        out.push_str(&dns_lines(dns, now));
    }
    out
}

/// The DNS updater: the server, then one line per record.
pub fn dns_lines(d: &crate::status::DnsStatus, now: f64) -> String {
    let mut out = format!("dns: zone {} on {}", d.zone, d.server);
    if d.dry_run {
        out.push_str(" (dry run: changes are only logged)");
    }
    let _ = write!(out, "; min_records {}", d.min_records);
    if d.agreement {
        match (&d.store_error, d.sender) {
            (Some(e), _) => {
                let _ = write!(
                    out,
                    "; agreement store unreachable, nothing is deleted: {e}"
                );
            }
            (None, true) => out.push_str("; this monitor sends the updates"),
            (None, false) => {
                let _ = write!(
                    out,
                    "; updates sent by {}",
                    d.sender_id.as_deref().unwrap_or("no leader yet")
                );
            }
        }
    }
    if let Some(e) = &d.last_error {
        let _ = write!(out, "; LAST ROUND FAILED: {e}");
    }
    out.push('\n');
    for r in d.records.values() {
        let _ = write!(
            out,
            "record {} {} {} ({}): local verdict {}, {}",
            r.name,
            r.rtype,
            r.value,
            r.service,
            r.verdict,
            match r.in_zone {
                None => "zone not read yet",
                Some(true) => "in the zone",
                Some(false) => "not in the zone",
            }
        );
        if let Some(why) = &r.held {
            let _ = write!(out, ", deletion held: {why}");
        }
        if !r.votes.is_empty() {
            let votes: Vec<String> = r
                .votes
                .iter()
                .map(|(m, down)| format!("{m}={}", if *down { "down" } else { "up" }))
                .collect();
            let _ = write!(out, ", votes {}", votes.join(" "));
        }
        match &r.last_update {
            None => out.push_str(", no update sent"),
            Some(u) => {
                let _ = write!(
                    out,
                    ", last update: {}{} {} ago{}",
                    if u.dry_run { "would " } else { "" },
                    u.action,
                    age(now - u.at),
                    match (&u.error, u.ok) {
                        (Some(e), _) => format!(" FAILED: {e}"),
                        (None, _) => String::new(),
                    }
                );
            }
        }
        out.push('\n');
    }
    out
}

/// One line about a peer of the built-in speaker.
pub fn peer_line(p: &crate::status::BgpPeerView, now: f64) -> String {
    let mut line = format!("peer {} (AS {}): {}", p.address, p.asn, p.state);
    if let Some(since) = p.established_since {
        let _ = write!(
            line,
            " for {}, {} prefixes announced ({})",
            age(now - since),
            p.prefixes_announced,
            p.families.join(" ")
        );
    }
    let _ = write!(line, "; {} flaps", p.flaps);
    let revised = |k: &str| p.update_errors.get(k).copied().unwrap_or(0);
    let (withdrawn, discarded) = (revised("treat-as-withdraw"), revised("attribute-discard"));
    if withdrawn + discarded > 0 {
        let _ = write!(
            line,
            "; malformed UPDATEs kept the session (RFC 7606): {withdrawn} treated as withdraw, {discarded} attributes discarded"
        );
    }
    if let Some(n) = &p.last_error {
        let _ = write!(
            line,
            "; last NOTIFICATION {} {} ago: {}",
            if n.sent { "sent" } else { "received" },
            age(now - n.at),
            n.text
        );
    }
    line
}

/// One line about the routing side.
pub fn backend_line(s: &Snapshot, now: f64) -> String {
    let b = &s.backend;
    let applied = b
        .applied
        .as_ref()
        .map_or_else(|| "unknown".to_string(), |a| a.len().to_string());
    let last = match &b.last_apply {
        None => "no apply yet".to_string(),
        Some(a) if a.ok => format!(
            "last apply {} ago ok ({} prefixes, {:.1} ms)",
            age(now - a.at),
            a.prefixes,
            a.took * 1e3
        ),
        Some(a) => format!(
            "last apply {} ago FAILED ({} in a row): {}",
            age(now - a.at),
            b.consecutive_failures,
            a.error.as_deref().unwrap_or("")
        ),
    };
    let kind = if b.kind.is_empty() {
        "backend"
    } else {
        &b.kind
    };
    format!(
        "{kind}: {last}; desired {}, announced {applied}",
        b.desired.len()
    )
}

/// The Nagios/Icinga plugin line and exit code.
///
/// CRITICAL: the last apply failed (the routing daemon may not announce what it should),
/// or every enabled service is down. WARNING: a service is down or unknown, or drained.
pub fn nagios(s: &Snapshot) -> (u8, String) {
    let enabled: Vec<_> = s.services.iter().filter(|(_, v)| !v.disabled).collect();
    let names = |state: Health| -> Vec<&str> {
        enabled
            .iter()
            .filter(|(_, v)| v.state == state)
            .map(|(n, _)| n.as_str())
            .collect()
    };
    let (up, down, unknown) = (
        names(Health::Up),
        names(Health::Down),
        names(Health::Unknown),
    );
    let drained: Vec<&str> = s
        .services
        .keys()
        .filter(|n| s.is_drained(n))
        .map(String::as_str)
        .collect();
    let announced = s.backend.applied.as_ref().map_or(0, |a| a.len());
    let mut problems = Vec::new();
    let mut code = NAGIOS_OK;
    if s.backend.consecutive_failures > 0 {
        code = NAGIOS_CRITICAL;
        let error = s
            .backend
            .last_apply
            .as_ref()
            .and_then(|a| a.error.as_deref())
            .unwrap_or("unknown error");
        problems.push(format!("backend apply failing: {error}"));
    }
    if !down.is_empty() {
        code = code.max(if down.len() == enabled.len() {
            NAGIOS_CRITICAL
        } else {
            NAGIOS_WARNING
        });
        problems.push(format!(
            "{} of {} services down ({})",
            down.len(),
            enabled.len(),
            down.join(", ")
        ));
    }
    if !unknown.is_empty() {
        code = code.max(NAGIOS_WARNING);
        problems.push(format!("unknown: {}", unknown.join(", ")));
    }
    if !drained.is_empty() {
        code = code.max(NAGIOS_WARNING);
        problems.push(format!("drained: {}", drained.join(", ")));
    }
    let suppressed: Vec<&str> = enabled
        .iter()
        .filter(|(_, v)| v.dampening.as_ref().is_some_and(|d| d.suppressed))
        .map(|(n, _)| n.as_str())
        .collect();
    if !suppressed.is_empty() {
        code = code.max(NAGIOS_WARNING);
        problems.push(format!("suppressed (flapping): {}", suppressed.join(", ")));
    }
    if enabled.is_empty() && s.services.is_empty() {
        code = code.max(NAGIOS_WARNING);
        problems.push("no services configured".into());
    }
    let label = match code {
        NAGIOS_OK => "OK",
        NAGIOS_WARNING => "WARNING",
        NAGIOS_CRITICAL => "CRITICAL",
        _ => "UNKNOWN",
    };
    let summary = if problems.is_empty() {
        format!("{} services up, {announced} prefixes announced", up.len())
    } else {
        format!("{}; {announced} prefixes announced", problems.join("; "))
    };
    (
        code,
        format!(
            "ANYCAST-WARDEN {label} - {summary} | up={} down={} unknown={} drained={} announced={announced} desired={}",
            up.len(),
            down.len(),
            unknown.len(),
            drained.len(),
            s.backend.desired.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Drain, ServiceRegistration};
    use ipnet::IpNet;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn snapshot(states: &[(&str, &str, Health)]) -> Snapshot {
        let mut s = Snapshot::default();
        for (name, prefix, state) in states {
            s.register(
                name,
                ServiceRegistration {
                    prefixes: vec![prefix.to_string()],
                    nets: vec![net(prefix)],
                    state: *state,
                    disabled: false,
                    wants_announce: *state == Health::Up,
                },
            );
        }
        let up: std::collections::BTreeSet<IpNet> = s
            .services
            .values()
            .filter(|v| v.state == Health::Up)
            .flat_map(|v| v.nets.clone())
            .collect();
        s.backend.desired = up.clone();
        s.record_apply(&up, Ok(()), Duration::from_millis(2));
        s
    }

    #[test]
    fn all_up_is_ok() {
        let s = snapshot(&[
            ("dns", "203.0.113.53/32", Health::Up),
            ("ntp", "203.0.113.123/32", Health::Up),
        ]);
        let (code, line) = nagios(&s);
        assert_eq!(code, NAGIOS_OK, "{line}");
        assert_eq!(
            line,
            "ANYCAST-WARDEN OK - 2 services up, 2 prefixes announced | up=2 down=0 unknown=0 drained=0 announced=2 desired=2"
        );
    }

    #[test]
    fn one_down_warns_all_down_is_critical() {
        let s = snapshot(&[
            ("dns", "203.0.113.53/32", Health::Up),
            ("ntp", "203.0.113.123/32", Health::Down),
        ]);
        let (code, line) = nagios(&s);
        assert_eq!(code, NAGIOS_WARNING);
        assert!(line.contains("1 of 2 services down (ntp)"), "{line}");
        let s = snapshot(&[("dns", "203.0.113.53/32", Health::Down)]);
        assert_eq!(nagios(&s).0, NAGIOS_CRITICAL);
    }

    #[test]
    fn failing_backend_is_critical_and_drains_warn() {
        let mut s = snapshot(&[("dns", "203.0.113.53/32", Health::Up)]);
        s.services.get_mut("dns").unwrap().drained = Some(Drain {
            reason: "upgrade".into(),
            since: 0.0,
        });
        let (code, line) = nagios(&s);
        assert_eq!(code, NAGIOS_WARNING);
        assert!(line.contains("drained: dns"), "{line}");
        let desired = s.backend.desired.clone();
        s.record_apply(&desired, Err("BIRD: syntax error"), Duration::ZERO);
        let (code, line) = nagios(&s);
        assert_eq!(code, NAGIOS_CRITICAL);
        assert!(
            line.contains("backend apply failing: BIRD: syntax error"),
            "{line}"
        );
    }

    #[test]
    fn peers_of_the_speaker_get_a_line_each() {
        let s = Snapshot {
            bgp_peers: vec![
                crate::status::BgpPeerView {
                    address: "192.0.2.2".into(),
                    asn: 65000,
                    state: "established".into(),
                    flaps: 1,
                    established_since: Some(100.0),
                    families: vec!["ipv4-unicast".into(), "ipv6-unicast".into()],
                    prefixes_announced: 3,
                    last_error: Some(crate::status::BgpErrorView {
                        sent: false,
                        code: 6,
                        subcode: 2,
                        text: "Cease / Administrative Shutdown (6/2)".into(),
                        at: 40.0,
                    }),
                    ..Default::default()
                },
                crate::status::BgpPeerView {
                    address: "2001:db8:1::2".into(),
                    asn: 65010,
                    state: "active".into(),
                    update_errors: [("treat-as-withdraw".to_string(), 2)].into(),
                    ..Default::default()
                },
            ],
            ..Snapshot::default()
        };
        let text = table(&s, 160.0);
        assert!(
            text.contains("peer 192.0.2.2 (AS 65000): established for 1m, 3 prefixes announced (ipv4-unicast ipv6-unicast); 1 flaps; last NOTIFICATION received 2m ago: Cease / Administrative Shutdown (6/2)"),
            "{text}"
        );
        assert!(
            text.contains("peer 2001:db8:1::2 (AS 65010): active; 0 flaps; malformed UPDATEs kept the session (RFC 7606): 2 treated as withdraw, 0 attributes discarded\n"),
            "{text}"
        );
    }

    #[test]
    fn table_shows_state_announced_prefixes_and_reasons() {
        let mut s = snapshot(&[
            ("dns", "203.0.113.53/32", Health::Up),
            ("ntp", "203.0.113.123/32", Health::Down),
        ]);
        s.backend.kind = "bird".into();
        let now = s.services["ntp"].since + 65.0;
        s.services.get_mut("ntp").unwrap().last_round = Some(crate::status::RoundStatus {
            at: now - 2.0,
            passed: false,
            reason: "tcp 127.0.0.1:123: refused".into(),
        });
        let text = table(&s, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("SERVICE  STATE  FOR"), "{text}");
        assert!(lines[1].starts_with("dns"), "{text}");
        assert!(lines[1].contains("203.0.113.53/32"), "{text}");
        assert!(
            lines[2].contains("down") && lines[2].contains("1m 5s"),
            "{text}"
        );
        assert!(
            lines[2].contains("failed 2s ago: tcp 127.0.0.1:123: refused"),
            "{text}"
        );
        assert!(lines[2].contains(" - "), "ntp announces nothing: {text}");
        assert!(text.contains("bird: last apply"), "{text}");
        assert!(text.contains("desired 1, announced 1"), "{text}");
    }

    #[test]
    fn a_suppressed_service_says_so_with_its_penalty_and_reuse_time() {
        let mut s = snapshot(&[("dns", "203.0.113.53/32", Health::Up)]);
        let now = s.services["dns"].since + 10.0;
        s.set_dampening(
            "dns",
            Some(crate::status::DampeningStatus {
                penalty: 2712.4,
                suppressed: true,
                reuse_at: Some(now + 754.0),
            }),
        );
        let text = table(&s, now);
        assert!(
            text.contains("up SUPPRESSED (flapping, penalty 2712, reused in 12m 34s)"),
            "{text}"
        );
        let (code, line) = nagios(&s);
        assert_eq!(code, NAGIOS_WARNING, "{line}");
        assert!(line.contains("suppressed (flapping): dns"), "{line}");
        // Not suppressed: only the JSON carries the penalty.
        s.set_dampening(
            "dns",
            Some(crate::status::DampeningStatus {
                penalty: 900.0,
                suppressed: false,
                reuse_at: None,
            }),
        );
        assert!(!table(&s, now).contains("SUPPRESSED"));
        assert_eq!(nagios(&s).0, NAGIOS_OK);
    }

    #[test]
    fn age_keeps_two_units() {
        assert_eq!(age(3725.0), "1h 2m");
        assert_eq!(age(5.2), "5s");
        assert_eq!(age(-1.0), "0s");
    }
}
