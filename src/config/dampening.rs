//! Validation of `dampening` (in a service or in `[defaults]`): the keys a service writes
//! override those of `[defaults]`, which override the built-in values below.

use std::time::Duration;

use serde_spanned::Spanned;

use super::error::{ConfigError, SourceText};
use super::model::DampeningConfig;
use super::raw::RawDampening;
use super::values::duration;

/// RFC 2439's customary values (penalty 1000 per flap): a service must change state three
/// times in quick succession to be suppressed, and is back 21 minutes after the last flap
/// at the earliest, one hour at the latest.
pub const DEFAULT_DAMPENING: DampeningConfig = DampeningConfig {
    half_life: Duration::from_secs(15 * 60),
    suppress: 2000,
    reuse: 750,
    max_suppress: Duration::from_secs(60 * 60),
};

/// Penalty thresholds above this would need more flaps than make sense (and keep f64 exact).
const MAX_THRESHOLD: i64 = 1_000_000;
/// `max_suppress / half_life` above this makes the ceiling `reuse × 2^ratio` meaningless.
const MAX_RATIO: f64 = 64.0;

const EXAMPLE: &str =
    "dampening = { half_life = \"15m\", suppress = 2000, reuse = 750, max_suppress = \"1h\" }";

/// `raw` on top of `base` (the `[defaults]` dampening, or none). `None`: dampening is off.
pub fn validate_dampening(
    src: &SourceText,
    raw: Option<&Spanned<RawDampening>>,
    base: Option<DampeningConfig>,
    errors: &mut Vec<ConfigError>,
) -> Option<DampeningConfig> {
    let Some(raw) = raw else {
        return base;
    };
    let r = raw.get_ref();
    let start = base.unwrap_or(DEFAULT_DAMPENING);
    let threshold = |key: &str,
                     v: Option<&Spanned<i64>>,
                     fallback: u32,
                     errors: &mut Vec<ConfigError>| match v {
        None => Some(fallback),
        Some(v) => match *v.get_ref() {
            n @ 1..=MAX_THRESHOLD => Some(n as u32),
            n => {
                errors.push(
                    src.error(v.span(), format!("{key} = {n} is out of range"))
                        .with_hint(format!("write a penalty from 1 to {MAX_THRESHOLD} (each change of health adds 1000), e.g. {EXAMPLE}")),
                );
                None
            }
        },
    };
    let before = errors.len();
    let half_life = match r.half_life.as_ref() {
        None => Some(start.half_life),
        some => duration(src, "half_life", some, false, errors),
    };
    let max_suppress = match r.max_suppress.as_ref() {
        None => Some(start.max_suppress),
        some => duration(src, "max_suppress", some, false, errors),
    };
    let suppress = threshold("suppress", r.suppress.as_ref(), start.suppress, errors);
    let reuse = threshold("reuse", r.reuse.as_ref(), start.reuse, errors);
    let (Some(half_life), Some(max_suppress), Some(suppress), Some(reuse)) =
        (half_life, max_suppress, suppress, reuse)
    else {
        return None;
    };
    let config = DampeningConfig {
        half_life,
        suppress,
        reuse,
        max_suppress,
    };
    // Point at the key that makes the combination wrong, or at the table.
    let at = |key: Option<std::ops::Range<usize>>| key.unwrap_or_else(|| raw.span());
    if reuse >= suppress {
        errors.push(
            src.error(
                at(r.reuse.as_ref().or(r.suppress.as_ref()).map(Spanned::span)),
                format!("reuse ({reuse}) is not below suppress ({suppress})"),
            )
            .with_hint("a suppressed service is reused once its penalty decays below reuse: make reuse lower than suppress, e.g. suppress = 2000, reuse = 750"),
        );
    } else {
        let ratio = max_suppress.as_secs_f64() / half_life.as_secs_f64();
        if ratio > MAX_RATIO {
            errors.push(
                src.error(
                    at(r.max_suppress.as_ref().or(r.half_life.as_ref()).map(Spanned::span)),
                    format!(
                        "max_suppress ({}) is more than {MAX_RATIO} half-lives ({})",
                        humantime::format_duration(max_suppress),
                        humantime::format_duration(half_life)
                    ),
                )
                .with_hint("write a max_suppress of a few half-lives, e.g. half_life = \"15m\", max_suppress = \"1h\""),
            );
        } else if config.ceiling() < f64::from(suppress) {
            errors.push(
                src.error(
                    at(r
                        .max_suppress
                        .as_ref()
                        .map(Spanned::span)
                        .or(r.suppress.as_ref().map(Spanned::span))),
                    format!(
                        "this dampening can never suppress: the penalty is capped at {:.0} (reuse × 2^(max_suppress / half_life)), below suppress ({suppress})",
                        config.ceiling()
                    ),
                )
                .with_hint("raise max_suppress or reuse, or lower suppress, e.g. half_life = \"15m\", suppress = 2000, reuse = 750, max_suppress = \"1h\""),
            );
        }
    }
    if errors.len() != before {
        return None;
    }
    match r.enabled.as_ref().map(|v| *v.get_ref()) {
        Some(false) => None,
        _ => Some(config),
    }
}
