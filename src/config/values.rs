//! Values that several tables share: durations (read and printed), prefixes, `host:port`
//! targets and the DNS transport. A leaf inside
//! `config`: the validators of each table use it, and it uses none of them.

use std::net::{IpAddr, SocketAddr};
use std::ops::{Range, RangeInclusive};
use std::time::Duration;

use ipnet::IpNet;
use serde::Serialize;
use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::raw::RawDuration;

/// A duration such as "250ms", "1s", "2m". `zero_ok` allows "0s".
pub fn duration(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<RawDuration>>,
    zero_ok: bool,
    errors: &mut Vec<ConfigError>,
) -> Option<Duration> {
    let v = v?;
    let parsed = match v.get_ref() {
        RawDuration::Number(n) => {
            errors.push(
                src.error(v.span(), format!("{key} = {n} has no unit"))
                    .with_hint(format!(
                        "durations are strings with a unit: write {key} = \"{n}s\" or \"{n}ms\""
                    )),
            );
            return None;
        }
        RawDuration::Text(text) => humantime::parse_duration(text.trim()),
    };
    match parsed {
        Ok(d) if d.is_zero() && !zero_ok => {
            errors.push(
                src.error(v.span(), format!("{key} must be longer than zero"))
                    .with_hint(format!("write e.g. {key} = \"1s\"")),
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            errors.push(
                src.error(v.span(), format!("{key}: cannot read duration: {e}"))
                    .with_hint(format!(
                        "write a number with a unit, e.g. {key} = \"250ms\", \"1s\" or \"2m\""
                    )),
            );
            None
        }
    }
}

/// The words a key takes and what each means.
pub struct Words<T: 'static> {
    /// What the error "unknown WHAT \"word\"" calls the key.
    pub what: &'static str,
    pub words: &'static [(&'static str, T)],
    /// What to write instead of an unknown word.
    pub hint: &'static str,
}

impl<T: Copy> Words<T> {
    /// The meaning of the word written: `default` when the key is not written, and also,
    /// with the error "unknown WHAT \"word\"", for a word that is not one of these.
    pub fn read(
        &self,
        src: &SourceText,
        v: Option<&Spanned<String>>,
        default: T,
        errors: &mut Vec<ConfigError>,
    ) -> T {
        let Some(v) = v else {
            return default;
        };
        let word = v.get_ref().as_str();
        match self.words.iter().find(|(w, _)| *w == word) {
            Some((_, value)) => *value,
            None => {
                errors.push(
                    src.error(v.span(), format!("unknown {} \"{word}\"", self.what))
                        .with_hint(self.hint),
                );
                default
            }
        }
    }
}

/// A whole number in `range`; outside it, the error "KEY = N is out of range" with `hint`.
pub fn in_range(
    src: &SourceText,
    key: &str,
    v: &Spanned<i64>,
    range: RangeInclusive<i64>,
    hint: &str,
    errors: &mut Vec<ConfigError>,
) -> Option<i64> {
    if range.contains(v.get_ref()) {
        return Some(*v.get_ref());
    }
    errors.push(
        src.error(v.span(), format!("{key} = {} is out of range", v.get_ref()))
            .with_hint(hint),
    );
    None
}

/// [`in_range`] for a key with a default: `default` when it is not written or out of range.
pub fn number(
    src: &SourceText,
    key: &str,
    v: Option<&Spanned<i64>>,
    range: RangeInclusive<i64>,
    default: i64,
    hint: &str,
    errors: &mut Vec<ConfigError>,
) -> i64 {
    match v {
        None => default,
        Some(v) => in_range(src, key, v, range, hint, errors).unwrap_or(default),
    }
}

/// An interface name as `ip link` shows it; `None`, with the error pushed, for one that
/// cannot be.
pub fn interface(
    src: &SourceText,
    v: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<String> {
    let name = v.get_ref();
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ']) {
        errors.push(
            src.error(v.span(), format!("\"{name}\" is not an interface name"))
                .with_hint("write the name as `ip link` shows it, e.g. interface = \"lo\""),
        );
        return None;
    }
    Some(name.clone())
}

/// A prefix or a bare address (then /32 or /128); host bits must be zero.
pub fn parse_prefix(
    src: &SourceText,
    p: &Spanned<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<IpNet> {
    prefix_text(src, p.span(), p.get_ref(), errors)
}

pub fn prefix_text(
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

/// `addr:port`, `[v6]:port` or `host:port`.
pub fn valid_target(target: &str) -> bool {
    if let Ok(addr) = target.parse::<SocketAddr>() {
        return addr.port() != 0;
    }
    match target.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && port.parse::<u16>().is_ok_and(|p| p > 0)
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        }
        None => false,
    }
}

/// Durations print the way they are written: "250ms", "1s", "2m".
pub mod duration_text {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// An `Option<Duration>` field, skipped when `None` (`skip_serializing_if`).
    pub mod maybe {
        use serde::Serializer;
        use std::time::Duration;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }

    /// Compact form that `humantime` parses back: "1s", "1s 500ms", "2m".
    pub fn format(d: Duration) -> String {
        humantime::format_duration(d).to_string()
    }
}

/// How a DNS message travels: the `dns` check's `protocol` and `[dns] protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsProtocol {
    Udp,
    Tcp,
}
