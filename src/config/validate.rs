//! Turns the raw, position-keeping form into the validated `Config`, collecting every
//! problem with its place and a suggestion of what to write instead.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_spanned::Spanned;

use super::error::{ConfigError, ConfigErrors, SourceText};
use super::model::*;
use super::raw::*;
use super::values::{duration, valid_target};

/// Built-in values for what neither a service nor `[defaults]` sets.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_RISE: u32 = 2;
pub const DEFAULT_FALL: u32 = 2;
pub const DEFAULT_INTERFACE: &str = "lo";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/anycast-warden";
pub const DEFAULT_INCLUDE_FILE: &str = "/var/lib/anycast-warden/bird/anycast-prefixes.conf";
pub const DEFAULT_INCLUDE_FILE6: &str = "/var/lib/anycast-warden/bird6/anycast-prefixes.conf";
/// Documentation prefixes: never routed in production, so safe as BIRD 1.6's filler.
pub const DEFAULT_DUMMY_PREFIX: &str = "192.0.2.255/32";
pub const DEFAULT_DUMMY_PREFIX6: &str = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128";

pub const DEFAULT_LOG_MAX_BYTES: u64 = 104_857_600;
pub const DEFAULT_LOG_BACKUPS: u32 = 8;
pub const DEFAULT_TEXTFILE_INTERVAL: Duration = Duration::from_secs(10);

const MAX_RISE_FALL: i64 = 1000;

/// Validates a main file and the service files of the conf.d directory.
pub fn validate(
    main_src: &SourceText,
    main: RawMainFile,
    service_files: Vec<(SourceText, RawServiceFile)>,
) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let daemon = validate_daemon(main_src, main.daemon.unwrap_or_default(), &mut errors);
    let has_bird = main.bird.is_some();
    let bird = validate_bird(main_src, main.bird.unwrap_or_default(), &mut errors);
    let frr = main.frr.map(|raw| {
        if has_bird {
            errors.push(
                main_src
                    .error(raw.span(), "the file has both [bird] and [frr]")
                    .with_hint("one routing daemon announces the prefixes: keep the table of the one this host runs and remove the other"),
            );
        }
        validate_frr(main_src, raw.into_inner(), &mut errors)
    });
    let bgp = main.bgp.map(|raw| {
        if has_bird || frr.is_some() {
            errors.push(
                main_src
                    .error(raw.span(), format!("the file has [bgp] and {}", if has_bird { "[bird]" } else { "[frr]" }))
                    .with_hint("one backend announces the prefixes: [bgp] is the built-in speaker for hosts without a routing daemon; keep it or the routing daemon's table, not both"),
            );
        }
        super::bgp::validate_bgp(main_src, raw, &mut errors)
    });
    let has_dns = main.dns.is_some();
    let dns = main
        .dns
        .as_ref()
        .and_then(|raw| super::dns::validate_dns(main_src, raw, &mut errors));
    let vrfs_allowed = frr.is_some();
    let announce_allowed = bgp.is_some();
    // Both tables at once are refused above; this only decides which one counts.
    let routing = match (bgp, frr) {
        (Some(bgp), _) => Routing::Bgp(bgp),
        (None, Some(frr)) => Routing::Frr(frr),
        (None, None) if has_dns && !has_bird => Routing::None,
        (None, None) => Routing::Bird(bird),
    };
    let defaults = validate_defaults(main_src, main.defaults.unwrap_or_default(), &mut errors);
    let control = validate_control(
        main_src,
        main.control.unwrap_or_default(),
        &daemon.state_dir,
        &mut errors,
    );
    let metrics = validate_metrics(main_src, main.metrics.unwrap_or_default(), &mut errors);
    let api = validate_api(main_src, main.api.unwrap_or_default(), &mut errors);

    let mut collected = Collected {
        vrfs_allowed,
        announce_allowed,
        dns: has_dns.then(|| dns.as_ref().map(|d| d.zone.clone())),
        routing: routing.announces(),
        ..Collected::default()
    };
    collected.add(main_src, main.service, &defaults, &mut errors);
    for (src, file) in service_files {
        collected.add(&src, file.service, &defaults, &mut errors);
    }
    let Collected {
        services, owners, ..
    } = collected;
    let dummies = routing.bird().map_or([None, None], |bird| {
        [
            bird.dummy_prefix.map(IpNet::V4),
            bird.dummy_prefix6.map(IpNet::V6),
        ]
    });
    for dummy in dummies.into_iter().flatten() {
        if let Some((service, place)) = owners.get(&dummy) {
            errors.push(
                ConfigError::whole_file(
                    &main_src.path,
                    format!(
                        "dummy prefix {dummy} is also a prefix of service \"{service}\" ({place})"
                    ),
                )
                .with_hint("choose a dummy prefix that no service announces"),
            );
        }
    }

    if errors.is_empty() {
        Ok(Config {
            daemon,
            routing,
            control,
            metrics,
            api,
            dns,
            services,
        })
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Services accepted so far, and who owns which name and prefix.
#[derive(Default)]
struct Collected {
    services: Vec<ServiceConfig>,
    names: HashMap<String, String>,
    /// Keyed by the prefix alone: the announcer deals in prefixes, so one prefix cannot be
    /// announced in two VRFs.
    owners: BTreeMap<IpNet, (String, String)>,
    /// Whether the chosen backend has VRFs (FRR does, BIRD's include file does not).
    vrfs_allowed: bool,
    /// Whether `[service.announce]` means anything (the built-in speaker only).
    announce_allowed: bool,
    /// `Some` when the main file has `[dns]`, with its zone when that is valid.
    dns: Option<Option<crate::dns::Name>>,
    /// Whether anything announces prefixes (false for a DNS-only file).
    routing: bool,
    /// Who owns which DNS record.
    record_owners: BTreeMap<crate::dns::AddressRecord, (String, String)>,
}

impl Collected {
    fn add(
        &mut self,
        src: &SourceText,
        raw_services: Vec<Spanned<RawService>>,
        defaults: &ServiceDefaults,
        errors: &mut Vec<ConfigError>,
    ) {
        for raw in raw_services {
            let span = raw.span();
            let Some(service) = validate_service(
                src,
                span.clone(),
                raw.into_inner(),
                defaults,
                &ServiceScope {
                    vrfs_allowed: self.vrfs_allowed,
                    announce_allowed: self.announce_allowed,
                    dns: self.dns.as_ref(),
                    routing: self.routing,
                },
                errors,
            ) else {
                continue;
            };
            if let Some(first) = self.names.get(&service.name) {
                errors.push(
                    src.error(span, format!("duplicate service name \"{}\"", service.name))
                        .with_hint(format!(
                            "it is first defined at {first}; give each service its own name"
                        )),
                );
                continue;
            }
            self.names
                .insert(service.name.clone(), service.origin.clone());
            for prefix in service.prefixes.iter().map(|p| &p.prefix) {
                if let Some((other, other_place)) = self.owners.get(prefix) {
                    errors.push(
                        src.error(
                            span.clone(),
                            format!(
                                "prefix {prefix} of service \"{}\" is also a prefix of service \"{other}\" ({other_place})",
                                service.name
                            ),
                        )
                        .with_hint("each prefix belongs to one service; a service may have several checks"),
                    );
                } else {
                    self.owners
                        .insert(*prefix, (service.name.clone(), service.origin.clone()));
                }
            }
            for record in &service.records {
                if let Some((other, other_place)) = self.record_owners.get(record) {
                    errors.push(
                        src.error(
                            span.clone(),
                            format!(
                                "record {record} of service \"{}\" is also a record of service \"{other}\" ({other_place})",
                                service.name
                            ),
                        )
                        .with_hint("each record belongs to one service; a service may have several checks"),
                    );
                } else {
                    self.record_owners.insert(
                        record.clone(),
                        (service.name.clone(), service.origin.clone()),
                    );
                }
            }
            self.services.push(service);
        }
    }
}

/// What the main file allows a service to use.
struct ServiceScope<'a> {
    vrfs_allowed: bool,
    announce_allowed: bool,
    /// `Some` when the main file has `[dns]` (with its zone when valid).
    dns: Option<&'a Option<crate::dns::Name>>,
    routing: bool,
}

