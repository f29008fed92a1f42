//! Turns the raw, position-keeping form into the validated `Config`, collecting every
//! problem with its place and a suggestion of what to write instead. This file holds the
//! whole and the daemon's own tables (`[daemon]`, `[control]`, `[api]`, `[metrics]`); the
//! routing tables are validated in `routing.rs` (and `bgp.rs`), `[dns]` in `dns.rs`, and
//! the services in `service.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_spanned::Spanned;

use super::error::{ConfigError, ConfigErrors, SourceText};
use super::model::*;
use super::raw::*;
use super::service::{Collected, ServiceScope};
use super::values::{Words, duration, number, valid_target};

// Where these were defined before the split, for the code outside config/ that names them.
pub use super::routing::{
    DEFAULT_DUMMY_PREFIX, DEFAULT_DUMMY_PREFIX6, DEFAULT_FRR_TAG, DEFAULT_INCLUDE_FILE,
    DEFAULT_INCLUDE_FILE6, DEFAULT_VTYSH,
};
pub use super::service::{
    DEFAULT_FALL, DEFAULT_INTERFACE, DEFAULT_INTERVAL, DEFAULT_RISE, DEFAULT_TIMEOUT,
    valid_vrf_name,
};

pub const DEFAULT_STATE_DIR: &str = "/var/lib/anycast-warden";
pub const DEFAULT_LOG_MAX_BYTES: u64 = 104_857_600;
pub const DEFAULT_LOG_BACKUPS: u32 = 8;
pub const DEFAULT_TEXTFILE_INTERVAL: Duration = Duration::from_secs(10);

/// Validates a main file and the service files of the conf.d directory.
pub fn validate(
    main_src: &SourceText,
    main: RawMainFile,
    service_files: Vec<(SourceText, RawServiceFile)>,
) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let daemon = validate_daemon(main_src, main.daemon.unwrap_or_default(), &mut errors);
    let has_dns = main.dns.is_some();
    let backend = super::routing::validate_routing(
        main_src,
        main.bird,
        main.frr,
        main.bgp,
        has_dns,
        &mut errors,
    );
    let dns = main
        .dns
        .as_ref()
        .and_then(|raw| super::dns::validate_dns(main_src, raw, &mut errors));
    let defaults =
        super::service::validate_defaults(main_src, main.defaults.unwrap_or_default(), &mut errors);
    let control = validate_control(
        main_src,
        main.control.unwrap_or_default(),
        &daemon.state_dir,
        &mut errors,
    );
    let metrics = validate_metrics(main_src, main.metrics.unwrap_or_default(), &mut errors);
    let api = validate_api(main_src, main.api.unwrap_or_default(), &mut errors);

    let mut collected = Collected::new(ServiceScope {
        vrfs_allowed: backend.vrfs_allowed,
        announce_allowed: backend.announce_allowed,
        dns: has_dns.then(|| dns.as_ref().map(|d| d.zone.clone())),
        routing: backend.routing.announces(),
    });
    collected.add(main_src, main.service, &defaults, &mut errors);
    for (src, file) in service_files {
        collected.add(&src, file.service, &defaults, &mut errors);
    }
    let routing = backend.routing;
    super::routing::dummy_prefixes_unowned(main_src, &routing, &collected.owners, &mut errors);

    if errors.is_empty() {
        Ok(Config {
            daemon,
            routing,
            control,
            metrics,
            api,
            dns,
            services: collected.services,
        })
    } else {
        Err(ConfigErrors(errors))
    }
}

const LOG_FORMATS: Words<LogFormat> = Words {
    what: "log_format",
    words: &[("text", LogFormat::Text), ("json", LogFormat::Json)],
    hint: "write log_format = \"text\" or log_format = \"json\"",
};

fn validate_daemon(
    src: &SourceText,
    raw: RawDaemon,
    errors: &mut Vec<ConfigError>,
) -> DaemonSettings {
    let log_format = LOG_FORMATS.read(src, raw.log_format.as_ref(), LogFormat::Text, errors);
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
        max_concurrent_exec: number(
            src,
            "max_concurrent_exec",
            raw.max_concurrent_exec.as_ref(),
            1..=65_536,
            DEFAULT_MAX_CONCURRENT_EXEC as i64,
            &format!("write a number of processes from 1 to 65536, e.g. max_concurrent_exec = {DEFAULT_MAX_CONCURRENT_EXEC}"),
            errors,
        ) as usize,
        log_file: raw.log_file.map(|p| PathBuf::from(p.into_inner())),
        log_max_bytes: positive(src, "log_max_bytes", raw.log_max_bytes.as_ref(), errors)
            .unwrap_or(DEFAULT_LOG_MAX_BYTES),
        log_backups: number(
            src,
            "log_backups",
            raw.log_backups.as_ref(),
            0..=1000,
            i64::from(DEFAULT_LOG_BACKUPS),
            "write a number from 0 (no rotated files kept) to 1000",
            errors,
        ) as u32,
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
