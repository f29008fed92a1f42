//! Log output: text (logfmt fields, `logfmt.rs`) or JSON lines on stdout, and optionally a file
//! rotated by size (`log_file`, `log_max_bytes`, `log_backups`) and a remote syslog server
//! over UDP (`log_server`, RFC 5424). The level comes from `RUST_LOG` (default `info`).
//! When `JOURNAL_STREAM` says stdout is journald, stdout's lines start with their
//! sd-daemon priority and carry no time, so `journalctl -p warning` finds the warnings.
//!
//! JSON lines carry the event's fields at the top level: `service`, `prefixes`, `state`,
//! `reason`, `from`, `to` on transitions; `announced`, `added`, `withdrawn` on applies.

pub mod logfmt;
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

/// The fmt layer over `writer` with `fields` and `$format`: timed, untimed, or under
/// journald (priority first, no time). A macro, as each arm has its own layer type.
macro_rules! fmt_layer {
    ($writer:expr, $fields:expr, $format:expr, $with_time:expr, $journald:expr) => {{
        let base = tracing_subscriber::fmt::layer()
            .with_writer($writer)
            .with_target(false)
            .with_ansi(false)
            .fmt_fields($fields);
        let format = $format;
        match ($with_time, $journald) {
            (_, true) => base
                .event_format(logfmt::Journald(format.without_time()))
                .boxed(),
            (true, false) => base.event_format(format).boxed(),
            (false, false) => base.event_format(format.without_time()).boxed(),
        }
    }};
}

/// Text lines: tracing's layout with logfmt fields.
fn text_layer<S, W>(writer: W, with_time: bool, journald: bool) -> BoxedLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let format = tracing_subscriber::fmt::format()
        .with_target(false)
        .with_ansi(false);
    fmt_layer!(writer, logfmt::LogfmtFields, format, with_time, journald)
}

fn layer<S, W>(format: LogFormat, writer: W, with_time: bool, journald: bool) -> BoxedLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => text_layer(writer, with_time, journald),
        LogFormat::Json => fmt_layer!(
            writer,
            tracing_subscriber::fmt::format::JsonFields::new(),
            tracing_subscriber::fmt::format().json().flatten_event(true),
            with_time,
            journald
        ),
    }
}

/// Sets up logging; a log file or syslog server that cannot be used is reported on
/// stderr and left out (the daemon still logs to stdout).
pub fn init(settings: &DaemonSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let format = settings.log_format;
    // journald keeps each line's time and reads its priority from a `<N>` prefix.
    let journald = logfmt::stdout_is_journal(std::env::var("JOURNAL_STREAM").ok().as_deref());
    let mut layers: Vec<BoxedLayer<_>> = vec![layer(format, std::io::stdout, true, journald)];
    if let Some(path) = &settings.log_file {
        match rotate::RotatingFile::open(path, settings.log_max_bytes, settings.log_backups) {
            Ok(file) => layers.push(layer(format, Mutex::new(file), true, false)),
            Err(e) => eprintln!("anycast-warden: cannot log to {}: {e}", path.display()),
        }
    }
    if let Some(server) = &settings.log_server {
        match syslog::Syslog::connect(server) {
            // The syslog header carries the time.
            Ok(syslog) => layers.push(layer(format, syslog, false, false)),
            Err(e) => eprintln!("anycast-warden: cannot log to syslog server {server}: {e}"),
        }
    }
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
}
