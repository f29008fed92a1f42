//! The manual pages: anycast-warden(8), from the command line's definition (clap) plus
//! the sections clap cannot know (signals, files, exit status, examples), and
//! anycast-warden.toml(5), rendered from docs/configuration.md so that the page and the
//! docs are one text.
//!
//! The markdown renderer reads only our own files: headings, paragraphs, fenced code,
//! `- ` lists and tables (each row becomes a `.TP` whose tag is the first column), with
//! inline code, bold, italics and links. Nothing else is needed, and nothing else is
//! supported.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use clap::{ArgAction, CommandFactory};

use crate::faces::cli::Cli;

/// The configuration reference, shared with the docs.
pub const CONFIGURATION_MD: &str = include_str!("../../docs/configuration.md");

/// Writes `anycast-warden.8` and `anycast-warden.toml.5` into `dir` (created if missing);
/// returns their paths.
pub fn write_pages(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    let date = page_date();
    let mut written = Vec::new();
    for (name, text) in [
        ("anycast-warden.8", page8(&date)),
        ("anycast-warden.toml.5", page5(&date)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}

/// The pages' date: `SOURCE_DATE_EPOCH` when set (reproducible package builds), else today.
pub fn page_date() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
    iso_date(seconds)
}

/// `YYYY-MM-DD` (UTC) of a Unix time; the civil-from-days algorithm of H. Hinnant.
pub fn iso_date(unix_seconds: u64) -> String {
    let days = (unix_seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn title(name: &str, section: u8, date: &str, manual: &str) -> String {
    format!(
        ".TH {} {section} \"{date}\" \"{}\" \"{manual}\"\n",
        escape(name),
        escape(concat!("anycast-warden ", env!("CARGO_PKG_VERSION")))
    )
}

/// anycast-warden(8).
pub fn page8(date: &str) -> String {
    let cmd = Cli::command();
    let mut out = title("ANYCAST-WARDEN", 8, date, "System Administration");
    // One line of at most 80 bytes: whatis(1) and apropos(1) read it.
    out.push_str(".SH NAME\nanycast\\-warden \\- keep anycast prefixes announced while services are healthy\n");
    out.push_str(".SH SYNOPSIS\n");
    out.push_str(
        "\\fBanycast\\-warden\\fR [\\fB\\-c\\fR \\fIFILE\\fR] [\\fB\\-\\-config\\-dir\\fR \\fIDIR\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n",
    );
    out.push_str(".SH DESCRIPTION\n");
    out.push_str(&markdown(DESCRIPTION8));
    out.push_str(".SH OPTIONS\n");
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        out.push_str(&arg_item(arg));
    }
    out.push_str(".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nPrint help (also after a command).\n");
    out.push_str(".TP\n\\fB\\-V\\fR, \\fB\\-\\-version\\fR\nPrint the version.\n");
    out.push_str(".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let _ = writeln!(out, ".SS {}", escape(sub.get_name()));
        out.push_str(&synopsis(sub));
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            paragraph_start(&mut out);
            let mut about = about.to_string();
            if !about.trim_end().ends_with('.') {
                about.push('.');
            }
            out.push_str(&text_lines(&about));
        }
        for arg in sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
        {
            out.push_str(&arg_item(arg));
        }
    }
    out.push_str(&markdown(SECTIONS8));
    out
}

/// anycast-warden.toml(5).
pub fn page5(date: &str) -> String {
    let mut out = title("ANYCAST-WARDEN.TOML", 5, date, "File Formats");
    out.push_str(".SH NAME\nanycast\\-warden.toml \\- configuration of anycast\\-warden\n");
    out.push_str(".SH SYNOPSIS\n/etc/anycast\\-warden/config.toml\n.br\n");
    out.push_str("/etc/anycast\\-warden/conf.d/*.toml\n");
    out.push_str(".SH DESCRIPTION\n");
    out.push_str(&markdown(DESCRIPTION5));
    out.push_str(".SH CONFIGURATION\n");
    out.push_str(&markdown(CONFIGURATION_MD));
    out.push_str(".SH SEE ALSO\n\\fBanycast\\-warden\\fR(8), \\fBbird\\fR(8)\n");
    out
}

const DESCRIPTION8: &str = "\
**anycast-warden** runs health checks for services whose addresses are announced over
BGP (anycast) and keeps each service's prefixes announced only while the service is
healthy: through BIRD (an include file and a reconfigure), FRR (its vty sockets or vtysh),
its own BGP speaker, or DNS records. The configuration is described in
**anycast-warden.toml**(5).

The configuration comes from `--config FILE`, else from `ANYCAST_WARDEN_CONFIG`, else
from `/etc/anycast-warden/config.toml`. Every `*.toml` file in `--config-dir DIR` (or
`ANYCAST_WARDEN_CONFIG_DIR`, default `/etc/anycast-warden/conf.d`, which may be missing)
adds `[[service]]` tables.
";

const DESCRIPTION5: &str = "\
The configuration of **anycast-warden**(8) is TOML: the main file, and files in the
service directory (`--config-dir`) that hold only `[[service]]` tables. Durations are
strings with a unit: `\"250ms\"`, `\"1s\"`, `\"2m\"`, `\"1m 30s\"`. Unknown keys are errors,
reported with their `file:line:col`. `anycast-warden check` validates the files, and
`anycast-warden print-config` prints them with every default filled in.
";

/// SIGNALS, FILES, ENVIRONMENT, EXIT STATUS, EXAMPLES, SEE ALSO of the (8) page.
const SECTIONS8: &str = "\
## Signals

The daemon (`anycast-warden run`) handles:

| signal | effect |
| --- | --- |
| `SIGTERM`, `SIGINT` | withdraw every prefix (empty sets and a reconfigure, retried for up to 10 s), then exit 0, or 1 when the withdrawal could not be confirmed. With `[bgp]`, the routes first carry GRACEFUL_SHUTDOWN 65535:0 for `drain_time` |
| `SIGHUP` | reload the files. A bad configuration is refused with a logged error and the running one stays. Unchanged services keep running untouched, a changed service keeps its health state, new services start in `unknown` and removed ones are withdrawn. Changes in `[daemon]`, `[control]`, `[metrics]` and `[api]` take effect at the next restart |
| `SIGURG` | run every check once now, without moving the regular schedule |

## Files

| file | what |
| --- | --- |
| `/etc/anycast-warden/config.toml` | the main configuration (`--config`, `ANYCAST_WARDEN_CONFIG`) |
| `/etc/anycast-warden/conf.d/*.toml` | more `[[service]]` tables (`--config-dir`, `ANYCAST_WARDEN_CONFIG_DIR`) |
| `/var/lib/anycast-warden/` | the state directory (`[daemon] state_dir`): `drains.json` (drains survive restarts) and `registered/NAME.toml` (services added with `register`) |
| `/var/lib/anycast-warden/control.sock` | the control socket of `status`, `check-now`, `drain`, `undrain`, `register`, `deregister` (`[control] socket`), mode 0600, or 0660 with `[control] group` |
| `/var/lib/anycast-warden/bird/anycast-prefixes.conf` | the file BIRD includes (`[bird] include_file`), with `history/` beside it when `keep_changes` is set; for BIRD 1.6 also `/var/lib/anycast-warden/bird6/anycast-prefixes.conf` |
| `/run/bird/bird.ctl` | BIRD's control socket on Debian (`[bird] control_socket`) |
| `/var/run/frr/` | FRR's vty sockets (`[frr] vty_socket`) |
| `[metrics] textfile` | the metrics for node_exporter's textfile collector, none by default (Debian's collector reads `/var/lib/prometheus/node-exporter/`) |
| `/lib/systemd/system/anycast-warden.service` | the systemd unit |
| `/usr/lib/sysusers.d/anycast-warden.conf`, `/usr/lib/tmpfiles.d/anycast-warden.conf` | the `anycast-warden` user, and the state directory with the empty include file BIRD can read before the daemon first ran |

