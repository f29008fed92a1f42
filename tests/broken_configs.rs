//! The corpus of broken configurations (`tests/broken_configs/*.toml`, one mistake each:
//! wrong types, bad prefixes and durations, duplicate or unsafe names, unknown kinds and
//! keys, unreadable files, TOML syntax). Each must make `check` and `run` exit 2 with a
//! message naming the file, line and column, and `run` must not start the daemon.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_anycast-warden");
/// The state directory the corpus files name; each run gets its own instead.
const STATE_DIR_IN_FILES: &str = "/tmp/aw-broken-state";

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken_configs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Whether `text` holds `path:LINE:COL: `.
fn names_a_place(text: &str, path: &Path) -> bool {
    let prefix = format!("{}:", path.display());
    text.match_indices(&prefix).any(|(at, _)| {
        let rest = &text[at + prefix.len()..];
        let mut parts = rest.splitn(3, ':');
        let line = parts.next().unwrap_or("");
        let col = parts.next().unwrap_or("");
        !line.is_empty()
            && line.bytes().all(|b| b.is_ascii_digit())
            && !col.is_empty()
            && col.bytes().all(|b| b.is_ascii_digit())
            && parts.next().is_some_and(|r| r.starts_with(' '))
    })
}

#[test]
fn the_place_finder_needs_line_and_column() {
    let p = Path::new("/x/a.toml");
    assert!(names_a_place("/x/a.toml:3:14: bad", p));
    assert!(!names_a_place("/x/a.toml: bad", p));
    assert!(!names_a_place("/x/a.toml:3: bad", p));
    assert!(!names_a_place("/x/b.toml:3:14: bad", p));
}

#[test]
fn every_broken_configuration_is_refused_with_its_place_and_starts_nothing() {
    let files = corpus();
    assert!(
        files.len() >= 50,
        "the corpus has {} files, fewer than 50",
        files.len()
    );
    let mut problems = Vec::new();
    for original in &files {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let text = std::fs::read_to_string(original).expect("corpus file");
        let path = dir.path().join(original.file_name().expect("file name"));
        std::fs::write(
            &path,
            text.replace(STATE_DIR_IN_FILES, &state.display().to_string()),
        )
        .expect("write copy");
        let name = original.file_name().unwrap_or_default().to_string_lossy();

        let check = Command::new(BIN)
            .args(["check", "-c"])
            .arg(&path)
            .output()
            .expect("run check");
        let stderr = String::from_utf8_lossy(&check.stderr);
        if check.status.code() != Some(2) {
            problems.push(format!(
                "{name}: check exited {:?}: {stderr}",
                check.status.code()
            ));
        } else if !names_a_place(&stderr, &path) {
            problems.push(format!("{name}: check names no file:line:col: {stderr}"));
        }

        let mut run = Command::new(BIN)
            .args(["run", "-c"])
            .arg(&path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start run");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = run.try_wait().expect("wait") {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = run.kill();
                let _ = run.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        match status {
            Some(s) if s.code() == Some(2) => {}
            Some(s) => problems.push(format!("{name}: run exited {:?}", s.code())),
            None => problems.push(format!("{name}: run was still running after 20 s")),
        }
        if state.join("control.sock").exists() {
            problems.push(format!("{name}: run created its control socket"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
