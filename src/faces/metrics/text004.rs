//! OpenMetrics text → the Prometheus text format 0.0.4, which node_exporter's textfile
//! collector, `promtool check metrics` and scrapers that do not ask for OpenMetrics read.
//! Pure; one pass over the lines that prometheus-client writes, so both formats come from
//! the one registry.
//!
//! What differs between the two, and what this does about it:
//! - a counter family is named without `_total` in OpenMetrics (`# TYPE x counter`, samples
//!   `x_total`); 0.0.4 names the family as its samples are named (`# TYPE x_total counter`),
//!   or the samples come out untyped;
//! - 0.0.4 has no `info` type: an info family becomes a gauge named `..._info` (its one
//!   sample is already `..._info{...} 1`); `stateset` becomes a gauge and `unknown` and
//!   `gaugehistogram` `untyped`, as the OpenMetrics spec says for older formats;
//! - 0.0.4 has no `# UNIT`, no `# EOF`, no exemplars and no `_created` samples: dropped
//!   (a timestamp, in seconds in OpenMetrics but milliseconds in 0.0.4, is dropped too);
//! - HELP text: 0.0.4 escapes `\` as `\\` (and a line feed as `\n`). prometheus-client 0.25
//!   writes HELP text as given, unescaped, so it is escaped here. Label values are escaped
//!   alike in both formats (`\\`, `\"`, `\n`) and pass through.

use std::fmt::Write as _;

/// The 0.0.4 exposition of an OpenMetrics text exposition.
pub fn from_openmetrics(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len());
    // The family being copied: its OpenMetrics name and type; a HELP line waits for its
    // TYPE line (prometheus-client writes HELP first), which decides the 0.0.4 name.
    let mut family: Option<(&str, &str)> = None;
    let mut help: Option<(&str, &str)> = None;
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            flush_help(&mut out, help.take());
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help = Some((name, text));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let (name_004, kind_004) = family_004(name, kind);
            match help.take() {
                Some((help_name, text)) if help_name == name => {
                    let _ = writeln!(out, "# HELP {name_004} {}", escape_help(text));
                }
                other => flush_help(&mut out, other),
            }
            let _ = writeln!(out, "# TYPE {name_004} {kind_004}");
            family = Some((name, kind));
        } else if line.starts_with('#') {
            // `# UNIT`, `# EOF` and comments have no 0.0.4 form.
            flush_help(&mut out, help.take());
        } else if !line.is_empty() {
            flush_help(&mut out, help.take());
            if let Some(sample) = sample_004(line, family) {
                out.push_str(sample);
                out.push('\n');
            }
        }
    }
    flush_help(&mut out, help);
    out
}

/// A HELP line whose TYPE line did not follow (not written by prometheus-client, but
/// valid in both formats): kept under its own name.
fn flush_help(out: &mut String, help: Option<(&str, &str)>) {
    if let Some((name, text)) = help {
        let _ = writeln!(out, "# HELP {name} {}", escape_help(text));
    }
}

/// The 0.0.4 family name and type of an OpenMetrics family.
fn family_004(name: &str, kind: &str) -> (String, &'static str) {
    match kind {
        "counter" => (format!("{name}_total"), "counter"),
        "info" => (format!("{name}_info"), "gauge"),
        "gauge" | "stateset" => (name.to_string(), "gauge"),
        "histogram" => (name.to_string(), "histogram"),
        "summary" => (name.to_string(), "summary"),
        _ => (name.to_string(), "untyped"),
    }
}

fn escape_help(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains(['\\', '\n']) {
        text.replace('\\', "\\\\").replace('\n', "\\n").into()
    } else {
        text.into()
    }
}

