//! Backends make the routing side announce exactly the desired set.

pub mod bird;
mod bird_interim;

use crate::announce::Backend;
use crate::config::BirdSettings;

/// The backend for the configured routing daemon.
pub fn from_settings(settings: &BirdSettings) -> Box<dyn Backend> {
    Box::new(bird_interim::InterimBird::new(settings.clone()))
}

/// Prefixes the routing side announced before the daemon started (for purge/adopt).
pub fn read_announced(
    settings: &BirdSettings,
) -> Result<std::collections::BTreeSet<ipnet::IpNet>, String> {
    bird_interim::read_announced(settings)
}
