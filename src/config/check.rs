//! Validation of one `[[service.check]]`: the kind, the keys that kind takes (a key of
//! another kind is refused with the name of the kind that takes it), and the options
//! every kind shares (`tries`, `retry_interval`).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::model::*;
use super::raw::*;
use super::values::{duration, valid_target};

/// Every kind, for "unknown kind" hints.
const CHECK_KINDS: &[&str] = &[
    "exec",
    "tcp",
    "file",
    "udp",
    "tftp",
    "address",
    "http",
    "tls",
    "dns",
    "icmp",
    "cabourotte",
];

/// Attempts per round at most: more would only hide a flapping service.
const MAX_TRIES: i64 = 100;

/// What a check inherits from its service.
pub struct ServiceContext<'a> {
    pub timeout: Duration,
    pub interface: &'a str,
    /// Who exec checks run as when they name no `user` themselves (the service's `user`,
    /// else `[defaults]`'s; `None`: the daemon's user).
    pub run_as: Option<&'a RunAs>,
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
            let quoted: Vec<String> = owners.iter().map(|k| format!("\"{k}\"")).collect();
            let owners = match quoted.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("kind = {} or {last}", rest.join(", "))
                }
                _ => format!("kind = {}", quoted.join("")),
            };
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
        "exec" => exec(&mut c, &raw, service.run_as),
        "tcp" => c
            .target(raw.target.as_ref(), "127.0.0.1:53")
            .map(|target| CheckSpec::Tcp(TcpSpec { target })),
        "file" => file(&mut c, &raw),
        "udp" => udp(&mut c, &raw),
        "tftp" => tftp(&mut c, &raw),
        "address" => address(&mut c, &raw, service),
        "http" => http(&mut c, &raw),
        "tls" => tls(&mut c, &raw),
        "dns" => dns(&mut c, &raw),
        "icmp" => icmp(&mut c, &raw),
        "cabourotte" => cabourotte(&mut c, &raw),
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
        ("user", at(&raw.user), &["exec"]),
        ("group", at(&raw.group), &["exec"]),
        ("target", at(&raw.target), &["tcp", "udp", "tftp", "tls"]),
        ("path", at(&raw.path), &["file"]),
        ("absent", at(&raw.absent), &["file"]),
        ("payload", at(&raw.payload), &["udp"]),
        ("expect", at(&raw.expect), &["udp", "dns"]),
        ("file", at(&raw.file), &["tftp", "tls"]),
        ("address", at(&raw.address), &["address"]),
        ("interface", at(&raw.interface), &["address"]),
        ("url", at(&raw.url), &["http", "cabourotte"]),
        ("method", at(&raw.method), &["http"]),
        ("headers", at(&raw.headers), &["http"]),
        ("body", at(&raw.body), &["http"]),
        ("status", at(&raw.status), &["http"]),
        ("body_contains", at(&raw.body_contains), &["http"]),
        ("body_regex", at(&raw.body_regex), &["http"]),
        ("host", at(&raw.host), &["http", "icmp"]),
        ("insecure", at(&raw.insecure), &["http"]),
        ("ca_file", at(&raw.ca_file), &["http"]),
        ("client_cert", at(&raw.client_cert), &["http"]),
        ("client_key", at(&raw.client_key), &["http"]),
        ("source", at(&raw.source), &["http"]),
        ("server_name", at(&raw.server_name), &["tls"]),
        ("min_validity", at(&raw.min_validity), &["tls"]),
        ("common_name", at(&raw.common_name), &["tls"]),
        ("dns_names", at(&raw.dns_names), &["tls"]),
        ("ip_addresses", at(&raw.ip_addresses), &["tls"]),
        ("issuer", at(&raw.issuer), &["tls"]),
        ("query", at(&raw.query), &["dns"]),
        ("record", at(&raw.record), &["dns"]),
        ("server", at(&raw.server), &["dns"]),
        ("protocol", at(&raw.protocol), &["dns"]),
        ("rcode", at(&raw.rcode), &["dns"]),
        ("count", at(&raw.count), &["icmp"]),
        ("max_loss", at(&raw.max_loss), &["icmp"]),
        ("max_rtt", at(&raw.max_rtt), &["icmp"]),
        ("name", at(&raw.name), &["cabourotte"]),
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