## Environment

| variable | meaning |
| --- | --- |
| `ANYCAST_WARDEN_CONFIG` | the main configuration file, unless `--config` is given |
| `ANYCAST_WARDEN_CONFIG_DIR` | the service directory, unless `--config-dir` is given |
| `RUST_LOG` | the log level, e.g. `debug` (default `info`) |
| `NOTIFY_SOCKET`, `WATCHDOG_USEC` | set by systemd for `Type=notify` and `WatchdogSec=`: the daemon reports readiness, status and watchdog pings |

## Exit status

| status | meaning |
| --- | --- |
| `0` | success (for `check`: the configuration is valid) |
| `1` | a runtime failure: the final withdrawal could not be confirmed, the daemon could not be reached over the control socket or refused the request, `drain` was not confirmed within 15 s after the drain time |
| `2` | an invalid configuration (each problem is printed with its `file:line:col`) or invalid usage |

`status --nagios` follows the Nagios plugin convention instead: `0` OK, `1` WARNING (a
service down or unknown, or drained), `2` CRITICAL (the last apply failed, or every
service is down), `3` UNKNOWN (no daemon, or no valid configuration).

## Examples

Validate the configuration, then see what the running daemon does:

```
anycast-warden check
anycast-warden status
```

Take a service out of the network for maintenance, and back:

