//! The docs hold true against the code:
//! - docs/configuration.md documents exactly the keys the configuration parser accepts, table
//!   by table and check kind by check kind. The accepted keys come from the parser itself:
//!   serde's `deny_unknown_fields` error ("unknown field `zz_unknown`, expected one of `a`,
//!   `b`") for each table, and for each check kind the loader's "`key` does not apply to
//!   kind" refusal.
//! - every relative link in README.md and docs/*.md names an existing file and, with
//!   `#anchor`, an existing heading of it (GitHub's slugs);
//! - README's example configuration loads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anycast_warden::config::load_str;
use anycast_warden::config::raw::RawCheck;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const UNKNOWN: &str = "zz_unknown";

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The contents of the `code spans` of one line of markdown.
fn code_spans(line: &str) -> Vec<&str> {
    line.split('`').skip(1).step_by(2).collect()
}

/// A documented table: its TOML path (`[[service.check]]`) and, for a check kind's table,
/// the kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Table {
    path: String,
    kind: Option<String>,
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Some(kind) => write!(f, "{} kind = \"{kind}\"", self.path),
            None => write!(f, "{}", self.path),
        }
    }
}

/// `[a.b]` or `[[a.b]]` -> `a.b`.
fn dotted(path: &str) -> &str {
    path.trim_start_matches('[').trim_end_matches(']')
}

/// Every `### `[table]`` heading of docs/configuration.md with the keys in the first column
/// of its one markdown table. Panics (naming the heading) when a heading has no table or
/// more than one, which the manual page renderer could not follow either.
fn documented() -> BTreeMap<Table, BTreeSet<String>> {
    let text = read("docs/configuration.md");
    let mut tables: BTreeMap<Table, BTreeSet<String>> = BTreeMap::new();
    // The heading being read, and how many tables followed it so far.
    let mut current: Option<(Table, usize)> = None;
    let mut in_table = false;
    let mut in_fence = false;
    let finish = |current: &mut Option<(Table, usize)>| {
        if let Some((table, count)) = current.take() {
            assert_eq!(
                count, 1,
                "docs/configuration.md: {table} must be followed by exactly one table"
            );
        }
    };
    for line in text.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        if in_fence {
            continue;
        }
        if line.starts_with('#') {
            finish(&mut current);
            in_table = false;
            let spans = code_spans(line);
            if line.starts_with("### ") && spans.first().is_some_and(|s| s.starts_with('[')) {
                let kind = spans.get(1).map(|s| {
                    s.strip_prefix("kind = \"")
                        .and_then(|k| k.strip_suffix('"'))
                        .unwrap_or_else(|| {
                            panic!("heading {line}: second code span is not kind = \"...\"")
                        })
                        .to_string()
                });
                let table = Table {
                    path: spans[0].to_string(),
                    kind,
                };
                assert!(
                    tables.insert(table.clone(), BTreeSet::new()).is_none(),
                    "docs/configuration.md has two headings for {table}"
                );
                current = Some((table, 0));
            }
            continue;
        }
        let Some((table, count)) = current.as_mut() else {
            continue;
        };
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table {
            in_table = true;
            *count += 1;
        }
        let first = line.split('|').nth(1).unwrap_or_default();
        for key in code_spans(first) {
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "docs/configuration.md, {table}: `{key}` in the key column is not a key"
            );
            tables
                .get_mut(table)
                .map(|keys| keys.insert(key.to_string()));
        }
    }
    finish(&mut current);
    tables
}

/// What the loader refuses a configuration with (every error and hint).
fn refusal(toml_text: &str) -> String {
    match load_str(Path::new("probe.toml"), toml_text) {
        Ok(_) => panic!("the loader accepted the probe:\n{toml_text}"),
        Err(errors) => errors.to_string(),
    }
}