/// `user` and `group` (of an exec check, a service or `[defaults]`), looked up now so that
/// a typo stops the load. They go together: `Ok(None)` when neither is written, an error
/// for a `group` without a `user`; without `group`, the user's own group.
pub(super) fn run_as(
    src: &SourceText,
    user: Option<&Spanned<String>>,
    group: Option<&Spanned<String>>,
    errors: &mut Vec<ConfigError>,
) -> Result<Option<RunAs>, ()> {
    let mut error = |span: Range<usize>, message: String, hint: &str| {
        errors.push(src.error(span, message).with_hint(hint.to_string()));
        Err(())
    };
    let Some(user) = user else {
        if let Some(group) = group {
            return error(
                group.span(),
                "group without user".into(),
                "name the user too, e.g. user = \"nobody\", group = \"nogroup\" (user and group go together: the nearest of the check, its service and [defaults] that names a user decides both)",
            );
        }
        return Ok(None);
    };
    let name = user.get_ref().trim();
    let found = match name.parse::<u32>() {
        Ok(uid) => nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Err(_) => nix::unistd::User::from_name(name),
    };
    let account = match found {
        Ok(Some(account)) => account,
        Ok(None) => {
            return error(
                user.span(),
                format!("user \"{name}\" does not exist on this host"),
                "name an existing user (see `getent passwd`), e.g. user = \"nobody\", or create it: useradd --system --no-create-home NAME",
            );
        }
        Err(e) => {
            return error(
                user.span(),
                format!("cannot look up user \"{name}\": {e}"),
                "check /etc/nsswitch.conf and the user database",
            );
        }
    };
    let (group, gid) = match group {
        None => (None, account.gid.as_raw()),
        Some(g) => {
            let gname = g.get_ref().trim();
            let found = match gname.parse::<u32>() {
                Ok(gid) => nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid)),
                Err(_) => nix::unistd::Group::from_name(gname),
            };
            match found {
                Ok(Some(group)) => (Some(gname.to_string()), group.gid.as_raw()),
                Ok(None) => {
                    return error(
                        g.span(),
                        format!("group \"{gname}\" does not exist on this host"),
                        "name an existing group (see `getent group`), or leave group out for the user's own group",
                    );
                }
                Err(e) => {
                    return error(
                        g.span(),
                        format!("cannot look up group \"{gname}\": {e}"),
                        "check /etc/nsswitch.conf and the group database",
                    );
                }
            }
        }
    };
    Ok(Some(RunAs {
        user: name.to_string(),
        group,
        uid: account.uid.as_raw(),
        gid,
    }))
}

/// `inherited`: the service's (or `[defaults]`') user, used when the check names none.
fn exec(c: &mut Checker<'_>, raw: &RawCheck, inherited: Option<&RunAs>) -> Option<CheckSpec> {
    let run_as = match run_as(c.src, raw.user.as_ref(), raw.group.as_ref(), c.errors).ok()? {
        Some(own) => Some(own),
        None => inherited.cloned(),
    };
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
                run_as,
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
                run_as,
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

/// A URL with one of `schemes` and a host.
fn url(
    c: &mut Checker<'_>,
    v: Option<&Spanned<String>>,
    schemes: &[&str],
    example: &str,
) -> Option<url::Url> {
    let v = c.required("url", v, &format!("url = \"{example}\""))?;
    match url::Url::parse(v.get_ref().trim()) {
        Ok(u) if schemes.contains(&u.scheme()) && u.host().is_some() => Some(u),
        Ok(u) => {
            c.error(
                v.span(),
                format!("\"{}\" is not an {} URL", v.get_ref(), schemes.join(" or ")),
                format!("write url = \"{example}\" (not {}:)", u.scheme()),
            );
            None
        }
        Err(e) => {
            c.error(
                v.span(),
                format!("\"{}\" is not a URL: {e}", v.get_ref()),
                format!("write url = \"{example}\""),
            );
            None
        }
    }
}

/// An absolute path to a file that exists now and holds what `read` wants (certificates,
/// a key), so `anycast-warden check` reports a bad file before the daemon runs.
fn pem_file<T>(
    c: &mut Checker<'_>,
    key: &str,
    v: Option<&Spanned<String>>,
    read: impl Fn(&std::path::Path) -> Result<T, String>,
) -> Option<PathBuf> {
    let v = v?;
    let path = PathBuf::from(v.get_ref());
    if !path.is_absolute() {
        c.error(
            v.span(),
            format!("{key} \"{}\" is relative", v.get_ref()),
            format!("write an absolute path, e.g. {key} = \"/etc/anycast-warden/{key}.pem\""),
        );
        return None;
    }
    if let Err(reason) = read(&path) {
        c.error(
            v.span(),
            format!("{key}: {reason}"),
            format!("point {key} at a readable PEM file"),
        );
        return None;
    }
    Some(path)
}

/// A host name as DNS and TLS take it: letters, digits, '-', '.', '_'.
fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_'))
}