fn validate_daemon(
    src: &SourceText,
    raw: RawDaemon,
    errors: &mut Vec<ConfigError>,
) -> DaemonSettings {
    let log_format = match raw.log_format.as_ref() {
        None => LogFormat::Text,
        Some(v) => match v.get_ref().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                errors.push(
                    src.error(v.span(), format!("unknown log_format \"{other}\""))
                        .with_hint("write log_format = \"text\" or log_format = \"json\""),
                );
                LogFormat::Text
            }
        },
    };
    DaemonSettings {
        state_dir: raw.state_dir.map_or_else(
            || PathBuf::from(DEFAULT_STATE_DIR),
            |p| PathBuf::from(p.into_inner()),
        ),
        splay: duration(src, "splay", raw.splay.as_ref(), true, errors).unwrap_or_default(),
        log_format,
        batch_window: duration(src, "batch_window", raw.batch_window.as_ref(), true, errors)
            .unwrap_or(Duration::from_millis(25)),
        adopt_on_start: raw.adopt_on_start.is_none_or(Spanned::into_inner),
        max_concurrent_exec: match raw.max_concurrent_exec.as_ref() {
            None => DEFAULT_MAX_CONCURRENT_EXEC,
            Some(v) => match usize::try_from(*v.get_ref()) {
                Ok(n) if (1..=65_536).contains(&n) => n,
                _ => {
                    errors.push(
                        src.error(v.span(), format!("max_concurrent_exec = {} is out of range", v.get_ref()))
                            .with_hint(format!("write a number of processes from 1 to 65536, e.g. max_concurrent_exec = {DEFAULT_MAX_CONCURRENT_EXEC}")),
                    );
                    DEFAULT_MAX_CONCURRENT_EXEC
                }
            },
        },
        log_file: raw.log_file.map(|p| PathBuf::from(p.into_inner())),
        log_max_bytes: positive(src, "log_max_bytes", raw.log_max_bytes.as_ref(), errors)
            .unwrap_or(DEFAULT_LOG_MAX_BYTES),
        log_backups: match raw.log_backups.as_ref() {
            None => DEFAULT_LOG_BACKUPS,
            Some(v) => match u32::try_from(*v.get_ref()) {
                Ok(n) if n <= 1000 => n,
                _ => {
                    errors.push(
                        src.error(v.span(), format!("log_backups = {} is out of range", v.get_ref()))
                            .with_hint("write a number from 0 (no rotated files kept) to 1000"),
                    );
                    DEFAULT_LOG_BACKUPS
                }
            },
        },
        log_server: raw.log_server.and_then(|v| {
            let text = v.get_ref().trim().to_string();
            if valid_target(&text) {
                Some(text)
            } else {
                errors.push(
                    src.error(v.span(), format!("log_server \"{text}\" is not host:port"))
                        .with_hint("write e.g. log_server = \"192.0.2.10:514\" or \"syslog.example.net:514\""),
                );
                None
            }
        }),
    }
}

