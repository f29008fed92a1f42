//! Backends make the routing side announce exactly the desired set.

pub mod bird;

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::announce::Backend;
use crate::config::BirdSettings;

/// The backend for the configured routing daemon.
pub fn from_settings(settings: &BirdSettings) -> Box<dyn Backend> {
    Box::new(bird::BirdBackend::new(settings))
}

/// Prefixes the routing side announced before the daemon started (for purge/adopt).
pub fn read_announced(settings: &BirdSettings) -> Result<BTreeSet<IpNet>, String> {
    bird::BirdBackend::new(settings)
        .read_announced()
        .map_err(|e| e.to_string())
}