fn http(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    const EXAMPLE: &str = "http://127.0.0.1:8080/health";
    let before = c.errors.len();
    let parsed = url(c, raw.url.as_ref(), &["http", "https"], EXAMPLE);
    let method = match raw.method.as_ref() {
        None => "GET".to_string(),
        Some(m) => {
            let name = m.get_ref();
            if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_uppercase()) {
                c.error(
                    m.span(),
                    format!("\"{name}\" is not an HTTP method"),
                    format!(
                        "write the method in capitals, e.g. method = \"{}\"",
                        if name.is_empty() {
                            "GET".to_string()
                        } else {
                            name.to_ascii_uppercase()
                        }
                    ),
                );
            }
            name.clone()
        }
    };
    let mut headers = BTreeMap::new();
    if let Some(h) = raw.headers.as_ref() {
        for (name, value) in h.get_ref() {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                c.error(
                    value.span(),
                    format!("\"{name}\" is not an HTTP header name"),
                    "write headers = { \"X-Health\" = \"1\" } (letters, digits and '-')",
                );
            } else if reqwest::header::HeaderValue::from_str(value.get_ref()).is_err() {
                c.error(
                    value.span(),
                    format!("the value of header {name} is not valid in HTTP"),
                    "write visible ASCII text without line breaks",
                );
            } else {
                headers.insert(name.clone(), value.get_ref().clone());
            }
        }
    }
    let status = match raw.status.as_ref() {
        None => vec![StatusRange::SUCCESS],
        Some(s) => {
            let items: Vec<&RawStatusItem> = match s.get_ref() {
                RawStatus::One(item) => vec![item],
                RawStatus::Many(items) => items.iter().collect(),
            };
            let mut ranges = Vec::new();
            for item in &items {
                let parsed = match item {
                    RawStatusItem::Code(n) => n.to_string().parse::<StatusRange>(),
                    RawStatusItem::Text(t) => t.parse::<StatusRange>(),
                };
                match parsed {
                    Ok(r) => ranges.push(r),
                    Err(()) => {
                        let shown = match item {
                            RawStatusItem::Code(n) => n.to_string(),
                            RawStatusItem::Text(t) => format!("\"{t}\""),
                        };
                        c.error(
                            s.span(),
                            format!("status {shown} is not an HTTP status or range"),
                            "write status = 200, status = \"200-299\", status = \"2xx\" or a list, e.g. status = [200, \"301-302\"] (statuses are 100 to 599)",
                        );
                    }
                }
            }
            if items.is_empty() {
                c.error(
                    s.span(),
                    "status is an empty list",
                    "list the accepted statuses, e.g. status = [200, 204], or remove status to accept any 2xx",
                );
            }
            ranges
        }
    };
    let body_regex = raw.body_regex.as_ref().and_then(|r| match regex::Regex::new(r.get_ref()) {
        Ok(_) => Some(r.get_ref().clone()),
        Err(e) => {
            let first = e.to_string();
            let first = first.lines().last().unwrap_or("").trim().to_string();
            c.error(
                r.span(),
                format!("body_regex is not a regular expression: {first}"),
                "write a regular expression of the Rust regex crate, e.g. body_regex = \"\\\"status\\\": *\\\"ok\\\"\"",
            );
            None
        }
    });
    let host = raw.host.as_ref().and_then(|h| {
        let name = h.get_ref();
        if !valid_host_name(name) {
            c.error(
                h.span(),
                format!("\"{name}\" is not a host name"),
                "write the name alone, without scheme or port, e.g. host = \"www.example.com\"",
            );
            return None;
        }
        // The URL says where to connect; the name replaces its host everywhere else.
        if let Some(u) = parsed.as_ref()
            && !matches!(u.host(), Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)))
        {
            let at = raw.url.as_ref().map_or(h.span(), Spanned::span);
            c.error(
                at,
                "with host, the URL must name the address to connect to",
                format!(
                    "write the address in the URL and the name in host, e.g. url = \"{}://127.0.0.1{}\" with host = \"{name}\"",
                    u.scheme(),
                    u.path()
                ),
            );
        }
        Some(name.clone())
    });
    let insecure = raw.insecure.as_ref().is_some_and(|v| *v.get_ref());
    let ca_file = pem_file(
        c,
        "ca_file",
        raw.ca_file.as_ref(),
        crate::sys::pem::load_certs,
    );
    if insecure && let Some(ca) = raw.ca_file.as_ref() {
        c.error(
            ca.span(),
            "ca_file and insecure = true are both set",
            "insecure accepts any certificate, so ca_file would not matter: remove one of them",
        );
    }
    let client_cert = pem_file(
        c,
        "client_cert",
        raw.client_cert.as_ref(),
        crate::sys::pem::load_certs,
    );
    let client_key = pem_file(
        c,
        "client_key",
        raw.client_key.as_ref(),
        crate::sys::pem::load_key,
    );
    match (raw.client_cert.as_ref(), raw.client_key.as_ref()) {
        (Some(v), None) => c.error(
            v.span(),
            "client_cert without client_key",
            "add client_key = \"/etc/anycast-warden/client.key\" (the certificate's private key, PEM)",
        ),
        (None, Some(v)) => c.error(
            v.span(),
            "client_key without client_cert",
            "add client_cert = \"/etc/anycast-warden/client.pem\" (the certificate chain, PEM)",
        ),
        _ => {}
    }
    if let Some(u) = parsed.as_ref()
        && u.scheme() == "http"
    {
        let tls_keys = [
            ("insecure", raw.insecure.as_ref().map(Spanned::span)),
            ("ca_file", raw.ca_file.as_ref().map(Spanned::span)),
            ("client_cert", raw.client_cert.as_ref().map(Spanned::span)),
        ];
        for (key, span) in tls_keys {
            if let Some(span) = span {
                c.error(
                    span,
                    format!("{key} needs an https URL"),
                    "write url = \"https://...\" or remove the TLS options",
                );
            }
        }
    }
    let source = raw
        .source
        .as_ref()
        .and_then(|s| match s.get_ref().trim().parse::<IpAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                c.error(
                    s.span(),
                    format!("\"{}\" is not an IP address", s.get_ref()),
                    "write the local address to connect from, e.g. source = \"203.0.113.53\"",
                );
                None
            }
        });
    let parsed = parsed?;
    (c.errors.len() == before).then(|| {
        CheckSpec::Http(Box::new(HttpSpec {
            url: parsed.to_string(),
            method,
            headers,
            body: raw.body.as_ref().map(|b| b.get_ref().clone()),
            status,
            body_contains: raw.body_contains.as_ref().map(|b| b.get_ref().clone()),
            body_regex,
            host,
            insecure,
            ca_file,
            client_cert,
            client_key,
            source,
        }))
    })
}

