//! The running daemon: wires the service tasks, the announcer and the backend, and
//! handles signals.
//!
//! ```text
//!   signals ──▶ supervisor ──spawn/cancel──▶ service task (one per service)
//!   (TERM,INT,  ▲  │  │                          │ Set{service, prefixes, announce}
//!    HUP,URG)   │  │  └──check_now (watch)──▶    ▼
//!   control ────┘  └──Drains/Shutdown/Backend──▶ announcer ──whole set──▶ backend ──▶ BIRD
//!   socket (Call)
//!        service tasks, announcer ──publish──▶ StatusBoard ──▶ control socket, metrics, sd_notify
//! ```
//! The supervisor owns the running configuration, the service tasks and the drains; the
//! announcer owns the desired prefix set; each service task owns its state machine. They
//! talk only through channels; the status board is written by each owner for its part and
//! only read by everyone else.
//!
//! `start` holds the start-up: signals, the faces, the DNS updater, and the pure start
//! plan (which services are adopted as announced, what the announcer starts from, what is
//! purged).

pub mod maintenance;
mod start;
pub mod withdraw_all;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use self::maintenance::DrainState;
use self::start::{Faces, StartPlan};
use crate::announce::{self, AnnouncerSettings, Command, Update};
use crate::backend;
use crate::bgp::status::SpeakerStatus;
use crate::check::address::AddressBook;
use crate::config::registration::{self, Registration};
use crate::config::{Config, ConfigPaths, Routing, ServiceConfig, load, load_with};
use crate::faces::control::{self, Request, Response};
use crate::health::HealthMachine;
use crate::health::dampening::FlapState;
use crate::service::{Carried, CheckNow, ServiceTask};
use crate::status::StatusBoard;
use crate::sys::atomic_write;

/// How long the final withdrawal may keep retrying at exit.
const WITHDRAW_DEADLINE: Duration = Duration::from_secs(10);
/// Room in the announcer's queue; senders wait when it is full. Room for every service of
/// a large host to change several times while one apply runs: with 4,096, 10,000 services
/// failing together filled it, their tasks waited, and the burst was split into three
/// applies, each paying FRR staticd's whole-configuration commit (0.6 s at 10,000 routes).
/// tokio allocates the queue in blocks as it fills, so the room costs nothing unused.
const ANNOUNCER_QUEUE: usize = 65_536;
/// Control requests waiting for the supervisor.
const CONTROL_QUEUE: usize = 64;

struct RunningService {
    config: ServiceConfig,
    cancel: CancellationToken,
    task: JoinHandle<Carried>,
}

struct Supervisor {
    /// The built-in speaker's peers (empty with BIRD or FRR); for status and metrics.
    bgp_status: watch::Sender<SpeakerStatus>,
    paths: ConfigPaths,
    config: Config,
    services: BTreeMap<String, RunningService>,
    announcer: mpsc::Sender<Command>,
    check_now: watch::Sender<CheckNow>,
    addresses: Arc<AddressBook>,
    status: StatusBoard,
    drains: DrainState,
    /// The DNS updater, with `[dns]`.
    dns: Option<mpsc::Sender<crate::records::updater::Command>>,
    /// The start of every service's check grid.
    grid_origin: tokio::time::Instant,
}

/// Copies the speaker's peer states into the status board whenever they change; ends
/// with the speaker's channel.
async fn publish_bgp_peers(mut peers: watch::Receiver<SpeakerStatus>, status: StatusBoard) {
    loop {
        let views: Vec<crate::status::BgpPeerView> = peers
            .borrow_and_update()
            .iter()
            .map(crate::status::BgpPeerView::of)
            .collect();
        status.update(|s| s.bgp_peers = views);
        if peers.changed().await.is_err() {
            return;
        }
    }
}