/// A whole number above zero.
fn positive(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<i64>>,
    errors: &mut Vec<ConfigError>,
) -> Option<u64> {
    let v = v?;
    match u64::try_from(*v.get_ref()) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            errors.push(
                src.error(
                    v.span(),
                    format!("{key} = {} must be above zero", v.get_ref()),
                )
                .with_hint(format!("write e.g. {key} = 104857600 (100 MiB)")),
            );
            None
        }
    }
}

fn validate_control(
    src: &SourceText,
    raw: RawControl,
    state_dir: &std::path::Path,
    errors: &mut Vec<ConfigError>,
) -> ControlSettings {
    let group = raw.group.and_then(|g| {
        let name = g.get_ref().trim().to_string();
        if name.is_empty() {
            errors.push(
                src.error(g.span(), "group is empty")
                    .with_hint("name a group (e.g. group = \"anycast-warden\"), or leave the key out for a socket only the daemon's user can use"),
            );
            None
        } else {
            Some(name)
        }
    });
    ControlSettings {
        socket: raw.socket.map_or_else(
            || state_dir.join(CONTROL_SOCKET_NAME),
            |p| PathBuf::from(p.into_inner()),
        ),
        group,
    }
}

fn validate_api(src: &SourceText, raw: RawApi, errors: &mut Vec<ConfigError>) -> ApiSettings {
    let token_file = raw.token_file.map(|p| {
        let path = PathBuf::from(p.get_ref());
        // Read at start; a missing file would otherwise pass `check` and fail only at `run`.
        if let Err(e) = std::fs::File::open(&path) {
            errors.push(
                src.error(p.span(), format!("token_file {}: {e}", path.display()))
                    .with_hint("create it with e.g. `openssl rand -hex 32 > FILE`, readable by the daemon's user"),
            );
        }
        path
    });
    let listen = raw.listen.and_then(|v| match v.get_ref().trim().parse::<SocketAddr>() {
        Ok(addr) if !addr.ip().is_loopback() && token_file.is_none() => {
            errors.push(
                src.error(v.span(), format!("the API on {addr} (not loopback) needs a token"))
                    .with_hint("set token_file = \"/etc/anycast-warden/api-token\" (a file holding the bearer token), or listen on 127.0.0.1"),
            );
            None
        }
        Ok(addr) => Some(addr),
        Err(_) => {
            errors.push(
                src.error(v.span(), format!("listen = \"{}\" is not an address and port", v.get_ref()))
                    .with_hint("write e.g. listen = \"127.0.0.1:9312\""),
            );
            None
        }
    });
    ApiSettings { listen, token_file }
}

fn validate_metrics(
    src: &SourceText,
    raw: RawMetrics,
    errors: &mut Vec<ConfigError>,
) -> MetricsSettings {
    let listen = raw
        .listen
        .and_then(|v| match v.get_ref().trim().parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                errors.push(
                    src.error(
                        v.span(),
                        format!("listen = \"{}\" is not an address and port", v.get_ref()),
                    )
                    .with_hint("write e.g. listen = \"127.0.0.1:9311\" or \"[::1]:9311\""),
                );
                None
            }
        });
    MetricsSettings {
        listen,
        textfile: raw.textfile.map(|p| PathBuf::from(p.into_inner())),
        textfile_interval: duration(
            src,
            "textfile_interval",
            raw.textfile_interval.as_ref(),
            false,
            errors,
        )
        .unwrap_or(DEFAULT_TEXTFILE_INTERVAL),
    }
}

