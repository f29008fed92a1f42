//! Reads back an include file: which prefixes did the last run leave announced?
//!
//! Accepts what [`render`](super::render) writes and the same sets in other layouts
//! (one line, anycast-healthchecker's indentation, the interim writer's): `#` and
//! `/* */` comments, then any number of `define NAME = [ prefix, ... ];`. Every define
//! counts, whatever its name, so renaming a set in the configuration still lets the
//! start-up purge find the old prefixes. Pure apart from [`read_file`].

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

/// Why an include file could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The prefixes of every set in the file at `path`; a missing file is an empty set.
pub fn read_file(path: &Path) -> Result<BTreeSet<IpNet>, ParseError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(|(line, message)| ParseError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(source) => Err(ParseError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A token and the line it starts on.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Punct(char),
}

/// Splits `text` into words and `=[],;`, dropping comments; errors carry a 1-based line.
fn tokens(text: &str) -> Result<Vec<(usize, Token<'_>)>, (usize, String)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match c {
            '\n' => {
                line += 1;
                rest = &rest[1..];
            }
            c if c.is_whitespace() => rest = &rest[c.len_utf8()..],
            '#' => {
                let end = rest.find('\n').unwrap_or(rest.len());
                rest = &rest[end..];
            }
            '/' if rest.starts_with("/*") => {
                let Some(end) = rest[2..].find("*/") else {
                    return Err((line, "unterminated /* comment".to_string()));
                };
                line += rest[..end + 4].matches('\n').count();
                rest = &rest[end + 4..];
            }
            '=' | '[' | ']' | ',' | ';' => {
                out.push((line, Token::Punct(c)));
                rest = &rest[1..];
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || "=[],;#".contains(c))
                    .unwrap_or(rest.len());
                out.push((line, Token::Word(&rest[..end])));
                rest = &rest[end..];
            }
        }
    }
    Ok(out)
}

type Tokens<'a> = std::iter::Peekable<std::vec::IntoIter<(usize, Token<'a>)>>;

/// Consumes the punctuation `want` or says what was found instead.
fn expect(it: &mut Tokens<'_>, last_line: usize, want: char) -> Result<usize, (usize, String)> {
    match it.next() {
        Some((l, Token::Punct(c))) if c == want => Ok(l),
        Some((l, Token::Punct(c))) => Err((l, format!("expected '{want}', found '{c}'"))),
        Some((l, Token::Word(w))) => Err((l, format!("expected '{want}', found '{w}'"))),
        None => Err((
            last_line,
            format!("expected '{want}', found the end of the file"),
        )),
    }
}

