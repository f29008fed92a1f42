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

mod markdown;
mod roff;
use markdown::inline;
pub use markdown::markdown;
pub use roff::escape;
use roff::{paragraph_start, wrap};

/// The configuration reference, shared with the docs.
pub const CONFIGURATION_MD: &str = include_str!("../../../docs/configuration.md");

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
| `SIGHUP` | reload the files (as `anycast-warden reload`, which also reports the outcome). A bad configuration is refused with a logged error and the running one stays. Unchanged services keep running untouched, a changed service keeps its health state, new services start in `unknown` and removed ones are withdrawn. Changes in `[daemon]`, `[control]`, `[metrics]` and `[api]` take effect at the next restart |
| `SIGURG` | run every check once now, without moving the regular schedule |

## Files

| file | what |
| --- | --- |
| `/etc/anycast-warden/config.toml` | the main configuration (`--config`, `ANYCAST_WARDEN_CONFIG`) |
| `/etc/anycast-warden/conf.d/*.toml` | more `[[service]]` tables (`--config-dir`, `ANYCAST_WARDEN_CONFIG_DIR`) |
| `/var/lib/anycast-warden/` | the state directory (`[daemon] state_dir`): `drains.json` (drains survive restarts) and `registered/NAME.toml` (services added with `register`) |
| `/var/lib/anycast-warden/control.sock` | the control socket of `status`, `check-now`, `drain`, `undrain`, `register`, `deregister`, `reload` (`[control] socket`), mode 0600, or 0660 with `[control] group` |
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
| `2` | an invalid configuration (each problem is printed with its `file:line:col`; for `reload`, the running daemon refused the new files and kept the running configuration) or invalid usage |

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

Reload after editing the files (fails, with each problem, when the daemon refuses them):

```
systemctl reload anycast-warden
anycast-warden reload
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

#[cfg(test)]
mod tests;
