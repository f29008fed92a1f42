//! Command-line interface: what the user types, parsed by clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::ConfigPaths;
use crate::config::load::{DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE};

/// Keeps anycast prefixes announced through BIRD only while their services are healthy.
///
/// Exit status: 0 success, 1 runtime failure, 2 invalid configuration or usage.
#[derive(Debug, Parser)]
#[command(name = "anycast-warden", version)]
pub struct Cli {
    /// Main configuration file.
    #[arg(long, short = 'c', global = true, env = "ANYCAST_WARDEN_CONFIG", default_value = DEFAULT_CONFIG_FILE)]
    pub config: PathBuf,
    /// Directory whose *.toml files hold more [[service]] tables.
    #[arg(long, global = true, env = "ANYCAST_WARDEN_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Commands,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Run the checks and keep BIRD announcing exactly the healthy services' prefixes.
    ///
    /// SIGTERM/SIGINT withdraw every prefix and exit; SIGHUP reloads the configuration
    /// (a bad one is refused and the running one stays); SIGURG runs every check now.
    Run,
    /// Validate the configuration and print a line per service (exit 0 valid, 2 invalid).
    Check,
    /// Print the effective configuration, every default filled in, as TOML.
    PrintConfig,
}

impl Cli {
    pub fn paths(&self) -> ConfigPaths {
        ConfigPaths {
            file: self.config.clone(),
            dir: self
                .config_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_DIR)),
            dir_required: self.config_dir.is_some(),
        }
    }
}
