//! Replays the fuzzing corpus (`fuzz/corpus/<target>/`) through the same invariants the
//! cargo-fuzz targets check (`anycast_warden::fuzz_invariants`), on stable Rust, so every
//! input that once found new coverage, or a crash, is checked on every CI run.

use std::path::{Path, PathBuf};

use anycast_warden::fuzz_invariants::{TARGETS, run};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn every_target_has_a_corpus_and_every_input_holds() {
    for target in TARGETS {
        let dir = corpus_dir(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e} (each fuzz target keeps a corpus)", dir.display()));
        let mut replayed = 0;
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let outcome = std::panic::catch_unwind(|| run(target, &data));
            assert!(
                outcome.is_ok(),
                "{target}: {} breaks an invariant",
                path.display()
            );
            replayed += 1;
        }
        assert!(replayed > 0, "{}: the corpus is empty", dir.display());
        eprintln!("{target}: {replayed} inputs replayed");
    }
}

#[test]
fn a_broken_invariant_is_caught() {
    // The replay is only worth something if a violation fails it: an unknown target panics.
    assert!(std::panic::catch_unwind(|| run("no-such-target", b"")).is_err());
}

#[test]
fn the_fuzz_crate_declares_every_target() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
            .expect("fuzz/Cargo.toml");
    for target in TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "fuzz/Cargo.toml has no [[bin]] for {target}"
        );
        let source =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{target}.rs"));
        assert!(source.exists(), "{} is missing", source.display());
    }
}
