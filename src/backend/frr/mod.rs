//! The FRRouting backend: makes FRR announce exactly the desired prefixes through vtysh.
//!
//! ```text
//!  announcer ──apply(desired)──▶ FrrBackend
//!                                  │ 1. vtysh -c 'show running-config'     (read)
//!                                  │ 2. running::parse → RunningConfig
//!                                  │ 3. plan::plan(desired routes, running, recorded
//!                                  │               network statements) → Plan
//!                                  │ 4. record the network statements about to be owned
//!                                  │ 5. vtysh -f /dev/stdin ◀── render::batch(Plan)
//!                                  │    (one run carrying every change; none if the
//!                                  │     plan is empty)
//!                                  └ 6. record the network statements owned now
//! ```
//! Every apply compares FRR's running configuration with the desired set, so it repairs
//! whatever drifted: an FRR restarted from its own frr.conf gets its routes back at the
//! next apply, and `verify_interval` makes the announcer apply the unchanged set
//! periodically for exactly that. The warden only ever removes routes it owns (see
//! `plan`), never creates a BGP instance, and reports (and retries) what it cannot do
//! while still applying everything else.
//!
//! The pure parts (`running`, `plan`, `render`) hold the logic; this file and `vtysh`
//! are the I/O shell.

mod plan;
mod render;
mod running;
mod vtysh;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;
use ipnet::IpNet;
use tracing::{info, warn};

use crate::announce::{ApplyError, Backend};
use crate::config::{FrrSettings, ServiceConfig};

pub use plan::{Plan, Problem};
pub use running::RunningConfig;
pub use vtysh::VtyshError;

/// A prefix in a VRF (`None`: the default VRF): what FRR announces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub vrf: Option<String>,
    pub prefix: IpNet,
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.vrf {
            None => write!(f, "{}", self.prefix),
            Some(vrf) => write!(f, "{} vrf {vrf}", self.prefix),
        }
    }
}

/// Which VRF each configured prefix goes into. The announcer deals in bare prefixes (a
/// prefix belongs to one service, so to one VRF); this puts the VRF back.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RouteTable(BTreeMap<IpNet, Option<String>>);

impl RouteTable {
    pub fn from_services(services: &[ServiceConfig]) -> Self {
        RouteTable(
            services
                .iter()
                .flat_map(|s| s.prefixes.iter())
                .map(|p| (p.prefix, p.vrf.clone()))
                .collect(),
        )
    }

    /// The routes for a desired prefix set. A prefix no service lists (none should reach
    /// here) goes to the default VRF.
    pub fn routes(&self, desired: &BTreeSet<IpNet>) -> BTreeSet<Route> {
        desired
            .iter()
            .map(|prefix| Route {
                vrf: self.0.get(prefix).cloned().flatten(),
                prefix: *prefix,
            })
            .collect()
    }
}

/// Where the warden records the network statements it added.
pub fn owned_networks_file(state_dir: &Path) -> PathBuf {
    state_dir.join("frr-networks")
}