```
anycast-warden drain dns --reason \"kernel upgrade\"
anycast-warden undrain dns
```

Add a service to the running daemon, checked by a TCP connection:

```
anycast-warden register --name web --prefix 203.0.113.80/32 --check tcp:127.0.0.1:80
```

Reload after editing the files:

```
systemctl reload anycast-warden
```

Write this page and **anycast-warden.toml**(5) into a directory, and read one:

```
anycast-warden man --dir pages
man -l pages/anycast-warden.toml.5
```

## See also

**anycast-warden.toml**(5), **bird**(8), **vtysh**(1), **systemd.service**(5)
";

fn arg_item(arg: &clap::Arg) -> String {
    let mut tag = Vec::new();
    if let Some(short) = arg.get_short() {
        tag.push(format!("\\fB\\-{}\\fR", escape(&short.to_string())));
    }
    if let Some(long) = arg.get_long() {
        tag.push(format!("\\fB\\-\\-{}\\fR", escape(long)));
    }
    let mut tag = tag.join(", ");
    let value = value_name(arg);
    if arg.get_long().is_none() && arg.get_short().is_none() {
        tag = format!("\\fI{value}\\fR");
    } else if takes_value(arg) {
        let _ = write!(tag, " \\fI{value}\\fR");
    }
    let mut body = arg
        .get_long_help()
        .or(arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    // clap drops the final period of a one-line help; the page adds sentences after it.
    if !body.is_empty() && !body.trim_end().ends_with('.') {
        body.push('.');
    }
    if !takes_value(arg) {
        return format!(".TP\n{tag}\n{}", text_lines(body.trim()));
    }
    let possible: Vec<String> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect();
    if !possible.is_empty() {
        let _ = write!(body, " One of: {}.", possible.join(", "));
    }
    if let Some(default) = arg.get_default_values().first() {
        let _ = write!(body, " Default: {}.", default.to_string_lossy());
    }
    if let Some(env) = arg.get_env() {
        let _ = write!(body, " Environment: {}.", env.to_string_lossy());
    }
    if matches!(arg.get_action(), ArgAction::Append) {
        body.push_str(" May be given more than once.");
    }
    format!(".TP\n{tag}\n{}", text_lines(body.trim()))
}

fn takes_value(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Set | ArgAction::Append)
}

fn value_name(arg: &clap::Arg) -> String {
    // The global options carry no value name in clap; the page's synopsis calls them so.
    match arg.get_id().as_str() {
        "config" => return "FILE".into(),
        "config_dir" => return "DIR".into(),
        _ => {}
    }
    let name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .map(|n| n.to_string())
        .unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
    escape(&name)
}

