//! Start-up: the signals, the faces (control socket, API, metrics, sd_notify), the DNS
//! updater, and the pure start plan: which services are adopted as announced and what the
//! announcer starts from.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context;
use ipnet::IpNet;
use tokio::net::UnixListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::CONTROL_QUEUE;
use super::maintenance::DrainState;
use crate::announce::DesiredRoutes;
use crate::config::Config;
use crate::faces::control::{self, Call};
use crate::faces::{metrics, sd_notify};
use crate::health::HealthMachine;
use crate::health::dampening::FlapState;
use crate::status::StatusBoard;

/// The signals the supervisor handles.
pub struct Signals {
    pub terminate: Signal,
    pub interrupt: Signal,
    pub hangup: Signal,
    pub urgent: Signal,
}

impl Signals {
    pub fn new() -> anyhow::Result<Self> {
        let urgent = SignalKind::from_raw(nix::sys::signal::Signal::SIGURG as i32);
        Ok(Signals {
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            hangup: signal(SignalKind::hangup()).context("cannot handle SIGHUP")?,
            urgent: signal(urgent).context("cannot handle SIGURG")?,
        })
    }
}

/// What the faces hand back to the supervisor.
pub struct Faces {
    /// Requests from the control socket and the API.
    pub calls: mpsc::Receiver<Call>,
    /// The textfile writer, awaited at exit (it removes the file).
    pub textfile_writer: Option<JoinHandle<()>>,
    pub notifier: sd_notify::Notifier,
}

/// Starts the HTTP API, the control socket server, the metrics and sd_notify.
pub async fn faces(
    config: &Config,
    control_listener: UnixListener,
    status: &StatusBoard,
    background: &CancellationToken,
) -> anyhow::Result<Faces> {
    let (calls, rx) = mpsc::channel(CONTROL_QUEUE);
    crate::faces::api::spawn(
        &config.api,
        status.clone(),
        calls.clone(),
        background.clone(),
    )
    .await?;
    tokio::spawn(control::server::serve(
        control_listener,
        control::server::PeerPolicy::current(config.control.group.as_deref()),
        status.clone(),
        calls,
        background.clone(),
    ));
    let textfile_writer =
        metrics::spawn(&config.metrics, status.clone(), background.clone()).await?;
    let notifier = sd_notify::Notifier::from_env();
    tokio::spawn(sd_notify::run(
        notifier.clone(),
        status.clone(),
        background.clone(),
    ));
    Ok(Faces {
        calls: rx,
        textfile_writer,
        notifier,
    })
}

/// The DNS updater, with `[dns]`.
pub fn dns_updater(
    config: &Config,
    status: &StatusBoard,
    background: &CancellationToken,
) -> Option<mpsc::Sender<crate::records::updater::Command>> {
    config.dns.as_ref().map(|settings| {
        let (tx, rx) = mpsc::channel(super::ANNOUNCER_QUEUE);
        let gate: Arc<dyn crate::records::gate::Gate> = match &settings.agreement {
            Some(a) => Arc::new(crate::records::agreed::Agreed::start(a)),
            None => Arc::new(crate::records::gate::Alone),
        };
        tokio::spawn(crate::records::updater::run(
            settings.clone(),
            config.daemon.batch_window,
            gate,
            rx,
            status.clone(),
            background.clone(),
        ));
        tx
    })
}

/// Where the daemon starts from, decided from the configuration, the drains of the last
/// run and what the routing daemon announced before. Pure.
#[derive(Debug)]
pub struct StartPlan {
    /// Each service's machine: adopted (announced until its first failure) when the
    /// routing daemon already had every one of its prefixes, else fresh.
    pub machines: BTreeMap<String, HealthMachine>,
    /// What the announcer starts from.
    pub desired: DesiredRoutes,
    /// Announced before, owned by no configured service: the first apply purges them.
    pub purged: Vec<IpNet>,
}

