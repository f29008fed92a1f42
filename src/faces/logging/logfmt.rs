//! The text form of log lines: tracing's layout (time, level, message) with the fields as
//! logfmt (`key=value`, a value quoted when it holds a space, `=`, `"` or nothing, with `"`
//! and `\` escaped), so `added="203.0.113.1/32 203.0.113.2/32"` reads back as one value.
//! Under journald, a line starts with its sd-daemon priority (`<3>` error, `<4>` warning,
//! `<6>` info, `<7>` debug) and carries no time of its own: journald keeps both.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats an event's fields as logfmt; the message comes first, as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogfmtFields;

impl<'writer> FormatFields<'writer> for LogfmtFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'a> {
    writer: Writer<'a>,
    result: fmt::Result,
    first: bool,
}

impl Visitor<'_> {
    fn field(&mut self, name: &str, value: &str) {
        if self.result.is_err() {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = if name == "message" {
            write!(self.writer, "{separator}{value}")
        } else {
            write!(self.writer, "{separator}{name}={}", quote(value))
        };
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.field(field.name(), &text);
    }
}

/// A logfmt value: as it is when it needs no quotes, else quoted with `"`, `\` and line
/// breaks escaped.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || c.is_control());
    if plain {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The sd-daemon(3) priority of a level.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Puts an event's sd-daemon priority in front of what `inner` writes.
pub struct Journald<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for Journald<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'w> FormatFields<'w> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Whether stdout is the journald stream systemd connected: `JOURNAL_STREAM` names its
/// device and inode (systemd.exec(5)); a redirected stdout has others.
pub fn stdout_is_journal(journal_stream: Option<&str>) -> bool {
    use std::os::fd::AsFd;
    let Some((dev, ino)) = journal_stream.and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    #[allow(
        clippy::unnecessary_cast,
        reason = "dev_t and ino_t are not u64 on every target"
    )]
    nix::sys::stat::fstat(std::io::stdout().as_fd())
        .is_ok_and(|st| st.st_dev as u64 == dev && st.st_ino as u64 == ino)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[test]
    fn values_are_quoted_only_when_they_need_it() {
        for (value, want) in [
            ("203.0.113.1/32", "203.0.113.1/32"),
            ("", r#""""#),
            ("a b", r#""a b""#),
            ("k=v", r#""k=v""#),
            (r#"say "hi""#, r#""say \"hi\"""#),
            ("back\\slash", r#""back\\slash""#),
            ("two\nlines", r#""two\nlines""#),
        ] {
            assert_eq!(quote(value), want, "{value:?}");
        }
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    fn lines(journald: bool) -> Vec<String> {
        use tracing_subscriber::layer::SubscriberExt;
        let buffer = Buffer::default();
        let layer = super::super::text_layer(buffer.clone(), !journald, journald);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let added = "203.0.113.1/32 203.0.113.2/32";
            tracing::info!(announced = 2, added = %added, "applied prefix set");
            tracing::warn!(error = "no route", "draining failed");
            tracing::error!(problem = %"main.toml:3:12: bad", "configuration reload refused");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn journald_lines_carry_the_priority_and_no_time() {
        let l = lines(true);
        assert_eq!(
            l,
            [
                r#"<6> INFO applied prefix set announced=2 added="203.0.113.1/32 203.0.113.2/32""#,
                r#"<4> WARN draining failed error="no route""#,
                r#"<3>ERROR configuration reload refused problem="main.toml:3:12: bad""#,
            ]
        );
    }

    #[test]
    fn plain_lines_start_with_the_time_and_quote_as_logfmt() {
        let l = lines(false);
        assert_eq!(l.len(), 3);
        // 2026-12-07T23:43:19.123456Z  INFO applied prefix set ...
        let (time, rest) = l[0].split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.contains('T'), "{time}");
        assert_eq!(
            rest.trim_start(),
            r#"INFO applied prefix set announced=2 added="203.0.113.1/32 203.0.113.2/32""#
        );
        assert!(!l.iter().any(|line| line.starts_with('<')));
    }

    #[test]
    fn journal_stream_must_name_stdout() {
        assert!(!stdout_is_journal(None));
        assert!(!stdout_is_journal(Some("garbage")));
        assert!(!stdout_is_journal(Some("0:0")));
    }
}
