//! The shape of `src/`, read from the code's own paths: which room (top-level folder or
//! file of `src/`) uses which, held against the table in ARCHITECTURE.md and against the
//! rules that no table may relax. It fails on an import the table does not allow, on a
//! cycle between rooms or between the files of `config/`, and on tokio in a pure core.
//!
//! A "use" is any `crate::ROOM` path in a file, in a `use` line or inline, with code under
//! a `#[cfg(test)] mod` left out (tests may reach anywhere). Comments are left out too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every `.rs` file below `dir`.
/// A test module in a file of its own (`tests.rs`, `<module>_tests.rs`): not the crate's
/// structure, as the inline test modules `code` leaves out are not.
fn is_test_file(path: &Path) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s == "tests" || s.ends_with("_tests"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !is_test_file(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The file's code without comments and without its test modules.
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    // Inside a test module: the depth of its braces still open.
    let mut skipping: Option<i64> = None;
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(depth) = skipping.as_mut() {
            *depth += line.matches('{').count() as i64 - line.matches('}').count() as i64;
            if *depth <= 0 {
                skipping = None;
            }
            continue;
        }
        if trimmed.starts_with("#[cfg(test)]")
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            skipping = Some(0);
            continue;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find("// ") {
            // A trailing comment; `//` inside a string (a URL) has no space after it.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The room of a file: its first component under `src/`, without `.rs`.
fn room(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The names a path prefix reaches: `PREFIX::name` and `PREFIX::{a, b::c, d}`.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let single = Regex::new(&format!(r"\b{prefix}::([a-z_][a-z0-9_]*)\b")).unwrap();
    let group = Regex::new(&format!(r"\b{prefix}::\{{([^;]*?)\}}\s*;")).unwrap();
    let mut out: BTreeSet<String> = single
        .captures_iter(code)
        .map(|c| c[1].to_string())
        .collect();
    for c in group.captures_iter(code) {
        // Only the names at the group's top level: `a::{x, y}` names `a`.
        let mut depth = 0;
        let mut current = String::new();
        let mut heads = Vec::new();
        for ch in c[1].chars() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => heads.push(std::mem::take(&mut current)),
                _ if depth == 0 => current.push(ch),
                _ => {}
            }
        }
        heads.push(current);
        for head in heads {
            let name = head
                .trim()
                .split("::")
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

struct Crate {
    /// room -> rooms it uses.
    uses: BTreeMap<String, BTreeSet<String>>,
    /// room -> file -> code.
    files: BTreeMap<String, BTreeMap<PathBuf, String>>,
}

fn read_crate() -> Crate {
    let src = Path::new(ROOT).join("src");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: BTreeMap<String, BTreeMap<PathBuf, String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let r = room(&src, &file);
        if r == "main" || r == "lib" {
            continue;
        }
        let text = code(&std::fs::read_to_string(&file).unwrap());
        let used = uses.entry(r.clone()).or_default();
        for name in names_after(&text, "crate") {
            if name != r {
                used.insert(name);
            }
        }
        files.entry(r).or_default().insert(file, text);
    }
    Crate { uses, files }
}

/// The "may import" column of ARCHITECTURE.md's room table.
fn allowed() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("## Rooms, their jobs and what they may import")
        .nth(1)
        .expect("ARCHITECTURE.md has the section \"Rooms, their jobs and what they may import\"");
    let tick = Regex::new(r"`([a-z_]+)`").unwrap();
    let mut out = BTreeMap::new();
    for line in section.lines().skip_while(|l| !l.starts_with("| room")) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() != 3 || cells[0] == "room" || cells[0].starts_with("---") {
            continue;
        }
        let room = cells[0].trim_matches('`').to_string();
        let may: BTreeSet<String> = tick
            .captures_iter(cells[2])
            .map(|c| c[1].to_string())
            .collect();
        out.insert(room, may);
    }
    assert!(!out.is_empty(), "ARCHITECTURE.md's room table is empty");
    out
}

/// A cycle in `graph`, as the path that closes it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut cycle = path[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, done, path) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut done, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn every_import_between_rooms_is_one_architecture_md_allows() {
    let krate = read_crate();
    let allowed = allowed();
    let mut wrong = Vec::new();
    for (room, used) in &krate.uses {
        let Some(may) = allowed.get(room) else {
            wrong.push(format!("src/{room} is not in ARCHITECTURE.md's room table"));
            continue;
        };
        for u in used {
            if !allowed.contains_key(u) {
                wrong.push(format!(
                    "{room} uses crate::{u}, which is not a room of the table"
                ));
            } else if !may.contains(u) {
                wrong.push(format!(
                    "{room} imports {u}; ARCHITECTURE.md allows {room} only {may:?}"
                ));
            }
        }
    }
    for room in allowed.keys() {
        if !krate.files.contains_key(room) {
            wrong.push(format!(
                "ARCHITECTURE.md names room {room}, which src/ does not have"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_cycle_between_rooms_in_the_code_or_the_table() {
    let krate = read_crate();
    if let Some(c) = find_cycle(&krate.uses) {
        panic!("rooms import each other in a circle: {}", c.join(" -> "));
    }
    if let Some(c) = find_cycle(&allowed()) {
        panic!("ARCHITECTURE.md allows a circle: {}", c.join(" -> "));
    }
}

/// Rules that hold whatever the table says.
#[test]
fn forbidden_edges_stay_forbidden() {
    let krate = read_crate();
    let allowed = allowed();
    let mut wrong = Vec::new();
    for (table_or_code, graph) in [("the code", &krate.uses), ("ARCHITECTURE.md", &allowed)] {
        for (room, used) in graph {
            let bad: Vec<&String> = used
                .iter()
                .filter(|u| match room.as_str() {
                    // Config is data: it reads nothing of the runtime.
                    "config" => !["sys", "dns"].contains(&u.as_str()),
                    "backend" => ["check", "service"].contains(&u.as_str()),
                    _ => false,
                })
                .chain(used.iter().filter(|u| {
                    (u.as_str() == "faces" && room != "daemon") || u.as_str() == "daemon"
                }))
                .collect();
            for u in bad {
                wrong.push(format!("{table_or_code}: {room} -> {u} is never allowed"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The pure cores: no runtime, so they are tested without one.
#[test]
fn pure_cores_use_no_tokio() {
    let src = Path::new(ROOT).join("src");
    let pure_dirs = ["health", "dns", "bgp/message", "config"];
    let pure_files = [
        "backoff.rs",
        "announce/planner.rs",
        "announce/desired.rs",
        "bgp/fsm.rs",
        "bgp/routes.rs",
        "backend/bird/render.rs",
        "backend/bird/reply.rs",
        "backend/bird/announced.rs",
        "backend/frr/render.rs",
        "backend/frr/plan.rs",
        "backend/frr/running.rs",
        "backend/frr/vty_frame.rs",
        "records/plan.rs",
        "records/pacer.rs",
        "agreement/keys.rs",
        "agreement/cluster.rs",
        "agreement/decision.rs",
        "agreement/view.rs",
    ];
    let mut files: Vec<PathBuf> = pure_files.iter().map(|f| src.join(f)).collect();
    for d in pure_dirs {
        files.extend(rust_files(&src.join(d)));
    }
    let tokio = Regex::new(r"\btokio::[A-Za-z_:]+").unwrap();
    let mut wrong = Vec::new();
    for file in files {
        let text = code(&std::fs::read_to_string(&file).unwrap());
        for m in tokio.find_iter(&text) {
            // A monotonic instant is a plain value; tests pause tokio's clock through it.
            if m.as_str() == "tokio::time::Instant" {
                continue;
            }
            wrong.push(format!("{}: {}", file.display(), m.as_str()));
        }
    }
    assert!(
        wrong.is_empty(),
        "tokio in a pure core:\n{}",
        wrong.join("\n")
    );
}

/// Failures are classed where they happen (`check::Failure`); outside `check/`, nothing
/// searches a check's text to decide anything.
#[test]
fn no_room_outside_check_reads_a_check_detail_to_decide() {
    let c = read_crate();
    let search =
        Regex::new(r"detail\s*\.\s*(contains|starts_with|ends_with|find|matches)\(").unwrap();
    let mut wrong = Vec::new();
    for (room, files) in &c.files {
        if room == "check" {
            continue;
        }
        for (file, text) in files {
            for m in search.find_iter(text) {
                wrong.push(format!("{}: {}", file.display(), m.as_str()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a check's text searched outside check/ (use check::Failure):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_cycle_between_the_files_of_config() {
    let krate = read_crate();
    let config = &krate.files["config"];
    let module = |p: &PathBuf| p.file_stem().unwrap().to_string_lossy().to_string();
    let modules: BTreeSet<String> = config.keys().map(module).filter(|m| m != "mod").collect();
    // Which file defines an item re-exported through config/mod.rs.
    let item =
        Regex::new(r"(?m)^pub (?:struct|enum|fn|const|type|trait|mod) ([A-Za-z_][A-Za-z0-9_]*)")
            .unwrap();
    let mut defined_in: BTreeMap<String, String> = BTreeMap::new();
    for (path, text) in config {
        for c in item.captures_iter(text) {
            defined_in.insert(c[1].to_string(), module(path));
        }
    }
    let item_path = Regex::new(r"\bcrate::config::([A-Z][A-Za-z0-9_]*)\b").unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, text) in config {
        let from = module(path);
        if from == "mod" {
            continue;
        }
        let mut used = names_after(text, "super");
        used.extend(names_after(text, r"crate::config"));
        // `crate::config::Item` reaches the file that defines Item.
        for c in item_path.captures_iter(text) {
            if let Some(m) = defined_in.get(&c[1]) {
                used.insert(m.clone());
            }
        }
        let edges = graph.entry(from.clone()).or_default();
        for u in used {
            if modules.contains(&u) && u != from {
                edges.insert(u);
            }
        }
    }
    assert!(graph.contains_key("validate") && !graph["validate"].is_empty());
    if let Some(c) = find_cycle(&graph) {
        panic!(
            "files of config/ import each other in a circle: {}",
            c.join(" -> ")
        );
    }
}

/// The reader itself: a grouped import, an inline path, a comment and a test module.
#[test]
fn the_reader_sees_grouped_and_inline_paths_but_not_comments_or_tests() {
    let text = code(
        "use crate::{alpha, beta::{x, y}};\n\
         // crate::gamma in a comment\n\
         fn f() { crate::delta::run(); } // crate::epsilon\n\
         #[cfg(test)]\n\
         mod tests {\n\
             use crate::zeta;\n\
         }\n\
         use crate::eta;\n",
    );
    let names = names_after(&text, "crate");
    assert_eq!(
        names,
        ["alpha", "beta", "delta", "eta"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("a".into());
    assert!(find_cycle(&g).is_some());
}