/// Exec checks running at once unless `max_concurrent_exec` says otherwise.
pub const DEFAULT_MAX_CONCURRENT_EXEC: usize = 256;

fn validate_bird(src: &SourceText, raw: RawBird, errors: &mut Vec<ConfigError>) -> BirdSettings {
    let variant = match raw.variant.as_ref() {
        None => BirdVariant::Bird2,
        Some(v) => match v.get_ref().as_str() {
            "bird2" => BirdVariant::Bird2,
            "bird1" => BirdVariant::Bird1,
            other => {
                errors.push(
                    src.error(v.span(), format!("unknown BIRD variant \"{other}\""))
                        .with_hint("write variant = \"bird2\" (BIRD 2.x) or variant = \"bird1\" (BIRD 1.6: bird and bird6)"),
                );
                BirdVariant::Bird2
            }
        },
    };
    if variant == BirdVariant::Bird2 {
        let v6_only: [(&str, Option<Range<usize>>); 3] = [
            (
                "include_file6",
                raw.include_file6.as_ref().map(Spanned::span),
            ),
            (
                "control_socket6",
                raw.control_socket6.as_ref().map(Spanned::span),
            ),
            ("reconfigure6", raw.reconfigure6.as_ref().map(Spanned::span)),
        ];
        for (key, span) in v6_only {
            if let Some(span) = span {
                errors.push(
                    src.error(span, format!("{key} is only for variant = \"bird1\""))
                        .with_hint("BIRD 2 takes IPv4 and IPv6 from one file and one socket; remove this line"),
                );
            }
        }
    }
    let set_name = symbol(
        src,
        "set_name",
        raw.set_name.as_ref(),
        "ANYCAST_PREFIXES",
        errors,
    );
    let set_name6 = symbol(
        src,
        "set_name6",
        raw.set_name6.as_ref(),
        "ANYCAST6_PREFIXES",
        errors,
    );
    if set_name == set_name6
        && let Some(s) = raw.set_name6.as_ref().or(raw.set_name.as_ref())
    {
        errors.push(
                src.error(s.span(), format!("set_name and set_name6 are both \"{set_name}\""))
                    .with_hint("the IPv4 and IPv6 sets need different names, e.g. ANYCAST_PREFIXES and ANYCAST6_PREFIXES"),
            );
    }
    let reconfigure = command(
        src,
        "reconfigure",
        raw.reconfigure.as_ref(),
        &["birdc", "configure"],
        errors,
    );
    let bird1 = variant == BirdVariant::Bird1;
    let reconfigure6 = bird1.then(|| {
        command(
            src,
            "reconfigure6",
            raw.reconfigure6.as_ref(),
            &["birdc6", "configure"],
            errors,
        )
    });
    let dummy_prefix = match raw.dummy_prefix.as_ref() {
        Some(p) => parse_prefix(src, p, errors).and_then(|net| match net {
            IpNet::V4(n) => Some(n),
            IpNet::V6(_) => {
                errors.push(src.error(p.span(), "dummy_prefix must be an IPv4 prefix").with_hint(
                    format!("put IPv6 prefixes in dummy_prefix6, e.g. dummy_prefix = \"{DEFAULT_DUMMY_PREFIX}\""),
                ));
                None
            }
        }),
        None if bird1 => DEFAULT_DUMMY_PREFIX.parse::<Ipv4Net>().ok(),
        None => None,
    };
    let dummy_prefix6 = match raw.dummy_prefix6.as_ref() {
        Some(p) => parse_prefix(src, p, errors).and_then(|net| match net {
            IpNet::V6(n) => Some(n),
            IpNet::V4(_) => {
                errors.push(src.error(p.span(), "dummy_prefix6 must be an IPv6 prefix").with_hint(
                    format!("put IPv4 prefixes in dummy_prefix, e.g. dummy_prefix6 = \"{DEFAULT_DUMMY_PREFIX6}\""),
                ));
                None
            }
        }),
        None if bird1 => DEFAULT_DUMMY_PREFIX6.parse::<Ipv6Net>().ok(),
        None => None,
    };
    let keep_changes = match raw.keep_changes.as_ref() {
        None => 0,
        Some(k) => match u32::try_from(*k.get_ref()) {
            Ok(n) if n <= 100_000 => n,
            _ => {
                errors.push(
                    src.error(
                        k.span(),
                        format!("keep_changes = {} is out of range", k.get_ref()),
                    )
                    .with_hint(
                        "write a count from 0 (no history) to 100000, e.g. keep_changes = 128",
                    ),
                );
                0
            }
        },
    };
    let reconfigure_timeout = duration(
        src,
        "reconfigure_timeout",
        raw.reconfigure_timeout.as_ref(),
        false,
        errors,
    )
    .unwrap_or(Duration::from_secs(5));
    let include_file = raw.include_file.map_or_else(
        || PathBuf::from(DEFAULT_INCLUDE_FILE),
        |p| PathBuf::from(p.into_inner()),
    );
    let include_file6 = bird1.then(|| {
        raw.include_file6.as_ref().map_or_else(
            || PathBuf::from(DEFAULT_INCLUDE_FILE6),
            |p| PathBuf::from(p.get_ref()),
        )
    });
    if include_file6.as_ref() == Some(&include_file) {
        errors.push(
            ConfigError::whole_file(
                &src.path,
                "include_file and include_file6 are the same file",
            )
            .with_hint("bird and bird6 each need their own include file, e.g. in two directories"),
        );
    }
    BirdSettings {
        variant,
        include_file,
        include_file6,
        set_name,
        set_name6,
        control_socket: raw.control_socket.map(|p| PathBuf::from(p.into_inner())),
        control_socket6: if bird1 {
            raw.control_socket6.map(|p| PathBuf::from(p.into_inner()))
        } else {
            None
        },
        reconfigure,
        reconfigure6,
        reconfigure_timeout,
        dummy_prefix,
        dummy_prefix6,
        keep_changes,
    }
}

