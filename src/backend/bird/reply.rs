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
mod tests {
    use super::*;

    fn reply_of(text: &str) -> Reply {
        let mut b = ReplyBuilder::default();
        let mut out = None;
        for l in text.lines() {
            if let Some(r) = b.push(parse_line(l).unwrap()) {
                assert!(out.is_none(), "two replies in {text:?}");
                out = Some(r);
            }
        }
        out.expect("no final line")
    }

    #[test]
    fn parses_every_line_form() {
        assert_eq!(
            parse_line("0001 BIRD 2.0.12 ready.").unwrap(),
            Line::Coded {
                code: 1,
                last: true,
                text: "BIRD 2.0.12 ready.".into()
            }
        );
        assert_eq!(
            parse_line("0002-Reading configuration from /etc/bird.conf\r").unwrap(),
            Line::Coded {
                code: 2,
                last: false,
                text: "Reading configuration from /etc/bird.conf".into()
            }
        );
        assert_eq!(
            parse_line(" more text").unwrap(),
            Line::Continuation("more text".into())
        );
        assert_eq!(
            parse_line("     verbose continuation").unwrap(),
            Line::Continuation("verbose continuation".into())
        );
        assert_eq!(
            parse_line("+async message").unwrap(),
            Line::Async("async message".into())
        );
        assert_eq!(
            parse_line("0000 ").unwrap(),
            Line::Coded {
                code: 0,
                last: true,
                text: String::new()
            }
        );
        assert_eq!(
            parse_line("0000").unwrap(),
            Line::Coded {
                code: 0,
                last: true,
                text: String::new()
            }
        );
        assert_eq!(
            parse_line("9001 syntax error, unexpected CF_SYM_UNDEFINED").unwrap(),
            Line::Coded {
                code: 9001,
                last: true,
                text: "syntax error, unexpected CF_SYM_UNDEFINED".into()
            }
        );
    }

    #[test]
    fn rejects_what_is_not_a_protocol_line() {
        for bad in [
            "",
            "Reconfigured",
            "00a1 x",
            "0001x",
            "12 x",
            "0001:x",
            "BIRD 2.0.12 ready.",
        ] {
            assert_eq!(parse_line(bad), Err(BadLine(bad.into())), "{bad:?}");
        }
    }

    #[test]
    fn builder_collects_continuations_and_skips_async() {
        let mut b = ReplyBuilder::default();
        assert_eq!(
            b.push(parse_line("0002-Reading configuration from x").unwrap()),
            None
        );
        assert_eq!(b.push(parse_line("+spontaneous").unwrap()), None);
        assert_eq!(b.push(parse_line(" continued").unwrap()), None);
        let r = b.push(parse_line("0003 Reconfigured").unwrap()).unwrap();
        assert_eq!(
            r.lines,
            vec![
                (2, "Reading configuration from x".into()),
                (2, "continued".into()),
                (3, "Reconfigured".into())
            ]
        );
        assert_eq!(r.code(), 3);
        // The builder starts afresh for the next reply.
        let r = b
            .push(parse_line("0001 BIRD 1.6.8 ready.").unwrap())
            .unwrap();
        assert_eq!(r.lines, vec![(1, "BIRD 1.6.8 ready.".into())]);
    }

