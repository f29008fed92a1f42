//! What every kind's validation uses: what a check inherits from its service
//! (`ServiceContext`), one problem collector per check (`Checker`) and the values several
//! kinds take (targets, texts, URLs, PEM files, host names).

use std::ops::{Range, RangeInclusive};
use std::path::PathBuf;
use std::time::Duration;

use serde_spanned::Spanned;

use crate::config::error::{ConfigError, SourceText};
use crate::config::model::RunAs;
use crate::config::raw::RawDuration;
use crate::config::values::{duration, number, valid_target};

/// What a check inherits from its service.
pub struct ServiceContext<'a> {
    pub timeout: Duration,
    pub interface: &'a str,
    /// Who exec checks run as when they name no `user` themselves (the service's `user`,
    /// else `[defaults]`'s; `None`: the daemon's user).
    pub run_as: Option<&'a RunAs>,
}

/// One problem collector for one check, so the per-kind code stays short.
pub(super) struct Checker<'a> {
    pub(super) src: &'a SourceText,
    /// The whole `[[service.check]]` table, for "missing key" errors.
    pub(super) span: Range<usize>,
    pub(super) kind: &'a str,
    pub(super) errors: &'a mut Vec<ConfigError>,
}

impl Checker<'_> {
    pub(super) fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.errors
            .push(self.src.error(span, message).with_hint(hint.into()));
    }

    /// A key the kind cannot do without.
    pub(super) fn required<'v, T>(
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

    /// [`duration`] of this check's table.
    pub(super) fn duration(
        &mut self,
        key: &str,
        v: Option<&Spanned<RawDuration>>,
        zero_ok: bool,
    ) -> Option<Duration> {
        duration(self.src, key, v, zero_ok, self.errors)
    }

    /// [`number`] of this check's table.
    pub(super) fn number(
        &mut self,
        key: &str,
        v: Option<&Spanned<i64>>,
        range: RangeInclusive<i64>,
        default: i64,
        hint: &str,
    ) -> i64 {
        number(self.src, key, v, range, default, hint, self.errors)
    }

    /// A host name (see [`valid_host_name`]); `hint` says what to write instead.
    pub(super) fn host_name(&mut self, v: &Spanned<String>, hint: &str) -> Option<String> {
        let name = v.get_ref();
        if valid_host_name(name) {
            return Some(name.clone());
        }
        self.error(v.span(), format!("\"{name}\" is not a host name"), hint);
        None
    }

    /// `host:port`, `addr:port` or `[v6]:port`.
    pub(super) fn target(&mut self, v: Option<&Spanned<String>>, example: &str) -> Option<String> {
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
    pub(super) fn text(
        &mut self,
        key: &str,
        v: Option<&Spanned<String>>,
        example: &str,
    ) -> Option<String> {
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

/// A URL with one of `schemes` and a host.
pub(super) fn url(
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
pub(super) fn pem_file<T>(
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
pub(super) fn valid_host_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && !name.starts_with(['.', '-'])
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_'))
}