/// An apply that did not (fully) work.
#[derive(Debug, thiserror::Error)]
pub enum FrrError {
    #[error(transparent)]
    Vtysh(#[from] VtyshError),
    #[error(transparent)]
    NotRunningConfig(#[from] running::NotRunningConfig),
    #[error("cannot record the warden's network statements in {path}: {source}")]
    Record {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("FRR took the other changes, but: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Problems(Vec<Problem>),
}

/// Drives one FRR through vtysh.
pub struct FrrBackend {
    settings: FrrSettings,
    table: RouteTable,
    /// The record of owned network statements.
    record: PathBuf,
    /// The hand-made routes reported last time, so each is warned about once.
    reported_hand_made: Vec<Route>,
}

impl FrrBackend {
    pub fn new(settings: FrrSettings, table: RouteTable, record: PathBuf) -> Self {
        FrrBackend {
            settings,
            table,
            record,
            reported_hand_made: Vec::new(),
        }
    }

    async fn reconcile(&mut self, desired: &BTreeSet<IpNet>) -> Result<(), FrrError> {
        let running = read_running(&self.settings).await?;
        let recorded = read_record(&self.record);
        let routes = self.table.routes(desired);
        let plan = plan::plan(plan::Inputs {
            mode: self.settings.mode,
            asn: self.settings.asn,
            tag: self.settings.tag,
            desired: &routes,
            running: &running,
            recorded_networks: &recorded,
        });
        if plan.hand_made != self.reported_hand_made {
            for route in plan
                .hand_made
                .iter()
                .filter(|r| !self.reported_hand_made.contains(r))
            {
                warn!(route = %route, "FRR already has a route to this prefix that the warden did not make; \
                    leaving it alone (it stays announced whatever the service's health)");
            }
            self.reported_hand_made.clone_from(&plan.hand_made);
        }
        if !plan.is_empty() {
            let during = plan.networks_during();
            if during != recorded {
                write_record(&self.record, &during)?;
            }
            let batch = render::batch(&plan, self.settings.tag);
            vtysh::run(
                &self.settings,
                "configure",
                &["-f", "/dev/stdin"],
                Some(batch),
            )
            .await?;
            info!(changes = %plan, "changed FRR's configuration");
        }
        let after = plan.networks_after();
        if after != recorded {
            write_record(&self.record, &after)?;
        }
        if plan.problems.is_empty() {
            Ok(())
        } else {
            Err(FrrError::Problems(plan.problems))
        }
    }
}

impl Backend for FrrBackend {
    fn apply<'a>(
        &'a mut self,
        desired: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<(), ApplyError>> {
        Box::pin(async move { self.reconcile(desired).await.map_err(ApplyError::from) })
    }

    fn verify_interval(&self) -> Option<Duration> {
        Some(self.settings.verify_interval).filter(|d| !d.is_zero())
    }
}

async fn read_running(settings: &FrrSettings) -> Result<RunningConfig, FrrError> {
    let text = vtysh::run(
        settings,
        "show running-config",
        &["-c", "show running-config"],
        None,
    )
    .await?;
    Ok(running::parse(&text)?)
}

/// What FRR announces for the warden now: its static routes and the recorded network
/// statements that are present (for adopting services at start).
pub async fn read_announced(
    settings: &FrrSettings,
    record: &Path,
) -> Result<BTreeSet<IpNet>, FrrError> {
    let running = read_running(settings).await?;
    let recorded = read_record(record);
    let statics = running
        .statics
        .iter()
        .filter(|s| s.tag == Some(settings.tag) && s.nexthop.eq_ignore_ascii_case("Null0"))
        .map(|s| s.route.prefix);
    let networks = running
        .networks()
        .into_iter()
        .filter(|r| recorded.contains(r))
        .map(|r| r.prefix);
    Ok(statics.chain(networks).collect())
}

/// The record: one route a line, `PREFIX` or `PREFIX vrf NAME`. A missing file is an
/// empty record; a line that does not parse is skipped (the statement is then treated
/// as hand-made: left alone, never removed).
fn read_record(path: &Path) -> BTreeSet<Route> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeSet::new(),
        Err(e) => {
            warn!(file = %path.display(), error = %e, "cannot read the record of the warden's network statements; treating them as hand-made");
            return BTreeSet::new();
        }
    };
    parse_record(&text)
}

fn parse_record(text: &str) -> BTreeSet<Route> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let (prefix, vrf) = match words.as_slice() {
                [prefix] => (prefix, None),
                [prefix, "vrf", name] if crate::config::validate::valid_vrf_name(name) => {
                    (prefix, Some((*name).to_string()))
                }
                _ => return None,
            };
            let prefix = prefix.parse::<IpNet>().ok()?;
            Some(Route { vrf, prefix })
        })
        .collect()
}

fn render_record(routes: &BTreeSet<Route>) -> String {
    let mut text = String::from(
        "# Network statements anycast-warden added to FRR and may remove. Written by the daemon.\n",
    );
    for route in routes {
        text.push_str(&route.to_string());
        text.push('\n');
    }
    text
}

/// Replaces the record atomically: a crash leaves the old or the new one, never half.
fn write_record(path: &Path, routes: &BTreeSet<Route>) -> Result<(), FrrError> {
    let error = |source| FrrError::Record {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(error)?;
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(error)?;
    file.write_all(render_record(routes).as_bytes())
        .map_err(error)?;
    file.as_file().sync_all().map_err(error)?;
    file.persist(path).map_err(|e| error(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_skips_junk() {
        let routes: BTreeSet<Route> = [
            Route {
                vrf: None,
                prefix: "203.0.113.53/32".parse().unwrap(),
            },
            Route {
                vrf: Some("blue".into()),
                prefix: "2001:db8::53/128".parse().unwrap(),
            },
        ]
        .into();
        let text = render_record(&routes);
        assert_eq!(parse_record(&text), routes);
        let junk = format!("{text}not a prefix\n203.0.113.1/32 vrf bad;name\n");
        assert_eq!(parse_record(&junk), routes);
    }

    #[test]
    fn record_file_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = owned_networks_file(&dir.path().join("state"));
        assert!(read_record(&path).is_empty());
        let routes: BTreeSet<Route> = [Route {
            vrf: None,
            prefix: "203.0.113.53/32".parse().unwrap(),
        }]
        .into();
        write_record(&path, &routes).unwrap();
        assert_eq!(read_record(&path), routes);
        write_record(&path, &BTreeSet::new()).unwrap();
        assert!(read_record(&path).is_empty());
    }

    #[test]
    fn route_table_puts_the_vrf_back() {
        let config = crate::config::load_str(
            Path::new("t.toml"),
            "[frr]\n[[service]]\nname = \"ntp\"\nprefixes = [{ prefix = \"203.0.113.123/32\", vrf = \"blue\" }, \"2001:db8::123\"]\n[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:123\"\n",
        )
        .unwrap();
        let table = RouteTable::from_services(&config.services);
        let desired: BTreeSet<IpNet> = config.services[0].nets().into_iter().collect();
        let routes: Vec<String> = table
            .routes(&desired)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            routes,
            vec!["2001:db8::123/128", "203.0.113.123/32 vrf blue"]
        );
    }
}
