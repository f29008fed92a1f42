//! The validated configuration: what the rest of the program uses.
//!
//! Everything here has passed validation (see `validate.rs`), has every default filled in,
//! and serialises back to TOML in the same vocabulary the user writes (`print-config`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Serialize;

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

/// What announces the prefixes. `[bgp]` chooses the built-in speaker, `[frr]` FRRouting,
/// and `[bird]` (or none of them) BIRD; a file with `[dns]` and none of the three is
/// DNS-only and announces nothing over BGP.
#[derive(Debug, Clone, PartialEq)]
pub enum Routing {
    /// DNS-only: services have records, no prefixes.
    None,
    Bird(BirdSettings),
    Frr(FrrSettings),
    Bgp(BgpSettings),
}

impl Routing {
    /// Whether prefixes are announced at all (false only for a DNS-only file).
    pub fn announces(&self) -> bool {
        !matches!(self, Routing::None)
    }

    pub fn bird(&self) -> Option<&BirdSettings> {
        match self {
            Routing::Bird(b) => Some(b),
            _ => None,
        }
    }

    pub fn frr(&self) -> Option<&FrrSettings> {
        match self {
            Routing::Frr(f) => Some(f),
            _ => None,
        }
    }

    pub fn bgp(&self) -> Option<&BgpSettings> {
        match self {
            Routing::Bgp(b) => Some(b),
            _ => None,
        }
    }

    /// The backend's name in status and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Routing::None => "none",
            Routing::Bird(_) => "bird",
            Routing::Frr(_) => "frr",
            Routing::Bgp(_) => "bgp",
        }
    }
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

/// How the FRR backend makes FRR announce a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrrMode {
    /// `network X` under `router bgp ASN [vrf V]`: for addresses assigned on the host
    /// (the connected route on `lo` makes the network statement valid).
    Network,
    /// `ip route X Null0 tag T`, announced through `redistribute static`: for prefixes not
    /// assigned on the host (a connected route would win over the static one).
    Static,
}

/// How the FRR backend talks to FRR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FrrTransport {
    /// Straight to the daemons' vty sockets (bgpd.vty, staticd.vty), as vtysh itself does:
    /// no process start per apply (a vtysh run costs about 30 ms).
    Vty,
    /// One `vtysh` process per read or write.
    Vtysh,
}

/// `[frr]`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrrSettings {
    pub transport: FrrTransport,
    /// The vtysh binary.
    pub vtysh: PathBuf,
    /// FRR's vty socket directory (`vtysh --vty_socket`), for an FRR started with its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vty_socket: Option<PathBuf>,
    /// FRR's path space (`vtysh -N NAME`: sockets under /var/run/frr/NAME/).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pathspace: Option<String>,
    pub mode: FrrMode,
    /// The local AS of `router bgp`; when unset, read from FRR's running configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Marks the static routes the warden owns; a route without it is never touched.
    pub tag: u32,
    /// How long one vtysh run may take before it is killed and the apply retried.
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// How often FRR's running configuration is compared with the desired set even when
    /// no service changed, so a restarted FRR gets its routes back ("0s": never).
    #[serde(with = "duration_text")]
    pub verify_interval: Duration,
}

/// Where FRR puts its vty sockets unless told otherwise (Debian's build, as vtysh).
pub const DEFAULT_VTY_DIR: &str = "/var/run/frr";

impl FrrSettings {
    /// The directory holding the daemons' vty sockets, where vtysh would look.
    pub fn vty_dir(&self) -> PathBuf {
        match (&self.vty_socket, &self.pathspace) {
            (Some(dir), _) => dir.clone(),
            (None, Some(name)) => PathBuf::from(DEFAULT_VTY_DIR).join(name),
            (None, None) => PathBuf::from(DEFAULT_VTY_DIR),
        }
    }

    /// The arguments that make vtysh reach this FRR.
    pub fn vtysh_target_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(dir) = &self.vty_socket {
            args.push("--vty_socket".to_string());
            args.push(dir.display().to_string());
        }
        if let Some(name) = &self.pathspace {
            args.push("-N".to_string());
            args.push(name.clone());
        }
        args
    }
}