/// The tag marking the warden's static routes unless `tag` says otherwise.
pub const DEFAULT_FRR_TAG: u32 = 4711;
pub const DEFAULT_VTYSH: &str = "/usr/bin/vtysh";

fn validate_frr(src: &SourceText, raw: RawFrr, errors: &mut Vec<ConfigError>) -> FrrSettings {
    let transport = match raw.transport.as_ref() {
        None => FrrTransport::Vty,
        Some(v) => match v.get_ref().as_str() {
            "vty" => FrrTransport::Vty,
            "vtysh" => FrrTransport::Vtysh,
            other => {
                errors.push(
                    src.error(v.span(), format!("unknown FRR transport \"{other}\""))
                        .with_hint("write transport = \"vty\" (FRR's vty sockets, the default and fastest) or transport = \"vtysh\" (one vtysh process per apply)"),
                );
                FrrTransport::Vty
            }
        },
    };
    let mode = match raw.mode.as_ref() {
        None => FrrMode::Network,
        Some(v) => match v.get_ref().as_str() {
            "network" => FrrMode::Network,
            "static" => FrrMode::Static,
            other => {
                errors.push(
                    src.error(v.span(), format!("unknown FRR mode \"{other}\""))
                        .with_hint("write mode = \"network\" (network statements, for addresses on lo) or mode = \"static\" (tagged static routes for `redistribute static`)"),
                );
                FrrMode::Network
            }
        },
    };
    let asn = raw.asn.as_ref().and_then(|v| match u32::try_from(*v.get_ref()) {
        Ok(n) if n > 0 => Some(n),
        _ => {
            errors.push(
                src.error(v.span(), format!("asn = {} is not an AS number", v.get_ref()))
                    .with_hint("write the AS of `router bgp` in frr.conf (1 to 4294967295), e.g. asn = 65001, or leave it out to read it from FRR"),
            );
            None
        }
    });
    let tag = match raw.tag.as_ref() {
        None => DEFAULT_FRR_TAG,
        Some(v) => match u32::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => n,
            _ => {
                errors.push(
                    src.error(v.span(), format!("tag = {} is out of range", v.get_ref()))
                        .with_hint(format!("write a route tag from 1 to 4294967295 that no hand-made route uses, e.g. tag = {DEFAULT_FRR_TAG}")),
                );
                DEFAULT_FRR_TAG
            }
        },
    };
    let pathspace = raw.pathspace.as_ref().map(|v| {
        let name = v.get_ref();
        // vtysh puts it into a path: no separators, no leading dash (an option).
        let ok = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('-')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && name != "."
            && name != "..";
        if !ok {
            errors.push(
                src.error(v.span(), format!("\"{name}\" is not an FRR path space name"))
                    .with_hint("write the name FRR was started with (-N NAME): letters, digits, '.', '_' or '-'"),
            );
        }
        name.clone()
    });
    if let (Some(_), Some(p)) = (raw.vty_socket.as_ref(), raw.pathspace.as_ref()) {
        errors.push(
            src.error(p.span(), "pathspace and vty_socket are both set")
                .with_hint("vtysh then looks for the sockets in VTY_SOCKET/PATHSPACE/; set only vty_socket (the directory the daemons were given with --vty_socket)"),
        );
    }
    let vtysh = match raw.vtysh.as_ref() {
        None => PathBuf::from(DEFAULT_VTYSH),
        Some(v) if v.get_ref().trim().is_empty() => {
            errors.push(
                src.error(v.span(), "vtysh is empty")
                    .with_hint(format!("write vtysh = \"{DEFAULT_VTYSH}\"")),
            );
            PathBuf::from(DEFAULT_VTYSH)
        }
        Some(v) => PathBuf::from(v.get_ref()),
    };
    FrrSettings {
        transport,
        vtysh,
        vty_socket: raw.vty_socket.map(|p| PathBuf::from(p.into_inner())),
        pathspace,
        mode,
        asn,
        tag,
        timeout: duration(src, "timeout", raw.timeout.as_ref(), false, errors)
            .unwrap_or(Duration::from_secs(5)),
        verify_interval: duration(
            src,
            "verify_interval",
            raw.verify_interval.as_ref(),
            true,
            errors,
        )
        .unwrap_or(Duration::from_secs(10)),
    }
}