/// How often the warden looks for processes that escaped an exec check.
const REAPER_SWEEP: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs until SIGTERM or SIGINT; then withdraws everything. Errors only when the final
/// withdrawal did not reach the routing daemon.
pub async fn run(paths: ConfigPaths, config: Config) -> anyhow::Result<()> {
    if let Err(e) = std::fs::create_dir_all(&config.daemon.state_dir) {
        warn!(dir = %config.daemon.state_dir.display(), error = %e, "cannot create the state directory");
    }
    let mut signals = start::Signals::new()?;

    // Reaps what exec checks leave behind outside their process groups; ends with the
    // runtime.
    let _reaper = crate::sys::reaper::start(REAPER_SWEEP);
    crate::check::exec_slots::set_limit(config.daemon.max_concurrent_exec);
    let drains = DrainState::load(&config.daemon.state_dir)
        .context("the drains of the last run are unknown; fix or remove the file")?;
    // Before anything else listens: a speaker that can never listen (no
    // CAP_NET_BIND_SERVICE for port 179) stops the daemon with the reason.
    if let Routing::Bgp(settings) = &config.routing {
        crate::bgp::speaker::check_listen(&backend::bgp::speaker_config(settings))?;
    }
    let control_listener =
        control::server::bind(&config.control.socket, config.control.group.as_deref())?;
    let status = StatusBoard::default();
    status.update(|s| {
        s.backend.kind = config.routing.kind().to_string();
        s.backend.drain_seconds = config
            .routing
            .bgp()
            .map_or(0.0, |b| b.drain_time.as_secs_f64());
        s.drain_all.clone_from(&drains.all);
    });
    let background = CancellationToken::new();
    let Faces {
        mut calls,
        textfile_writer,
        notifier,
    } = start::faces(&config, control_listener, &status, &background).await?;

    let existing = match backend::announced_before(&config).await {
        Ok(set) => set,
        Err(e) => {
            warn!(error = %e, "cannot read what the routing daemon announced before; starting from nothing");
            BTreeSet::new()
        }
    };
    let plan = start::plan(&config, &drains, &existing);
    plan.log(&config, &drains);
    let StartPlan {
        machines, desired, ..
    } = plan;

    let (announcer, rx) = mpsc::channel(ANNOUNCER_QUEUE);
    let (bgp_status, _) = watch::channel(SpeakerStatus::new());
    tokio::spawn(publish_bgp_peers(bgp_status.subscribe(), status.clone()));
    let announcer_task = tokio::spawn(announce::run(
        AnnouncerSettings {
            batch_window: config.daemon.batch_window,
        },
        backend::for_config_with_status(&config, &bgp_status),
        desired,
        rx,
        status.clone(),
    ));
    let dns = start::dns_updater(&config, &status, &background);
    let (check_now, _) = watch::channel(CheckNow::default());
    let mut supervisor = Supervisor {
        dns,
        bgp_status,
        paths,
        config: config.clone(),
        services: BTreeMap::new(),
        announcer,
        check_now,
        addresses: AddressBook::watch(),
        status,
        drains,
        grid_origin: tokio::time::Instant::now(),
    };
    // The watchdog pings come from this loop: a hung supervisor stops them.
    let mut watchdog =
        tokio::time::interval(notifier.watchdog.unwrap_or(Duration::from_secs(3600)));
    let mut machines = machines;
    for service in config.services {
        let machine = machines
            .remove(&service.name)
            .unwrap_or_else(|| HealthMachine::new(service.rise, service.fall));
        supervisor.start(
            service,
            machine,
            FlapState::new(tokio::time::Instant::now()),
        );
    }

    loop {
        tokio::select! {
            _ = signals.terminate.recv() => { info!("SIGTERM: withdrawing every prefix and exiting"); break; }
            _ = signals.interrupt.recv() => { info!("SIGINT: withdrawing every prefix and exiting"); break; }
            _ = signals.hangup.recv() => { supervisor.reload().await; }
            _ = signals.urgent.recv() => {
                info!("SIGURG: running every check now");
                supervisor.check_now.send_modify(|n| n.bump(None));
            }
            _ = watchdog.tick(), if notifier.watchdog.is_some() => notifier.watchdog_ping(),
            Some(call) = calls.recv() => {
                let response = supervisor.control(call.request).await;
                let _ = call.reply.send(response);
            }
        }
    }
    notifier.stopping();
    background.cancel();
    if let Some(writer) = textfile_writer {
        // It removes the textfile; a write in progress finishes first.
        let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    }
    let _ = std::fs::remove_file(&supervisor.config.control.socket);
    let withdrawn = supervisor.shutdown().await;
    let _ = announcer_task.await;
    if withdrawn {
        Ok(())
    } else {
        anyhow::bail!("exited without confirming the withdrawal of every prefix")
    }
}