/// `anycast-warden NAME [--flag] --option VALUE [POSITIONAL]`, bold and italic.
fn synopsis(sub: &clap::Command) -> String {
    let mut line = format!("\\fBanycast\\-warden {}\\fR", escape(sub.get_name()));
    for arg in sub
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_global_set())
    {
        let value = value_name(arg);
        let mut item = match arg.get_long() {
            Some(long) if takes_value(arg) => {
                format!("\\fB\\-\\-{}\\fR \\fI{value}\\fR", escape(long))
            }
            Some(long) => format!("\\fB\\-\\-{}\\fR", escape(long)),
            None => format!("\\fI{value}\\fR"),
        };
        if matches!(arg.get_action(), ArgAction::Append) {
            item.push_str("...");
        }
        if arg.is_required_set() {
            let _ = write!(line, " {item}");
        } else {
            let _ = write!(line, " [{item}]");
        }
    }
    let mut out = String::new();
    wrap(&line, &mut out);
    out
}

/// Help text (doc comments: plain, with `code`) as roff text lines.
fn text_lines(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            paragraph_start(&mut out);
        } else {
            wrap(&inline(line), &mut out);
        }
    }
    out
}

/// Escapes text for roff: backslashes, hyphens (so that options copy as ASCII) and every
/// non-ASCII character as a `\[uXXXX]` glyph, which groff and mandoc both know.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\e"),
        '-' => out.push_str("\\-"),
        c if c.is_ascii() => out.push(c),
        '→' => out.push_str("\\(->"),
        '←' => out.push_str("\\(<-"),
        // groff has no glyph for the two-way arrow of a state machine.
        '⇄' | '↔' => out.push_str("\\(<>"),
        '–' => out.push_str("\\(en"),
        '—' => out.push_str("\\(em"),
        '…' => out.push_str("\\&..."),
        '×' => out.push_str("\\(mu"),
        '≥' => out.push_str("\\(>="),
        '≤' => out.push_str("\\(<="),
        c => {
            let _ = write!(out, "\\[u{:04X}]", c as u32);
        }
    }
}

/// Starts a paragraph, unless a heading just did (mandoc warns of a `.PP` after `.SH`).
fn paragraph_start(out: &mut String) {
    let last = out.trim_end_matches('\n').rsplit('\n').next().unwrap_or("");
    if !(out.is_empty() || last.starts_with(".SH") || last.starts_with(".SS")) {
        out.push_str(".PP\n");
    }
}

/// Text as lines of at most 80 bytes (mandoc's style limit), broken at spaces, which in
/// fill mode are the same as a line break; each line guarded.
fn wrap(text: &str, out: &mut String) {
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() && line.len() + 1 + word.len() > 80 {
            out.push_str(&guard(&line));
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        out.push_str(&guard(&line));
        out.push('\n');
    }
}

/// A text line that starts with `.` or `'` would be a request: `\&` keeps it text.
fn guard(line: &str) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line.to_string()
    }
}

/// Renders our markdown as man(7) roff; see the module comment for what it understands.
/// `#` headings are the document's title and dropped, `##` become `.SH` (upper case),
/// deeper ones `.SS`.
pub fn markdown(source: &str) -> String {
    let mut out = String::new();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut lines = source.lines().peekable();
    let flush = |paragraph: &mut Vec<&str>, out: &mut String| {
        if !paragraph.is_empty() {
            paragraph_start(out);
            out.push_str(&roff_text(&inline(&paragraph.join("\n"))));
            paragraph.clear();
        }
    };
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            flush(&mut paragraph, &mut out);
            paragraph_start(&mut out);
            out.push_str(".EX\n");
            for code in lines.by_ref() {
                if code.trim_start().starts_with("```") {
                    break;
                }
                out.push_str(&guard(&escape(code)));
                out.push('\n');
            }
            out.push_str(".EE\n");
        } else if let Some(heading) = heading(trimmed) {
            flush(&mut paragraph, &mut out);
            match heading {
                (1, _) => {}
                (2, text) => {
                    let _ = writeln!(out, ".SH {}", quoted(&plain(text).to_uppercase()));
                }
                (_, text) => {
                    let _ = writeln!(out, ".SS {}", quoted(&plain(text)));
                }
            }
        } else if trimmed.starts_with('|') {
            flush(&mut paragraph, &mut out);
            let mut rows = vec![trimmed];
            while let Some(next) = lines.peek() {
                if !next.trim_start().starts_with('|') {
                    break;
                }
                rows.push(next.trim_start());
                lines.next();
            }
            out.push_str(&table(&rows));
        } else if let Some(item) = trimmed.strip_prefix("- ") {
            flush(&mut paragraph, &mut out);
            // A list item runs on over indented lines.
            let mut text = vec![item];
            while let Some(next) = lines.peek() {
                if next.starts_with("  ") && !next.trim().is_empty() {
                    text.push(next.trim());
                    lines.next();
                } else {
                    break;
                }
            }
            out.push_str(".IP \\(bu 2\n");
            out.push_str(&roff_text(&inline(&text.join("\n"))));
        } else if trimmed.is_empty() {
            flush(&mut paragraph, &mut out);
        } else {
            paragraph.push(trimmed);
        }
    }
    flush(&mut paragraph, &mut out);
    out
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|&c| c == '#').count();
    let rest = line.get(level..)?;
    (level > 0 && rest.starts_with(' ')).then(|| (level, rest.trim()))
}