/// `[defaults]` resolved against the built-in defaults.
#[derive(Debug, Clone)]
struct ServiceDefaults {
    interval: Duration,
    fast_interval: Option<Duration>,
    timeout: Duration,
    rise: u32,
    fall: u32,
    interface: String,
    ip_check: bool,
    disabled: bool,
    on_disabled: OnDisabled,
    dampening: Option<DampeningConfig>,
    /// Who exec checks run as (`user`, `group`), unless a check names its own.
    run_as: Option<RunAs>,
}

fn validate_defaults(
    src: &SourceText,
    raw: RawServiceKeys,
    errors: &mut Vec<ConfigError>,
) -> ServiceDefaults {
    let builtin = ServiceDefaults {
        interval: DEFAULT_INTERVAL,
        fast_interval: None,
        timeout: DEFAULT_TIMEOUT,
        rise: DEFAULT_RISE,
        fall: DEFAULT_FALL,
        interface: DEFAULT_INTERFACE.to_string(),
        ip_check: true,
        disabled: false,
        on_disabled: OnDisabled::Withdraw,
        dampening: None,
        run_as: None,
    };
    service_keys(src, &raw, &builtin, errors)
}

fn service_keys(
    src: &SourceText,
    raw: &RawServiceKeys,
    base: &ServiceDefaults,
    errors: &mut Vec<ConfigError>,
) -> ServiceDefaults {
    let count = |key: &str, v: Option<&Spanned<i64>>, base: u32, errors: &mut Vec<ConfigError>| {
        match v {
            None => base,
            Some(v) => match *v.get_ref() {
                n @ 1..=MAX_RISE_FALL => n as u32,
                n => {
                    errors.push(
                    src.error(v.span(), format!("{key} = {n} is out of range"))
                        .with_hint(format!("write {key} = 1 or more (at most {MAX_RISE_FALL}): the number of consecutive results needed")),
                );
                    base
                }
            },
        }
    };
    let on_disabled = match raw.on_disabled.as_ref() {
        None => base.on_disabled,
        Some(v) => match v.get_ref().as_str() {
            "withdraw" => OnDisabled::Withdraw,
            "advertise" => OnDisabled::Advertise,
            other => {
                errors.push(
                    src.error(v.span(), format!("unknown on_disabled \"{other}\""))
                        .with_hint(
                            "write on_disabled = \"withdraw\" or on_disabled = \"advertise\"",
                        ),
                );
                base.on_disabled
            }
        },
    };
    let interface = match raw.interface.as_ref() {
        None => base.interface.clone(),
        Some(v) => {
            let name = v.get_ref();
            if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                errors.push(
                    src.error(v.span(), format!("\"{name}\" is not an interface name"))
                        .with_hint("write the name as `ip link` shows it, e.g. interface = \"lo\""),
                );
            }
            name.clone()
        }
    };
    ServiceDefaults {
        interval: duration(src, "interval", raw.interval.as_ref(), false, errors)
            .unwrap_or(base.interval),
        fast_interval: match raw.fast_interval.as_ref() {
            None => base.fast_interval,
            Some(_) => duration(
                src,
                "fast_interval",
                raw.fast_interval.as_ref(),
                false,
                errors,
            ),
        },
        timeout: duration(src, "timeout", raw.timeout.as_ref(), false, errors)
            .unwrap_or(base.timeout),
        rise: count("rise", raw.rise.as_ref(), base.rise, errors),
        fall: count("fall", raw.fall.as_ref(), base.fall, errors),
        interface,
        ip_check: raw
            .ip_check
            .as_ref()
            .map_or(base.ip_check, |v| *v.get_ref()),
        disabled: raw
            .disabled
            .as_ref()
            .map_or(base.disabled, |v| *v.get_ref()),
        on_disabled,
        dampening: super::dampening::validate_dampening(
            src,
            raw.dampening.as_ref(),
            base.dampening,
            errors,
        ),
        // The pair is inherited whole: a level that names a user decides the group too.
        run_as: match super::check::run_as(src, raw.user.as_ref(), raw.group.as_ref(), errors) {
            Ok(Some(own)) => Some(own),
            Ok(None) | Err(()) => base.run_as.clone(),
        },
    }
}