/// The keys serde lists in "unknown field `zz_unknown`, expected one of `a`, `b`".
fn expected_keys(error: &str, probe: &str) -> BTreeSet<String> {
    let marker = format!("unknown field `{UNKNOWN}`, expected ");
    let rest = error
        .split_once(&marker)
        .unwrap_or_else(|| panic!("no unknown-field error for the probe\n{probe}\ngot: {error}"))
        .1;
    let list = rest.lines().next().unwrap_or_default();
    let keys: BTreeSet<String> = code_spans(list).into_iter().map(str::to_string).collect();
    assert!(!keys.is_empty(), "no keys listed in: {error}");
    keys
}

/// The probes: where `zz_unknown` goes so that serde names the keys of each table.
fn probes() -> Vec<(String, String)> {
    let service = "[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1/32\"]\n";
    let mut probes = vec![("(top level)".to_string(), format!("{UNKNOWN} = 1\n"))];
    for table in [
        "daemon", "control", "api", "metrics", "defaults", "bird", "frr", "bgp", "dns",
    ] {
        probes.push((format!("[{table}]"), format!("[{table}]\n{UNKNOWN} = 1\n")));
    }
    let nested = [
        (
            "[[bgp.peer]]",
            format!("[bgp]\n[[bgp.peer]]\n{UNKNOWN} = 1\n"),
        ),
        (
            "[dns.agreement]",
            format!("[dns.agreement]\n{UNKNOWN} = 1\n"),
        ),
        ("[[service]]", format!("{service}{UNKNOWN} = 1\n")),
        (
            "[[service.records]]",
            format!("{service}[[service.records]]\n{UNKNOWN} = 1\n"),
        ),
        (
            "[service.dampening]",
            format!("{service}[service.dampening]\n{UNKNOWN} = 1\n"),
        ),
        (
            "[service.announce]",
            format!("{service}[service.announce]\n{UNKNOWN} = 1\n"),
        ),
        (
            "[service.announce.drain]",
            format!("{service}[service.announce.drain]\n{UNKNOWN} = 1\n"),
        ),
    ];
    probes.extend(nested.map(|(path, probe)| (path.to_string(), probe)));
    probes
}

/// The keys the parser accepts in each table (check kinds apart).
fn accepted() -> BTreeMap<String, BTreeSet<String>> {
    let mut accepted = BTreeMap::new();
    for (path, probe) in probes() {
        let keys = expected_keys(&refusal(&probe), &probe);
        accepted.insert(path, keys);
    }
    // A check table takes every kind's keys; the loader shortens serde's list there
    // ("unknown field in a check"), so ask the check's own serde form.
    let err = toml::from_str::<RawCheck>(&format!("{UNKNOWN} = 1\n"))
        .expect_err("a check with an unknown key is refused");
    accepted.insert(
        "[[service.check]] (every kind)".to_string(),
        expected_keys(err.message(), "[[service.check]]"),
    );
    // A prefix table is checked by hand, not by serde; its refusal names the keys it takes.
    let probe = format!(
        "[frr]\n[[service]]\nname = \"a\"\nprefixes = [{{ prefix = \"203.0.113.1/32\", {UNKNOWN} = 1 }}]\n"
    );
    let err = refusal(&probe);
    assert!(
        err.contains(&format!("unknown key `{UNKNOWN}` in a prefix table")),
        "{err}"
    );
    let hint = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("help: a prefix table has "))
        .unwrap_or_else(|| panic!("no hint naming a prefix table's keys in: {err}"));
    let hint = hint.split(':').next().unwrap_or_default();
    accepted.insert(
        "[[service.prefixes]]".to_string(),
        code_spans(hint).into_iter().map(str::to_string).collect(),
    );
    accepted
}

