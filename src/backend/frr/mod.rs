//! The FRRouting backend: makes FRR announce exactly the desired prefixes, talking to
//! its daemons over their vty sockets (or through vtysh, `transport = "vtysh"`).
//!
//! ```text
//!  announcer ──apply(desired)──▶ FrrBackend
//!                                  │ 1. the running configuration: the one known since
//!                                  │    the last read, or when there is none (first
//!                                  │    apply, after any error, older than half of
//!                                  │    verify_interval):
//!                                  │      show running-config of bgpd and staticd (read)
//!                                  │      running::parse → RunningConfig
//!                                  │ 2. plan::plan(desired routes, running, recorded
//!                                  │               network statements) → Plan
//!                                  │ 3. record the network statements about to be owned
//!                                  │ 4. render::vty_batches(Plan) ──▶ bgpd.vty, staticd.vty
//!                                  │    (vtysh: render::batch(Plan) ──▶ vtysh -f)
//!                                  │    (one exchange per daemon carrying every change;
//!                                  │     none if the plan is empty)
//!                                  │ 5. record the network statements owned now
//!                                  └ 6. known = running.with_plan_applied(Plan)
//! ```
//! Every apply compares FRR's running configuration with the desired set, so it repairs
//! whatever drifted. A read costs time (about 30 ms when it starts vtysh, under 1 ms over
//! the sockets, but it also makes the daemons print their whole configuration), so an
//! apply plans against the configuration it knows (what FRR showed at the last read, plus
//! the changes of every batch FRR took since) and only writes. It reads FRR afresh
//! when that knowledge may be stale: after any failure, and once the last read is older
//! than half of `verify_interval`. The announcer re-applies the unchanged set every
//! `verify_interval`, and that apply always reads, so an FRR restarted from its own
//! frr.conf gets its routes back and a route made by hand is noticed within
//! `verify_interval`, as when every apply read. The warden only ever removes routes it
//! owns (see `plan`), never creates a BGP instance, and reports (and retries) what it
//! cannot do while still applying everything else.
//!
//! The pure parts (`running`, `plan`, `render`, `vty_frame`) hold the logic; this file,
//! `transport`, `vty` and `vtysh` are the I/O shell.

mod plan;
mod render;
pub mod running;
mod transport;
mod vty;
pub mod vty_frame;
mod vtysh;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::future::BoxFuture;
use ipnet::IpNet;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::backend::{ApplyError, Backend};
use crate::config::{FrrSettings, ServiceConfig};

