//! The warden's configuration as the tests write it: typed builders for the sections of
//! docs/configuration.md, rendered to TOML by the `toml` crate (so nothing is misquoted and
//! a test names only the keys it sets).
//!
//! ```ignore
//! let config = WardenConfig::new(&lab)
//!     .batch_window(ms(100))
//!     .bird(bird.warden_section(true))
//!     .service(
//!         Service::new("dns")
//!             .prefixes(&["203.0.113.53/32"])
//!             .timing(secs(1), ms(500), 1, 1)
//!             .check(Check::tcp("127.0.0.1:53")),
//!     );
//! let warden = lab.start_warden(&config.to_toml());
//! ```
//!
//! Durations are written as humantime text (`200ms`, `1s`), as a person would. A test that
//! means to hand the daemon broken text edits the rendered string and says so.

use std::path::Path;
use std::time::Duration;

use toml::{Table, Value};

use super::Lab;
use super::bird::BirdVariant;
use super::frr::FrrMode;

/// `Duration::from_millis`, short for the many timings of the tests.
pub const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// `Duration::from_secs`.
pub const fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn duration(d: Duration) -> Value {
    Value::String(humantime::format_duration(d).to_string())
}

fn strings(list: &[impl AsRef<str>]) -> Value {
    Value::Array(list.iter().map(|s| Value::from(s.as_ref())).collect())
}

fn path(p: &Path) -> Value {
    Value::String(p.display().to_string())
}

fn text(s: &str) -> Value {
    Value::from(s)
}

