//! The running daemon: wires the service tasks, the announcer and the backend, and
//! handles signals.
//!
//! ```text
//!   signals ──▶ supervisor ──spawn/cancel──▶ service task (one per service)
//!   (TERM,INT,     │  │                          │ Set{service, prefixes, announce}
//!    HUP,URG)      │  └──check_now (watch)──▶    ▼
//!                  └──Shutdown/ReplaceBackend──▶ announcer ──whole set──▶ backend ──▶ BIRD
//! ```
//! The supervisor owns the running configuration and the service tasks; the announcer owns
//! the desired prefix set; each service task owns its state machine. They talk only
//! through channels.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ipnet::IpNet;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::announce::{self, AnnouncerSettings, Command, DesiredRoutes};
use crate::backend;
use crate::bgp::status::SpeakerStatus;
use crate::check::address::AddressBook;
use crate::config::{Config, ConfigPaths, OnDisabled, ServiceConfig, load};
use crate::health::HealthMachine;
use crate::service::ServiceTask;

/// How long the final withdrawal may keep retrying at exit.
const WITHDRAW_DEADLINE: Duration = Duration::from_secs(10);
/// Room in the announcer's queue; senders wait when it is full.
const ANNOUNCER_QUEUE: usize = 4096;

struct RunningService {
    config: ServiceConfig,
    cancel: CancellationToken,
    task: JoinHandle<HealthMachine>,
}

struct Supervisor {
    /// The built-in speaker's peers (empty with BIRD or FRR); for status and metrics.
    bgp_status: watch::Sender<SpeakerStatus>,
    paths: ConfigPaths,
    config: Config,
    services: BTreeMap<String, RunningService>,
    announcer: mpsc::Sender<Command>,
    check_now: watch::Sender<u64>,
    addresses: Arc<AddressBook>,
}