/// One prefix of a service, and the VRF it is announced in (`None`: the default VRF).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServicePrefix {
    pub prefix: IpNet,
    /// A validated VRF name (never "default": that is `None`).
    pub vrf: Option<String>,
}

impl From<IpNet> for ServicePrefix {
    fn from(prefix: IpNet) -> Self {
        ServicePrefix { prefix, vrf: None }
    }
}

/// A prefix in the default VRF, as in `prefixes = ["203.0.113.53/32"]`.
impl std::str::FromStr for ServicePrefix {
    type Err = ipnet::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<IpNet>().map(ServicePrefix::from)
    }
}

/// "203.0.113.53/32", or "203.0.113.53/32 vrf blue" (as FRR writes it).
impl std::fmt::Display for ServicePrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.vrf {
            None => write!(f, "{}", self.prefix),
            Some(vrf) => write!(f, "{} vrf {vrf}", self.prefix),
        }
    }
}

/// Written the way a user writes it: a plain string, or a table when it has a VRF.
impl Serialize for ServicePrefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.vrf {
            None => s.serialize_str(&self.prefix.to_string()),
            Some(vrf) => {
                let mut map = s.serialize_map(Some(2))?;
                map.serialize_entry("prefix", &self.prefix.to_string())?;
                map.serialize_entry("vrf", vrf)?;
                map.end()
            }
        }
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<ServicePrefix>,
    /// DNS records added while the service is up and deleted while it is down.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "super::dns::serialize_records"
    )]
    pub records: Vec<crate::dns::AddressRecord>,
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
    /// Flap dampening (`None`: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dampening: Option<DampeningConfig>,
    #[serde(rename = "check")]
    pub checks: Vec<CheckConfig>,
    /// Attributes of the service's routes (`[service.announce]`, built-in speaker only).
    #[serde(skip_serializing_if = "AnnounceAttrs::is_empty")]
    pub announce: AnnounceAttrs,
    /// Where the service was defined, for messages.
    #[serde(skip)]
    pub origin: String,
}

impl ServiceConfig {
    /// The prefixes without their VRFs: what the announcer and the checks deal in.
    pub fn nets(&self) -> Vec<IpNet> {
        self.prefixes.iter().map(|p| p.prefix).collect()
    }

    /// The same service apart from where it was written down.
    pub fn same_settings(&self, other: &ServiceConfig) -> bool {
        let mut a = self.clone();
        a.origin.clone_from(&other.origin);
        a == *other
    }
}

/// `dampening`: how a flapping service is held withdrawn (see `health::dampening`). Penalties
/// are in units where one health transition adds 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DampeningConfig {
    /// The penalty halves in this time.
    #[serde(with = "duration_text")]
    pub half_life: Duration,
    /// At this penalty the service is suppressed (held withdrawn).
    pub suppress: u32,
    /// Below this penalty a suppressed service is announced again (if healthy).
    pub reuse: u32,
    /// The longest a suppression lasts after the last flap.
    #[serde(with = "duration_text")]
    pub max_suppress: Duration,
}

/// One `[[service.check]]`: what to check, and how often to try within the timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckConfig {
    #[serde(flatten)]
    pub spec: CheckSpec,
    /// Attempts per round; the check passes if any of them passes within the timeout.
    pub tries: u32,
    /// Pause between two attempts.
    #[serde(with = "duration_text")]
    pub retry_interval: Duration,
}

impl From<CheckSpec> for CheckConfig {
    /// One attempt per round: the behaviour when `tries` is not written.
    fn from(spec: CheckSpec) -> Self {
        CheckConfig {
            spec,
            tries: 1,
            retry_interval: DEFAULT_RETRY_INTERVAL,
        }
    }
}

/// Pause between attempts when `retry_interval` is not written.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_millis(100);

