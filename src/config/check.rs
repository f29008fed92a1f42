//! Validation of one `[[service.check]]`: the kind, the keys that kind takes (a key of
//! another kind is refused with the name of the kind that takes it), and the options
//! every kind shares (`tries`, `retry_interval`).

use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::model::*;
use super::raw::*;
use super::validate::{duration, valid_target};

/// Every kind, for "unknown kind" hints.
const CHECK_KINDS: &[&str] = &["exec", "tcp", "file", "udp", "tftp", "address"];

/// Attempts per round at most: more would only hide a flapping service.
const MAX_TRIES: i64 = 100;

/// What a check inherits from its service.
pub struct ServiceContext<'a> {
    pub timeout: Duration,
    pub interface: &'a str,
}

/// One problem collector for one check, so the per-kind code stays short.
struct Checker<'a> {
    src: &'a SourceText,
    /// The whole `[[service.check]]` table, for "missing key" errors.
    span: Range<usize>,
    kind: &'a str,
    errors: &'a mut Vec<ConfigError>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        self.errors
            .push(self.src.error(span, message).with_hint(hint.into()));
    }

    /// A key the kind cannot do without.
    fn required<'v, T>(
        &mut self,
        key: &str,
        v: Option<&'v Spanned<T>>,
        example: &str,
    ) -> Option<&'v Spanned<T>> {
        if v.is_none() {
            let kind = self.kind;
            self.error(
                self.span.clone(),
                format!("{kind} check has no {key}"),
                format!("add {example}"),
            );
        }
        v
    }

    /// `host:port`, `addr:port` or `[v6]:port`.
    fn target(&mut self, v: Option<&Spanned<String>>, example: &str) -> Option<String> {
        let t = self.required("target", v, &format!("target = \"{example}\""))?;
        if valid_target(t.get_ref()) {
            Some(t.get_ref().clone())
        } else {
            self.error(
                t.span(),
                format!("\"{}\" is not a host:port target", t.get_ref()),
                format!(
                    "write target = \"{example}\" (an address or host name, and a port; IPv6 in brackets: \"[2001:db8::53]:53\")"
                ),
            );
            None
        }
    }

    /// A non-empty string.
    fn text(&mut self, key: &str, v: Option<&Spanned<String>>, example: &str) -> Option<String> {
        let v = self.required(key, v, &format!("{key} = \"{example}\""))?;
        if v.get_ref().is_empty() {
            self.error(
                v.span(),
                format!("{key} is empty"),
                format!("write {key} = \"{example}\""),
            );
            return None;
        }
        Some(v.get_ref().clone())
    }
}

/// Validates one check; `None` (with errors pushed) when it is unusable.
pub fn validate_check(
    src: &SourceText,
    span: Range<usize>,
    raw: RawCheck,
    service: &ServiceContext<'_>,
    errors: &mut Vec<ConfigError>,
) -> Option<CheckConfig> {
    let kinds = CHECK_KINDS
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(kind) = raw.kind.as_ref() else {
        errors.push(
            src.error(span, "check has no kind")
                .with_hint(format!("add kind = \"tcp\" (one of {kinds})")),
        );
        return None;
    };
    let kind_name = kind.get_ref().as_str();
    if !CHECK_KINDS.contains(&kind_name) {
        errors.push(
            src.error(kind.span(), format!("unknown check kind \"{kind_name}\""))
                .with_hint(format!("write one of {kinds}")),
        );
        return None;
    }
    let before = errors.len();
    for (key, key_span, owners) in kind_keys(&raw) {
        if let Some(key_span) = key_span
            && !owners.contains(&kind_name)
        {
            let owners = owners
                .iter()
                .map(|k| format!("kind = \"{k}\""))
                .collect::<Vec<_>>()
                .join(" or ");
            errors.push(
                src.error(
                    key_span,
                    format!("`{key}` does not apply to kind = \"{kind_name}\""),
                )
                .with_hint(format!(
                    "`{key}` belongs to {owners}; remove it or change the kind"
                )),
            );
        }
    }
    let mut c = Checker {
        src,
        span: span.clone(),
        kind: kind_name,
        errors,
    };
    let (tries, retry_interval) = tries(&mut c, &raw, service.timeout);
    let spec = match kind_name {
        "exec" => exec(&mut c, &raw),
        "tcp" => c
            .target(raw.target.as_ref(), "127.0.0.1:53")
            .map(|target| CheckSpec::Tcp(TcpSpec { target })),
        "file" => file(&mut c, &raw),
        "udp" => udp(&mut c, &raw),
        "tftp" => tftp(&mut c, &raw),
        "address" => address(&mut c, &raw, service),
        _ => None,
    };
    let spec = spec?;
    (errors.len() == before).then_some(CheckConfig {
        spec,
        tries,
        retry_interval,
    })
}

