//! The one-line-per-service summary printed by `anycast-warden check`.

use crate::check;
use crate::config::{Config, FrrMode, OnDisabled, ServiceConfig, duration_text};

pub fn service_line(s: &ServiceConfig) -> String {
    let prefixes: Vec<String> = s
        .prefixes
        .iter()
        .map(ToString::to_string)
        .chain(s.records.iter().map(|r| format!("[{r}]")))
        .collect();
    let checks: Vec<String> = s.checks.iter().map(|c| check::describe(&c.spec)).collect();
    let mut line = format!(
        "{}: {} every {}",
        s.name,
        prefixes.join(" "),
        duration_text::format(s.interval)
    );
    if let Some(fast) = s.fast_interval {
        line.push_str(&format!(" (confirm every {})", duration_text::format(fast)));
    }
    line.push_str(&format!(
        ", timeout {}, rise {}, fall {}",
        duration_text::format(s.timeout),
        s.rise,
        s.fall
    ));
    if s.ip_check {
        line.push_str(&format!(", ip_check on {}", s.interface));
    }
    if s.disabled {
        let policy = match s.on_disabled {
            OnDisabled::Withdraw => "withdrawn",
            OnDisabled::Advertise => "advertised",
        };
        line.push_str(&format!(", DISABLED ({policy})"));
    }
    line.push_str(&format!("; checks: {}", checks.join(", ")));
    line
}

pub fn print(config: &Config) {
    for s in &config.services {
        println!("{}", service_line(s));
        if let Some(note) = static_mode_note(config, s) {
            println!("  note: {note}");
        }
    }
    if let Some(d) = &config.dns {
        println!(
            "dns: zone {} on {} ({}), key {} ({}), min_records {}{}",
            d.zone,
            d.server,
            if d.dry_run {
                "DRY RUN: changes are only logged; set dry_run = false to update the zone"
            } else {
                "updates the zone"
            },
            d.key.name,
            d.key.algorithm.name(),
            d.min_records,
            d.agreement.as_ref().map_or(String::new(), |a| format!(
                ", deletions agreed by {} of the monitors in etcd {} (this one: {})",
                a.min_agree,
                a.etcd_endpoints.join(" "),
                a.monitor_id
            )),
        );
    }
    println!("configuration is valid: {} services", config.services.len());
}

/// FRR prefers the connected route of an address assigned on the host over a static route,
/// so in static mode a static route to such an address is never selected nor redistributed.
/// `ip_check` on means the addresses are expected on the host: say so.
pub fn static_mode_note(config: &Config, s: &ServiceConfig) -> Option<String> {
    let static_mode = config
        .routing
        .frr()
        .is_some_and(|f| f.mode == FrrMode::Static);
    (static_mode && s.ip_check).then(|| {
        format!(
            "[frr] mode = \"static\" with ip_check on {}: FRR prefers the connected route of an address on {} \
             over a static route, which is then never announced; use mode = \"network\" for addresses on the host, \
             or ip_check = false for prefixes not assigned here",
            s.interface, s.interface
        )
    })
}