pub fn plan(config: &Config, drains: &DrainState, existing: &BTreeSet<IpNet>) -> StartPlan {
    let machines: BTreeMap<String, HealthMachine> = config
        .services
        .iter()
        .map(|s| {
            // A service without prefixes (records only) has nothing to adopt.
            let adopt = config.daemon.adopt_on_start
                && !s.disabled
                && !s.prefixes.is_empty()
                && s.prefixes.iter().all(|p| existing.contains(&p.prefix));
            let machine = if adopt {
                HealthMachine::adopted(s.rise, s.fall)
            } else {
                HealthMachine::new(s.rise, s.fall)
            };
            (s.name.clone(), machine)
        })
        .collect();
    let mut desired = DesiredRoutes::default();
    desired.set_drains(drains.all.is_some(), drains.names());
    let now = tokio::time::Instant::now();
    for service in &config.services {
        let announce =
            crate::service::wants_announce(service, &machines[&service.name], &FlapState::new(now));
        desired.set(&service.name, service.nets(), announce);
    }
    let owned: BTreeSet<IpNet> = config.services.iter().flat_map(|s| s.nets()).collect();
    StartPlan {
        machines,
        desired,
        purged: existing.difference(&owned).copied().collect(),
    }
}

impl StartPlan {
    /// The start-up line: what was adopted, purged and drained.
    pub fn log(&self, config: &Config, drains: &DrainState) {
        let adopted: Vec<&str> = self
            .machines
            .iter()
            .filter(|(_, m)| m.announce())
            .map(|(name, _)| name.as_str())
            .collect();
        let purged: Vec<String> = self.purged.iter().map(ToString::to_string).collect();
        let drained: Vec<&str> = drains.services.keys().map(String::as_str).collect();
        info!(
            version = env!("CARGO_PKG_VERSION"),
            services = config.services.len(),
            adopted = %adopted.join(" "),
            purged = %purged.join(" "),
            drained = %if drains.all.is_some() { "all".to_string() } else { drained.join(" ") },
            control = %config.control.socket.display(),
            "anycast-warden started"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// `daemon`: more lines of `[daemon]`.
    fn config(daemon: &str, services: &str) -> Config {
        let main = format!("[daemon]\nstate_dir = \"/tmp/x\"\n{daemon}");
        crate::config::load_str(Path::new("main.toml"), &format!("{main}{services}"))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn nets(list: &[&str]) -> BTreeSet<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    const SERVICES: &str = r#"
[[service]]
name = "dns"
prefixes = ["203.0.113.53/32"]
[[service.check]]
kind = "tcp"
target = "127.0.0.1:53"

[[service]]
name = "ntp"
prefixes = ["203.0.113.123/32", "2001:db8::123/128"]
[[service.check]]
kind = "tcp"
target = "127.0.0.1:123"

[[service]]
name = "off"
prefixes = ["203.0.113.9/32"]
disabled = true
[[service.check]]
kind = "tcp"
target = "127.0.0.1:9"
"#;

    #[test]
    fn services_whose_every_prefix_was_announced_are_adopted_and_the_rest_purged() {
        let c = config("", SERVICES);
        // ntp had only one of its two prefixes; 198.51.100.1 belongs to no service.
        let existing = nets(&[
            "203.0.113.53/32",
            "203.0.113.123/32",
            "203.0.113.9/32",
            "198.51.100.1/32",
        ]);
        let plan = plan(&c, &DrainState::default(), &existing);
        let adopted: Vec<&str> = plan
            .machines
            .iter()
            .filter(|(_, m)| m.announce())
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(adopted, ["dns"], "a disabled service is never adopted");
        assert_eq!(plan.desired.prefixes(), nets(&["203.0.113.53/32"]));
        assert_eq!(
            plan.purged,
            vec!["198.51.100.1/32".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn drains_of_the_last_run_and_adopt_on_start_false_hold_prefixes_out() {
        let c = config("", SERVICES);
        let existing = nets(&["203.0.113.53/32"]);
        let mut drains = DrainState::default();
        drains.services.insert(
            "dns".into(),
            crate::status::Drain {
                reason: "maintenance".into(),
                since: 0.0,
            },
        );
        let drained = plan(&c, &drains, &existing);
        assert!(drained.machines["dns"].announce());
        assert!(drained.desired.prefixes().is_empty(), "drained: held out");
        let c = config("adopt_on_start = false\n", SERVICES);
        let plan = plan(&c, &DrainState::default(), &existing);
        assert!(plan.desired.prefixes().is_empty(), "adopt_on_start = false");
    }
}
