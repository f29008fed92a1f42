//! Maintenance drains: services an operator withdrew whatever their health
//! (`anycast-warden drain`), kept in `state_dir/drains.json` so that a restart does not put
//! a drained service back on the network.
//!
//! The file is replaced atomically (temporary file, fsync, rename, directory fsync), and
//! it is written *before* the drain takes effect: a drain the file does not hold would be
//! forgotten at the next start.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::status::{Drain, unix_now};
use crate::sys::atomic_write;

/// The file's name in the state directory.
pub const DRAINS_FILE: &str = "drains.json";

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid drains file: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: atomic_write::WriteError,
    },
}

/// Which services are drained, and why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrainState {
    /// `drain --all`: every service, including ones added later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<Drain>,
    #[serde(default)]
    pub services: BTreeMap<String, Drain>,
}

impl DrainState {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(DRAINS_FILE)
    }

    /// The drains in `state_dir`; none when the file does not exist.
    pub fn load(state_dir: &Path) -> Result<DrainState, DrainError> {
        let path = Self::path(state_dir);
        match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| DrainError::Parse { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DrainState::default()),
            Err(source) => Err(DrainError::Read { path, source }),
        }
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), DrainError> {
        let path = Self::path(state_dir);
        let mut text = serde_json::to_vec_pretty(self).unwrap_or_default();
        text.push(b'\n');
        atomic_write::write(&path, &text, 0)
            .map(|_| ())
            .map_err(|source| DrainError::Write { path, source })
    }

    /// Drains `service`, or every service with `None`. A drain already in force keeps
    /// its time but takes the new reason.
    pub fn drain(&mut self, service: Option<&str>, reason: &str) {
        let previous = match service {
            None => self.all.take(),
            Some(name) => self.services.remove(name),
        };
        let drain = Drain {
            reason: reason.to_string(),
            since: previous.map_or_else(unix_now, |d| d.since),
        };
        match service {
            None => self.all = Some(drain),
            Some(name) => {
                self.services.insert(name.to_string(), drain);
            }
        }
    }

    /// Undrains `service`, or with `None` everything (`undrain --all`). Returns whether
    /// anything changed.
    pub fn undrain(&mut self, service: Option<&str>) -> bool {
        match service {
            None => {
                let changed = self.all.is_some() || !self.services.is_empty();
                *self = DrainState::default();
                changed
            }
            Some(name) => self.services.remove(name).is_some(),
        }
    }

    /// The names of the services drained one by one.
    pub fn names(&self) -> BTreeSet<String> {
        self.services.keys().cloned().collect()
    }

    /// The drain of a service: its own, or the node-wide one.
    pub fn of(&self, service: &str) -> Option<&Drain> {
        self.services.get(service).or(self.all.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_nothing_drained() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(DrainState::load(dir.path()).unwrap(), DrainState::default());
    }

    #[test]
    fn drains_survive_a_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = DrainState::default();
        d.drain(Some("dns"), "kernel upgrade");
        d.drain(None, "rack move");
        d.save(dir.path()).unwrap();
        let back = DrainState::load(dir.path()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.of("dns").unwrap().reason, "kernel upgrade");
        assert_eq!(back.of("ntp").unwrap().reason, "rack move");
        assert!(!dir.path().join("drains.json.tmp").exists());
    }

    #[test]
    fn draining_again_keeps_the_time_and_takes_the_new_reason() {
        let mut d = DrainState::default();
        d.drain(Some("dns"), "first");
        d.services.get_mut("dns").unwrap().since = 5.0;
        d.drain(Some("dns"), "second");
        assert_eq!(d.services["dns"].since, 5.0);
        assert_eq!(d.services["dns"].reason, "second");
    }

    #[test]
    fn undrain_one_or_all() {
        let mut d = DrainState::default();
        d.drain(Some("dns"), "");
        d.drain(Some("ntp"), "");
        assert!(d.undrain(Some("dns")));
        assert!(!d.undrain(Some("dns")));
        assert_eq!(d.names(), ["ntp".to_string()].into());
        d.drain(None, "all");
        assert!(d.undrain(None));
        assert_eq!(d, DrainState::default());
        assert!(!d.undrain(None));
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_an_empty_drain_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(DRAINS_FILE), "{ not json").unwrap();
        let e = DrainState::load(dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("drains.json is not a valid drains file"),
            "{e}"
        );
    }
}
