//! The validated configuration: what the rest of the program uses.
//!
//! Everything here has passed validation (see `validate.rs`), has every default filled in,
//! and serialises back to TOML in the same vocabulary the user writes (`print-config`).

use std::path::PathBuf;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

/// The whole validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    /// Process-wide settings.
    pub daemon: DaemonSettings,
    /// How to drive BIRD.
    pub bird: BirdSettings,
    /// Every service, from the main file and the conf.d directory, in load order.
    #[serde(rename = "service")]
    pub services: Vec<ServiceConfig>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Which BIRD generation, and so which file layout, to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BirdVariant {
    /// BIRD 2: one daemon, one file holding both the IPv4 and the IPv6 set.
    Bird2,
    /// BIRD 1.6: `bird` and `bird6`, one file each; empty sets are a syntax error.
    Bird1,
}

/// `[bird]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BirdSettings {
    pub variant: BirdVariant,
    /// The include file (for bird1: the IPv4 one).
    pub include_file: PathBuf,
    /// bird1 only: the IPv6 include file, read by bird6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_file6: Option<PathBuf>,
    pub set_name: String,
    pub set_name6: String,
    /// Talk to BIRD over its control socket instead of running `reconfigure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_socket: Option<PathBuf>,
    /// bird1 only: bird6's control socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_socket6: Option<PathBuf>,
    /// Command that makes BIRD re-read its configuration.
    pub reconfigure: Vec<String>,
    /// bird1 only: the same for bird6.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconfigure6: Option<Vec<String>>,
    #[serde(with = "duration_text")]
    pub reconfigure_timeout: Duration,
    /// Always in the IPv4 set, so it is never empty (required by BIRD 1.6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dummy_prefix: Option<Ipv4Net>,
    /// Always in the IPv6 set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dummy_prefix6: Option<Ipv6Net>,
    /// How many earlier include files to keep in `history/` beside it (0: none).
    pub keep_changes: u32,
}

/// What a disabled service announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDisabled {
    Withdraw,
    Advertise,
}

/// One `[[service]]`, with the defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceConfig {
    pub name: String,
    pub prefixes: Vec<IpNet>,
    #[serde(with = "duration_text")]
    pub interval: Duration,
    /// Re-check pace while a result disagrees with the current state.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "duration_text::serialize_some"
    )]
    pub fast_interval: Option<Duration>,
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    pub interface: String,
    pub ip_check: bool,
    pub disabled: bool,
    pub on_disabled: OnDisabled,
    #[serde(rename = "check")]
    pub checks: Vec<CheckSpec>,
    /// Where the service was defined, for messages.
    #[serde(skip)]
    pub origin: String,
}

impl ServiceConfig {
    /// The same service apart from where it was written down.
    pub fn same_settings(&self, other: &ServiceConfig) -> bool {
        let mut a = self.clone();
        a.origin.clone_from(&other.origin);
        a == *other
    }
}

/// One `[[service.check]]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CheckSpec {
    Exec(ExecSpec),
    Tcp(TcpSpec),
}

impl CheckSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Exec(_) => "exec",
            CheckSpec::Tcp(_) => "tcp",
        }
    }
}

/// Runs a program; exit status 0 passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecSpec {
    pub command: ExecCommand,
    pub shell: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ExecCommand {
    /// Program and arguments, run directly.
    Argv(Vec<String>),
    /// A line for `/bin/sh -c` (only with `shell = true`).
    Shell(String),
}

impl std::fmt::Display for ExecCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecCommand::Argv(argv) => write!(f, "{}", argv.join(" ")),
            ExecCommand::Shell(line) => write!(f, "sh -c '{line}'"),
        }
    }
}

/// Passes when a TCP connection to `target` opens within the timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TcpSpec {
    /// `address:port` or `host:port`.
    pub target: String,
}

/// Durations print the way they are written: "250ms", "1s", "2m".
pub mod duration_text {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    pub fn serialize_some<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => serialize(d, s),
            None => s.serialize_none(),
        }
    }

    /// Compact form that `humantime` parses back: "1s", "1s 500ms", "2m".
    pub fn format(d: Duration) -> String {
        humantime::format_duration(d).to_string()
    }
}
