//! The validated configuration: what the rest of the program uses.
//!
//! Everything here has passed validation (see `validate.rs`), has every default filled in,
//! and serialises back to TOML in the same vocabulary the user writes (`print-config`).
//! This file holds the whole (`Config`) and the daemon's own tables; what announces the
//! prefixes is in `model_routing.rs`, the services and their checks in `model_service.rs`,
//! and all of it is reached through here.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

pub use super::model_routing::*;
pub use super::model_service::*;

/// The control socket's name in the state directory unless `[control] socket` says
/// otherwise.
pub const CONTROL_SOCKET_NAME: &str = "control.sock";

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Process-wide settings.
    pub daemon: DaemonSettings,
    /// What announces the prefixes: decided once, at validation.
    pub routing: Routing,
    /// The control socket.
    pub control: ControlSettings,
    /// Metrics export (both off unless set).
    pub metrics: MetricsSettings,
    /// The HTTP API (off unless set).
    pub api: ApiSettings,
    /// DNS failover; `Some` when the file has `[dns]`.
    pub dns: Option<DnsSettings>,
    /// Every service, from the main file and the conf.d directory, in load order.
    pub services: Vec<ServiceConfig>,
}

pub use super::dns::{AgreementConfig, DnsSettings};
pub use super::values::{DnsProtocol, duration_text};

/// `[control]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlSettings {
    /// The Unix socket of `status`, `check-now`, `drain`, `undrain`.
    pub socket: PathBuf,
    /// With a group, the socket is mode 0660 and owned by it; without, mode 0600.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// `[api]`
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ApiSettings {
    /// Serve the API on this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<std::net::SocketAddr>,
    /// A file holding the bearer token every request must carry; required unless
    /// `listen` is a loopback address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

/// `[metrics]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsSettings {
    /// Serve `/metrics` over HTTP on this address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<std::net::SocketAddr>,
    /// Write the metrics to this file (node_exporter's textfile collector) atomically.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub textfile: Option<PathBuf>,
    #[serde(with = "duration_text")]
    pub textfile_interval: Duration,
}

/// By hand, so that `print-config` shows only the chosen backend's table: a file with both
/// `[bird]` and `[frr]` is refused, and the printed configuration must load back.
impl Serialize for Config {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Config", 6)?;
        out.serialize_field("daemon", &self.daemon)?;
        out.serialize_field("control", &self.control)?;
        out.serialize_field("metrics", &self.metrics)?;
        if self.api.listen.is_some() {
            out.serialize_field("api", &self.api)?;
        }
        match &self.routing {
            Routing::Bgp(bgp) => out.serialize_field("bgp", bgp)?,
            Routing::Frr(frr) => out.serialize_field("frr", frr)?,
            Routing::Bird(bird) => out.serialize_field("bird", bird)?,
            Routing::None => {}
        }
        if let Some(dns) = &self.dns {
            out.serialize_field("dns", dns)?;
        }
        out.serialize_field("service", &self.services)?;
        out.end()
    }
}

/// `[daemon]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaemonSettings {
    /// Where the daemon keeps its state.
    pub state_dir: PathBuf,
    /// Maximum random delay of each service's first check.
    #[serde(with = "duration_text")]
    pub splay: Duration,
    /// Log line format.
    pub log_format: LogFormat,
    /// After an apply, further changes are collected for up to this long before the next
    /// apply; the first change after a quiet period is applied at once.
    #[serde(with = "duration_text")]
    pub batch_window: Duration,
    /// At start, keep announcing prefixes already in the include file for configured
    /// services until their first check result (a failure withdraws at once).
    pub adopt_on_start: bool,
    /// At most this many exec checks run at once; the others wait for a slot.
    pub max_concurrent_exec: usize,
    /// Also log to this file, rotated by size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    /// Rotate `log_file` when it would grow past this many bytes.
    pub log_max_bytes: u64,
    /// How many rotated files (`log_file.1` ...) to keep.
    pub log_backups: u32,
    /// Also send each log line to this UDP syslog server (`host:port`), RFC 5424.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_server: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}
