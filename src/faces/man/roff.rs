//! roff text primitives: escaping, paragraphs, filling and the guard for lines that start
//! with a control character.

use std::fmt::Write as _;

/// Escapes text for roff: backslashes, hyphens (so that options copy as ASCII) and every
/// non-ASCII character as a `\[uXXXX]` glyph, which groff and mandoc both know.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_escaped(&mut out, c);
    }
    out
}

pub(super) fn push_escaped(out: &mut String, c: char) {
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
pub(super) fn paragraph_start(out: &mut String) {
    let last = out.trim_end_matches('\n').rsplit('\n').next().unwrap_or("");
    if !(out.is_empty() || last.starts_with(".SH") || last.starts_with(".SS")) {
        out.push_str(".PP\n");
    }
}

/// Text as lines of at most 80 bytes (mandoc's style limit), broken at spaces, which in
/// fill mode are the same as a line break; each line guarded.
pub(super) fn wrap(text: &str, out: &mut String) {
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
pub(super) fn guard(line: &str) -> String {
    if line.starts_with('.') || line.starts_with('\'') {
        format!("\\&{line}")
    } else {
        line.to_string()
    }
}