fn validate_service(
    src: &SourceText,
    span: Range<usize>,
    raw: RawService,
    defaults: &ServiceDefaults,
    scope: &ServiceScope<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<ServiceConfig> {
    let vrfs_allowed = scope.vrfs_allowed;
    let announce_allowed = scope.announce_allowed;
    let before = errors.len();
    let name = match raw.name.as_ref() {
        None => {
            errors.push(
                src.error(span.clone(), "service has no name")
                    .with_hint("add name = \"dns\" (letters, digits, '.', '_' and '-')"),
            );
            String::new()
        }
        Some(n) => {
            let name = n.get_ref();
            let ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
            if !ok {
                errors.push(
                    src.error(n.span(), format!("\"{name}\" is not a valid service name"))
                        .with_hint("use 1 to 64 letters, digits, '.', '_' or '-', e.g. name = \"dns-resolver\""),
                );
            }
            name.clone()
        }
    };
    let keys = service_keys(src, &raw.keys(), defaults, errors);
    let mut prefixes: Vec<ServicePrefix> = Vec::new();
    let records = raw.records.as_ref().map_or_else(Vec::new, |list| {
        super::dns::validate_records(
            src,
            list,
            scope.dns.and_then(Option::as_ref),
            scope.dns.is_some(),
            errors,
        )
    });
    if let Some(list) = raw.prefixes.as_ref()
        && !scope.routing
    {
        errors.push(
            src.error(list.span(), format!("service \"{name}\" has prefixes, but no backend announces them"))
                .with_hint("this file has [dns] only: add [bird], [frr] or [bgp] for the prefixes, or use records = [...] instead"),
        );
    }
    match raw.prefixes.as_ref() {
        None if raw.records.is_some() => {}
        None => errors.push(
            src.error(span.clone(), format!("service \"{name}\" has no prefixes"))
                .with_hint(
                    "add prefixes = [\"203.0.113.53/32\"] (a bare address means /32 or /128), or with [dns] records = [{ name = \"www.example.net.\", type = \"A\", value = \"198.51.100.10\" }]",
                ),
        ),
        Some(list) if list.get_ref().is_empty() => errors.push(
            src.error(
                list.span(),
                format!("service \"{name}\" has an empty prefixes list"),
            )
            .with_hint("list at least one prefix, e.g. prefixes = [\"203.0.113.53/32\"]"),
        ),
        Some(list) => {
            for p in list.get_ref() {
                if let Some(entry) = service_prefix(src, p, vrfs_allowed, errors) {
                    if prefixes.iter().any(|q| q.prefix == entry.prefix) {
                        errors.push(
                            src.error(p.span(), format!("prefix {} is listed twice", entry.prefix))
                                .with_hint(
                                    "remove the second one (a prefix is announced in one VRF)",
                                ),
                        );
                    } else {
                        prefixes.push(entry);
                    }
                }
            }
        }
    }
    if let Some(fast) = keys.fast_interval
        && fast > keys.interval
    {
        let at = raw
            .fast_interval
            .as_ref()
            .map_or(span.clone(), Spanned::span);
        errors.push(
                src.error(
                    at,
                    format!(
                        "fast_interval ({}) is longer than interval ({})",
                        duration_text::format(fast),
                        duration_text::format(keys.interval)
                    ),
                )
                .with_hint("fast_interval is the quicker pace used to confirm a change; make it shorter than interval"),
            );
    }
    let announce =
        super::bgp::validate_announce(src, raw.announce.as_ref(), announce_allowed, errors);
    let mut checks = Vec::new();
    for check in raw.check {
        let check_span = check.span();
        let service = super::check::ServiceContext {
            timeout: keys.timeout,
            interface: &keys.interface,
            run_as: keys.run_as.as_ref(),
        };
        if let Some(spec) =
            super::check::validate_check(src, check_span, check.into_inner(), &service, errors)
        {
            checks.push(spec);
        }
    }
    if checks.is_empty() && errors.len() == before && !keys.disabled {
        errors.push(
            src.error(span.clone(), format!("service \"{name}\" has no checks"))
                .with_hint("add a check, e.g.\n    [[service.check]]\n    kind = \"tcp\"\n    target = \"127.0.0.1:53\""),
        );
    }
    // The configuration lives as long as the daemon, once per service: drop the room
    // that growing the vectors left (three unused checks of about 120 bytes each).
    prefixes.shrink_to_fit();
    checks.shrink_to_fit();
    (errors.len() == before).then(|| ServiceConfig {
        name,
        prefixes,
        records,
        interval: keys.interval,
        fast_interval: keys.fast_interval,
        timeout: keys.timeout,
        rise: keys.rise,
        fall: keys.fall,
        interface: keys.interface,
        ip_check: keys.ip_check,
        disabled: keys.disabled,
        on_disabled: keys.on_disabled,
        dampening: keys.dampening,
        checks,
        announce,
        origin: src.place(span),
    })
}

/// One entry of `prefixes`: a string, or a table with `prefix` and an optional `vrf`.
fn service_prefix(
    src: &SourceText,
    p: &Spanned<RawPrefix>,
    vrfs_allowed: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<ServicePrefix> {
    let table = match p.get_ref() {
        RawPrefix::Plain(text) => {
            return prefix_text(src, p.span(), text, errors).map(ServicePrefix::from);
        }
        RawPrefix::Table(table) => table,
    };
    const EXAMPLE: &str = "{ prefix = \"203.0.113.123/32\", vrf = \"blue\" }";
    let before = errors.len();
    for key in table
        .keys()
        .filter(|k| !matches!(k.as_str(), "prefix" | "vrf"))
    {
        errors.push(
            src.error(p.span(), format!("unknown key `{key}` in a prefix table"))
                .with_hint(format!(
                    "a prefix table has `prefix` and optionally `vrf`: {EXAMPLE}"
                )),
        );
    }
    let text = match table.get("prefix") {
        Some(toml::Value::String(text)) => Some(text.as_str()),
        Some(_) => {
            errors.push(
                src.error(p.span(), "`prefix` must be a string")
                    .with_hint(format!("write {EXAMPLE}")),
            );
            None
        }
        None => {
            errors.push(
                src.error(p.span(), "prefix table has no `prefix`")
                    .with_hint(format!("write {EXAMPLE}")),
            );
            None
        }
    };
    let vrf = match table.get("vrf") {
        None => None,
        Some(toml::Value::String(name)) if name == "default" => None,
        Some(toml::Value::String(name)) if valid_vrf_name(name) => {
            if !vrfs_allowed {
                errors.push(
                    src.error(p.span(), format!("prefix in VRF \"{name}\", but BIRD's include file has no VRFs"))
                        .with_hint("VRFs need the FRR backend ([frr] in the main file); with BIRD, write the prefix as a plain string and export it from the VRF's protocol in bird.conf"),
                );
            }
            Some(name.clone())
        }
        Some(toml::Value::String(name)) => {
            errors.push(
                src.error(p.span(), format!("\"{name}\" is not a VRF name"))
                    .with_hint("write the VRF's name as `ip link` shows it: 1 to 15 letters, digits, '.', '_' or '-', e.g. vrf = \"blue\""),
            );
            None
        }
        Some(_) => {
            errors.push(
                src.error(p.span(), "`vrf` must be a string")
                    .with_hint(format!("write {EXAMPLE}")),
            );
            None
        }
    };
    let prefix = prefix_text(src, p.span(), text?, errors)?;
    (errors.len() == before).then_some(ServicePrefix { prefix, vrf })
}

/// A VRF name that is safe on a vtysh command line: a Linux interface name (at most 15
/// bytes) made of characters that need no quoting.
pub fn valid_vrf_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('-')
}

/// A prefix or a bare address (then /32 or /128); host bits must be zero.
fn parse_prefix(
    src: &SourceText,
    p: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<IpNet> {
    prefix_text(src, p.span(), p.get_ref(), errors)
}

fn prefix_text(
    src: &SourceText,
    span: Range<usize>,
    text: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<IpNet> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Some(IpNet::from(addr));
    }
    match text.parse::<IpNet>() {
        Ok(net) if net.trunc() == net => Some(net),
        Ok(net) => {
            errors.push(
                src.error(span, format!("prefix {net} has host bits set"))
                    .with_hint(format!(
                        "write \"{}\" for the network, or \"{}\" for the one address",
                        net.trunc(),
                        IpNet::from(net.addr())
                    )),
            );
            None
        }
        Err(_) => {
            errors.push(
                src.error(span, format!("\"{text}\" is not an IP prefix"))
                    .with_hint(
                        "write an address or a prefix, e.g. \"203.0.113.53/32\", \"2001:db8::53\"",
                    ),
            );
            None
        }
    }
}

/// A BIRD symbol name for a prefix set.
fn symbol(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<String>>,
    default: &str,
    errors: &mut Vec<ConfigError>,
) -> String {
    let Some(v) = v else {
        return default.to_string();
    };
    let name = v.get_ref();
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        errors.push(
            src.error(v.span(), format!("\"{name}\" is not a BIRD symbol name"))
                .with_hint(format!("use letters, digits and '_', starting with a letter, e.g. {key} = \"{default}\"")),
        );
    }
    name.clone()
}

fn command(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<Vec<String>>>,
    default: &[&str],
    errors: &mut Vec<ConfigError>,
) -> Vec<String> {
    match v {
        None => default.iter().map(|s| s.to_string()).collect(),
        Some(v) if v.get_ref().first().is_none_or(String::is_empty) => {
            errors.push(
                src.error(v.span(), format!("{key} is empty"))
                    .with_hint(format!(
                        "write {key} = [{}]",
                        default
                            .iter()
                            .map(|s| format!("\"{s}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
            );
            default.iter().map(|s| s.to_string()).collect()
        }
        Some(v) => v.get_ref().clone(),
    }
}
