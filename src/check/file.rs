//! `kind = "file"`: passes while `path` exists, or with `absent = true` while it does not.
//! The maintenance switch: `touch /etc/anycast-warden/maintenance` withdraws the service.

use std::io::ErrorKind;
use std::path::PathBuf;

use super::{CheckOutcome, Failure};
use crate::config::FileSpec;

#[derive(Debug, Clone)]
pub struct FileCheck {
    path: PathBuf,
    absent: bool,
}

impl FileCheck {
    pub fn new(spec: &FileSpec) -> Self {
        FileCheck {
            path: spec.path.clone(),
            absent: spec.absent,
        }
    }

    /// Follows symlinks: a dangling link counts as absent. Any other error (a directory
    /// that cannot be searched) fails either way, as the answer is unknown.
    pub async fn run(&self) -> CheckOutcome {
        let exists = match tokio::fs::metadata(&self.path).await {
            Ok(_) => true,
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => {
                return CheckOutcome::fail(
                    Failure::Other,
                    format!("cannot look at {}: {e}", self.path.display()),
                );
            }
        };
        let shown = self.path.display();
        match (exists, self.absent) {
            (true, false) => CheckOutcome::pass(format!("{shown} exists")),
            (false, true) => CheckOutcome::pass(format!("{shown} is absent")),
            (false, false) => {
                CheckOutcome::fail(Failure::Unexpected, format!("{shown} does not exist"))
            }
            (true, true) => CheckOutcome::fail(Failure::Unexpected, format!("{shown} exists")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn present_and_absent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("maintenance");
        let exists = FileCheck::new(&FileSpec {
            path: path.clone(),
            absent: false,
        });
        let absent = FileCheck::new(&FileSpec {
            path: path.clone(),
            absent: true,
        });
        let out = exists.run().await;
        assert!(!out.passed());
        assert!(out.detail.ends_with("does not exist"), "{}", out.detail);
        assert!(absent.run().await.passed());
        std::fs::write(&path, b"").unwrap();
        assert!(exists.run().await.passed());
        let out = absent.run().await;
        assert!(!out.passed());
        assert!(out.detail.ends_with("maintenance exists"), "{}", out.detail);
    }

    #[tokio::test]
    async fn dangling_symlink_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
        let check = FileCheck::new(&FileSpec {
            path: link,
            absent: true,
        });
        assert!(check.run().await.passed());
    }
}