pub use plan::{Plan, Problem};
pub use running::RunningConfig;
pub use vty::VtyError;
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
    Vty(#[from] VtyError),
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

/// Drives one FRR.
pub struct FrrBackend {
    settings: FrrSettings,
    table: RouteTable,
    /// The record of owned network statements.
    record: PathBuf,
    /// The hand-made routes reported last time, so each is warned about once.
    reported_hand_made: Vec<Route>,
    /// FRR's running configuration as known without reading it; `None` forces a read.
    known: Option<KnownConfig>,
}

/// FRR's running configuration as the warden knows it between reads.
#[derive(Debug)]
struct KnownConfig {
    /// What FRR showed at the last read, with the changes of every batch it took since.
    config: RunningConfig,
    /// When that read started.
    read_at: Instant,
}

impl KnownConfig {
    /// Whether it can stand in for a read at `now`: only while the read is younger than
    /// half of `verify_interval`, so the periodic verify apply always reads (and with
    /// `verify_interval = 0`, every apply does).
    fn fresh_at(&self, now: Instant, verify_interval: Duration) -> bool {
        now.saturating_duration_since(self.read_at) < verify_interval / 2
    }
}

impl FrrBackend {
    pub fn new(settings: FrrSettings, table: RouteTable, record: PathBuf) -> Self {
        FrrBackend {
            settings,
            table,
            record,
            reported_hand_made: Vec::new(),
            known: None,
        }
    }

    /// One apply. Whatever goes wrong leaves `known` empty, so the next apply reads FRR.
    async fn reconcile(&mut self, desired: &BTreeSet<IpNet>) -> Result<(), FrrError> {
        let now = Instant::now();
        let (running, read_at) = match self.known.take() {
            Some(known) if known.fresh_at(now, self.settings.verify_interval) => {
                debug!(read_ago = %format!("{:.1}s", now.saturating_duration_since(known.read_at).as_secs_f64()),
                    "planning against the known running configuration");
                (known.config, known.read_at)
            }
            _ => (transport::read_running(&self.settings).await?, now),
        };
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
                write_record_off_thread(&self.record, during).await?;
            }
            transport::write(&self.settings, &plan).await?;
            info!(changes = %plan, "changed FRR's configuration");
        }
        let after = plan.networks_after();
        if after != recorded {
            write_record_off_thread(&self.record, after).await?;
        }
        if !plan.problems.is_empty() {
            return Err(FrrError::Problems(plan.problems));
        }
        self.known = Some(KnownConfig {
            config: running.with_plan_applied(&plan, self.settings.tag),
            read_at,
        });
        Ok(())
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

/// What FRR announces for the warden now: its static routes and the recorded network
/// statements that are present (for adopting services at start).
pub async fn read_announced(
    settings: &FrrSettings,
    record: &Path,
) -> Result<BTreeSet<IpNet>, FrrError> {
    let running = transport::read_running(settings).await?;
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
/// `write_record` on the blocking pool: its fsync must not stall the runtime's thread.
async fn write_record_off_thread(path: &Path, routes: BTreeSet<Route>) -> Result<(), FrrError> {
    let path = path.to_path_buf();
    let target = path.clone();
    tokio::task::spawn_blocking(move || write_record(&target, &routes))
        .await
        .unwrap_or_else(|e| {
            Err(FrrError::Record {
                path,
                source: std::io::Error::other(e),
            })
        })
}

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

    #[test]
    fn known_config_stands_in_for_a_read_for_half_the_verify_interval() {
        let read_at = Instant::now();
        let known = KnownConfig {
            config: RunningConfig::default(),
            read_at,
        };
        let every = Duration::from_secs(10);
        assert!(known.fresh_at(read_at, every));
        assert!(known.fresh_at(read_at + Duration::from_millis(4999), every));
        assert!(!known.fresh_at(read_at + Duration::from_secs(5), every));
        assert!(!known.fresh_at(read_at + every, every));
        // verify_interval = 0: every apply reads.
        assert!(!known.fresh_at(read_at, Duration::ZERO));
    }

    /// A stand-in for vtysh: `-c` logs "read" and prints the file `running`; `-f` logs
    /// "write", appends the batch to `batches` and fails while the file `fail` exists.
    const FAKE_VTYSH: &str = r#"#!/bin/sh
dir=$(dirname "$0")
for a in "$@"; do
  case "$a" in
    -c) echo read >> "$dir/calls"; cat "$dir/running"; exit 0;;
    -f) echo write >> "$dir/calls"; cat >> "$dir/batches"; [ -e "$dir/fail" ] && exit 1; exit 0;;
  esac
