//! Log output: text or JSON lines on stdout (journald keeps them), and optionally a file
//! rotated by size (`log_file`, `log_max_bytes`, `log_backups`) and a remote syslog server
//! over UDP (`log_server`, RFC 5424). The level comes from `RUST_LOG` (default `info`).
//!
//! JSON lines carry the event's fields at the top level: `service`, `prefixes`, `state`,
//! `reason`, `from`, `to` on transitions; `announced`, `added`, `withdrawn` on applies.

pub mod rotate;
pub mod syslog;

use std::sync::Mutex;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{DaemonSettings, LogFormat};

type BoxedLayer<S> = Box<dyn Layer<S> + Send + Sync>;

fn layer<S, W>(format: LogFormat, writer: W, with_time: bool) -> BoxedLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_target(false)
        .with_ansi(false);
    match (format, with_time) {
        (LogFormat::Text, true) => base.boxed(),
        (LogFormat::Text, false) => base.without_time().boxed(),
        (LogFormat::Json, true) => base.json().flatten_event(true).boxed(),
        (LogFormat::Json, false) => base.without_time().json().flatten_event(true).boxed(),
    }
}

/// Sets up logging; a log file or syslog server that cannot be used is reported on
/// stderr and left out (the daemon still logs to stdout).
pub fn init(settings: &DaemonSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = settings.log_format;
    let mut layers: Vec<BoxedLayer<_>> = vec![layer(format, std::io::stdout, true)];
    if let Some(path) = &settings.log_file {
        match rotate::RotatingFile::open(path, settings.log_max_bytes, settings.log_backups) {
            Ok(file) => layers.push(layer(format, Mutex::new(file), true)),
            Err(e) => eprintln!("anycast-warden: cannot log to {}: {e}", path.display()),
        }
    }
    if let Some(server) = &settings.log_server {
        match syslog::Syslog::connect(server) {
            // The syslog header carries the time.
            Ok(syslog) => layers.push(layer(format, syslog, false)),
            Err(e) => eprintln!("anycast-warden: cannot log to syslog server {server}: {e}"),
        }
    }
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
}