/// How often the warden looks for processes that escaped an exec check.
const REAPER_SWEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs until SIGTERM or SIGINT; then withdraws everything. Errors only when the final
/// withdrawal did not reach the routing daemon.
pub async fn run(paths: ConfigPaths, config: Config) -> anyhow::Result<()> {
    if let Err(e) = std::fs::create_dir_all(&config.daemon.state_dir) {
        warn!(dir = %config.daemon.state_dir.display(), error = %e, "cannot create the state directory");
    }
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let mut urgent = signal(SignalKind::from_raw(libc_sigurg())).context("cannot handle SIGURG")?;

    // Reaps what exec checks leave behind outside their process groups; ends with the
    // runtime.
    let _reaper = crate::check::reaper::start(REAPER_SWEEP);
    crate::check::exec_slots::set_limit(config.daemon.max_concurrent_exec);

    let existing = match backend::announced_before(&config).await {
        Ok(set) => set,
        Err(e) => {
            warn!(error = %e, "cannot read what the routing daemon announced before; starting from nothing");
            BTreeSet::new()
        }
    };
    let machines = initial_machines(&config, &existing);
    let mut desired = DesiredRoutes::default();
    for service in &config.services {
        let announce = wants_announce(service, &machines[&service.name]);
        desired.set(&service.name, service.nets(), announce);
    }
    let owned: BTreeSet<IpNet> = config.services.iter().flat_map(|s| s.nets()).collect();
    let purged: Vec<String> = existing
        .difference(&owned)
        .map(ToString::to_string)
        .collect();
    let adopted: Vec<&str> = machines
        .iter()
        .filter(|(_, m)| m.announce())
        .map(|(name, _)| name.as_str())
        .collect();
    info!(
        version = env!("CARGO_PKG_VERSION"),
        services = config.services.len(),
        adopted = %adopted.join(" "),
        purged = %purged.join(" "),
        "anycast-warden started"
    );

    let (announcer, rx) = mpsc::channel(ANNOUNCER_QUEUE);
    let (bgp_status, _) = watch::channel(SpeakerStatus::new());
    let announcer_task = tokio::spawn(announce::run(
        AnnouncerSettings {
            batch_window: config.daemon.batch_window,
        },
        backend::for_config_with_status(&config, &bgp_status),
        desired,
        rx,
    ));
    let (check_now, _) = watch::channel(0u64);
    let mut supervisor = Supervisor {
        bgp_status,
        paths,
        config: config.clone(),
        services: BTreeMap::new(),
        announcer,
        check_now,
        addresses: AddressBook::watch(),
    };
    let mut machines = machines;
    for service in config.services {
        let machine = machines
            .remove(&service.name)
            .unwrap_or_else(|| HealthMachine::new(service.rise, service.fall));
        supervisor.start(service, machine);
    }

    loop {
        tokio::select! {
            _ = terminate.recv() => { info!("SIGTERM: withdrawing every prefix and exiting"); break; }
            _ = interrupt.recv() => { info!("SIGINT: withdrawing every prefix and exiting"); break; }
            _ = hangup.recv() => supervisor.reload().await,
            _ = urgent.recv() => {
                info!("SIGURG: running every check now");
                supervisor.check_now.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }
    let withdrawn = supervisor.shutdown().await;
    let _ = announcer_task.await;
    if withdrawn {
        Ok(())
    } else {
        anyhow::bail!("exited without confirming the withdrawal of every prefix")
    }
}

fn libc_sigurg() -> i32 {
    nix::sys::signal::Signal::SIGURG as i32
}

/// Fresh machines, or adopted ones for services whose every prefix BIRD already had.
fn initial_machines(
    config: &Config,
    existing: &BTreeSet<IpNet>,
) -> BTreeMap<String, HealthMachine> {
    config
        .services
        .iter()
        .map(|s| {
            let adopt = config.daemon.adopt_on_start
                && !s.disabled
                && s.prefixes.iter().all(|p| existing.contains(&p.prefix));
            let machine = if adopt {
                HealthMachine::adopted(s.rise, s.fall)
            } else {
                HealthMachine::new(s.rise, s.fall)
            };
            (s.name.clone(), machine)
        })
        .collect()
}

fn wants_announce(service: &ServiceConfig, machine: &HealthMachine) -> bool {
    if service.disabled {
        service.on_disabled == OnDisabled::Advertise
    } else {
        machine.announce()
    }
}

impl Supervisor {
    fn start(&mut self, config: ServiceConfig, machine: HealthMachine) {
        let cancel = CancellationToken::new();
        let task = ServiceTask {
            config: config.clone(),
            machine,
            splay: self.config.daemon.splay,
            announcer: self.announcer.clone(),
            check_now: self.check_now.subscribe(),
            cancel: cancel.clone(),
            addresses: self.addresses.clone(),
        };
        let name = config.name.clone();
        let task = tokio::spawn(task.run());
        self.services.insert(
            name,
            RunningService {
                config,
                cancel,
                task,
            },
        );
    }

    /// Stops a service task and returns its state machine.
    async fn stop(&mut self, name: &str) -> Option<HealthMachine> {
        let running = self.services.remove(name)?;
        running.cancel.cancel();
        running.task.await.ok()
    }

    /// SIGHUP: load the files again; a bad configuration is refused and the running one
    /// stays. Unchanged services keep running untouched; changed ones keep their health.
    async fn reload(&mut self) {
        let mut new = match load(&self.paths) {
            Ok(new) => new,
            Err(errors) => {
                for e in &errors.0 {
                    error!(problem = %e, "configuration reload refused; the running configuration stays");
                }
                return;
            }
        };
        if new.daemon != self.config.daemon {
            warn!("changes in [daemon] take effect at the next restart");
        }
        match backend::reload_change(&self.config, &new) {
            backend::ReloadChange::None => {}
            backend::ReloadChange::Replace(why) => {
                info!("{why}: applying the current set through the new settings");
                let _ = self
                    .announcer
                    .send(Command::ReplaceBackend(backend::for_config_with_status(
                        &new,
                        &self.bgp_status,
                    )))
                    .await;
            }
            backend::ReloadChange::NeedsRestart(why) => {
                warn!("{why}: this takes effect at the next restart; the running backend stays");
                // Keep comparing later reloads against the backend that actually runs.
                new.bird = self.config.bird.clone();
                new.frr = self.config.frr.clone();
                new.bgp = self.config.bgp.clone();
            }
        }
        let new_services: BTreeMap<String, ServiceConfig> = new
            .services
            .iter()
            .map(|s| (s.name.clone(), s.clone()))
            .collect();
        let (mut added, mut removed, mut changed, mut unchanged) = (vec![], vec![], vec![], 0usize);
        let names: Vec<String> = self.services.keys().cloned().collect();
        for name in names {
            match new_services.get(&name) {
                None => {
                    self.stop(&name).await;
                    let _ = self
                        .announcer
                        .send(Command::Forget {
                            service: name.clone(),
                        })
                        .await;
                    removed.push(name);
                }
                Some(s) if s.same_settings(&self.services[&name].config) => unchanged += 1,
                Some(s) => {
                    let old = self.stop(&name).await;
                    let machine = old.map_or_else(
                        || HealthMachine::new(s.rise, s.fall),
                        |m| m.with_thresholds(s.rise, s.fall),
                    );
                    self.start(s.clone(), machine);
                    changed.push(name);
                }
            }
        }
        for s in &new.services {
            if !self.services.contains_key(&s.name) {
                self.start(s.clone(), HealthMachine::new(s.rise, s.fall));
                added.push(s.name.clone());
            }
        }
        info!(
            services = new.services.len(),
            added = %added.join(" "),
            removed = %removed.join(" "),
            changed = %changed.join(" "),
            unchanged,
            "configuration reloaded"
        );
        self.config = new;
    }

    /// Withdraws everything and stops every task. Returns whether BIRD confirmed it.
    async fn shutdown(&mut self) -> bool {
        for running in self.services.values() {
            running.cancel.cancel();
        }
        let (done, result) = oneshot::channel();
        let sent = self
            .announcer
            .send(Command::Shutdown {
                deadline: WITHDRAW_DEADLINE,
                done,
            })
            .await;
        let withdrawn = sent.is_ok() && result.await.unwrap_or(false);
        for (_, running) in std::mem::take(&mut self.services) {
            let _ = running.task.await;
        }
        withdrawn
    }
}
