//! Replaces a file so that a reader (BIRD) sees either the old or the new content, never
//! a mix, and a crash leaves one of the two on disk.
//!
//! The new content goes to a temporary file in the target's own directory (a rename is
//! atomic only within one filesystem), is fsynced, renamed over the target, and then the
//! directory is fsynced so the rename itself survives a crash. A symlinked target is
//! followed: the link's final target is replaced and the link stays. On any error the
//! old file is untouched and the temporary file is removed (it is dropped).
//!
//! With `keep_changes = N > 0` the replaced version is kept as
//! `history/<name>.<RFC 3339 time>` beside the resolved file, and only the newest N stay.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::warn;

/// A step of the write that failed, with the path it was working on.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot resolve symlink {}: {source}", path.display())]
    ResolveLink {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("too many levels of symlinks at {}", path.display())]
    LinkLoop { path: PathBuf },
    #[error("cannot create directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot create a temporary file in {}: {source}", dir.display())]
    CreateTemp {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot replace {}: {source}", path.display())]
    Rename {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot sync directory {}: {source}", path.display())]
    SyncDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What [`write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The file actually replaced (the symlink's target when `path` is a link).
    pub path: PathBuf,
    /// False when the file already held exactly this content (nothing was written).
    pub changed: bool,
}

/// Symlinks followed at most, as the kernel's own limit (ELOOP).
const MAX_LINKS: usize = 40;

/// Follows `path` through symlinks to the file they finally name (which may not exist).
pub fn resolve(path: &Path) -> Result<PathBuf, WriteError> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&current).map_err(|source| WriteError::ResolveLink {
                    path: current.clone(),
                    source,
                })?;
                // A relative link target is relative to the link's directory.
                current = match current.parent() {
                    Some(dir) if target.is_relative() => dir.join(target),
                    _ => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(current),
            Err(source) => {
                return Err(WriteError::ResolveLink {
                    path: current,
                    source,
                });
            }
        }
    }
    Err(WriteError::LinkLoop {
        path: path.to_path_buf(),
    })
}

/// Atomically makes `path` (or the file its symlink names) hold `contents`.
///
/// Keeps the replaced version in `history/` when `keep_changes > 0`. Blocking: call it
/// from `spawn_blocking` in async code.
pub fn write(path: &Path, contents: &[u8], keep_changes: u32) -> Result<Written, WriteError> {
    let target = resolve(path)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let old = match fs::read(&target) {
        Ok(old) => Some(old),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(WriteError::Write {
                path: target,
                source,
            });
        }
    };
    if old.as_deref() == Some(contents) {
        return Ok(Written {
            path: target,
            changed: false,
        });
    }
    fs::create_dir_all(&dir).map_err(|source| WriteError::CreateDir {
        path: dir.clone(),
        source,
    })?;

    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Dropped (and so deleted) on every early return below.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|source| WriteError::CreateTemp {
            dir: dir.clone(),
            source,
        })?;
    let write_err = |source| WriteError::Write {
        path: tmp_path_for_messages(&dir, &name),
        source,
    };
    // The temp file is 0600; BIRD often runs as its own user and must read the file, so
    // keep the old file's mode, or use 0644 for a new one.
    let mode = fs::metadata(&target)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    tmp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(write_err)?;
    tmp.write_all(contents).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;

    let mut kept = None;
    if keep_changes > 0 && old.is_some() {
        // History is a convenience: failing to keep it must not stop the update.
        match keep_history(&target, &dir, &name, keep_changes) {
            Ok(path) => kept = Some(path),
            Err(e) => {
                warn!(file = %target.display(), error = %e, "cannot keep the replaced include file in history/");
            }
        }
    }

    if let Err(e) = tmp.persist(&target) {
        // The old file is still current: it is not history yet.
        if let Some(kept) = kept {
            let _ = fs::remove_file(kept);
        }
        return Err(WriteError::Rename {
            path: target.clone(),
            source: e.error,
        });
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| WriteError::SyncDir {
            path: dir.clone(),
            source,
        })?;
    Ok(Written {
        path: target,
        changed: true,
    })
}

fn tmp_path_for_messages(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.*.tmp"))
}

/// Links (or copies) the current `target` into `history/` and prunes the oldest.
fn keep_history(target: &Path, dir: &Path, name: &str, keep: u32) -> io::Result<PathBuf> {
    let history = dir.join("history");
    fs::create_dir_all(&history)?;
    let stamp = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
    let mut kept = history.join(format!("{name}.{stamp}"));
    let mut n = 1;
    while kept.exists() {
        kept = history.join(format!("{name}.{stamp}.{n}"));
        n += 1;
    }
    // A hard link costs nothing and keeps the old inode after the rename replaces it.
    if fs::hard_link(target, &kept).is_err() {
        fs::copy(target, &kept)?;
    }
    prune_history(&history, name, keep as usize)?;
    Ok(kept)
}

/// Removes all but the newest `keep` versions of `name` (their names sort by time).
/// Only `name.<digit>...` counts, so `p.conf`'s pruning spares `p.conf.v6`'s history.
fn prune_history(history: &Path, name: &str, keep: usize) -> io::Result<()> {
    let prefix = format!("{name}.");
    let is_version = |file: &str| {
        file.strip_prefix(&prefix)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    };
    let mut versions: Vec<PathBuf> = fs::read_dir(history)?
        .filter_map(Result::ok)
        .filter(|e| is_version(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    versions.sort();
    let excess = versions.len().saturating_sub(keep);
    for old in &versions[..excess] {
        fs::remove_file(old)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::process::Command;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn creates_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        let w = write(&path, b"one\n", 0).unwrap();
        assert_eq!(
            w,
            Written {
                path: path.clone(),
                changed: true
            }
        );
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
        write(&path, b"two\n", 0).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        assert_eq!(entries(dir.path()), vec!["a.conf"], "no temp file left");
    }

    #[test]
    fn same_content_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        write(&path, b"x", 3).unwrap();
        let w = write(&path, b"x", 3).unwrap();
        assert!(!w.changed);
        assert!(!dir.path().join("history").exists());
    }

    #[test]
    fn keeps_the_old_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        write(&path, b"new", 0).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn creates_missing_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/y/a.conf");
        write(&path, b"deep", 0).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"deep");
    }

    #[test]
    fn follows_symlinks_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("prefixes.conf");
        fs::write(&real, "old").unwrap();
        let link = dir.path().join("link.conf");
        symlink("real/prefixes.conf", &link).unwrap();
        // A chain of two links, the second absolute.
        let link2 = dir.path().join("link2.conf");
        symlink(&link, &link2).unwrap();

        let w = write(&link2, b"new", 2).unwrap();
        assert_eq!(w.path, real);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(
            fs::symlink_metadata(&link2)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(fs::read(&link2).unwrap(), b"new");
        // The temp file and history live beside the real file, not the link.
        assert_eq!(entries(&real_dir), vec!["history", "prefixes.conf"]);
        assert_eq!(entries(dir.path()), vec!["link.conf", "link2.conf", "real"]);
    }

    #[test]
    fn dangling_symlink_creates_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.conf");
        symlink(dir.path().join("sub/target.conf"), &link).unwrap();
        write(&link, b"made", 0).unwrap();
        assert_eq!(
            fs::read(dir.path().join("sub/target.conf")).unwrap(),
            b"made"
        );
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn symlink_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        symlink(&b, &a).unwrap();
        symlink(&a, &b).unwrap();
        let err = write(&a, b"x", 0).unwrap_err();
        assert!(matches!(err, WriteError::LinkLoop { .. }), "{err}");
    }

    #[test]
    fn history_keeps_the_last_n_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        for i in 0..6 {
            write(&path, format!("v{i}").as_bytes(), 3).unwrap();
        }
        let history = dir.path().join("history");
        let kept = entries(&history);
        assert_eq!(kept.len(), 3, "{kept:?}");
        let contents: Vec<String> = kept
            .iter()
            .map(|n| fs::read_to_string(history.join(n)).unwrap())
            .collect();
        // v5 is current; the three versions before it are kept, oldest first.
        assert_eq!(contents, vec!["v2", "v3", "v4"]);
        assert!(kept.iter().all(|n| n.starts_with("a.conf.")));
        assert_eq!(fs::read_to_string(&path).unwrap(), "v5");
    }

    #[test]
    fn history_of_similar_names_is_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("p.conf");
        let b = dir.path().join("p.conf.v6");
        for i in 0..4 {
            write(&a, format!("a{i}").as_bytes(), 1).unwrap();
            write(&b, format!("b{i}").as_bytes(), 2).unwrap();
        }
        let kept = entries(&dir.path().join("history"));
        assert_eq!(
            kept.iter().filter(|n| n.starts_with("p.conf.v6.")).count(),
            2
        );
        assert_eq!(kept.len(), 3, "{kept:?}");
    }

    #[test]
    fn no_history_when_keep_changes_is_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        write(&path, b"1", 0).unwrap();
        write(&path, b"2", 0).unwrap();
        assert!(!dir.path().join("history").exists());
    }

    #[test]
    fn a_directory_in_the_way_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.conf");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("inside"), "keep").unwrap();
        let err = write(&path, b"x", 0).unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(entries(dir.path()), vec!["a.conf"]);
        assert_eq!(fs::read_to_string(path.join("inside")).unwrap(), "keep");
    }

    #[test]
    fn parent_that_is_a_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("file"), "").unwrap();
        let err = write(&dir.path().join("file/a.conf"), b"x", 0).unwrap_err();
        assert!(err.to_string().contains("file/a.conf"), "{err}");
    }

    /// Makes `dir` unwritable for this process: mode 0555, or `chattr +i` for root (who
    /// ignores mode bits). Undone on drop so the tempdir can be removed.
    struct Unwritable<'a> {
        dir: &'a Path,
        immutable: bool,
    }

    impl<'a> Unwritable<'a> {
        fn new(dir: &'a Path) -> Option<Unwritable<'a>> {
            let probe = dir.join("probe");
            let writable = || {
                let ok = fs::write(&probe, "").is_ok();
                let _ = fs::remove_file(&probe);
                ok
            };
            fs::set_permissions(dir, Permissions::from_mode(0o555)).ok()?;
            if !writable() {
                return Some(Unwritable {
                    dir,
                    immutable: false,
                });
            }
            // Still writable: we are root. The immutable flag stops root too.
            fs::set_permissions(dir, Permissions::from_mode(0o755)).ok()?;
            let guard = Unwritable {
                dir,
                immutable: true,
            };
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            (ok && !writable()).then_some(guard)
        }
    }

    impl Drop for Unwritable<'_> {
        fn drop(&mut self) {
            if self.immutable {
                let _ = Command::new("chattr").arg("-i").arg(self.dir).status();
            } else {
                let _ = fs::set_permissions(self.dir, Permissions::from_mode(0o755));
            }
        }
    }

    #[test]
    fn unwritable_directory_leaves_the_old_file_intact() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("ro");
        fs::create_dir(&sub).unwrap();
        let path = sub.join("a.conf");
        fs::write(&path, "old").unwrap();
        let Some(guard) = Unwritable::new(&sub) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("cannot make a directory unwritable (chattr +i failed)");
            }
            // Past the harness's capture of eprintln!, so the skip is seen.
            let _ = writeln!(
                io::stderr(),
                "SKIPPED: cannot make a directory unwritable (no chattr +i here)"
            );
            return;
        };
        let err = write(&path, b"new", 3).unwrap_err();
        drop(guard);
        assert!(matches!(err, WriteError::CreateTemp { .. }), "{err}");
        assert!(
            err.to_string().contains(&sub.display().to_string()),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(entries(&sub), vec!["a.conf"]);
    }
}