/// What one check looks at, by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum CheckSpec {
    Exec(ExecSpec),
    Tcp(TcpSpec),
    File(FileSpec),
    Udp(UdpSpec),
    Tftp(TftpSpec),
    Address(AddressSpec),
    Http(Box<HttpSpec>),
    Tls(Box<TlsSpec>),
    Dns(Box<DnsSpec>),
    Icmp(IcmpSpec),
    Cabourotte(CabourotteSpec),
}

impl CheckSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Exec(_) => "exec",
            CheckSpec::Tcp(_) => "tcp",
            CheckSpec::File(_) => "file",
            CheckSpec::Udp(_) => "udp",
            CheckSpec::Tftp(_) => "tftp",
            CheckSpec::Address(_) => "address",
            CheckSpec::Http(_) => "http",
            CheckSpec::Tls(_) => "tls",
            CheckSpec::Dns(_) => "dns",
            CheckSpec::Icmp(_) => "icmp",
            CheckSpec::Cabourotte(_) => "cabourotte",
        }
    }
}

/// Runs a program; exit status 0 passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecSpec {
    pub command: ExecCommand,
    pub shell: bool,
    /// Run as this user (and group) instead of the daemon's (`user`, `group`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub run_as: Option<RunAs>,
}

/// The user (resolved when the configuration is loaded) an exec check runs as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunAs {
    pub user: String,
    /// Unset: the user's primary group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip)]
    pub uid: u32,
    #[serde(skip)]
    pub gid: u32,
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

/// Passes while `path` exists (or, with `absent`, while it does not): a maintenance switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSpec {
    pub path: PathBuf,
    pub absent: bool,
}

/// Sends `payload` to `target` over UDP; passes on a reply (containing `expect`, if set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdpSpec {
    pub target: String,
    pub payload: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
}

/// A TFTP read request (RFC 1350) for `file`; passes when the first data block arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TftpSpec {
    pub target: String,
    pub file: String,
}

/// Passes while `address` is assigned to `interface`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressSpec {
    pub address: std::net::IpAddr,
    /// The service's `interface` when not written.
    pub interface: String,
}

/// An HTTP(S) request whose response must have an expected status (and body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpSpec {
    /// `http://` or `https://`; with `host`, its host is the address to connect to.
    pub url: String,
    pub method: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Accepted statuses (default: 200-299).
    pub status: Vec<StatusRange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// A valid regular expression (checked by validation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_regex: Option<String>,
    /// The name to send (Host header, TLS SNI, certificate name) while connecting to the
    /// URL's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Accept any server certificate.
    pub insecure: bool,
    /// Trust only the CAs in this PEM file instead of the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate chain (PEM) and its key, for servers that ask for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<PathBuf>,
    /// The local address to connect from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<std::net::IpAddr>,
}

/// The latest result of a check that Cabourotte runs, read from its HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CabourotteSpec {
    /// The API's base URL.
    pub url: String,
    /// The check's name in Cabourotte.
    pub name: String,
}

/// Echo requests to a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IcmpSpec {
    /// An address, or a name resolved at each round.
    pub host: String,
    pub count: u32,
    /// Percent of requests that may go unanswered.
    pub max_loss: u32,
    /// The highest acceptable average round trip.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "duration_text::serialize_some"
    )]
    pub max_rtt: Option<Duration>,
}

/// One DNS query to one server (never the system resolver).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsSpec {
    /// The name asked for.
    pub query: String,
    /// The record type, in capitals: "A", "AAAA", "TXT", "SOA", ...
    pub record: String,
    pub server: std::net::SocketAddr,
    pub protocol: DnsProtocol,
    /// Answers that must all be present (addresses, names or texts).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<String>,
    /// The expected response code, in capitals: "NOERROR", "NXDOMAIN", ...
    pub rcode: String,
}

/// Where the `tls` kind gets its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateSource {
    /// A PEM file (the first certificate is the one checked).
    File(PathBuf),
    /// A TLS server at `host:port`, asked with this SNI name (none for an address).
    Server {
        target: String,
        server_name: Option<String>,
    },
}