#[test]
fn the_reference_documents_exactly_the_keys_each_table_accepts() {
    let documented = documented();
    let accepted = accepted();
    let docs_tables: BTreeMap<String, &BTreeSet<String>> = documented
        .iter()
        .filter(|(t, _)| t.kind.is_none())
        .map(|(t, keys)| (t.path.clone(), keys))
        .collect();
    let has_heading = |dotted_path: &str| docs_tables.keys().any(|p| dotted(p) == dotted_path);
    let mut problems = Vec::new();
    for (table, keys) in &accepted {
        if table == "[[service.check]] (every kind)" {
            continue; // compared kind by kind below
        }
        if table == "(top level)" {
            for key in keys {
                if !has_heading(key) {
                    problems.push(format!(
                        "the parser accepts the table [{key}], which has no heading in docs/configuration.md"
                    ));
                }
            }
            continue;
        }
        let Some(doc_keys) = docs_tables.get(table) else {
            problems.push(format!("{table}: no heading in docs/configuration.md"));
            continue;
        };
        for key in keys.difference(doc_keys) {
            // A key that is a subtable with its own heading (`check` of [[service]]).
            if !has_heading(&format!("{}.{key}", dotted(table))) {
                problems.push(format!(
                    "{table}: the parser accepts `{key}`, docs/configuration.md does not document it"
                ));
            }
        }
        for key in doc_keys.difference(keys) {
            problems.push(format!(
                "{table}: docs/configuration.md documents `{key}`, the parser does not accept it"
            ));
        }
    }
    // Every documented table is one the parser has (the check tables are compared below).
    for table in docs_tables.keys() {
        if table != "[[service.check]]" && !accepted.contains_key(table) {
            problems.push(format!(
                "docs/configuration.md documents {table}, which this test does not probe (or the parser does not have)"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The probes must see real lists, not one stray key.
    assert!(accepted["[daemon]"].contains("state_dir"), "{accepted:?}");
    assert!(
        accepted["[dns]"].contains("tsig_secret_file"),
        "{accepted:?}"
    );
}

/// The check kinds the loader knows, from its refusal of an unknown kind.
fn check_kinds() -> BTreeSet<String> {
    let err = refusal(&format!(
        "[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1/32\"]\n[[service.check]]\nkind = \"{UNKNOWN}\"\n"
    ));
    let hint = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("help: write one of "))
        .unwrap_or_else(|| panic!("no list of kinds in: {err}"));
    let kinds: BTreeSet<String> = hint
        .split(", ")
        .map(|k| k.trim().trim_matches('"').to_string())
        .collect();
    assert!(kinds.len() >= 5, "{kinds:?}");
    kinds
}

/// A value for `key` that the check's serde form takes (`"x"`, `true`, `1`, a list, a table).
fn value_for(key: &str) -> &'static str {
    ["\"x\"", "true", "1", "[\"x\"]", "{ a = \"x\" }"]
        .into_iter()
        .find(|v| toml::from_str::<RawCheck>(&format!("{key} = {v}\n")).is_ok())
        .unwrap_or_else(|| panic!("no probe value fits the check key `{key}`"))
}

#[test]
fn each_check_kind_documents_exactly_the_keys_it_takes() {
    let documented = documented();
    let every = accepted()
        .remove("[[service.check]] (every kind)")
        .unwrap_or_default();
    let kinds = check_kinds();
    // For each kind, the keys the loader does not refuse with "does not apply".
    let mut takes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for kind in &kinds {
        for key in every.iter().filter(|k| k.as_str() != "kind") {
            let probe = format!(
                "[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1/32\"]\n[[service.check]]\nkind = \"{kind}\"\n{key} = {}\n",
                value_for(key)
            );
            let outcome = load_str(Path::new("probe.toml"), &probe);
            let refused = outcome.as_ref().err().is_some_and(|e| {
                e.to_string()
                    .contains(&format!("`{key}` does not apply to kind"))
            });
            if !refused {
                takes.entry(kind.as_str()).or_default().insert(key.as_str());
            }
        }
    }
    let common: BTreeSet<&str> = every
        .iter()
        .map(String::as_str)
        .filter(|k| *k == "kind" || takes.values().all(|keys| keys.contains(k)))
        .collect();
    let mut problems = Vec::new();
    let compare = |table: &Table, parser: &BTreeSet<&str>, problems: &mut Vec<String>| {
        let docs: BTreeSet<&str> = documented
            .get(table)
            .map(|keys| keys.iter().map(String::as_str).collect())
            .unwrap_or_default();
        if !documented.contains_key(table) {
            problems.push(format!("{table}: no heading in docs/configuration.md"));
        }
        for key in parser.difference(&docs) {
            problems.push(format!(
                "{table}: the parser accepts `{key}`, docs/configuration.md does not document it"
            ));
        }
        for key in docs.difference(parser) {
            problems.push(format!(
                "{table}: docs/configuration.md documents `{key}`, the parser does not accept it"
            ));
        }
    };
    let all_kinds = Table {
        path: "[[service.check]]".into(),
        kind: None,
    };
    compare(&all_kinds, &common, &mut problems);
    for kind in &kinds {
        let own: BTreeSet<&str> = takes
            .get(kind.as_str())
            .map(|keys| keys.difference(&common).copied().collect())
            .unwrap_or_default();
        let table = Table {
            path: "[[service.check]]".into(),
            kind: Some(kind.clone()),
        };
        compare(&table, &own, &mut problems);
    }
    for table in documented.keys().filter(|t| t.kind.is_some()) {
        if !table.kind.as_ref().is_some_and(|k| kinds.contains(k)) {
            problems.push(format!(
                "docs/configuration.md documents {table}, which is not a check kind"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(takes["http"].contains("url"), "{takes:?}");
}

#[test]
fn the_readme_example_configuration_loads() {
    let readme = read("README.md");
    let block = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README has a ```toml block");
    let lines = block.lines().count();
    assert!(
        lines <= 12,
        "README's example has {lines} lines; keep it short"
    );
    let config = load_str(Path::new("README.md"), block)
        .unwrap_or_else(|e| panic!("README's example configuration is refused:\n{e}"));
    assert_eq!(config.services.len(), 1);
}

/// GitHub's anchor for a heading: lowercase, spaces to '-', other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a markdown file's headings (outside code blocks), with GitHub's `-1`, `-2`
/// for repeated ones.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue;
        }
        let base = slug(title);
        let n = seen.entry(base.clone()).or_insert(0);
        anchors.insert(if *n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        *n += 1;
    }
    anchors
}

/// The targets of the inline links `[text](target)` of a markdown file, outside code blocks
/// and code spans, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    let mut in_fence = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Code spans hold no links (but link texts may be code spans: keep their place).
        let plain: String = line
            .split('`')
            .enumerate()
            .map(|(i, part)| if i % 2 == 1 { "code" } else { part })
            .collect();
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let tail = &rest[i + 2..];
            let end = tail.find(')').unwrap_or(tail.len());
            links.push((n + 1, tail[..end].to_string()));
            rest = &tail[end..];
        }
    }
    links
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![Path::new(ROOT).join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("docs"))
        .expect("docs/ is readable")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 8, "{docs:?}");
    files.extend(docs);
    files
}

#[test]
fn slugs_follow_githubs_rules() {
    assert_eq!(slug(" Built-in BGP speaker"), "built-in-bgp-speaker");
    assert_eq!(slug(" `[[service.records]]`"), "servicerecords");
    assert_eq!(
        slug(" `[[service.check]]` with `kind = \"exec\"`"),
        "servicecheck-with-kind--exec"
    );
    assert_eq!(
        slug(" Applies: whole sets, BIRD's own answer"),
        "applies-whole-sets-birds-own-answer"
    );
    let doc = "# A\n## Same\n```\n# not a heading\n```\n## Same\n";
    let expected: BTreeSet<String> = ["a", "same", "same-1"].map(String::from).into();
    assert_eq!(anchors(doc), expected);
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let name = file
            .strip_prefix(ROOT)
            .unwrap_or(&file)
            .display()
            .to_string();
        let dir = file.parent().unwrap_or(Path::new(ROOT));
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (path, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path)
            };
            if !linked.exists() {
                problems.push(format!("{name}:{line}: {target}: no such file"));
                continue;
            }
            if let Some(anchor) = anchor {
                let linked_text = std::fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&linked_text).contains(anchor) {
                    problems.push(format!(
                        "{name}:{line}: {target}: no heading with that anchor"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 30, "only {checked} relative links found");
}