/// A `.SH`/`.SS` argument in quotes (it may hold spaces); quotes inside become `\(dq`.
fn quoted(rendered: &str) -> String {
    format!("\"{}\"", rendered.replace('"', "\\(dq"))
}

/// Heading text: markup removed, escaped, no font changes (headings have their own).
fn plain(text: &str) -> String {
    escape(&text.replace(['`', '*'], ""))
}

/// Rendered inline text as lines; a line that would start with a request is guarded.
fn roff_text(rendered: &str) -> String {
    let mut out = String::new();
    for line in rendered.lines() {
        wrap(line.trim(), &mut out);
    }
    out
}

/// A markdown table: the first row is the header, the second the `---` line. Each body
/// row becomes a `.TP` tagged with its first cell; the other cells follow, each after its
/// header in italics, except the prose column (`meaning`, `effect`, `what`, `does`).
fn table(rows: &[&str]) -> String {
    let mut rows = rows.iter().map(|r| cells(r));
    let header = rows.next().unwrap_or_default();
    let mut out = String::new();
    for row in rows {
        if row
            .iter()
            .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':')))
        {
            continue;
        }
        let Some((tag, rest)) = row.split_first() else {
            continue;
        };
        let _ = writeln!(out, ".TP\n{}", guard(&inline(tag)));
        let mut parts = Vec::new();
        for (i, cell) in rest.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            let label = header.get(i + 1).map(|h| plain(h)).unwrap_or_default();
            let prose = matches!(
                label.to_lowercase().as_str(),
                "meaning" | "effect" | "what" | "does" | ""
            );
            if prose {
                parts.push(roff_text(&inline(cell)));
            } else {
                parts.push(roff_text(&format!("\\fI{label}:\\fR {}", inline(cell))));
            }
        }
        if parts.is_empty() {
            // A .TP without a body would swallow the next paragraph's first line.
            out.push_str("\\&\n");
        }
        out.push_str(&parts.join(".br\n"));
    }
    out
}

/// The cells of a table row: split at `|` that are not escaped (`\|` is a literal pipe,
/// also inside code spans, as GitHub's tables want it).
fn cells(row: &str) -> Vec<String> {
    let row = row.trim();
    let row = row.strip_prefix('|').unwrap_or(row);
    let row = row.strip_suffix('|').unwrap_or(row);
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = row.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_string()),
            c => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

