//! The validated services: a service's keys with the defaults applied, its prefixes, and
//! what each of its checks looks at.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;

use super::model_routing::AnnounceAttrs;
use super::values::{DnsProtocol, duration_text};

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
    #[serde(skip_serializing_if = "Option::is_none", with = "duration_text::maybe")]
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
    /// Accept any server certificate. Left out when false: `check` refuses it on an
    /// `http://` URL, so printing it would make print-config's output fail to load.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
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
    #[serde(skip_serializing_if = "Option::is_none", with = "duration_text::maybe")]
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
