//! Link-time settings for the daemon binary.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let order = Path::new("link/symbol-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    // Packed relative relocations (DT_RELR, glibc 2.36+; lld, or GNU ld 2.38+): the PIE's
    // relocation table shrinks from ~470 KB, which the loader reads at every start and
    // which then stays resident, to a few KB. An older GNU ld ignores the option with a
    // warning; an older glibc refuses such a binary at start, naming GLIBC_ABI_DT_RELR.
    // The `portable` feature leaves them out for glibc 2.34 and 2.35.
    if std::env::var_os("CARGO_FEATURE_PORTABLE").is_none() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // The functions the daemon runs first in .text, so that they share pages: the kernel
    // maps at least 64 KB around each page fault, and spread over the whole binary they
    // made about 5 MB of code resident with one service (1.9 MB ordered; BENCHMARKS.md,
    // section 3). Only lld takes the option, and Rust links this target with its own lld
    // from 1.90 unless the linker is changed.
    if target == "x86_64-unknown-linux-gnu" && order.exists() && default_lld_linker() {
        let path = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join(order);
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            path.display()
        );
        // The file lists functions of one build; others may be gone, which is no error.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether rustc links with its bundled lld: Rust 1.90 or later, with no other linker or
/// linker flavour asked for.
fn default_lld_linker() -> bool {
    if std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some() {
        return false;
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if flags
        .split('\u{1f}')
        .any(|f| f.contains("linker") || f.contains("fuse-ld") || f.contains("link-self-contained"))
    {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("--version").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&out.stdout);
    matches!(rustc_major_minor(&version), Some((1, minor)) if minor >= 90)
}

/// Major and minor version from `rustc --version` output such as
/// "rustc 1.95.0 (59807616e 2026-04-14)" -> (1, 95); `None` for anything else.
fn rustc_major_minor(version: &str) -> Option<(u32, u32)> {
    let mut numbers = version.split_whitespace().nth(1)?.split('.');
    let major = numbers.next()?.parse().ok()?;
    let minor = numbers.next()?.parse().ok()?;
    Some((major, minor))
}
