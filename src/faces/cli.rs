//! Command-line interface: what the user types, parsed by clap.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::ConfigPaths;
use crate::config::load::{DEFAULT_CONFIG_DIR, DEFAULT_CONFIG_FILE};

/// Keeps anycast prefixes announced through BIRD or FRR only while their services are healthy.
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
    /// Show each service's state, announced prefixes, last check and the backend's state.
    ///
    /// Asks the running daemon over its control socket. With --nagios, prints a
    /// Nagios/Icinga plugin line and exits 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Status {
        /// The whole status as JSON.
        #[arg(long, conflicts_with = "nagios")]
        json: bool,
        /// A Nagios/Icinga plugin line and exit code.
        #[arg(long)]
        nagios: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Run the checks of one service (or of every service) now, like SIGURG.
    CheckNow {
        /// The service; every service when left out.
        service: Option<String>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Withdraw a healthy service for maintenance; it stays withdrawn across restarts
    /// until `undrain`. Waits until the routing daemon no longer announces it.
    Drain {
        /// The service to drain.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        service: Option<String>,
        /// Drain every service (including services added later).
        #[arg(long)]
        all: bool,
        /// Why, shown by `status`.
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// End a drain: the service is announced again as soon as it is healthy.
    Undrain {
        /// The service to undrain.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        service: Option<String>,
        /// End every drain.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Add a service to the running daemon (or replace one added this way); it is
    /// validated like the configuration and kept in the state directory across restarts.
    Register {
        /// The service's name.
        #[arg(long)]
        name: String,
        /// A prefix to announce while it is healthy (repeat for more).
        #[arg(long = "prefix", required = true, value_name = "PREFIX")]
        prefixes: Vec<String>,
        /// A check as KIND:ARGS: tcp:HOST:PORT, exec:PROGRAM ARGS... (no shell),
        /// shell:LINE (repeat for more; all must pass).
        #[arg(long = "check", required = true, value_name = "KIND:ARGS")]
        checks: Vec<String>,
        /// How often the checks run, e.g. 5s (default: [defaults] or 10s).
        #[arg(long)]
        interval: Option<String>,
        #[arg(long)]
        rise: Option<u32>,
        #[arg(long)]
        fall: Option<u32>,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Remove a service added with `register`; its prefixes are withdrawn.
    Deregister {
        /// The service's name.
        name: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Make the running daemon load its files again (as SIGHUP does) and say whether the
    /// new configuration runs: a refused one prints each problem with its file:line:col and
    /// exits 2, and the running configuration stays (for systemd's ExecReload=).
    Reload {
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Make the routing daemon announce nothing, without a running anycast-warden
    /// (for systemd's ExecStopPost=, so a crashed daemon leaves nothing announced).
    WithdrawAll,
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print anycast-warden(8) (roff), or write anycast-warden.8 and anycast-warden.toml.5
    /// into a directory.
    Man {
        /// Write anycast-warden.8 and anycast-warden.toml.5 here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Where the running daemon listens.
#[derive(Debug, Clone, clap::Args)]
pub struct SocketArg {
    /// The control socket; default: [control] socket of the configuration.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
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
