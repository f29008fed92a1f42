//! BIRD's answers to `configure`, parsed without I/O.
//!
//! On the control socket every line of a reply is `NNNN-text` (more lines follow),
//! `NNNN text` (the last line of the reply) or ` text` (continues the previous code);
//! `+text` lines are spontaneous printouts that belong to no reply (see BIRD's
//! `doc/reply_codes`). A `configure` command answers, for example:
//!
//! ```text
//! 0001 BIRD 2.0.12 ready.                      <- greeting, a reply of its own
//! 0002-Reading configuration from /etc/bird/bird.conf
//! 0003 Reconfigured                            <- or 0004, 0005: BIRD took the config
//! 8002 /etc/bird/bird.conf:12:3 syntax error   <- or this: BIRD kept the old one
//! ```
//!
//! `birdc configure` prints the same lines without their codes (`birdc -v` keeps them),
//! and BIRD 1.6's birdc exits 0 even when the configuration was refused, so its exit
//! status alone proves nothing: [`judge_birdc_output`] reads the text too.

use std::fmt;

/// One line of BIRD's control protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `NNNN-text` (`last == false`) or `NNNN text` (`last == true`).
    Coded { code: u16, last: bool, text: String },
    /// ` text`: more text for the code before it.
    Continuation(String),
    /// `+text`: a spontaneous printout, not part of any reply.
    Async(String),
}

/// A line that is none of BIRD's line forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a BIRD control protocol line: {0:?}")]
pub struct BadLine(pub String);

/// Parses one line (without its `\n`; a trailing `\r` is ignored).
pub fn parse_line(line: &str) -> Result<Line, BadLine> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if let Some(text) = line.strip_prefix('+') {
        return Ok(Line::Async(text.to_string()));
    }
    if let Some(text) = line.strip_prefix(' ') {
        // birdc -v indents continuations by five spaces, the socket by one.
        return Ok(Line::Continuation(text.trim_start().to_string()));
    }
    let bytes = line.as_bytes();
    if bytes.len() >= 5 && bytes[..4].iter().all(u8::is_ascii_digit) {
        let last = match bytes[4] {
            b' ' => true,
            b'-' => false,
            _ => return Err(BadLine(line.to_string())),
        };
        let code = line[..4]
            .parse::<u16>()
            .map_err(|_| BadLine(line.to_string()))?;
        return Ok(Line::Coded {
            code,
            last,
            text: line[5..].to_string(),
        });
    }
    // "NNNN" alone: BIRD sends `0000 ` for an empty final line; accept it without the space.
    if bytes.len() == 4 && bytes.iter().all(u8::is_ascii_digit) {
        let code = line.parse::<u16>().map_err(|_| BadLine(line.to_string()))?;
        return Ok(Line::Coded {
            code,
            last: true,
            text: String::new(),
        });
    }
    Err(BadLine(line.to_string()))
}

/// A complete reply: every line up to and including the final `NNNN text` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Each line's code and text; continuation lines carry the code they continue.
    pub lines: Vec<(u16, String)>,
}

impl Reply {
    /// The code of the final line, which decides the outcome.
    pub fn code(&self) -> u16 {
        self.lines.last().map_or(0, |(c, _)| *c)
    }

    /// The reply's text, lines joined by "; " (BIRD's own words, for messages).
    pub fn text(&self) -> String {
        join(self.lines.iter().map(|(_, t)| t.as_str()))
    }
}

/// The largest routing table in a `show route count` reply: BIRD 2 prints one line per
/// table (`1007 of 1007 routes for 1007 networks in table master4`) and a `Total:` line,
/// BIRD 1.6 a single line. None when nothing in it has that shape.
pub fn largest_table(reply: &Reply) -> Option<usize> {
    let routes = |text: &str| -> Option<usize> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            [_, "of", total, "routes", ..] => total.parse().ok(),
            _ => None,
        }
    };
    let per_table = reply
        .lines
        .iter()
        .filter(|(_, t)| !t.trim_start().starts_with("Total:"))
        .filter_map(|(_, t)| routes(t))
        .max();
    per_table.or_else(|| {
        reply
            .lines
            .iter()
            .filter_map(|(_, t)| t.trim_start().strip_prefix("Total:").and_then(routes))
            .max()
    })
}

/// Collects lines into replies (a push parser, so the socket client stays thin).
#[derive(Debug, Default)]
pub struct ReplyBuilder {
    lines: Vec<(u16, String)>,
}

impl ReplyBuilder {
    /// Feeds one line; returns the reply once its final line has arrived.
    pub fn push(&mut self, line: Line) -> Option<Reply> {
        match line {
            Line::Async(_) => None,
            Line::Continuation(text) => {
                let code = self.lines.last().map_or(0, |(c, _)| *c);
                self.lines.push((code, text));
                None
            }
            Line::Coded { code, last, text } => {
                self.lines.push((code, text));
                last.then(|| Reply {
                    lines: std::mem::take(&mut self.lines),
                })
            }
        }
    }
}

/// How BIRD took a new configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// 0003: the new configuration is in force.
    Reconfigured,
    /// 0004: BIRD is switching to it (protocols are still shutting down).
    InProgress,
    /// 0005: another reconfiguration is running; this one is queued after it.
    Queued,
}