fn tls(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let before = c.errors.len();
    let source = match (raw.file.as_ref(), raw.target.as_ref()) {
        (Some(f), None) => {
            if let Some(n) = raw.server_name.as_ref() {
                c.error(
                    n.span(),
                    "server_name needs target",
                    "server_name is the SNI name sent to a server; a file is read as it is: remove server_name",
                );
            }
            pem_file(c, "file", Some(f), crate::sys::pem::load_certs).map(CertificateSource::File)
        }
        (None, Some(_)) => {
            let target = c.target(raw.target.as_ref(), "127.0.0.1:443");
            let server_name = raw.server_name.as_ref().and_then(|n| {
                if valid_host_name(n.get_ref()) {
                    Some(n.get_ref().clone())
                } else {
                    c.error(
                        n.span(),
                        format!("\"{}\" is not a host name", n.get_ref()),
                        "write the name the server's certificate is for, e.g. server_name = \"www.example.com\"",
                    );
                    None
                }
            });
            target.map(|target| CertificateSource::Server {
                target,
                server_name,
            })
        }
        (Some(f), Some(_)) => {
            c.error(
                f.span(),
                "a tls check has both file and target",
                "check a certificate file (file = \"/etc/ssl/certs/www.pem\") or a server's (target = \"127.0.0.1:443\"), one per check",
            );
            None
        }
        (None, None) => {
            c.error(
                c.span.clone(),
                "tls check has neither file nor target",
                "add file = \"/etc/ssl/certs/www.pem\" (a PEM file) or target = \"127.0.0.1:443\" (a TLS server)",
            );
            None
        }
    };
    let min_validity = duration(
        c.src,
        "min_validity",
        raw.min_validity.as_ref(),
        true,
        c.errors,
    )
    .unwrap_or(Duration::ZERO);
    let mut dns_names = Vec::new();
    if let Some(names) = raw.dns_names.as_ref() {
        for name in names.get_ref() {
            // A leading "*." asks for a wildcard entry.
            if valid_host_name(name.strip_prefix("*.").unwrap_or(name)) {
                dns_names.push(name.clone());
            } else {
                c.error(
                    names.span(),
                    format!("\"{name}\" is not a DNS name"),
                    "write names as in the certificate, e.g. dns_names = [\"www.example.com\", \"*.example.net\"]",
                );
            }
        }
    }
    let mut ip_addresses = Vec::new();
    if let Some(addrs) = raw.ip_addresses.as_ref() {
        for text in addrs.get_ref() {
            match text.trim().parse::<IpAddr>() {
                Ok(a) => ip_addresses.push(a),
                Err(_) => c.error(
                    addrs.span(),
                    format!("\"{text}\" is not an IP address"),
                    "write addresses, e.g. ip_addresses = [\"203.0.113.53\", \"2001:db8::53\"]",
                ),
            }
        }
    }
    let non_empty = |c: &mut Checker<'_>, key: &str, v: Option<&Spanned<String>>| {
        v.and_then(|v| {
            if v.get_ref().trim().is_empty() {
                c.error(
                    v.span(),
                    format!("{key} is empty"),
                    format!("write the expected {key} or remove the line"),
                );
                None
            } else {
                Some(v.get_ref().clone())
            }
        })
    };
    let common_name = non_empty(c, "common_name", raw.common_name.as_ref());
    let issuer = non_empty(c, "issuer", raw.issuer.as_ref());
    let source = source?;
    (c.errors.len() == before).then(|| {
        CheckSpec::Tls(Box::new(TlsSpec {
            source,
            min_validity,
            common_name,
            dns_names,
            ip_addresses,
            issuer,
        }))
    })
}

