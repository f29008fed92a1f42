//! Every crate the build can pull in on this platform comes from crates.io and carries a
//! license that allows shipping it with an Apache-2.0 daemon. Reads `cargo metadata --locked`,
//! so a new dependency with a copyleft or missing license fails here, in CI, without network
//! access (the same rules are in `deny.toml` for `cargo deny`, which also checks advisories
//! and every platform; see RELIABILITY.md for the last run).

use std::process::Command;

/// Licenses accepted for any dependency. The same list is in deny.toml.
const ALLOWED: &[&str] = &[
    "Apache-2.0",
    "BSD-3-Clause",
    "CDLA-Permissive-2.0",
    "ISC",
    "MIT",
    "Unicode-3.0",
    "Unlicense",
    "Zlib",
];

/// Exceptions combined with a license by `WITH`, accepted with any allowed license.
const ALLOWED_EXCEPTIONS: &[&str] = &["LLVM-exception"];

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Open,
    Close,
    And,
    Or,
    With,
    Id(&'a str),
}

fn tokens(expression: &str) -> Vec<Token<'_>> {
    // Old crates write "MIT/Apache-2.0" for "MIT OR Apache-2.0".
    let mut out = Vec::new();
    for word in expression.split_whitespace() {
        let mut rest = word;
        while let Some(stripped) = rest.strip_prefix('(') {
            out.push(Token::Open);
            rest = stripped;
        }
        let mut closes = 0;
        while let Some(stripped) = rest.strip_suffix(')') {
            closes += 1;
            rest = stripped;
        }
        match rest {
            "AND" => out.push(Token::And),
            "OR" => out.push(Token::Or),
            "WITH" => out.push(Token::With),
            // ... and some "Apache-2.0 / MIT" (fnv).
            "/" => out.push(Token::Or),
            "" => {}
            ids => {
                for (i, id) in ids.split('/').enumerate() {
                    if i > 0 {
                        out.push(Token::Or);
                    }
                    out.push(Token::Id(id));
                }
            }
        }
        out.extend((0..closes).map(|_| Token::Close));
    }
    out
}

/// Whether an SPDX expression can be satisfied with the allowed licenses alone
/// (`A OR B`: either; `A AND B`: both; `A WITH E`: A, with an allowed exception).
/// `Err` when the expression does not parse.
fn satisfiable(expression: &str) -> Result<bool, String> {
    let toks = tokens(expression);
    let mut at = 0;
    let value = or_expr(&toks, &mut at)?;
    if at != toks.len() {
        return Err(format!("unexpected {:?} in {expression:?}", toks[at]));
    }
    Ok(value)
}

fn or_expr(toks: &[Token<'_>], at: &mut usize) -> Result<bool, String> {
    let mut value = and_expr(toks, at)?;
    while toks.get(*at) == Some(&Token::Or) {
        *at += 1;
        value |= and_expr(toks, at)?;
    }
    Ok(value)
}

fn and_expr(toks: &[Token<'_>], at: &mut usize) -> Result<bool, String> {
    let mut value = term(toks, at)?;
    while toks.get(*at) == Some(&Token::And) {
        *at += 1;
        value &= term(toks, at)?;
    }
    Ok(value)
}

fn term(toks: &[Token<'_>], at: &mut usize) -> Result<bool, String> {
    match toks.get(*at) {
        Some(Token::Open) => {
            *at += 1;
            let value = or_expr(toks, at)?;
            if toks.get(*at) != Some(&Token::Close) {
                return Err("unbalanced parentheses".to_string());
            }
            *at += 1;
            Ok(value)
        }
        Some(Token::Id(id)) => {
            *at += 1;
            let mut value = ALLOWED.contains(id);
            if toks.get(*at) == Some(&Token::With) {
                match toks.get(*at + 1) {
                    Some(Token::Id(exception)) => {
                        value &= ALLOWED_EXCEPTIONS.contains(exception);
                        *at += 2;
                    }
                    other => return Err(format!("WITH followed by {other:?}")),
                }
            }
            Ok(value)
        }
        other => Err(format!("expected a license, found {other:?}")),
    }
}

#[test]
fn the_license_evaluator_follows_spdx() {
    assert_eq!(satisfiable("MIT"), Ok(true));
    assert_eq!(satisfiable("GPL-3.0"), Ok(false));
    assert_eq!(satisfiable("MIT OR GPL-3.0"), Ok(true));
    assert_eq!(satisfiable("GPL-3.0 OR MIT"), Ok(true));
    assert_eq!(satisfiable("MIT AND GPL-3.0"), Ok(false));
    assert_eq!(satisfiable("Apache-2.0 AND ISC"), Ok(true));
    assert_eq!(satisfiable("(MIT OR Apache-2.0) AND Unicode-3.0"), Ok(true));
    assert_eq!(satisfiable("(MIT OR GPL-2.0) AND LGPL-2.1"), Ok(false));
    assert_eq!(satisfiable("MIT/Apache-2.0"), Ok(true));
    assert_eq!(satisfiable("GPL-2.0/LGPL-2.1"), Ok(false));
    assert_eq!(satisfiable("Apache-2.0 / MIT"), Ok(true));
    assert_eq!(satisfiable("GPL-2.0 / LGPL-2.1"), Ok(false));
    assert_eq!(
        satisfiable("Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"),
        Ok(true)
    );
    assert_eq!(
        satisfiable("Apache-2.0 WITH Classpath-exception-2.0"),
        Ok(false)
    );
    assert!(satisfiable("MIT OR").is_err());
    assert!(satisfiable("(MIT").is_err());
    assert!(satisfiable("MIT Apache-2.0").is_err());
}

/// The platform this test runs on, from `cargo -vV` ("host: x86_64-unknown-linux-gnu").
fn host_triple() -> String {
    let output = Command::new(env!("CARGO"))
        .arg("-vV")
        .output()
        .expect("cargo -vV runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("cargo -vV names the host")
        .trim()
        .to_string()
}

#[test]
fn every_dependency_is_from_crates_io_with_an_allowed_license() {
    // Filtered to this platform: the build downloads only its own platform's crates, and
    // without the filter `--offline` fails on a fresh machine for want of Windows-only ones
    // (anstyle-wincon, windows-sys) that never ship in a Linux daemon. `cargo deny` covers
    // every platform.
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("a package list");
    assert!(
        packages.len() > 50,
        "suspiciously few packages: {}",
        packages.len()
    );

    let mut problems = Vec::new();
    for package in packages {
        let name = format!("{} {}", package["name"], package["version"]);
        let source = package["source"].as_str();
        // Path packages are this workspace's own.
        if let Some(source) = source
            && source != "registry+https://github.com/rust-lang/crates.io-index"
        {
            problems.push(format!("{name}: not from crates.io ({source})"));
        }
        match package["license"].as_str() {
            None => problems.push(format!("{name}: no license expression")),
            Some(expression) => match satisfiable(expression) {
                Ok(true) => {}
                Ok(false) => problems.push(format!("{name}: license {expression:?} not allowed")),
                Err(e) => problems.push(format!("{name}: license {expression:?}: {e}")),
            },
        }
    }
    assert!(
        problems.is_empty(),
        "dependencies that cannot ship (allow the license in this file and deny.toml only \
         after reading it):\n{}",
        problems.join("\n")
    );
}