/// Setters for the keys of a table type (a newtype of [`Table`]): each takes the key's
/// value as `$arg` and stores `$to_value(value)` under the method's name.
macro_rules! keys {
    ($type:ident { $( $(#[$doc:meta])* $key:ident: $arg:ty => $to_value:expr, )* }) => {
        impl $type {
            $(
                $(#[$doc])*
                pub fn $key(mut self, value: $arg) -> $type {
                    self.0.insert(stringify!($key).into(), $to_value(value));
                    self
                }
            )*
        }
    };
}

/// Appends `item` to the array `key` of `table` (made if missing).
fn push(table: &mut Table, key: &str, item: Value) {
    match table.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(list) => list.push(item),
        other => panic!("{key} is {other:?}, not an array"),
    }
}

/// A table of `(key, value)` pairs.
fn table<const N: usize>(pairs: [(&str, Value); N]) -> Table {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// A whole `warden.toml`, or (from [`WardenConfig::conf_d`]) a file of services for the
/// configuration directory.
#[derive(Debug, Clone, Default)]
pub struct WardenConfig {
    doc: Table,
    services: Vec<Value>,
}

impl WardenConfig {
    /// `[daemon] state_dir` in the lab's tempdir (`state/`).
    pub fn new(lab: &Lab) -> WardenConfig {
        WardenConfig::with_state_dir(&lab.path("state"))
    }

    /// `[daemon] state_dir` where the test wants it.
    pub fn with_state_dir(state_dir: &Path) -> WardenConfig {
        WardenConfig::default().daemon("state_dir", path(state_dir))
    }

    /// Services only, for a file in `conf.d/`.
    pub fn conf_d() -> WardenConfig {
        WardenConfig::default()
    }

    fn daemon(mut self, key: &str, value: Value) -> WardenConfig {
        match self
            .doc
            .entry("daemon")
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(daemon) => daemon.insert(key.into(), value),
            other => panic!("daemon is {other:?}, not a table"),
        };
        self
    }

    fn section(mut self, name: &str, section: Table) -> WardenConfig {
        self.doc.insert(name.into(), Value::Table(section));
        self
    }

    /// `[daemon] batch_window`.
    pub fn batch_window(self, window: Duration) -> WardenConfig {
        self.daemon("batch_window", duration(window))
    }

    /// `[daemon] max_concurrent_exec`.
    pub fn max_concurrent_exec(self, n: u32) -> WardenConfig {
        self.daemon("max_concurrent_exec", Value::from(n))
    }

    /// `[defaults]`.
    pub fn defaults(self, defaults: Defaults) -> WardenConfig {
        self.section("defaults", defaults.0)
    }

    /// `[bird]`: BIRD is the backend.
    pub fn bird(self, section: BirdSection) -> WardenConfig {
        self.section("bird", section.0)
    }

    /// `[frr]`: FRR is the backend.
    pub fn frr(self, section: FrrSection) -> WardenConfig {
        self.section("frr", section.0)
    }

    /// `[bgp]`: the built-in speaker is the backend.
    pub fn bgp(self, section: BgpSection) -> WardenConfig {
        self.section("bgp", section.0)
    }

    /// `[dns]`: DNS failover.
    pub fn dns(self, section: DnsSection) -> WardenConfig {
        self.section("dns", section.0)
    }

    /// One more `[[service]]`.
    pub fn service(mut self, service: Service) -> WardenConfig {
        self.services.push(Value::Table(service.0));
        self
    }

    /// More `[[service]]`s.
    pub fn services(mut self, services: impl IntoIterator<Item = Service>) -> WardenConfig {
        self.services
            .extend(services.into_iter().map(|s| Value::Table(s.0)));
        self
    }

    /// The file's text.
    pub fn to_toml(&self) -> String {
        let mut doc = self.doc.clone();
        if !self.services.is_empty() {
            doc.insert("service".into(), Value::Array(self.services.clone()));
        }
        toml::to_string(&doc).unwrap_or_else(|e| panic!("cannot render the configuration: {e}"))
    }
}

/// The round keys `[defaults]` and `[[service]]` share.
macro_rules! round_keys {
    ($type:ident) => {
        impl $type {
            /// `interval`, `timeout`, `rise` and `fall`: a round every `interval`, each
            /// at most `timeout`, up after `rise` passing rounds, down after `fall` failing.
            pub fn timing(self, interval: Duration, timeout: Duration, rise: u32, fall: u32) -> $type {
                self.interval(interval).timeout(timeout).rise(rise).fall(fall)
            }
        }

        keys!($type {
            /// `interval`: the time between rounds.
            interval: Duration => duration,
            /// `timeout`: the time a round may take.
            timeout: Duration => duration,
            /// `rise`: passing rounds before up.
            rise: u32 => Value::from,
            /// `fall`: failing rounds before down.
            fall: u32 => Value::from,
            /// `ip_check`: hold back a prefix whose address is not on the interface.
            ip_check: bool => Value::from,
        });
    };
}

/// `[defaults]`: what every service inherits.
#[derive(Debug, Clone, Default)]
pub struct Defaults(Table);

impl Defaults {
    pub fn new() -> Defaults {
        Defaults::default()
    }
}

round_keys!(Defaults);
keys!(Defaults {
    /// `interface`: where `ip_check` looks for the service addresses.
    interface: &str => text,
});

/// One `[[service]]`.
#[derive(Debug, Clone)]
pub struct Service(Table);

impl Service {
    pub fn new(name: &str) -> Service {
        Service(table([("name", text(name))]))
    }

    /// `prefixes`, as written (with or without a length).
    pub fn prefixes(mut self, prefixes: &[impl AsRef<str>]) -> Service {
        for p in prefixes {
            push(&mut self.0, "prefixes", text(p.as_ref()));
        }
        self
    }

    /// A prefix of `prefixes` announced in a VRF (`{ prefix, vrf }`, FRR only).
    pub fn prefix_in_vrf(mut self, prefix: &str, vrf: &str) -> Service {
        let entry = table([("prefix", text(prefix)), ("vrf", text(vrf))]);
        push(&mut self.0, "prefixes", Value::Table(entry));
        self
    }

    /// A DNS record of `records` (`{ name, type, value }`).
    pub fn record(mut self, name: &str, kind: &str, value: &str) -> Service {
        let entry = table([
            ("name", text(name)),
            ("type", text(kind)),
            ("value", text(value)),
        ]);
        push(&mut self.0, "records", Value::Table(entry));
        self
    }

    /// One more `[[service.check]]`.
    pub fn check(mut self, check: Check) -> Service {
        push(&mut self.0, "check", Value::Table(check.0));
        self
    }
}

round_keys!(Service);
keys!(Service {
    /// `[service.announce]` (built-in speaker).
    announce: Announce => |a: Announce| Value::Table(a.0),
    /// `dampening`.
    dampening: Dampening => |d: Dampening| Value::Table(table([
        ("half_life", duration(d.half_life)),
        ("suppress", Value::from(d.suppress)),
        ("reuse", Value::from(d.reuse)),
        ("max_suppress", duration(d.max_suppress)),
    ])),
});

/// A `[[service.check]]`.
#[derive(Debug, Clone)]
pub struct Check(Table);

impl Check {
    fn kind(kind: &str, key: &str, value: Value) -> Check {
        Check(table([("kind", text(kind)), (key, value)]))
    }

    /// `exec` of `argv` (no shell).
    pub fn exec(argv: &[impl AsRef<str>]) -> Check {
        Check::kind("exec", "command", strings(argv))
    }

    /// `exec` of `/bin/test -e PATH`: passes while the file exists.
    pub fn exists(file: &Path) -> Check {
        Check::exec(&["/bin/test", "-e", &file.display().to_string()])
    }

    /// `exec` of a shell line (`shell = true`).
    pub fn shell(line: &str) -> Check {
        let mut check = Check::kind("exec", "command", text(line));
        check.0.insert("shell".into(), Value::from(true));
        check
    }

    /// `tcp`: connects to `target` (`host:port`).
    pub fn tcp(target: &str) -> Check {
        Check::kind("tcp", "target", text(target))
    }

    /// `icmp`: echo requests to `host`.
    pub fn icmp(host: &str) -> Check {
        Check::kind("icmp", "host", text(host))
    }

    /// `file`: passes while `path` exists.
    pub fn file(file: &Path) -> Check {
        Check::kind("file", "path", path(file))
    }
}

keys!(Check {
    /// `count`: echo requests per round (`icmp`).
    count: u32 => Value::from,
    /// `absent`: a `file` check that passes while the file does not exist.
    absent: bool => Value::from,
});

/// `[service.announce]`, or its `[service.announce.drain]`: BGP attributes.
#[derive(Debug, Clone, Default)]
pub struct Announce(Table);

impl Announce {
    pub fn new() -> Announce {
        Announce::default()
    }
}

keys!(Announce {
    communities: &[&str] => strings,
    large_communities: &[&str] => strings,
    med: u32 => Value::from,
    prepend: u32 => Value::from,
    /// `[service.announce.drain]`: what the routes carry while they are drained.
    drain: Announce => |a: Announce| Value::Table(a.0),
});

/// A service's `dampening`.
#[derive(Debug, Clone, Copy)]
pub struct Dampening {
    pub half_life: Duration,
    pub suppress: u32,
    pub reuse: u32,
    pub max_suppress: Duration,
}

/// `[bird]`, usually from [`super::bird::Bird::warden_section`].
#[derive(Debug, Clone)]
pub struct BirdSection(Table);

impl BirdSection {
    /// `variant` and `include_file`.
    pub fn new(variant: BirdVariant, include_file: &Path) -> BirdSection {
        let variant = match variant {
            BirdVariant::Bird2 => "bird2",
            BirdVariant::Bird1 => "bird1",
        };
        BirdSection(table([
            ("variant", text(variant)),
            ("include_file", path(include_file)),
        ]))
    }

    /// `dummy_prefix` and `dummy_prefix6` (BIRD 1.6 refuses empty sets).
    pub fn dummy_prefixes(self, v4: &str, v6: &str) -> BirdSection {
        self.dummy_prefix(v4).dummy_prefix6(v6)
    }
}

keys!(BirdSection {
    /// `include_file6` (BIRD 1.6's bird6).
    include_file6: &Path => path,
    dummy_prefix: &str => text,
    dummy_prefix6: &str => text,
    /// `control_socket`: reconfigure through BIRD's socket.
    control_socket: &Path => path,
    /// `control_socket6` (bird6).
    control_socket6: &Path => path,
    /// `reconfigure`: reconfigure by running this command.
    reconfigure: &[String] => strings,
    /// `reconfigure6` (bird6).
    reconfigure6: &[String] => strings,
});

/// `[frr]`, from [`super::frr::Frr::warden_section`].
#[derive(Debug, Clone)]
pub struct FrrSection(Table);

impl FrrSection {
    /// `vtysh`, `vty_socket` and `mode`.
    pub fn new(vtysh: &str, vty_socket: &Path, mode: FrrMode) -> FrrSection {
        FrrSection(table([
            ("vtysh", text(vtysh)),
            ("vty_socket", path(vty_socket)),
            ("mode", text(mode.as_str())),
        ]))
    }
}

keys!(FrrSection {
    /// `verify_interval`: how often the warden compares FRR's state with its own.
    verify_interval: Duration => duration,
    /// `tag` of the warden's static routes.
    tag: u32 => Value::from,
    /// `asn` of the BGP instance.
    asn: u32 => Value::from,
    /// `transport`: `vty` (the default) or `vtysh`.
    transport: &str => text,
});

/// `[bgp]`: the built-in speaker.
#[derive(Debug, Clone)]
pub struct BgpSection(Table);

impl BgpSection {
    /// `asn` and `router_id`.
    pub fn new(asn: u32, router_id: &str) -> BgpSection {
        BgpSection(table([
            ("asn", Value::from(asn)),
            ("router_id", text(router_id)),
        ]))
    }

    /// One more `[[bgp.peer]]`.
    pub fn peer(mut self, peer: Peer) -> BgpSection {
        push(&mut self.0, "peer", Value::Table(peer.0));
        self
    }
}

keys!(BgpSection {
    hold_time: Duration => duration,
    connect_retry: Duration => duration,
    /// `drain_time`: how long routes carry GRACEFUL_SHUTDOWN before the withdrawal.
    drain_time: Duration => duration,
    /// `graceful_restart`: the restart time the speaker advertises.
    graceful_restart: Duration => duration,
    /// `listen`: accept sessions on port 179.
    listen: bool => Value::from,
});

/// A `[[bgp.peer]]`.
#[derive(Debug, Clone)]
pub struct Peer(Table);

impl Peer {
    /// `address` and `asn`.
    pub fn new(address: &str, asn: u32) -> Peer {
        Peer(table([
            ("address", text(address)),
            ("asn", Value::from(asn)),
        ]))
    }
}

keys!(Peer {
    /// `next_hop`: the addresses the routes carry.
    next_hop: &[&str] => strings,
    /// `source`: an address or an interface name to bind the session to.
    source: &str => text,
    /// `passive`: wait for the peer to connect.
    passive: bool => Value::from,
    /// `extended_next_hop` (RFC 8950).
    extended_next_hop: bool => Value::from,
    /// `md5_password` (RFC 2385).
    md5_password: &str => text,
});

/// `[dns]`: DNS failover through RFC 2136 updates.
#[derive(Debug, Clone)]
pub struct DnsSection(Table);

impl DnsSection {
    /// `server`, `zone`, `tsig_key_name` and `tsig_secret_file`.
    pub fn new(server: &str, zone: &str, tsig_key_name: &str, secret_file: &Path) -> DnsSection {
        DnsSection(table([
            ("server", text(server)),
            ("zone", text(zone)),
            ("tsig_key_name", text(tsig_key_name)),
            ("tsig_secret_file", path(secret_file)),
        ]))
    }
}

keys!(DnsSection {
    ttl: Duration => duration,
    verify_interval: Duration => duration,
    /// `dry_run` (the daemon's default is `true`).
    dry_run: bool => Value::from,
    /// `min_records`: the records of a name that are never deleted.
    min_records: u32 => Value::from,
    /// `[dns.agreement]`: monitors agree through etcd before a deletion.
    agreement: DnsAgreement => |a: DnsAgreement| Value::Table(table([
        ("etcd_endpoints", strings(a.etcd_endpoints)),
        ("monitor_id", text(a.monitor_id)),
        ("min_agree", Value::from(a.min_agree)),
        ("lease_ttl", duration(a.lease_ttl)),
    ])),
});

/// `[dns.agreement]`.
#[derive(Debug, Clone, Copy)]
pub struct DnsAgreement<'s> {
    pub etcd_endpoints: &'s [&'s str],
    pub monitor_id: &'s str,
    pub min_agree: u32,
    pub lease_ttl: Duration,
}