    #[test]
    fn success_codes_are_accepted() {
        let cases = [
            (
                "0002-Reading configuration from /etc/bird/bird.conf\n0003 Reconfigured",
                Accepted::Reconfigured,
            ),
            (
                "0002-Reading configuration from /etc/bird/bird.conf\n0004 Reconfiguration in progress",
                Accepted::InProgress,
            ),
            (
                "0002-Reading configuration from /etc/bird/bird.conf\n0005 Reconfiguration already in progress, queueing new config",
                Accepted::Queued,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(judge_configure(&reply_of(text)), Ok(want), "{text}");
        }
    }

    #[test]
    fn configuration_error_carries_birds_text() {
        // Observed from BIRD 2.0.12 and 1.6.8 over the socket.
        let r = reply_of(
            "0002-Reading configuration from bird.conf\n8002 /tmp/bt/inc.conf:1:42 Invalid prefix length 33",
        );
        let err = judge_configure(&r).unwrap_err();
        assert_eq!(err.code, Some(8002));
        assert_eq!(err.text, "/tmp/bt/inc.conf:1:42 Invalid prefix length 33");
        assert_eq!(
            err.to_string(),
            "BIRD rejected the configuration (8002): /tmp/bt/inc.conf:1:42 Invalid prefix length 33"
        );
        let r = reply_of(
            "0002-Reading configuration from /nonexist\n8002 /nonexist: No such file or directory",
        );
        assert_eq!(
            judge_configure(&r).unwrap_err().text,
            "/nonexist: No such file or directory"
        );
    }

    #[test]
    fn other_codes_are_refusals() {
        let cases = [
            (
                "0006 Reconfiguration ignored, shutting down",
                6,
                "BIRD is shutting down and ignored the reconfiguration (0006): Reconfiguration ignored, shutting down",
            ),
            (
                "9001 syntax error, unexpected CF_SYM_UNDEFINED",
                9001,
                "BIRD did not understand the command (9001): syntax error, unexpected CF_SYM_UNDEFINED",
            ),
            (
                "8007 Access denied",
                8007,
                "BIRD refused the command (restricted access) (8007): Access denied",
            ),
            (
                "0016 Access restricted",
                16,
                "BIRD refused the command (restricted access) (0016): Access restricted",
            ),
            (
                "8006 Reload failed",
                8006,
                "BIRD reported a runtime error (8006): Reload failed",
            ),
            (
                "0019 Nothing to do",
                19,
                "BIRD gave an unexpected reply (0019): Nothing to do",
            ),
            (
                "0001 BIRD 2.0.12 ready.",
                1,
                "BIRD gave an unexpected reply (0001): BIRD 2.0.12 ready.",
            ),
        ];
        for (text, code, msg) in cases {
            let err = judge_configure(&reply_of(text)).unwrap_err();
            assert_eq!(err.code, Some(code), "{text}");
            assert_eq!(err.to_string(), msg);
        }
    }

    #[test]
    fn multi_line_error_keeps_every_line() {
        let r = reply_of("0002-Reading configuration from x\n8002-first\n second\n8002 third");
        assert_eq!(
            judge_configure(&r).unwrap_err().text,
            "first; second; third"
        );
    }

    #[test]
    fn plain_birdc_success() {
        // BIRD 2.0.12 and 1.6.8, `birdc configure`, exit 0.
        for (out, want) in [
            (
                "BIRD 2.0.12 ready.\nReading configuration from bird.conf\nReconfigured\n",
                Accepted::Reconfigured,
            ),
            (
                "BIRD 1.6.8 ready.\nReading configuration from b4.conf\nReconfigured\n",
                Accepted::Reconfigured,
            ),
            (
                "BIRD 2.0.12 ready.\nReading configuration from x\nReconfiguration in progress\n",
                Accepted::InProgress,
            ),
            (
                "BIRD 2.0.12 ready.\nReading configuration from x\nReconfiguration already in progress, queueing new config\n",
                Accepted::Queued,
            ),
        ] {
            assert_eq!(judge_birdc_output(true, out, ""), Ok(want), "{out}");
        }
    }

    #[test]
    fn plain_birdc_error_even_with_exit_zero() {
        // BIRD 1.6.8's birdc exits 0 here; BIRD 2.0.12's exits 1.
        let out = "BIRD 1.6.8 ready.\nReading configuration from b4.conf\n/tmp/bt/inc4.conf:1:29 syntax error\n";
        for success in [true, false] {
            let err = judge_birdc_output(success, out, "").unwrap_err();
            assert_eq!(err.text, "/tmp/bt/inc4.conf:1:29 syntax error");
            assert_eq!(err.code, None);
            assert_eq!(err.to_string(), "/tmp/bt/inc4.conf:1:29 syntax error");
        }
    }

    #[test]
    fn plain_birdc_shutting_down() {
        let out = "BIRD 2.0.12 ready.\nReading configuration from x\nReconfiguration ignored, shutting down\n";
        let err = judge_birdc_output(true, out, "").unwrap_err();
        assert_eq!(err.code, Some(6));
    }

    #[test]
    fn birdc_cannot_connect() {
        let err = judge_birdc_output(
            false,
            "",
            "Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory\n",
        )
        .unwrap_err();
        assert_eq!(
            err.text,
            "Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory"
        );
        let err = judge_birdc_output(false, "", "").unwrap_err();
        assert_eq!(err.text, "no output");
    }

    #[test]
    fn birdc_no_such_command() {
        let err = judge_birdc_output(
            false,
            "BIRD 2.0.12 ready.\nNo such command. Press `?' for help.\n",
            "",
        )
        .unwrap_err();
        assert_eq!(err.text, "No such command. Press `?' for help.");
    }

    #[test]
    fn verbose_birdc_output() {
        let ok = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from bird.conf\n0003 Reconfigured\n";
        assert_eq!(judge_birdc_output(true, ok, ""), Ok(Accepted::Reconfigured));
        // A success text with a failing exit status is still a failure.
        assert!(judge_birdc_output(false, ok, "").is_err());
        let bad = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from bird.conf\n8002 /tmp/bt/inc.conf:1:42 Invalid prefix length 33\n";
        let err = judge_birdc_output(false, bad, "").unwrap_err();
        assert_eq!(err.code, Some(8002));
        assert_eq!(err.text, "/tmp/bt/inc.conf:1:42 Invalid prefix length 33");
        // BIRD 1.6.8's birdc -v exits 0 after 8002.
        let err = judge_birdc_output(true, bad, "").unwrap_err();
        assert_eq!(err.code, Some(8002));
        // Only the greeting: the command never got its reply.
        let err = judge_birdc_output(true, "0001 BIRD 2.0.12 ready.\n", "").unwrap_err();
        assert_eq!(err.code, Some(1));
        // Cut off mid-reply.
        let err = judge_birdc_output(false, "0002-Reading configuration from x\n", "").unwrap_err();
        assert_eq!(err.code, None);
    }

    #[test]
    fn other_commands_are_judged_by_exit_status() {
        assert_eq!(judge_birdc_output(true, "", ""), Ok(Accepted::Reconfigured));
        assert_eq!(
            judge_birdc_output(true, "reloading bird\n", ""),
            Ok(Accepted::Reconfigured)
        );
        let err = judge_birdc_output(false, "", "Failed to reload bird.service\n").unwrap_err();
        assert_eq!(err.text, "Failed to reload bird.service");
        let err = judge_birdc_output(false, "oops\n", "").unwrap_err();
        assert_eq!(err.text, "oops");
    }

    #[test]
    fn largest_table_of_a_route_count() {
        let bird2 = Reply {
            lines: vec![
                (1007, "1 of 1 routes for 1 networks in table master4".into()),
                (
                    1007,
                    "1006 of 1006 routes for 1006 networks in table master6".into(),
                ),
                (
                    14,
                    "Total: 1007 of 1007 routes for 1007 networks in 2 tables".into(),
                ),
            ],
        };
        assert_eq!(largest_table(&bird2), Some(1006));
        let bird1 = Reply {
            lines: vec![(14, "Total: 12 of 13 routes for 12 networks".into())],
        };
        assert_eq!(largest_table(&bird1), Some(13));
        let other = Reply {
            lines: vec![(13, "Daemon is up and running".into())],
        };
        assert_eq!(largest_table(&other), None);
    }
}
