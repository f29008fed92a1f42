//! The configuration as written: serde structs that keep every value's position in the
//! file, so that validation can point at `file:line:col`. Unknown keys are refused here.

use serde::Deserialize;
use serde_spanned::Spanned;

/// The main configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMainFile {
    pub daemon: Option<RawDaemon>,
    pub defaults: Option<RawServiceKeys>,
    pub bird: Option<RawBird>,
    /// Spanned as a whole so "both [bird] and [frr]" can point at the table.
    pub frr: Option<Spanned<RawFrr>>,
    pub control: Option<RawControl>,
    pub metrics: Option<RawMetrics>,
    pub api: Option<RawApi>,
    /// `[bgp]`: the built-in speaker; spanned for the "more than one backend" error.
    pub bgp: Option<Spanned<RawBgp>>,
    /// `[dns]`: DNS failover (services with `records`).
    pub dns: Option<Spanned<RawDns>>,
    #[serde(default)]
    pub service: Vec<Spanned<RawService>>,
}

/// `[dns]`: the primary server that takes RFC 2136 updates, and how.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    pub server: Option<Spanned<String>>,
    pub zone: Option<Spanned<String>>,
    pub tsig_key_name: Option<Spanned<String>>,
    pub tsig_secret_file: Option<Spanned<String>>,
    pub tsig_algorithm: Option<Spanned<String>>,
    pub ttl: Option<Spanned<RawDuration>>,
    pub dry_run: Option<Spanned<bool>>,
    pub min_records: Option<Spanned<i64>>,
    pub protocol: Option<Spanned<String>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub verify_interval: Option<Spanned<RawDuration>>,
    pub agreement: Option<Spanned<RawAgreement>>,
}

/// `[dns.agreement]`: deletions agreed between several wardens through etcd.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgreement {
    pub etcd_endpoints: Option<Spanned<Vec<Spanned<String>>>>,
    pub monitor_id: Option<Spanned<String>>,
    pub min_agree: Option<Spanned<i64>>,
    pub lease_ttl: Option<Spanned<RawDuration>>,
    pub key_prefix: Option<Spanned<String>>,
}

/// One entry of a service's `records`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecord {
    pub name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub rtype: Option<Spanned<String>>,
    pub value: Option<Spanned<String>>,
}

/// `[control]`: the control socket of `status`, `drain`, ...
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawControl {
    pub socket: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
}

/// `[api]`: the HTTP API (the control socket's operations over HTTP).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    pub listen: Option<Spanned<String>>,
    pub token_file: Option<Spanned<String>>,
}

/// `[metrics]`: Prometheus endpoint and node_exporter textfile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    pub listen: Option<Spanned<String>>,
    pub textfile: Option<Spanned<String>>,
    pub textfile_interval: Option<Spanned<RawDuration>>,
}

/// A file in the conf.d directory: services only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceFile {
    #[serde(default)]
    pub service: Vec<Spanned<RawService>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub state_dir: Option<Spanned<String>>,
    pub splay: Option<Spanned<RawDuration>>,
    pub log_format: Option<Spanned<String>>,
    pub batch_window: Option<Spanned<RawDuration>>,
    pub adopt_on_start: Option<Spanned<bool>>,
    pub max_concurrent_exec: Option<Spanned<i64>>,
    pub log_file: Option<Spanned<String>>,
    pub log_max_bytes: Option<Spanned<i64>>,
    pub log_backups: Option<Spanned<i64>>,
    pub log_server: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBird {
    pub variant: Option<Spanned<String>>,
    pub include_file: Option<Spanned<String>>,
    pub include_file6: Option<Spanned<String>>,
    pub set_name: Option<Spanned<String>>,
    pub set_name6: Option<Spanned<String>>,
    pub control_socket: Option<Spanned<String>>,
    pub control_socket6: Option<Spanned<String>>,
    pub reconfigure: Option<Spanned<Vec<String>>>,
    pub reconfigure6: Option<Spanned<Vec<String>>>,
    pub reconfigure_timeout: Option<Spanned<RawDuration>>,
    pub dummy_prefix: Option<Spanned<String>>,
    pub dummy_prefix6: Option<Spanned<String>>,
    pub keep_changes: Option<Spanned<i64>>,
}