/// A certificate's expiry and names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    pub source: CertificateSource,
    /// Fail this long before `not_after`.
    pub min_validity: Duration,
    pub common_name: Option<String>,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<std::net::IpAddr>,
    /// The issuer's common name, or its whole distinguished name ("CN=..., O=...").
    pub issuer: Option<String>,
}

/// Written back in the keys a user writes (`file`, or `target` and `server_name`).
impl Serialize for TlsSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        match &self.source {
            CertificateSource::File(path) => map.serialize_entry("file", path)?,
            CertificateSource::Server {
                target,
                server_name,
            } => {
                map.serialize_entry("target", target)?;
                if let Some(name) = server_name {
                    map.serialize_entry("server_name", name)?;
                }
            }
        }
        map.serialize_entry("min_validity", &duration_text::format(self.min_validity))?;
        if let Some(cn) = &self.common_name {
            map.serialize_entry("common_name", cn)?;
        }
        if !self.dns_names.is_empty() {
            map.serialize_entry("dns_names", &self.dns_names)?;
        }
        if !self.ip_addresses.is_empty() {
            map.serialize_entry("ip_addresses", &self.ip_addresses)?;
        }
        if let Some(issuer) = &self.issuer {
            map.serialize_entry("issuer", issuer)?;
        }
        map.end()
    }
}

/// HTTP statuses from `first` to `last`, written "200" or "200-299".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRange {
    pub first: u16,
    pub last: u16,
}

impl StatusRange {
    /// Any 2xx: what `status` means when not written.
    pub const SUCCESS: StatusRange = StatusRange {
        first: 200,
        last: 299,
    };

    pub fn contains(&self, status: u16) -> bool {
        (self.first..=self.last).contains(&status)
    }
}

impl std::str::FromStr for StatusRange {
    type Err = ();
    /// "200", "200-299" or "2xx"; statuses are 100 to 599.
    fn from_str(s: &str) -> Result<Self, ()> {
        let s = s.trim();
        let code = |t: &str| {
            t.trim()
                .parse::<u16>()
                .ok()
                .filter(|c| (100..=599).contains(c))
        };
        let range = if let Some(class) = s.strip_suffix("xx").or(s.strip_suffix("XX")) {
            let c = class
                .parse::<u16>()
                .ok()
                .filter(|c| (1..=5).contains(c))
                .ok_or(())?;
            StatusRange {
                first: c * 100,
                last: c * 100 + 99,
            }
        } else if let Some((a, b)) = s.split_once('-') {
            StatusRange {
                first: code(a).ok_or(())?,
                last: code(b).ok_or(())?,
            }
        } else {
            let c = code(s).ok_or(())?;
            StatusRange { first: c, last: c }
        };
        if range.first > range.last {
            return Err(());
        }
        Ok(range)
    }
}

impl std::fmt::Display for StatusRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl Serialize for StatusRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// `[bgp]`: the built-in BGP speaker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgpSettings {
    pub asn: u32,
    #[serde(serialize_with = "display")]
    pub router_id: std::net::Ipv4Addr,
    /// Proposed hold time (whole seconds; 0 or 3 s to 65535 s).
    #[serde(with = "duration_text")]
    pub hold_time: Duration,
    /// Keepalive interval; unset: a third of the negotiated hold time.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "duration_text::serialize_some"
    )]
    pub keepalive: Option<Duration>,
    /// First delay before connecting again after a failure (it doubles up to 60 s).
    #[serde(with = "duration_text")]
    pub connect_retry: Duration,
    /// Also accept the peers' connections on `listen_port`.
    pub listen: bool,
    pub listen_port: u16,
    /// At exit, routes are re-announced with GRACEFUL_SHUTDOWN for this long before the
    /// withdrawal ("0s": withdraw at once).
    #[serde(with = "duration_text")]
    pub drain_time: Duration,
    /// Announce graceful restart (RFC 4724) with this restart time: after a crash or
    /// SIGKILL the peers keep the routes this long. Unset: off.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "duration_text::serialize_some"
    )]
    pub graceful_restart: Option<Duration>,
    #[serde(rename = "peer")]
    pub peers: Vec<BgpPeer>,
}

