//! What a test needs besides root and `ip`, and the policy when it is missing: SKIPPED
//! outside CI, a failure with `CI=true`.

use std::fs;
use std::path::{Path, PathBuf};

use super::frr::{FRR_DAEMONS, FRR_SBIN, VTYSH};

/// What a test needs besides root and `ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `bird` and `birdc` (BIRD 2) in PATH.
    Bird2,
    /// `bird`, `bird6`, `birdc`, `birdc6` of BIRD 1.6 in [`bird1_sbin`].
    Bird1,
    /// `gobgpd` and `gobgp` in PATH.
    Gobgp,
    /// FRR's `zebra`, `staticd`, `bgpd` in [`FRR_SBIN`] and [`VTYSH`].
    Frr,
    /// `tcpdump` in PATH, for [`super::gobgp::Router::wire`].
    Tcpdump,
    /// Knot DNS: `knotd` and `knotc` in PATH or /usr/sbin, `kdig` in PATH.
    Knot,
    /// `etcd` in PATH (Debian's etcd-server).
    Etcd,
    /// libfaketime (Debian's `faketime`), see [`libfaketime`].
    Faketime,
}

/// Debian's libfaketime for this architecture (`/usr/lib/<triplet>/faketime/`), if installed.
pub fn libfaketime() -> Option<PathBuf> {
    fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.is_file())
}

/// Where BIRD 1.6's binaries are: `AW_BIRD1_SBIN`, else `/opt/bird1/usr/sbin`.
pub fn bird1_sbin() -> PathBuf {
    std::env::var_os("AW_BIRD1_SBIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/bird1/usr/sbin"))
}

/// A test that cannot run here: prints `SKIPPED: <why>` loudly, or panics with CI=true,
/// where every prerequisite must be installed (integration/setup.sh).
pub fn skip_outside_ci(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: cannot run here although CI=true: {why}");
    }
    eprintln!();
    eprintln!("**************************************************************");
    eprintln!("SKIPPED: {test}: {why}");
    eprintln!("**************************************************************");
}

/// True when `CI=true`: then a missing prerequisite fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Why the lab cannot run here, if it cannot.
pub fn missing(needs: &[Need]) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("network namespaces need root (run the tests as root)".into());
    }
    let mut programs = vec!["ip"];
    for need in needs {
        match need {
            Need::Bird2 => programs.extend(["bird", "birdc"]),
            Need::Gobgp => programs.extend(["gobgpd", "gobgp"]),
            Need::Tcpdump => programs.push("tcpdump"),
            Need::Knot => programs.push("kdig"),
            Need::Etcd => programs.push("etcd"),
            Need::Bird1 | Need::Frr | Need::Faketime => {}
        }
    }
    let mut absent: Vec<String> = programs
        .into_iter()
        .filter(|p| !in_path(p))
        .map(String::from)
        .collect();
    for need in needs {
        match need {
            Need::Bird2 | Need::Gobgp | Need::Tcpdump | Need::Etcd => {}
            Need::Knot => {
                for b in ["knotd", "knotc"] {
                    if !in_path(b) && !is_executable(&Path::new("/usr/sbin").join(b)) {
                        absent.push(b.to_string());
                    }
                }
            }
            Need::Faketime => {
                if libfaketime().is_none() {
                    absent.push("/usr/lib/*/faketime/libfaketime.so.1".into());
                }
            }
            Need::Bird1 => {
                for b in ["bird", "bird6", "birdc", "birdc6"] {
                    let path = bird1_sbin().join(b);
                    if !is_executable(&path) {
                        absent.push(path.display().to_string());
                    }
                }
            }
            Need::Frr => {
                let daemons = FRR_DAEMONS.iter().map(|d| Path::new(FRR_SBIN).join(d));
                for path in daemons.chain([PathBuf::from(VTYSH)]) {
                    if !is_executable(&path) {
                        absent.push(path.display().to_string());
                    }
                }
            }
        }
    }
    if absent.is_empty() {
        None
    } else {
        Some(format!(
            "missing {} (run integration/setup.sh as root)",
            absent.join(", ")
        ))
    }
}
