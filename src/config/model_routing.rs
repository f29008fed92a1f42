//! The validated routing side: which backend announces the prefixes (`Routing`), the
//! settings of BIRD, FRR and the built-in BGP speaker, and the attributes of a service's
//! routes (`[service.announce]`).

use std::path::PathBuf;
use std::time::Duration;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::Serialize;

use super::values::duration_text;

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
    #[serde(skip_serializing_if = "Option::is_none", with = "duration_text::maybe")]
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
    #[serde(skip_serializing_if = "Option::is_none", with = "duration_text::maybe")]
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