/// A family the speaker announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BgpFamily {
    Ipv4,
    Ipv6,
}

/// One `[[bgp.peer]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BgpPeer {
    #[serde(serialize_with = "display")]
    pub address: std::net::IpAddr,
    pub asn: u32,
    /// Local address to connect from, or an interface to bind the session to.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "display_some"
    )]
    pub source: Option<BgpSource>,
    pub port: u16,
    pub passive: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5_password: Option<String>,
    /// TTL of the session's packets.
    pub multihop: u8,
    pub families: Vec<BgpFamily>,
    /// Explicit next hops (at most one per family); empty: "self".
    #[serde(serialize_with = "next_hop_text")]
    pub next_hop: Vec<std::net::IpAddr>,
    /// Offer RFC 8950: IPv4 routes with the IPv6 next hop (over an IPv6 session).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub extended_next_hop: bool,
}

fn display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn display_some<T: std::fmt::Display, S: serde::Serializer>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn next_hop_text<S: serde::Serializer>(v: &[std::net::IpAddr], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    if v.is_empty() {
        return s.serialize_str("self");
    }
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for a in v {
        seq.serialize_element(&a.to_string())?;
    }
    seq.end()
}

/// A community (RFC 1997) written "65000:100".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Community(pub u32);

impl std::fmt::Display for Community {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff)
    }
}

impl Serialize for Community {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A large community (RFC 8092) written "65000:1:1".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LargeCommunity(pub [u32; 3]);

impl std::fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.0[0], self.0[1], self.0[2])
    }
}

impl Serialize for LargeCommunity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `[service.announce]`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AnnounceAttrs {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<Community>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub large_communities: Vec<LargeCommunity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(skip_serializing_if = "is_zero")]
    pub prepend: u8,
    /// `[service.announce.drain]`: the attributes while the service drains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainAttrs>,
}

/// `[service.announce.drain]`: while the service drains (`drain SERVICE`, SIGTERM) its
/// routes carry GRACEFUL_SHUTDOWN 65535:0 and these: communities added to the service's,
/// MED and prepend instead of the service's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DrainAttrs {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<Community>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub large_communities: Vec<LargeCommunity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub med: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prepend: Option<u8>,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

impl AnnounceAttrs {
    pub fn is_empty(&self) -> bool {
        *self == AnnounceAttrs::default()
    }
}

#[cfg(test)]
mod tests {
    use super::StatusRange;

    #[test]
    fn status_ranges() {
        let r = |s: &str| s.parse::<StatusRange>();
        assert_eq!(
            r("200"),
            Ok(StatusRange {
                first: 200,
                last: 200
            })
        );
        assert_eq!(r("200-299"), Ok(StatusRange::SUCCESS));
        assert_eq!(r("2xx"), Ok(StatusRange::SUCCESS));
        assert_eq!(
            r(" 301 - 302 "),
            Ok(StatusRange {
                first: 301,
                last: 302
            })
        );
        for bad in ["", "99", "600", "299-200", "abc", "6xx", "200-", "-1"] {
            assert!(r(bad).is_err(), "{bad}");
        }
        assert!(StatusRange::SUCCESS.contains(204));
        assert!(!StatusRange::SUCCESS.contains(301));
        assert_eq!(StatusRange::SUCCESS.to_string(), "200-299");
        assert_eq!(
            StatusRange {
                first: 404,
                last: 404
            }
            .to_string(),
            "404"
        );
    }
}

/// `source` of a `[[bgp.peer]]`: a local address, or an interface (SO_BINDTODEVICE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BgpSource {
    Address(std::net::IpAddr),
    Interface(String),
}

impl std::fmt::Display for BgpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BgpSource::Address(a) => write!(f, "{a}"),
            BgpSource::Interface(name) => f.write_str(name),
        }
    }
}
