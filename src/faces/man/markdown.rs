//! Our markdown (headings, paragraphs, fenced code, `- ` lists, tables, inline code, bold,
//! italics, links) as man(7) roff.

use std::fmt::Write as _;

use super::roff::{escape, guard, paragraph_start, push_escaped, wrap};

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

pub(super) fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|&c| c == '#').count();
    let rest = line.get(level..)?;
    (level > 0 && rest.starts_with(' ')).then(|| (level, rest.trim()))
}

/// A `.SH`/`.SS` argument in quotes (it may hold spaces); quotes inside become `\(dq`.
pub(super) fn quoted(rendered: &str) -> String {
    format!("\"{}\"", rendered.replace('"', "\\(dq"))
}

/// Heading text: markup removed, escaped, no font changes (headings have their own).
pub(super) fn plain(text: &str) -> String {
    escape(&text.replace(['`', '*'], ""))
}

/// Rendered inline text as lines; a line that would start with a request is guarded.
pub(super) fn roff_text(rendered: &str) -> String {
    let mut out = String::new();
    for line in rendered.lines() {
        wrap(line.trim(), &mut out);
    }
    out
}

/// A markdown table: the first row is the header, the second the `---` line. Each body
/// row becomes a `.TP` tagged with its first cell; the other cells follow, each after its
/// header in italics, except the prose column (`meaning`, `effect`, `what`, `does`).
pub(super) fn table(rows: &[&str]) -> String {
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
pub(super) fn cells(row: &str) -> Vec<String> {
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
pub(super) fn inline(text: &str) -> String {
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
pub(super) fn find_run(chars: &[char], from: usize, mark: char, len: usize) -> Option<usize> {
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
pub(super) fn link(chars: &[char], start: usize) -> Option<(String, usize)> {
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
pub(super) fn emphasis(chars: &[char], i: usize, n: usize, font: char, out: &mut String) -> usize {
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
