//! Which glibc the daemon binary needs, read from its version references (`readelf -V`,
//! binutils). The default build needs 2.36 for packed relative relocations
//! (`GLIBC_ABI_DT_RELR`); everything else it references must be 2.34 or older, so that the
//! `portable` build (`--features portable`, the same code without DT_RELR) runs on RHEL 9
//! and Ubuntu 22.04. Run with `--features portable`, this reads the portable binary itself.

use std::process::Command;

const WARDEN: &str = env!("CARGO_BIN_EXE_anycast-warden");

/// The newest glibc a portable build may need.
const PORTABLE_MAX: (u32, u32) = (2, 34);

/// The `GLIBC_x.y` versions the binary references, and whether it needs DT_RELR support.
fn glibc_needs() -> Option<(Vec<(u32, u32)>, bool)> {
    let out = match Command::new("readelf").args(["-V", WARDEN]).output() {
        Ok(out) if out.status.success() => out,
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "readelf (binutils) is needed: {other:?}"
            );
            eprintln!("SKIPPED: readelf (binutils) is not installed");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let relr = text.contains("GLIBC_ABI_DT_RELR");
    let versions = text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("GLIBC_2."))
        .filter_map(|rest| {
            let minor = rest.split('.').next()?;
            Some((2, minor.parse().ok()?))
        })
        .collect();
    Some((versions, relr))
}

#[test]
fn the_binary_needs_no_glibc_newer_than_the_portable_build_allows() {
    let Some((versions, relr)) = glibc_needs() else {
        return;
    };
    assert!(
        versions.len() > 5,
        "too few GLIBC versions read, the check tests nothing: {versions:?}"
    );
    let newest = versions.iter().max().copied().unwrap_or((0, 0));
    assert!(
        newest <= PORTABLE_MAX,
        "the binary references GLIBC_{}.{} (portable builds allow {}.{}); versions: {versions:?}",
        newest.0,
        newest.1,
        PORTABLE_MAX.0,
        PORTABLE_MAX.1
    );
    // DT_RELR exactly when the build asks for it (build.rs), and never on another target.
    let expected = cfg!(all(target_env = "gnu", not(feature = "portable")));
    assert_eq!(
        relr, expected,
        "GLIBC_ABI_DT_RELR present: {relr}, expected: {expected}"
    );
}