fn dns(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    use crate::dns::rcode::{RCODES, value as rcode_value};
    let before = c.errors.len();
    let query = c.text("query", raw.query.as_ref(), "health.example.net");
    if let (Some(name), Some(q)) = (query.as_ref(), raw.query.as_ref())
        && hickory_proto::rr::Name::from_ascii(name).is_err()
    {
        c.error(
            q.span(),
            format!("\"{name}\" is not a DNS name"),
            "write a domain name, e.g. query = \"health.example.net\"",
        );
    }
    let record = match raw.record.as_ref() {
        None => "A".to_string(),
        Some(r) => {
            let name = r.get_ref().trim().to_ascii_uppercase();
            match name.parse::<hickory_proto::rr::RecordType>() {
                Ok(t) if !matches!(t, hickory_proto::rr::RecordType::Unknown(_)) => t.to_string(),
                _ => {
                    c.error(
                        r.span(),
                        format!("\"{}\" is not a DNS record type", r.get_ref()),
                        "write a record type, e.g. record = \"A\", \"AAAA\", \"TXT\", \"SOA\", \"MX\" or \"NS\"",
                    );
                    name
                }
            }
        }
    };
    let server = c
        .required("server", raw.server.as_ref(), "server = \"127.0.0.1:53\"")
        .and_then(|s| {
            let text = s.get_ref().trim();
            // A bare address means port 53.
            let parsed = text.parse::<std::net::SocketAddr>().ok().or_else(|| {
                text.parse::<IpAddr>()
                    .ok()
                    .map(|ip| std::net::SocketAddr::new(ip, 53))
            });
            match parsed {
                Some(a) if a.port() != 0 => Some(a),
                _ => {
                    c.error(
                        s.span(),
                        format!("\"{text}\" is not a server address"),
                        "write the server's address and port, e.g. server = \"127.0.0.1:53\" or \"[2001:db8::53]:53\" (an address, not a name: the check never asks the system resolver)",
                    );
                    None
                }
            }
        });
    let protocol = match raw.protocol.as_ref() {
        None => DnsProtocol::Udp,
        Some(p) => match p.get_ref().as_str() {
            "udp" => DnsProtocol::Udp,
            "tcp" => DnsProtocol::Tcp,
            other => {
                c.error(
                    p.span(),
                    format!("unknown protocol \"{other}\""),
                    "write protocol = \"udp\" or protocol = \"tcp\"",
                );
                DnsProtocol::Udp
            }
        },
    };
    let expect = match raw.expect.as_ref() {
        None => Vec::new(),
        Some(e) => {
            let answers = match e.get_ref() {
                RawExpect::One(one) => vec![one.clone()],
                RawExpect::Many(many) => many.clone(),
            };
            if answers.is_empty() || answers.iter().any(|a| a.trim().is_empty()) {
                c.error(
                    e.span(),
                    "expect has an empty answer",
                    "list the answers that must be present, e.g. expect = [\"192.0.2.53\"], or remove expect",
                );
            }
            if matches!(record.as_str(), "A" | "AAAA") {
                for answer in &answers {
                    let ok = match answer.trim().parse::<IpAddr>() {
                        Ok(IpAddr::V4(_)) => record == "A",
                        Ok(IpAddr::V6(_)) => record == "AAAA",
                        Err(_) => false,
                    };
                    if !ok && !answer.trim().is_empty() {
                        let (family, example) = if record == "A" {
                            ("IPv4", "192.0.2.53")
                        } else {
                            ("IPv6", "2001:db8::53")
                        };
                        c.error(
                            e.span(),
                            format!("\"{answer}\" is not an answer to an {record} query"),
                            format!("write {family} addresses, e.g. expect = [\"{example}\"]"),
                        );
                    }
                }
            }
            answers
        }
    };
    let rcode = match raw.rcode.as_ref() {
        None => "NOERROR".to_string(),
        Some(r) => {
            let name = r.get_ref().trim().to_ascii_uppercase();
            if rcode_value(&name).is_none() {
                let names: Vec<&str> = RCODES.iter().map(|(n, _)| *n).collect();
                c.error(
                    r.span(),
                    format!("\"{}\" is not a DNS response code", r.get_ref()),
                    format!("write one of {}", names.join(", ")),
                );
            }
            name
        }
    };
    let (query, server) = (query?, server?);
    (c.errors.len() == before).then(|| {
        CheckSpec::Dns(Box::new(DnsSpec {
            query,
            record,
            server,
            protocol,
            expect,
            rcode,
        }))
    })
}