/// The prefixes of every `define NAME = [ ... ];` in `text`.
pub fn parse(text: &str) -> Result<BTreeSet<IpNet>, (usize, String)> {
    let toks = tokens(text)?;
    let last_line = text.lines().count().max(1);
    let mut it: Tokens<'_> = toks.into_iter().peekable();
    let mut prefixes = BTreeSet::new();

    while let Some((line, tok)) = it.next() {
        match tok {
            Token::Word("define") => {}
            Token::Word(w) => return Err((line, format!("expected 'define', found '{w}'"))),
            Token::Punct(c) => return Err((line, format!("expected 'define', found '{c}'"))),
        }
        match it.next() {
            Some((_, Token::Word(_))) => {}
            Some((l, _)) => {
                return Err((l, "expected a set name after 'define'".to_string()));
            }
            None => {
                return Err((last_line, "expected a set name after 'define'".to_string()));
            }
        }
        expect(&mut it, last_line, '=')?;
        expect(&mut it, last_line, '[')?;
        // Items until ']': empty sets and a trailing comma are accepted.
        loop {
            match it.next() {
                Some((_, Token::Punct(']'))) => break,
                Some((l, Token::Word(w))) => {
                    let p: IpNet = w
                        .parse()
                        .map_err(|_| (l, format!("'{w}' is not an IP prefix")))?;
                    prefixes.insert(p);
                    match it.peek() {
                        Some((_, Token::Punct(','))) => {
                            it.next();
                        }
                        Some((_, Token::Punct(']'))) => {}
                        Some((l, Token::Punct(c))) => {
                            return Err((*l, format!("expected ',' or ']', found '{c}'")));
                        }
                        Some((l, Token::Word(w))) => {
                            return Err((*l, format!("expected ',' or ']', found '{w}'")));
                        }
                        None => {
                            return Err((last_line, "unterminated set: expected ']'".to_string()));
                        }
                    }
                }
                Some((l, Token::Punct(c))) => {
                    return Err((l, format!("expected a prefix or ']', found '{c}'")));
                }
                None => return Err((last_line, "unterminated set: expected ']'".to_string())),
            }
        }
        expect(&mut it, last_line, ';')?;
    }
    Ok(prefixes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::bird::render::render_files;
    use crate::backend::bird::render::tests::{set, settings};
    use crate::config::BirdVariant;

    #[test]
    fn reads_back_what_render_writes() {
        let desired = set(&[
            "203.0.113.53/32",
            "198.51.100.0/24",
            "2001:db8::53/128",
            "2001:db8:1::/48",
        ]);
        for variant in [BirdVariant::Bird2, BirdVariant::Bird1] {
            for want in [desired.clone(), BTreeSet::new()] {
                let s = settings(variant);
                let mut got = BTreeSet::new();
                for f in render_files(&s, &want).unwrap() {
                    got.extend(parse(&f.text).unwrap());
                }
                // The dummies are in the file; the backend filters them out.
                got.remove(&IpNet::V4(s.dummy_prefix.unwrap_or_default()));
                if let Some(d) = s.dummy_prefix6 {
                    got.remove(&IpNet::V6(d));
                }
                assert_eq!(got, want, "{variant:?}");
            }
        }
    }

    #[test]
    fn other_layouts() {
        // The interim writer's one-line form and anycast-healthchecker's layout.
        let one_line = "define A = [ 203.0.113.53/32, 203.0.113.54/32 ];\ndefine B = [  ];\n";
        assert_eq!(
            parse(one_line).unwrap(),
            set(&["203.0.113.53/32", "203.0.113.54/32"])
        );
        let ahc = "# Generated 2024-01-01 by anycast-healthchecker (pid=1)\n\
                   # 10.189.200.255/32 is a dummy IP Prefix. It should NOT be used\n\
                   define ACAST_PS_ADVERTISE =\n    [\n        10.189.200.255/32,\n        \
                   203.0.113.53/32\n    ];\n";
        assert_eq!(
            parse(ahc).unwrap(),
            set(&["10.189.200.255/32", "203.0.113.53/32"])
        );
        let comments = "/* a\n block */ define A = [ 203.0.113.53/32, # why\n ];";
        assert_eq!(parse(comments).unwrap(), set(&["203.0.113.53/32"]));
        assert_eq!(parse("").unwrap(), BTreeSet::new());
        assert_eq!(parse("# only a comment\n").unwrap(), BTreeSet::new());
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "define A = [ 203.0.113.53/33 ];",
                1,
                "'203.0.113.53/33' is not an IP prefix",
            ),
            (
                "\n\ndefine A = [ 203.0.113.53/32 203.0.113.54/32 ];",
                3,
                "expected ',' or ']', found '203.0.113.54/32'",
            ),
            (
                "define A = [ 203.0.113.53/32,\n",
                1,
                "unterminated set: expected ']'",
            ),
            (
                "define A = [ 203.0.113.53/32 ]\n",
                1,
                "expected ';', found the end of the file",
            ),
            ("define A [ ];", 1, "expected '=', found '['"),
            (
                "\nprotocol static { }",
                2,
                "expected 'define', found 'protocol'",
            ),
            (
                "define A = [ , ];",
                1,
                "expected a prefix or ']', found ','",
            ),
            (
                "define A = [ 203.0.113.0/24{25,32} ];",
                1,
                "'203.0.113.0/24{25' is not an IP prefix",
            ),
            ("define = [ ];", 1, "expected a set name after 'define'"),
            ("/* open\n\n", 1, "unterminated /* comment"),
            ("define A = [ ];\n]", 2, "expected 'define', found ']'"),
        ];
        for (text, line, msg) in cases {
            assert_eq!(parse(text), Err((*line, msg.to_string())), "{text:?}");
        }
    }

    #[test]
    fn read_file_missing_is_empty_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nothing.conf");
        assert_eq!(read_file(&path).unwrap(), BTreeSet::new());
        std::fs::write(&path, "define A = [\n  203.0.113.53/32\n  oops\n];\n").unwrap();
        let err = read_file(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{}:3: expected ',' or ']', found 'oops'", path.display())
        );
        // A directory where the file should be: a read error naming the path.
        let err = read_file(dir.path()).unwrap_err();
        assert!(matches!(err, ParseError::Read { .. }), "{err}");
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