/// `[frr]`: drive FRRouting through its vty sockets or vtysh.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFrr {
    pub transport: Option<Spanned<String>>,
    pub vtysh: Option<Spanned<String>>,
    pub vty_socket: Option<Spanned<String>>,
    pub pathspace: Option<Spanned<String>>,
    pub mode: Option<Spanned<String>>,
    pub asn: Option<Spanned<i64>>,
    pub tag: Option<Spanned<i64>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub verify_interval: Option<Spanned<RawDuration>>,
}

/// `[bgp]`: the built-in BGP speaker.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBgp {
    pub asn: Option<Spanned<i64>>,
    pub router_id: Option<Spanned<String>>,
    pub hold_time: Option<Spanned<RawDuration>>,
    pub keepalive: Option<Spanned<RawDuration>>,
    pub connect_retry: Option<Spanned<RawDuration>>,
    pub listen: Option<Spanned<bool>>,
    pub listen_port: Option<Spanned<i64>>,
    pub drain_time: Option<Spanned<RawDuration>>,
    pub graceful_restart: Option<Spanned<RawDuration>>,
    #[serde(default)]
    pub peer: Vec<Spanned<RawBgpPeer>>,
}

/// One `[[bgp.peer]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBgpPeer {
    pub address: Option<Spanned<String>>,
    pub asn: Option<Spanned<i64>>,
    pub source: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub passive: Option<Spanned<bool>>,
    pub md5_password: Option<Spanned<String>>,
    pub multihop: Option<Spanned<i64>>,
    pub families: Option<Spanned<Vec<Spanned<String>>>>,
    pub next_hop: Option<Spanned<RawNextHop>>,
    pub extended_next_hop: Option<Spanned<bool>>,
}

/// `next_hop = "self"`, one address, or a list of addresses (one per family).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawNextHop {
    One(String),
    Many(Vec<String>),
}

/// `[service.announce]`: the attributes of a service's routes (built-in speaker only).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnnounce {
    pub communities: Option<Vec<Spanned<String>>>,
    pub large_communities: Option<Vec<Spanned<String>>>,
    pub med: Option<Spanned<i64>>,
    pub prepend: Option<Spanned<i64>>,
    /// `[service.announce.drain]`
    pub drain: Option<Spanned<RawAnnounceDrain>>,
}

/// `[service.announce.drain]`: what changes while the service drains.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnnounceDrain {
    pub communities: Option<Vec<Spanned<String>>>,
    pub large_communities: Option<Vec<Spanned<String>>>,
    pub med: Option<Spanned<i64>>,
    pub prepend: Option<Spanned<i64>>,
}

/// Keys that a service may set and `[defaults]` may default.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServiceKeys {
    pub interval: Option<Spanned<RawDuration>>,
    pub fast_interval: Option<Spanned<RawDuration>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub rise: Option<Spanned<i64>>,
    pub fall: Option<Spanned<i64>>,
    pub interface: Option<Spanned<String>>,
    pub ip_check: Option<Spanned<bool>>,
    pub disabled: Option<Spanned<bool>>,
    pub on_disabled: Option<Spanned<String>>,
    pub dampening: Option<Spanned<RawDampening>>,
    /// Who exec checks run as, unless a check says otherwise.
    pub user: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
}

/// `dampening = { half_life = "15m", suppress = 2000, reuse = 750, max_suppress = "1h" }`
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDampening {
    /// `enabled = false` turns off a dampening inherited from `[defaults]`.
    pub enabled: Option<Spanned<bool>>,
    pub half_life: Option<Spanned<RawDuration>>,
    pub suppress: Option<Spanned<i64>>,
    pub reuse: Option<Spanned<i64>>,
    pub max_suppress: Option<Spanned<RawDuration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub name: Option<Spanned<String>>,
    pub prefixes: Option<Spanned<Vec<Spanned<RawPrefix>>>>,
    /// DNS records instead of (or beside) prefixes; needs `[dns]`.
    pub records: Option<Spanned<Vec<Spanned<RawRecord>>>>,
    pub interval: Option<Spanned<RawDuration>>,
    pub fast_interval: Option<Spanned<RawDuration>>,
    pub timeout: Option<Spanned<RawDuration>>,
    pub rise: Option<Spanned<i64>>,
    pub fall: Option<Spanned<i64>>,
    pub interface: Option<Spanned<String>>,
    pub ip_check: Option<Spanned<bool>>,
    pub disabled: Option<Spanned<bool>>,
    pub on_disabled: Option<Spanned<String>>,
    pub dampening: Option<Spanned<RawDampening>>,
    pub user: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    #[serde(default)]
    pub check: Vec<Spanned<RawCheck>>,
    pub announce: Option<Spanned<RawAnnounce>>,
}