/// Echo requests per round when `count` is not written.
const DEFAULT_ICMP_COUNT: u32 = 3;

fn icmp(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let before = c.errors.len();
    let host = c.text("host", raw.host.as_ref(), "198.51.100.1");
    if let (Some(h), Some(v)) = (host.as_ref(), raw.host.as_ref())
        && h.parse::<IpAddr>().is_err()
        && !valid_host_name(h)
    {
        c.error(
            v.span(),
            format!("\"{h}\" is not an address or host name"),
            "write host = \"198.51.100.1\", \"2001:db8::1\" or a name",
        );
    }
    let count = match raw.count.as_ref() {
        None => DEFAULT_ICMP_COUNT,
        Some(v) => match *v.get_ref() {
            n @ 1..=100 => n as u32,
            n => {
                c.error(
                    v.span(),
                    format!("count = {n} is out of range"),
                    "write the number of echo requests per round, 1 to 100, e.g. count = 3",
                );
                DEFAULT_ICMP_COUNT
            }
        },
    };
    let max_loss = match raw.max_loss.as_ref() {
        None => 0,
        Some(v) => match *v.get_ref() {
            n @ 0..=100 => n as u32,
            n => {
                c.error(
                    v.span(),
                    format!("max_loss = {n} is out of range"),
                    "write a percentage from 0 (every request answered) to 100, e.g. max_loss = 20",
                );
                0
            }
        },
    };
    let max_rtt = duration(c.src, "max_rtt", raw.max_rtt.as_ref(), false, c.errors);
    let host = host?;
    (c.errors.len() == before).then_some(CheckSpec::Icmp(IcmpSpec {
        host,
        count,
        max_loss,
        max_rtt,
    }))
}

/// Where Cabourotte's API listens unless `url` says otherwise (its default, and the Python
/// anycastd's).
pub const DEFAULT_CABOUROTTE_URL: &str = "http://127.0.0.1:9013";

fn cabourotte(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let before = c.errors.len();
    let base = match raw.url.as_ref() {
        None => Some(DEFAULT_CABOUROTTE_URL.to_string()),
        Some(_) => url(
            c,
            raw.url.as_ref(),
            &["http", "https"],
            DEFAULT_CABOUROTTE_URL,
        )
        .map(|u| u.as_str().trim_end_matches('/').to_string()),
    };
    let name = c.text("name", raw.name.as_ref(), "dns");
    let (url, name) = (base?, name?);
    (c.errors.len() == before).then_some(CheckSpec::Cabourotte(CabourotteSpec { url, name }))
}