/// A kind-specific key: its name, where it is written (if it is), the kinds that take it.
type KindKey = (&'static str, Option<Range<usize>>, &'static [&'static str]);

/// Each kind-specific key as written, and the kinds that take it.
fn kind_keys(raw: &RawCheck) -> Vec<KindKey> {
    fn at<T>(v: &Option<Spanned<T>>) -> Option<Range<usize>> {
        v.as_ref().map(Spanned::span)
    }
    vec![
        ("command", at(&raw.command), &["exec"]),
        ("shell", at(&raw.shell), &["exec"]),
        ("target", at(&raw.target), &["tcp", "udp", "tftp"]),
        ("path", at(&raw.path), &["file"]),
        ("absent", at(&raw.absent), &["file"]),
        ("payload", at(&raw.payload), &["udp"]),
        ("expect", at(&raw.expect), &["udp"]),
        ("file", at(&raw.file), &["tftp"]),
        ("address", at(&raw.address), &["address"]),
        ("interface", at(&raw.interface), &["address"]),
    ]
}

/// `tries` and `retry_interval`; every retry must still fit in the service's timeout.
fn tries(c: &mut Checker<'_>, raw: &RawCheck, timeout: Duration) -> (u32, Duration) {
    let tries = match raw.tries.as_ref() {
        None => 1,
        Some(v) => match *v.get_ref() {
            n @ 1..=MAX_TRIES => n as u32,
            n => {
                c.error(
                    v.span(),
                    format!("tries = {n} is out of range"),
                    format!("write tries = 1 or more (at most {MAX_TRIES}): the attempts per round, e.g. tries = 3"),
                );
                1
            }
        },
    };
    let retry_interval = duration(
        c.src,
        "retry_interval",
        raw.retry_interval.as_ref(),
        true,
        c.errors,
    )
    .unwrap_or(DEFAULT_RETRY_INTERVAL);
    if tries > 1 && retry_interval * (tries - 1) >= timeout {
        let at = raw
            .retry_interval
            .as_ref()
            .map(Spanned::span)
            .or(raw.tries.as_ref().map(Spanned::span))
            .unwrap_or(c.span.clone());
        c.error(
            at,
            format!(
                "tries = {tries} with retry_interval = \"{}\" does not fit in the timeout ({})",
                duration_text::format(retry_interval),
                duration_text::format(timeout)
            ),
            "all tries share the service's timeout: shorten retry_interval, lower tries or raise timeout",
        );
    }
    (tries, retry_interval)
}

fn exec(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let shell = raw.shell.as_ref().is_some_and(|s| *s.get_ref());
    let cmd = c.required(
        "command",
        raw.command.as_ref(),
        "command = [\"/usr/bin/dig\", \"+short\", \"@127.0.0.1\", \"check.local\"]",
    )?;
    match (cmd.get_ref(), shell) {
        (RawCommand::Argv(argv), false) => {
            if argv.first().is_none_or(String::is_empty) {
                c.error(cmd.span(), "command is empty",
                    "the first element is the program, e.g. command = [\"/usr/bin/curl\", \"-fsS\", \"http://127.0.0.1/\"]");
                return None;
            }
            Some(CheckSpec::Exec(ExecSpec {
                command: ExecCommand::Argv(argv.clone()),
                shell: false,
            }))
        }
        (RawCommand::Line(line), true) => {
            if line.trim().is_empty() {
                c.error(
                    cmd.span(),
                    "command is empty",
                    "write a shell line, e.g. command = \"pgrep -x unbound\"",
                );
                return None;
            }
            Some(CheckSpec::Exec(ExecSpec {
                command: ExecCommand::Shell(line.clone()),
                shell: true,
            }))
        }
        (RawCommand::Line(line), false) => {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| format!("\"{w}\""))
                .collect();
            c.error(
                cmd.span(),
                "command is a string, but shell is not enabled",
                format!(
                    "write the arguments as a list, command = [{}], or set shell = true to run it with /bin/sh -c",
                    words.join(", ")
                ),
            );
            None
        }
        (RawCommand::Argv(argv), true) => {
            c.error(
                cmd.span(),
                "with shell = true, command is one line for /bin/sh -c",
                format!("write command = \"{}\"", argv.join(" ")),
            );
            None
        }
    }
}

fn file(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let path = c.text("path", raw.path.as_ref(), "/etc/anycast-warden/maintenance")?;
    if !path.starts_with('/') {
        let at = raw.path.as_ref().map_or(c.span.clone(), Spanned::span);
        c.error(
            at,
            format!("path \"{path}\" is relative"),
            "write an absolute path (the daemon's working directory is not yours), e.g. path = \"/etc/anycast-warden/maintenance\"",
        );
        return None;
    }
    Some(CheckSpec::File(FileSpec {
        path: PathBuf::from(path),
        absent: raw.absent.as_ref().is_some_and(|a| *a.get_ref()),
    }))
}

fn udp(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let target = c.target(raw.target.as_ref(), "127.0.0.1:123");
    let payload = c.text("payload", raw.payload.as_ref(), "ping")?;
    let expect = match raw.expect.as_ref() {
        None => None,
        Some(e) => match e.get_ref() {
            RawExpect::One(text) if !text.is_empty() => Some(text.clone()),
            RawExpect::One(_) => {
                c.error(
                    e.span(),
                    "expect is empty",
                    "write the text the reply must contain, e.g. expect = \"pong\", or remove expect to accept any reply",
                );
                None
            }
            RawExpect::Many(_) => {
                c.error(
                    e.span(),
                    "a udp check expects one string",
                    "write expect = \"pong\": the reply must contain it",
                );
                None
            }
        },
    };
    Some(CheckSpec::Udp(UdpSpec {
        target: target?,
        payload,
        expect,
    }))
}

fn tftp(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let target = c.target(raw.target.as_ref(), "127.0.0.1:69");
    let file = c.text("file", raw.file.as_ref(), "pxelinux.0")?;
    // RFC 1350: the name is a NUL-terminated netascii string.
    if file.contains('\0') || !file.is_ascii() {
        let at = raw.file.as_ref().map_or(c.span.clone(), Spanned::span);
        c.error(
            at,
            "a TFTP file name is ASCII text without NUL",
            "write the name the server serves, e.g. file = \"pxelinux.0\"",
        );
        return None;
    }
    Some(CheckSpec::Tftp(TftpSpec {
        target: target?,
        file,
    }))
}

fn address(c: &mut Checker<'_>, raw: &RawCheck, service: &ServiceContext<'_>) -> Option<CheckSpec> {
    let a = c.required(
        "address",
        raw.address.as_ref(),
        "address = \"203.0.113.53\"",
    )?;
    let Ok(address) = a.get_ref().trim().parse::<IpAddr>() else {
        c.error(
            a.span(),
            format!("\"{}\" is not an IP address", a.get_ref()),
            "write one address without a prefix length, e.g. address = \"203.0.113.53\" or \"2001:db8::53\"",
        );
        return None;
    };
    let interface = match raw.interface.as_ref() {
        None => service.interface.to_string(),
        Some(i) => {
            let name = i.get_ref();
            if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
                c.error(
                    i.span(),
                    format!("\"{name}\" is not an interface name"),
                    "write the name as `ip link` shows it, e.g. interface = \"lo\"",
                );
                return None;
            }
            name.clone()
        }
    };
    Some(CheckSpec::Address(AddressSpec { address, interface }))
}