impl Supervisor {
    fn start(&mut self, config: ServiceConfig, machine: HealthMachine, flaps: FlapState) {
        let drained = self.drains.services.get(&config.name).cloned();
        let cancel = CancellationToken::new();
        let mut task = ServiceTask {
            config: config.clone(),
            machine,
            flaps,
            splay: self.config.daemon.splay,
            grid_origin: self.grid_origin,
            announcer: self.announcer.clone(),
            check_now: self.check_now.subscribe(),
            cancel: cancel.clone(),
            addresses: self.addresses.clone(),
            status: self.status.clone(),
            records: self.dns.clone(),
        };
        task.refresh_dampening(tokio::time::Instant::now());
        // On the board before the task runs, so status never misses a configured service.
        self.status.update(|s| {
            s.register(&config.name, task.registration());
            if let Some(entry) = s.services.get_mut(&config.name) {
                entry.drained = drained;
            }
        });
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

    /// Stops a service task and returns its state machine and flap history.
    async fn stop(&mut self, name: &str) -> Option<Carried> {
        let running = self.services.remove(name)?;
        running.cancel.cancel();
        running.task.await.ok()
    }

    /// SIGHUP: load the files again; a bad configuration is refused and the running one
    /// stays. Unchanged services keep running untouched; changed ones keep their health.
    /// SIGHUP or `reload`: the files again; a bad configuration is refused (each problem
    /// logged and in the answer) and the running one stays.
    async fn reload(&mut self) -> Response {
        match load(&self.paths) {
            Ok(new) => {
                let services = new.services.len();
                self.switch_to(new).await;
                Response::done(format!("reloaded: {services} services"))
            }
            Err(errors) => {
                for e in &errors.0 {
                    error!(problem = %e, "configuration reload refused; the running configuration stays");
                }
                Response::refused(format!(
                    "{errors}\nanycast-warden: reload refused ({} problem{}); the running configuration stays",
                    errors.0.len(),
                    if errors.0.len() == 1 { "" } else { "s" }
                ))
            }
        }
    }

    /// Runs a new, valid configuration.
    async fn switch_to(&mut self, mut new: Config) {
        if new.daemon != self.config.daemon
            || new.control != self.config.control
            || new.metrics != self.config.metrics
            || new.api != self.config.api
        {
            warn!(
                "changes in [daemon], [control], [metrics] and [api] take effect at the next restart"
            );
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
                new.routing = self.config.routing.clone();
            }
        }
        match (&self.config.dns, &new.dns, &self.dns) {
            (Some(a), Some(b), Some(updater)) if a != b => {
                if a.agreement != b.agreement {
                    warn!("[dns.agreement] changes take effect at the next restart");
                    if let Some(d) = new.dns.as_mut() {
                        d.agreement.clone_from(&a.agreement);
                    }
                }
                info!("[dns] changed: the updater uses the new settings");
                if let Some(d) = &new.dns {
                    let _ = updater
                        .send(crate::records::updater::Command::Settings(Box::new(
                            d.clone(),
                        )))
                        .await;
                }
            }
            (None, Some(_), _) | (Some(_), None, _) => {
                warn!("[dns] was added or removed: this takes effect at the next restart");
                new.dns = self.config.dns.clone();
            }
            _ => {}
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
                    self.status.update(|s| {
                        s.services.remove(&name);
                    });
                    let _ = self
                        .announcer
                        .send(Command::Update(Update::Forget {
                            service: name.clone(),
                        }))
                        .await;
                    if let Some(updater) = &self.dns {
                        let _ = updater
                            .send(crate::records::updater::Command::Forget {
                                service: name.clone(),
                            })
                            .await;
                    }
                    removed.push(name);
                }
                Some(s) if s.same_settings(&self.services[&name].config) => unchanged += 1,
                Some(s) => {
                    let old = self.stop(&name).await;
                    let (machine, flaps) = old.map_or_else(
                        || {
                            (
                                HealthMachine::new(s.rise, s.fall),
                                FlapState::new(tokio::time::Instant::now()),
                            )
                        },
                        |c| (c.machine.with_thresholds(s.rise, s.fall), c.flaps),
                    );
                    self.start(s.clone(), machine, flaps);
                    changed.push(name);
                }
            }
        }
        for s in &new.services {
            if !self.services.contains_key(&s.name) {
                self.start(
                    s.clone(),
                    HealthMachine::new(s.rise, s.fall),
                    FlapState::new(tokio::time::Instant::now()),
                );
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

    /// A request from the control socket (other than `status`, which the server answers).
    async fn control(&mut self, request: Request) -> Response {
        match request {
            Request::Reload => self.reload().await,
            Request::Status => Response {
                ok: true,
                message: None,
                status: Some(Box::new(self.status.snapshot())),
            },
            Request::CheckNow { service } => {
                if let Some(name) = &service
                    && !self.services.contains_key(name)
                {
                    return self.unknown_service(name);
                }
                info!(
                    service = service.as_deref().unwrap_or("all"),
                    "check-now: running the checks now"
                );
                let what = service.clone().unwrap_or_else(|| "every service".into());
                self.check_now.send_modify(|n| n.bump(service));
                Response::done(format!("running the checks of {what} now"))
            }
            Request::Drain { service, reason } => {
                if let Some(name) = &service
                    && !self.services.contains_key(name)
                {
                    return self.unknown_service(name);
                }
                let mut next = self.drains.clone();
                next.drain(service.as_deref(), reason.as_deref().unwrap_or(""));
                let what = service.as_deref().unwrap_or("every service");
                self.change_drains(next, format!("drained {what}"), reason.as_deref())
                    .await
            }
            Request::Register(registration) => self.register(registration).await,
            Request::Deregister { service } => self.deregister(&service).await,
            Request::Undrain { service } => {
                if let Some(name) = &service
                    && self.drains.all.is_some()
                {
                    return Response::refused(format!(
                        "every service is drained (drain --all); undrain --all first, then drain the others again (asked to undrain \"{name}\")"
                    ));
                }
                let mut next = self.drains.clone();
                if !next.undrain(service.as_deref()) {
                    let what = service.as_deref().unwrap_or("any service");
                    return Response::done(format!("{what} was not drained"));
                }
                let what = service.as_deref().unwrap_or("every service");
                self.change_drains(next, format!("undrained {what}"), None)
                    .await
            }
        }
    }

    /// Validates the service with the whole configuration (the same code as for the
    /// files), writes its file, then runs the configuration as a reload would.
    async fn register(&mut self, registration: Registration) -> Response {
        let state_dir = self.config.daemon.state_dir.clone();
        let (path, text) = match registration::path(&state_dir, &registration.name)
            .and_then(|p| registration::file_text(&registration).map(|t| (p, t)))
        {
            Ok(v) => v,
            Err(e) => return Response::refused(e.to_string()),
        };
        let new = match load_with(&self.paths, Some((&path, Some(&text)))) {
            Ok(new) => new,
            Err(errors) => return Response::refused(format!("not registered:\n{errors}")),
        };
        let replaced = path.exists();
        if let Err(e) = atomic_write::write(&path, text.as_bytes(), 0) {
            return Response::refused(format!("not registered: {e}"));
        }
        info!(service = %registration.name, prefixes = %registration.prefixes.join(" "), file = %path.display(),
            "registered service {}", registration.name);
        self.switch_to(new).await;
        Response::done(format!(
            "{} {} ({})",
            if replaced { "replaced" } else { "registered" },
            registration.name,
            path.display()
        ))
    }

    async fn deregister(&mut self, name: &str) -> Response {
        let path = match registration::path(&self.config.daemon.state_dir, name) {
            Ok(p) if p.exists() => p,
            _ => {
                return Response::refused(match self.services.get(name) {
                    Some(s) => format!(
                        "\"{name}\" was not registered; it is defined at {} (edit that file and reload)",
                        s.config.origin
                    ),
                    None => format!("no registered service \"{name}\""),
                });
            }
        };
        let new = match load_with(&self.paths, Some((&path, None))) {
            Ok(new) => new,
            Err(errors) => return Response::refused(format!("not deregistered:\n{errors}")),
        };
        if let Err(e) = std::fs::remove_file(&path) {
            return Response::refused(format!("cannot remove {}: {e}", path.display()));
        }
        info!(service = %name, "deregistered service {name}");
        self.switch_to(new).await;
        Response::done(format!("deregistered {name}; its prefixes are withdrawn"))
    }

    fn unknown_service(&self, name: &str) -> Response {
        let known: Vec<&str> = self.services.keys().map(String::as_str).collect();
        Response::refused(format!(
            "no service \"{name}\" (configured: {})",
            known.join(", ")
        ))
    }

    /// Persists the new drains first (a drain the file does not hold would be lost at the
    /// next start), then applies them.
    async fn change_drains(
        &mut self,
        next: DrainState,
        what: String,
        reason: Option<&str>,
    ) -> Response {
        if let Err(e) = next.save(&self.config.daemon.state_dir) {
            error!(error = %e, "{what}: refused, the drains could not be saved");
            return Response::refused(format!("not done: {e}"));
        }
        self.drains = next;
        info!(reason = reason.unwrap_or(""), "{what}");
        let _ = self
            .announcer
            .send(Command::Update(Update::Drains {
                all: self.drains.all.is_some(),
                services: self.drains.names(),
            }))
            .await;
        let drains = &self.drains;
        self.status.update(|s| {
            s.drain_all.clone_from(&drains.all);
            for (name, entry) in s.services.iter_mut() {
                entry.drained = drains.services.get(name).cloned();
            }
        });
        Response::done(what)
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