impl RawService {
    /// The per-service keys, for merging with `[defaults]`.
    pub fn keys(&self) -> RawServiceKeys {
        RawServiceKeys {
            interval: self.interval.clone(),
            fast_interval: self.fast_interval.clone(),
            timeout: self.timeout.clone(),
            rise: self.rise.clone(),
            fall: self.fall.clone(),
            interface: self.interface.clone(),
            ip_check: self.ip_check.clone(),
            disabled: self.disabled.clone(),
            on_disabled: self.on_disabled.clone(),
            dampening: self.dampening.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
        }
    }
}

/// One `[[service.check]]`: the union of every kind's keys, so each keeps its position;
/// validation refuses keys that do not belong to the chosen `kind`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub kind: Option<Spanned<String>>,
    // every kind
    pub tries: Option<Spanned<i64>>,
    pub retry_interval: Option<Spanned<RawDuration>>,
    // exec
    pub command: Option<Spanned<RawCommand>>,
    pub shell: Option<Spanned<bool>>,
    pub user: Option<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    // tcp, udp, tftp, tls
    pub target: Option<Spanned<String>>,
    // file
    pub path: Option<Spanned<String>>,
    pub absent: Option<Spanned<bool>>,
    // udp
    pub payload: Option<Spanned<String>>,
    // udp, dns
    pub expect: Option<Spanned<RawExpect>>,
    // tftp (the remote file), tls (a local PEM file)
    pub file: Option<Spanned<String>>,
    // address
    pub address: Option<Spanned<String>>,
    pub interface: Option<Spanned<String>>,
    // http, cabourotte
    pub url: Option<Spanned<String>>,
    // http
    pub method: Option<Spanned<String>>,
    pub headers: Option<Spanned<std::collections::BTreeMap<String, Spanned<String>>>>,
    pub body: Option<Spanned<String>>,
    pub status: Option<Spanned<RawStatus>>,
    pub body_contains: Option<Spanned<String>>,
    pub body_regex: Option<Spanned<String>>,
    // http (the name to send), icmp (where to send)
    pub host: Option<Spanned<String>>,
    pub insecure: Option<Spanned<bool>>,
    pub ca_file: Option<Spanned<String>>,
    pub client_cert: Option<Spanned<String>>,
    pub client_key: Option<Spanned<String>>,
    pub source: Option<Spanned<String>>,
    // tls
    pub server_name: Option<Spanned<String>>,
    pub min_validity: Option<Spanned<RawDuration>>,
    pub common_name: Option<Spanned<String>>,
    pub dns_names: Option<Spanned<Vec<String>>>,
    pub ip_addresses: Option<Spanned<Vec<String>>>,
    pub issuer: Option<Spanned<String>>,
    // dns
    pub query: Option<Spanned<String>>,
    pub record: Option<Spanned<String>>,
    pub server: Option<Spanned<String>>,
    pub protocol: Option<Spanned<String>>,
    pub rcode: Option<Spanned<String>>,
    // icmp (and `host`, shared with http)
    pub count: Option<Spanned<i64>>,
    pub max_loss: Option<Spanned<i64>>,
    pub max_rtt: Option<Spanned<RawDuration>>,
    // cabourotte
    pub name: Option<Spanned<String>>,
}

/// `status = 200`, `status = "200-299"`, or a list of either.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawStatus {
    One(RawStatusItem),
    Many(Vec<RawStatusItem>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawStatusItem {
    Code(i64),
    Text(String),
}

/// `expect`: one string (udp) or a list of answers (dns).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawExpect {
    One(String),
    Many(Vec<String>),
}

/// A service prefix: `"203.0.113.53/32"`, or `{ prefix = "...", vrf = "..." }`.
///
/// Untagged, so the table's own keys carry no position: validation checks the table's
/// keys itself (a serde error for an untagged enum only says "did not match any variant")
/// and points at the whole entry.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPrefix {
    Plain(String),
    Table(toml::Table),
}

/// `command` is a list of arguments, or with `shell = true` a single line.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawCommand {
    Argv(Vec<String>),
    Line(String),
}

/// A duration as written: `"10s"`; a bare number is kept so validation can say to add a unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawDuration {
    Text(String),
    Number(i64),
}