/// Inline markdown to roff: `code` and **bold** in bold, *emphasis* in italics, links as
/// their text, backslash escapes as the character; everything else escaped.
fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '`' => {
                let run = chars[i..].iter().take_while(|&&c| c == '`').count();
                match find_run(&chars, i + run, '`', run) {
                    Some(end) => {
                        let code: String = chars[i + run..end].iter().collect();
                        let code = if run > 1 { code.trim() } else { &code };
                        let _ = write!(out, "\\fB{}\\fR", escape(code));
                        i = end + run;
                    }
                    None => {
                        for _ in 0..run {
                            out.push('`');
                        }
                        i += run;
                    }
                }
            }
            '*' if chars.get(i + 1) == Some(&'*') => i = emphasis(&chars, i, 2, 'B', &mut out),
            '*' if chars.get(i + 1).is_some_and(|c| !c.is_whitespace()) => {
                i = emphasis(&chars, i, 1, 'I', &mut out);
            }
            '[' => match link(&chars, i) {
                Some((label, next)) => {
                    out.push_str(&inline(&label));
                    i = next;
                }
                None => {
                    out.push('[');
                    i += 1;
                }
            },
            '\\' if chars.get(i + 1).is_some_and(|c| c.is_ascii_punctuation()) => {
                push_escaped(&mut out, chars[i + 1]);
                i += 2;
            }
            c => {
                push_escaped(&mut out, c);
                i += 1;
            }
        }
    }
    out
}

/// The index of the next run of exactly `len` `mark`s at or after `from`.
fn find_run(chars: &[char], from: usize, mark: char, len: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        if chars[i] == mark {
            let run = chars[i..].iter().take_while(|&&c| c == mark).count();
            if run == len {
                return Some(i);
            }
            i += run;
        } else {
            i += 1;
        }
    }
    None
}

