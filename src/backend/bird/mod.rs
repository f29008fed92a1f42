//! The BIRD backend: makes BIRD export exactly the desired prefixes.
//!
//! ```text
//!  desired set ──render──▶ include file(s) ──atomic write──▶ disk
//!                                                    │
//!            BIRD ◀── `configure` (control socket, or the reconfigure command)
//!            BIRD ──▶ reply codes ──judge──▶ Ok / BirdError (with BIRD's own text)
//! ```
//!
//! The user's bird.conf includes our file and filters exports with the sets it defines
//! (`export where net ~ ANYCAST_PREFIXES`). BIRD 2 reads one file with both sets; BIRD 1.6
//! runs `bird` (IPv4) and `bird6` (IPv6), each with its own file, socket and command.
//!
//! Pieces, each testable alone: [`render`] (templates, pure), [`announced`] (reads a
//! file back, pure), [`crate::sys::atomic_write`] (the file replacement), [`reply`] (BIRD's reply
//! codes, pure) and [`control`] (socket and command I/O). `apply` does not retry: the
//! announcer does, with backoff; every BIRD exchange is bounded by `reconfigure_timeout`.

pub mod announced;
pub mod control;
pub mod render;
pub mod reply;

use crate::sys::atomic_write;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use futures_util::future::BoxFuture;
use ipnet::IpNet;
use tracing::{debug, warn};

use crate::backend::{ApplyError, Backend};
use crate::config::{BirdSettings, BirdVariant};

use self::render::{Daemon, RenderedFile};
pub use self::reply::Accepted;

/// Everything that can stop an apply or a read-back; each message names the file, the
/// socket or the command, and carries BIRD's own reply text where there is one.
#[derive(Debug, thiserror::Error)]
pub enum BirdError {
    /// The desired set cannot be written in a form BIRD accepts.
    #[error(transparent)]
    Render(#[from] render::RenderError),
    /// The include file could not be replaced (the old one is intact).
    #[error(transparent)]
    Write(#[from] atomic_write::WriteError),
    /// An existing include file could not be read back.
    #[error(transparent)]
    Read(#[from] announced::ParseError),
    /// BIRD could not be asked to reconfigure, or refused the new configuration.
    #[error("{daemon}: {source}")]
    Reconfigure {
        /// `bird` or `bird6`.
        daemon: &'static str,
        #[source]
        source: control::ReconfigureError,
    },
    /// The blocking file-writing task died (a panic): a bug, reported rather than lost.
    #[error("writing {}: the writer task failed: {message}", path.display())]
    Task { path: PathBuf, message: String },
}

/// The BIRD backend for one `[bird]` configuration.
pub struct BirdBackend {
    settings: BirdSettings,
    /// Per daemon, the file text BIRD last confirmed taking: an unchanged file needs no
    /// reconfigure. Forgotten when a reconfigure fails, so the next apply asks again.
    confirmed: BTreeMap<Daemon, String>,
}

impl BirdBackend {
    pub fn new(settings: &BirdSettings) -> BirdBackend {
        BirdBackend {
            settings: settings.clone(),
            confirmed: BTreeMap::new(),
        }
    }

    /// Service prefixes present in the existing include file(s), dummy prefixes excluded.
    /// A missing file is an empty set. Used at start to purge/adopt.
    pub fn read_announced(&self) -> Result<BTreeSet<IpNet>, BirdError> {
        let mut found = announced::read_file(&self.settings.include_file)?;
        if self.settings.variant == BirdVariant::Bird1
            && let Some(path6) = &self.settings.include_file6
        {
            found.extend(announced::read_file(path6)?);
        }
        if let Some(d) = self.settings.dummy_prefix {
            found.remove(&IpNet::V4(d));
        }
        if let Some(d) = self.settings.dummy_prefix6 {
            found.remove(&IpNet::V6(d));
        }
        Ok(found)
    }

    /// Make BIRD export exactly `desired` (+ the dummy prefixes): render, write atomically,
    /// reconfigure, read BIRD's reply. Idempotent: may be called again with the same set.
    ///
    /// For BIRD 1.6 both files are written first, then each daemon whose file changed is
    /// asked; both are asked even if the first refuses, and the first error is returned.
    pub async fn apply(&mut self, desired: &BTreeSet<IpNet>) -> Result<(), BirdError> {
        let files = render::render_files(&self.settings, desired)?;
        for file in &files {
            self.write(file).await?;
        }
        let mut first_error = None;
        for file in files {
            if self.confirmed.get(&file.daemon) == Some(&file.text) {
                debug!(file = %file.path.display(), "include file unchanged since BIRD took it; no reconfigure");
                continue;
            }
            self.confirmed.remove(&file.daemon);
            match self.reconfigure(file.daemon).await {
                Ok(accepted) => {
                    debug!(daemon = daemon_name(file.daemon), file = %file.path.display(), prefixes = desired.len(), "BIRD {accepted}");
                    self.confirmed.insert(file.daemon, file.text);
                }
                Err(e) if first_error.is_none() => first_error = Some(e),
                Err(e) => warn!(error = %e, "BIRD reconfigure failed"),
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Replaces one include file, off the async threads (fsync can take a while).
    async fn write(&self, file: &RenderedFile) -> Result<(), BirdError> {
        let path = file.path.clone();
        let text = file.text.clone();
        let keep = self.settings.keep_changes;
        let written =
            tokio::task::spawn_blocking(move || atomic_write::write(&path, text.as_bytes(), keep))
                .await
                .map_err(|e| BirdError::Task {
                    path: file.path.clone(),
                    message: e.to_string(),
                })??;
        if written.changed {
            debug!(file = %written.path.display(), "include file written");
        }
        Ok(())
    }

    /// Asks one daemon to re-read its configuration: over its control socket when one
    /// is configured, else by running its reconfigure command.
    async fn reconfigure(&self, daemon: Daemon) -> Result<Accepted, BirdError> {
        let s = &self.settings;
        let timeout = s.reconfigure_timeout;
        let (socket, command) = match daemon {
            Daemon::Bird => (s.control_socket.as_ref(), s.reconfigure.clone()),
            Daemon::Bird6 => (
                s.control_socket6.as_ref(),
                s.reconfigure6
                    .clone()
                    .unwrap_or_else(|| vec!["birdc6".into(), "configure".into()]),
            ),
        };
        let result = match socket {
            Some(socket) => control::configure_socket(socket, timeout, true).await,
            None => control::configure_command(&command, timeout).await,
        };
        result.map_err(|source| BirdError::Reconfigure {
            daemon: daemon_name(daemon),
            source,
        })
    }
}

fn daemon_name(daemon: Daemon) -> &'static str {
    match daemon {
        Daemon::Bird => "bird",
        Daemon::Bird6 => "bird6",
    }
}

/// Lets the announcer drive BIRD through its `Backend` trait.
impl Backend for BirdBackend {
    fn apply<'a>(
        &'a mut self,
        desired: &'a BTreeSet<IpNet>,
    ) -> BoxFuture<'a, Result<(), ApplyError>> {
        Box::pin(async move {
            BirdBackend::apply(self, desired)
                .await
                .map_err(ApplyError::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::bird::render::tests::{set, settings};

    #[test]
    fn read_announced_excludes_dummies_and_reads_both_bird1_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(BirdVariant::Bird1);
        s.include_file = dir.path().join("v4.conf");
        s.include_file6 = Some(dir.path().join("v6.conf"));
        let backend = BirdBackend::new(&s);
        assert_eq!(backend.read_announced().unwrap(), BTreeSet::new());
        let want = set(&["203.0.113.53/32", "2001:db8::53/128"]);
        for f in render::render_files(&s, &want).unwrap() {
            atomic_write::write(&f.path, f.text.as_bytes(), 0).unwrap();
        }
        assert_eq!(backend.read_announced().unwrap(), want);
    }

    #[test]
    fn read_announced_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(BirdVariant::Bird2);
        s.include_file = dir.path().join("p.conf");
        std::fs::write(&s.include_file, "define A = [ nonsense ];\n").unwrap();
        let err = BirdBackend::new(&s).read_announced().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}:1: 'nonsense' is not an IP prefix",
                s.include_file.display()
            )
        );
    }

    #[tokio::test]
    async fn apply_writes_then_reports_the_command_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = settings(BirdVariant::Bird2);
        s.include_file = dir.path().join("p.conf");
        s.reconfigure = vec!["false".into()];
        let mut backend = BirdBackend::new(&s);
        let want = set(&["203.0.113.53/32"]);
        let err = backend.apply(&want).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "bird: `false` failed (exit status: 1): no output"
        );
        // The file was written all the same; a retry asks BIRD again.
        assert_eq!(backend.read_announced().unwrap(), want);
        assert!(backend.apply(&want).await.is_err());
    }