impl fmt::Display for Accepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accepted::Reconfigured => "reconfigured",
            Accepted::InProgress => "reconfiguration in progress",
            Accepted::Queued => "reconfiguration queued",
        })
    }
}

/// BIRD did not take the configuration; `text` is BIRD's own reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(*.code, .text))]
pub struct Refused {
    /// The final reply code, when the output had codes.
    pub code: Option<u16>,
    /// BIRD's text, e.g. `/etc/bird.conf:12:3 syntax error`.
    pub text: String,
}

fn describe(code: Option<u16>, text: &str) -> String {
    let Some(code) = code else {
        return text.to_string();
    };
    let what = match code {
        6 => "BIRD is shutting down and ignored the reconfiguration",
        16 | 8007 => "BIRD refused the command (restricted access)",
        8002 => "BIRD rejected the configuration",
        8000..=8999 => "BIRD reported a runtime error",
        9000..=9999 => "BIRD did not understand the command",
        _ => "BIRD gave an unexpected reply",
    };
    format!("{what} ({code:04}): {text}")
}

/// Judges the reply to `configure`: 0003/0004/0005 mean BIRD took the new configuration.
pub fn judge_configure(reply: &Reply) -> Result<Accepted, Refused> {
    match reply.code() {
        3 => Ok(Accepted::Reconfigured),
        4 => Ok(Accepted::InProgress),
        5 => Ok(Accepted::Queued),
        code => Err(Refused {
            code: Some(code),
            text: error_text(reply),
        }),
    }
}

/// The lines that say what went wrong: the ones past "Reading configuration from ...".
fn error_text(reply: &Reply) -> String {
    let useful: Vec<&str> = reply
        .lines
        .iter()
        .filter(|(c, _)| *c != 2)
        .map(|(_, t)| t.as_str())
        .collect();
    if useful.is_empty() {
        reply.text()
    } else {
        join(useful)
    }
}

/// Judges what `birdc configure` (or `birdc -v configure`, or a user's own command)
/// printed and how it exited.
///
/// - Output with reply codes (`birdc -v`) is judged by the code of its last reply.
/// - Plain birdc output (recognised by `BIRD x ready.` or `Reading configuration from`)
///   must contain a success line and nothing else unknown: BIRD 1.6's birdc exits 0 even
///   when it prints an error such as `/etc/bird.conf:3:22 syntax error`.
/// - Anything else comes from a command that is not birdc; its exit status decides.
///
/// A non-zero exit status is always a failure (birdc 2 exits 1 after an 8xxx/9xxx code).
pub fn judge_birdc_output(success: bool, stdout: &str, stderr: &str) -> Result<Accepted, Refused> {
    let lines: Vec<&str> = stdout
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty())
        .collect();
    let failed = |code: Option<u16>, text: String| -> Refused {
        let text = if text.is_empty() {
            let err = join(stderr.lines().map(str::trim).filter(|l| !l.is_empty()));
            if err.is_empty() {
                "no output".to_string()
            } else {
                err
            }
        } else {
            text
        };
        Refused { code, text }
    };

    if let Some(first) = lines.first()
        && matches!(parse_line(first), Ok(Line::Coded { .. }))
    {
        let mut builder = ReplyBuilder::default();
        let mut last = None;
        for line in &lines {
            match parse_line(line) {
                Ok(l) => {
                    if let Some(reply) = builder.push(l) {
                        last = Some(reply);
                    }
                }
                // Not BIRD's: e.g. a wrapper's own message; keep it for the error text.
                Err(BadLine(l)) => {
                    builder.push(Line::Continuation(l));
                }
            }
        }
        let outcome = match &last {
            Some(reply) => judge_configure(reply),
            None => Err(failed(None, join(lines.iter().copied()))),
        };
        return match outcome {
            Ok(accepted) if success => Ok(accepted),
            Ok(_) => Err(failed(None, join(lines.iter().copied()))),
            Err(refused) => Err(refused),
        };
    }

    let mut from_birdc = false;
    let mut accepted = None;
    let mut other = Vec::new();
    let mut code = None;
    for line in &lines {
        let l = line.trim();
        if (l.starts_with("BIRD ") && l.ends_with(" ready."))
            || l.starts_with("Reading configuration from ")
        {
            from_birdc = true;
        } else if let Some(a) = plain_success(l) {
            accepted = Some(a);
        } else {
            if l == "Reconfiguration ignored, shutting down" {
                code = Some(6);
            }
            other.push(l);
        }
    }
    if !success {
        let text = if other.is_empty() {
            String::new()
        } else {
            join(other)
        };
        return Err(failed(code, text));
    }
    if !from_birdc && accepted.is_none() {
        // Not birdc (e.g. a script that signals BIRD): its exit status is all we have.
        return Ok(Accepted::Reconfigured);
    }
    match accepted {
        Some(a) if other.is_empty() => Ok(a),
        _ => Err(failed(code, join(other))),
    }
}

/// The texts of BIRD's success codes, as birdc prints them without `-v`.
fn plain_success(line: &str) -> Option<Accepted> {
    match line {
        "Reconfigured" => Some(Accepted::Reconfigured),
        "Reconfiguration in progress" => Some(Accepted::InProgress),
        "Reconfiguration already in progress, queueing new config" => Some(Accepted::Queued),
        _ => None,
    }
}

fn join<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts.into_iter().collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
#[path = "reply_tests.rs"]
mod tests;