/// `[label](target)` at `start`: the label and the index after the `)`.
fn link(chars: &[char], start: usize) -> Option<(String, usize)> {
    let close = start + chars[start..].iter().position(|&c| c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = close + 1 + chars[close + 1..].iter().position(|&c| c == ')')?;
    Some((chars[start + 1..close].iter().collect(), end + 1))
}

/// `**bold**` (`n` = 2, font B) or `*italic*` (`n` = 1, font I) starting at `i`: writes
/// the roff text, or the stars themselves when nothing closes them, and returns the index
/// after it. An italic run must not end in white space (`a * b * c` is no emphasis).
fn emphasis(chars: &[char], i: usize, n: usize, font: char, out: &mut String) -> usize {
    match find_run(chars, i + n, '*', n) {
        Some(end) if end > i + n && (n == 2 || !chars[end - 1].is_whitespace()) => {
            let inner: String = chars[i + n..end].iter().collect();
            let _ = write!(out, "\\f{font}{}\\fR", inline(&inner));
            end + n
        }
        _ => {
            out.extend(std::iter::repeat_n('*', n));
            i + n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_backslashes_hyphens_and_non_ascii() {
        assert_eq!(escape(r"a\b"), r"a\eb");
        assert_eq!(escape("--config"), r"\-\-config");
        assert_eq!(
            escape("unknown → up, 1–1000"),
            r"unknown \(-> up, 1\(en1000"
        );
        assert_eq!(escape("☃"), r"\[u2603]");
        assert_eq!(escape("ASCII only."), "ASCII only.");
    }

    #[test]
    fn inline_markup() {
        assert_eq!(inline("`a-b`"), r"\fBa\-b\fR");
        assert_eq!(
            inline("**Flap dampening** keeps"),
            r"\fBFlap dampening\fR keeps"
        );
        assert_eq!(inline("held *suppressed*: x"), r"held \fIsuppressed\fR: x");
        assert_eq!(inline("see [FRR setup](#frr-setup)."), "see FRR setup.");
        assert_eq!(inline("``a ` b``"), r"\fBa ` b\fR");
        // Stray markers stay text.
        assert_eq!(inline("2 * 3 and `open"), "2 * 3 and `open");
        assert_eq!(inline(r"\*not\*"), "*not*");
        // Code is not markdown inside.
        assert_eq!(inline("`*.toml`"), r"\fB*.toml\fR");
    }

    #[test]
    fn a_line_that_starts_with_a_dot_stays_text() {
        let page = markdown("the file\n.toml at the start of a line\n");
        assert!(page.contains("\n\\&.toml at the start"), "{page}");
        let page = markdown("```\n.hidden\n'quote\n```\n");
        assert_eq!(page, ".EX\n\\&.hidden\n\\&'quote\n.EE\n");
    }

    #[test]
    fn table_rows_become_tagged_paragraphs() {
        let md = "\
| key | default | meaning |
| --- | --- | --- |
| `state_dir` | `\"/var/lib/x\"` | the daemon's own state |
| `listen_port` | `179` | |
| `a \\| b` | unset | either |
";
        assert_eq!(
            markdown(md),
            "\
.TP
\\fBstate_dir\\fR
\\fIdefault:\\fR \\fB\"/var/lib/x\"\\fR
.br
the daemon's own state
.TP
\\fBlisten_port\\fR
\\fIdefault:\\fR \\fB179\\fR
.TP
\\fBa | b\\fR
\\fIdefault:\\fR unset
.br
either
"
        );
    }

    #[test]
    fn a_row_with_only_a_tag_keeps_a_body() {
        assert_eq!(
            markdown("| key | meaning |\n| --- | --- |\n| `x` | |\n"),
            ".TP\n\\fBx\\fR\n\\&\n"
        );
    }

    #[test]
    fn headings_paragraphs_and_lists() {
        let md = "# Title\n\n## Exit status\n\n### `[daemon]`\n\nOne\nparagraph.\n\nTwo.\n\n- an item\n  that runs on\n- another\n";
        assert_eq!(
            markdown(md),
            "\
.SH \"EXIT STATUS\"
.SS \"[daemon]\"
One
paragraph.
.PP
Two.
.IP \\(bu 2
an item
that runs on
.IP \\(bu 2
another
"
        );
    }

    /// Every key of every table in docs/configuration.md is a tag in the (5) page: the page
    /// cannot lose a key the docs have.
    #[test]
    fn the_toml_page_has_every_key_of_the_docs() {
        let page = page5("2026-01-01");
        let mut keys = 0;
        let mut in_table = 0;
        for line in CONFIGURATION_MD.lines() {
            if !line.starts_with('|') {
                in_table = 0;
                continue;
            }
            in_table += 1;
            if in_table <= 2 {
                continue; // header and --- line
            }
            let first = cells(line).into_iter().next().unwrap_or_default();
            let tag = format!(".TP\n{}\n", guard(&inline(&first)));
            assert!(page.contains(&tag), "the page lacks {first:?}");
            keys += 1;
        }
        // [daemon] alone has 10 keys; a broken parse would find none.
        assert!(
            keys > 100,
            "only {keys} keys found in docs/configuration.md"
        );
        for table in ["[daemon]", "[[service.check]]", "[bird]", "[[bgp.peer]]"] {
            assert!(page.contains(&format!(".SS \"{table}\"\n")), "{table}");
        }
    }

    #[test]
    fn the_admin_page_has_every_command_and_option() {
        let page = page8("2026-01-01");
        assert!(page.starts_with(".TH ANYCAST\\-WARDEN 8 \"2026-01-01\" \"anycast\\-warden "));
        for section in [
            "SYNOPSIS",
            "OPTIONS",
            "COMMANDS",
            "\"SIGNALS\"",
            "\"FILES\"",
            "\"EXIT STATUS\"",
            "\"EXAMPLES\"",
        ] {
            assert!(page.contains(&format!("\n.SH {section}\n")), "{section}");
        }
        let cmd = Cli::command();
        for sub in cmd.get_subcommands() {
            assert!(
                page.contains(&format!(".SS {}\n", escape(sub.get_name()))),
                "{}",
                sub.get_name()
            );
            for arg in sub.get_arguments().filter(|a| !a.is_global_set()) {
                if let Some(long) = arg.get_long() {
                    let flag = format!("\\fB\\-\\-{}\\fR", escape(long));
                    assert!(page.contains(&flag), "{} {long}", sub.get_name());
                }
            }
        }
        assert!(page.contains("\\fBSIGHUP\\fR"));
        assert!(page.contains("/var/lib/anycast\\-warden/control.sock"));
    }

    #[test]
    fn dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(951_782_400), "2000-02-29");
        assert_eq!(iso_date(1_798_675_200), "2026-12-31");
    }
}