    #[tokio::test]
    async fn unchanged_file_is_not_reconfigured_again() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let mut s = settings(BirdVariant::Bird2);
        s.include_file = dir.path().join("p.conf");
        s.reconfigure = vec![
            "sh".into(),
            "-c".into(),
            format!("echo x >> {}", count.display()),
        ];
        let mut backend = BirdBackend::new(&s);
        let a = set(&["203.0.113.53/32"]);
        backend.apply(&a).await.unwrap();
        backend.apply(&a).await.unwrap();
        backend.apply(&BTreeSet::new()).await.unwrap();
        let runs = std::fs::read_to_string(&count).unwrap().lines().count();
        assert_eq!(runs, 2);
    }

    #[tokio::test]
    async fn bird1_uses_each_daemons_command() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut s = settings(BirdVariant::Bird1);
        s.include_file = dir.path().join("v4.conf");
        s.include_file6 = Some(dir.path().join("v6.conf"));
        let cmd = |name: &str| {
            vec![
                "sh".into(),
                "-c".into(),
                format!("echo {name} >> {}", log.display()),
            ]
        };
        s.reconfigure = cmd("bird");
        s.reconfigure6 = Some(cmd("bird6"));
        let mut backend = BirdBackend::new(&s);
        backend.apply(&set(&["203.0.113.53/32"])).await.unwrap();
        // Only the IPv6 file changes now.
        backend
            .apply(&set(&["203.0.113.53/32", "2001:db8::53/128"]))
            .await
            .unwrap();
        let runs = std::fs::read_to_string(&log).unwrap();
        assert_eq!(runs, "bird\nbird6\nbird6\n");
    }
}