done
exit 2
"#;

    struct Fake {
        dir: tempfile::TempDir,
        backend: FrrBackend,
    }

    impl Fake {
        fn new(verify_interval: Duration) -> Fake {
            use std::os::unix::fs::PermissionsExt;
            let dir = tempfile::tempdir().unwrap();
            let vtysh = dir.path().join("vtysh");
            std::fs::write(&vtysh, FAKE_VTYSH).unwrap();
            std::fs::set_permissions(&vtysh, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::write(
                dir.path().join("running"),
                "router bgp 65001\n address-family ipv4 unicast\n exit-address-family\nexit\nend\n",
            )
            .unwrap();
            let settings = FrrSettings {
                transport: crate::config::FrrTransport::Vtysh,
                vtysh,
                vty_socket: None,
                pathspace: None,
                mode: crate::config::FrrMode::Network,
                asn: None,
                tag: 4711,
                timeout: Duration::from_secs(10),
                verify_interval,
            };
            let record = owned_networks_file(&dir.path().join("state"));
            let backend = FrrBackend::new(settings, RouteTable::default(), record);
            Fake { dir, backend }
        }

        /// Applies `prefixes`; the vtysh calls it made and whether it worked.
        async fn apply(&mut self, prefixes: &[&str]) -> (Vec<String>, bool) {
            let calls = self.dir.path().join("calls");
            let _ = std::fs::remove_file(&calls);
            let desired = prefixes.iter().map(|p| p.parse().unwrap()).collect();
            let ok = self.backend.reconcile(&desired).await.is_ok();
            let calls = std::fs::read_to_string(&calls).unwrap_or_default();
            (calls.lines().map(str::to_string).collect(), ok)
        }

        fn last_batch(&self) -> String {
            let batches = std::fs::read_to_string(self.dir.path().join("batches")).unwrap();
            let start = batches.rfind("router bgp").unwrap();
            batches[start..].to_string()
        }
    }

    #[tokio::test]
    async fn reads_frr_only_without_fresh_knowledge() {
        let mut fake = Fake::new(Duration::from_secs(3600));
        let a = "203.0.113.1/32";
        let b = "203.0.113.2/32";
        assert_eq!(
            fake.apply(&[a]).await,
            (vec!["read".into(), "write".into()], true)
        );
        // Planned against what the last batch made: only the new statement is sent.
        assert_eq!(fake.apply(&[a, b]).await, (vec!["write".into()], true));
        assert!(fake.last_batch().contains("  network 203.0.113.2/32\n"));
        assert!(!fake.last_batch().contains("203.0.113.1/32"));
        // The statement the warden made and recorded is removed without a read.
        assert_eq!(fake.apply(&[b]).await, (vec!["write".into()], true));
        assert!(fake.last_batch().contains("  no network 203.0.113.1/32\n"));
        // Nothing to change: no vtysh at all.
        assert_eq!(fake.apply(&[b]).await, (vec![], true));

        // A failed batch: the next apply reads again.
        std::fs::write(fake.dir.path().join("fail"), "").unwrap();
        assert_eq!(fake.apply(&[]).await, (vec!["write".into()], false));
        std::fs::remove_file(fake.dir.path().join("fail")).unwrap();
        // (The fake FRR shows no statement, so the record is forgotten: nothing to remove.)
        assert_eq!(fake.apply(&[]).await, (vec!["read".into()], true));
        assert_eq!(fake.apply(&[a]).await, (vec!["write".into()], true));

        // A problem (no `router bgp` for the VRF): the next apply reads again.
        fake.backend.table = RouteTable([(b.parse().unwrap(), Some("red".to_string()))].into());
        assert_eq!(fake.apply(&[a, b]).await, (vec![], false));
        assert_eq!(
            fake.apply(&[a, b]).await,
            (vec!["read".into(), "write".into()], false)
        );
    }

    #[tokio::test]
    async fn reads_frr_again_after_half_the_verify_interval_and_always_without_one() {
        let mut fake = Fake::new(Duration::from_millis(400));
        let a = "203.0.113.1/32";
        assert_eq!(
            fake.apply(&[a]).await,
            (vec!["read".into(), "write".into()], true)
        );
        assert_eq!(fake.apply(&[a]).await, (vec![], true));
        tokio::time::sleep(Duration::from_millis(250)).await;
        // The fake FRR lost the statement (as a restarted FRR would): put back.
        assert_eq!(
            fake.apply(&[a]).await,
            (vec!["read".into(), "write".into()], true)
        );

        let mut fake = Fake::new(Duration::ZERO);
        assert_eq!(
            fake.apply(&[a]).await,
            (vec!["read".into(), "write".into()], true)
        );
        assert_eq!(
            fake.apply(&[a]).await,
            (vec!["read".into(), "write".into()], true)
        );
    }
}