/// The sample line without exemplar and timestamp, or `None` for a sample 0.0.4 has no
/// place for (`_created`).
fn sample_004<'l>(line: &'l str, family: Option<(&str, &str)>) -> Option<&'l str> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if let Some((family_name, "counter" | "histogram" | "summary")) = family
        && name.strip_prefix(family_name) == Some("_created")
    {
        return None;
    }
    // The labels end at the first `}` outside a quoted value.
    let mut end = name_end;
    if line[name_end..].starts_with('{') {
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in line[name_end..].char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '}' if !quoted => {
                    end = name_end + i + 1;
                    break;
                }
                _ => {}
            }
        }
    }
    // After the labels: " value", then maybe " timestamp" and " # {exemplar} ...".
    let rest = &line[end..];
    let value = rest.trim_start();
    let value_len = value.find(' ').unwrap_or(value.len());
    Some(&line[..end + (rest.len() - value.len()) + value_len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_each_family_type_byte_exactly() {
        let openmetrics = concat!(
            "# HELP aw_build anycast-warden's version; always 1\n",
            "# TYPE aw_build info\n",
            "aw_build_info{version=\"0.1.0\"} 1\n",
            "# HELP aw_up 1 while the daemon runs\n",
            "# TYPE aw_up gauge\n",
            "aw_up 1.0\n",
            "# HELP aw_runs Runs of the check\n",
            "# TYPE aw_runs counter\n",
            "aw_runs_total{service=\"dns\",check=\"exec a \\\"b\\\" c\\\\d\\n\"} 3\n",
            "aw_runs_created{service=\"dns\"} 1700000000.0\n",
            "# HELP aw_empty No samples (no peers)\n",
            "# TYPE aw_empty counter\n",
            "# HELP aw_duration_seconds How long it took\n",
            "# TYPE aw_duration_seconds histogram\n",
            "# UNIT aw_duration_seconds seconds\n",
            "aw_duration_seconds_sum{backend=\"bird\"} 0.002\n",
            "aw_duration_seconds_count{backend=\"bird\"} 1\n",
            "aw_duration_seconds_bucket{le=\"0.001\",backend=\"bird\"} 0\n",
            "aw_duration_seconds_bucket{le=\"+Inf\",backend=\"bird\"} 1 # {trace=\"x}\"} 0.002 1.5\n",
            "# HELP aw_odd Help with a back\\slash\n",
            "# TYPE aw_odd unknown\n",
            "aw_odd{a=\"} 9 # {\"} NaN 1700000000.5\n",
            "# EOF\n",
        );
        let want = concat!(
            "# HELP aw_build_info anycast-warden's version; always 1\n",
            "# TYPE aw_build_info gauge\n",
            "aw_build_info{version=\"0.1.0\"} 1\n",
            "# HELP aw_up 1 while the daemon runs\n",
            "# TYPE aw_up gauge\n",
            "aw_up 1.0\n",
            "# HELP aw_runs_total Runs of the check\n",
            "# TYPE aw_runs_total counter\n",
            "aw_runs_total{service=\"dns\",check=\"exec a \\\"b\\\" c\\\\d\\n\"} 3\n",
            "# HELP aw_empty_total No samples (no peers)\n",
            "# TYPE aw_empty_total counter\n",
            "# HELP aw_duration_seconds How long it took\n",
            "# TYPE aw_duration_seconds histogram\n",
            "aw_duration_seconds_sum{backend=\"bird\"} 0.002\n",
            "aw_duration_seconds_count{backend=\"bird\"} 1\n",
            "aw_duration_seconds_bucket{le=\"0.001\",backend=\"bird\"} 0\n",
            "aw_duration_seconds_bucket{le=\"+Inf\",backend=\"bird\"} 1\n",
            "# HELP aw_odd Help with a back\\\\slash\n",
            "# TYPE aw_odd untyped\n",
            "aw_odd{a=\"} 9 # {\"} NaN\n",
        );
        assert_eq!(from_openmetrics(openmetrics), want);
    }

    #[test]
    fn a_help_without_type_and_an_empty_input_survive() {
        assert_eq!(from_openmetrics(""), "");
        assert_eq!(from_openmetrics("# EOF\n"), "");
        assert_eq!(
            from_openmetrics("# HELP a x\n# HELP b y\n# TYPE b gauge\nb 1\n# HELP c z\n"),
            "# HELP a x\n# HELP b y\n# TYPE b gauge\nb 1\n# HELP c z\n"
        );
    }
}
