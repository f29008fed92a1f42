//! Backends make the routing side announce exactly the desired set.
//!
//! The configuration chooses one: `[frr]` selects FRRouting (`frr/`), `[bgp]` the built-in
//! speaker (`bgp.rs`), otherwise BIRD.
//!
//! ```text
//!  announcer ──apply(whole set) / drain / close──▶ dyn Backend ─┬─ bird/ ──include file + configure──▶ BIRD
//!                                                             ├─ frr/  ──vty socket or vtysh───────▶ FRR
//!                                                             └─ bgp.rs ──routes (watch)─────────▶ speaker
//! ```
//! Every backend applies the whole desired set, never a delta, so any apply can be
//! retried; the announcer (one task) is the only caller.

pub mod bgp;
pub mod bird;
pub mod frr;

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::BoxFuture;

use ipnet::IpNet;
use tokio::sync::watch;

use crate::bgp::status::SpeakerStatus;
use crate::config::{BirdSettings, Config, Routing};

/// Error of a backend apply, with the backend's own context.
pub type ApplyError = Box<dyn std::error::Error + Send + Sync>;

/// Something that can make the routing side announce exactly a set of prefixes.
pub trait Backend: Send {
    /// Makes the routing daemon announce exactly `desired`. Idempotent.
    fn apply<'a>(
        &'a mut self,
        desired: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<(), ApplyError>>;

    /// How long after a successful apply the same set is applied again to repair drift
    /// (the backend compares the routing daemon's state with it). `None`: never.
    fn verify_interval(&self) -> Option<Duration> {
        None
    }

    /// Announces `desired` with the `draining` part marked for graceful shutdown (the
    /// speaker adds GRACEFUL_SHUTDOWN 65535:0, RFC 8326) and returns how long to wait
    /// before withdrawing them. `None`: this backend cannot drain; withdraw at once.
    /// SIGTERM drains everything; a per-service drain passes that service's prefixes.
    fn drain<'a>(
        &'a mut self,
        _desired: &'a BTreeSet<IpNet>,
        _draining: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<Option<Duration>, ApplyError>> {
        Box::pin(async { Ok(None) })
    }

    /// Called once at exit, after the final withdrawal (the speaker closes its sessions).
    fn close(&mut self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}

/// The backend for the configured routing daemon.
pub fn from_settings(settings: &BirdSettings) -> Box<dyn Backend> {
    Box::new(bird::BirdBackend::new(settings))
}

/// Prefixes the routing side announced before the daemon started (for purge/adopt).
pub fn read_announced(settings: &BirdSettings) -> Result<BTreeSet<IpNet>, String> {
    bird::BirdBackend::new(settings)
        .read_announced()
        .map_err(|e| e.to_string())
}

/// The backend the configuration chooses: the speaker with `[bgp]`, FRR with `[frr]`,
/// else BIRD.
pub fn for_config(config: &Config) -> Box<dyn Backend> {
    for_config_with_status(config, &watch::channel(SpeakerStatus::new()).0)
}

/// The same; the built-in speaker reports its peers to `bgp_status`.
pub fn for_config_with_status(
    config: &Config,
    bgp_status: &watch::Sender<SpeakerStatus>,
) -> Box<dyn Backend> {
    match &config.routing {
        Routing::None => Box::new(NoRouting),
        Routing::Bgp(settings) => Box::new(bgp::BgpBackend::new(
            settings,
            &config.services,
            bgp_status.clone(),
        )),
        Routing::Frr(frr) => Box::new(frr::FrrBackend::new(
            frr.clone(),
            frr::RouteTable::from_services(&config.services),
            frr::owned_networks_file(&config.daemon.state_dir),
        )),
        Routing::Bird(bird) => from_settings(bird),
    }
}

/// The backend of a DNS-only configuration (`[dns]` and no routing table): services
/// have records, no prefixes, so there is nothing to announce.
struct NoRouting;

impl Backend for NoRouting {
    fn apply<'a>(
        &'a mut self,
        _desired: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<(), ApplyError>> {
        Box::pin(async { Ok(()) })
    }
}

/// What the chosen routing daemon announced for the warden before it started.
pub async fn announced_before(config: &Config) -> Result<BTreeSet<IpNet>, String> {
    match &config.routing {
        // The speaker's routes lived in its sessions, which ended with the last process.
        Routing::None | Routing::Bgp(_) => Ok(BTreeSet::new()),
        Routing::Frr(frr) => {
            frr::read_announced(frr, &frr::owned_networks_file(&config.daemon.state_dir))
                .await
                .map_err(|e| e.to_string())
        }
        Routing::Bird(bird) => read_announced(bird),
    }
}

/// What a reload means for the backend.
#[derive(Debug, PartialEq, Eq)]
pub enum ReloadChange {
    None,
    /// Same routing daemon, new settings: build a new backend and apply through it.
    Replace(&'static str),
    /// A switch between BIRD and FRR: not done live, since the old daemon would keep
    /// announcing what the warden told it.
    NeedsRestart(&'static str),
}

pub fn reload_change(old: &Config, new: &Config) -> ReloadChange {
    match (&old.routing, &new.routing) {
        (Routing::None, Routing::None) => ReloadChange::None,
        (Routing::None, _) | (_, Routing::None) => ReloadChange::NeedsRestart(
            "a routing backend ([bird], [frr] or [bgp]) was added to or removed from a DNS-only configuration",
        ),
        (Routing::Bgp(a), Routing::Bgp(b)) => {
            if a != b || bgp::route_table(&old.services) != bgp::route_table(&new.services) {
                // A new speaker: the sessions restart and carry the new attributes.
                ReloadChange::Replace("[bgp] or a service's [service.announce] changed")
            } else {
                ReloadChange::None
            }
        }
        (Routing::Bgp(_), _) | (_, Routing::Bgp(_)) => ReloadChange::NeedsRestart(
            "the backend changed between the built-in speaker and a routing daemon",
        ),
        (Routing::Bird(a), Routing::Bird(b)) if a != b => ReloadChange::Replace("[bird] changed"),
        (Routing::Bird(_), Routing::Bird(_)) => ReloadChange::None,
        (Routing::Frr(a), Routing::Frr(b))
            if a != b
                || frr::RouteTable::from_services(&old.services)
                    != frr::RouteTable::from_services(&new.services) =>
        {
            ReloadChange::Replace("[frr] or a prefix's VRF changed")
        }
        (Routing::Frr(_), Routing::Frr(_)) => ReloadChange::None,
        (Routing::Bird(_), Routing::Frr(_)) | (Routing::Frr(_), Routing::Bird(_)) => {
            ReloadChange::NeedsRestart("the routing daemon changed between [bird] and [frr]")
        }
    }
}
