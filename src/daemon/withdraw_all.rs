//! `anycast-warden withdraw-all`: make the routing daemon announce nothing, without a
//! running warden. systemd runs it as `ExecStopPost=`, so that a daemon that crashed or
//! was killed (and so could not withdraw at exit) leaves nothing announced.

use std::time::Duration;

use crate::announce;
use crate::backend;
use crate::config::{Config, Routing};
use crate::faces::control::{Request, client};
use crate::status::StatusBoard;

/// How long the withdrawal keeps retrying.
const DEADLINE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum WithdrawError {
    #[error(
        "anycast-warden is running (it answers on {socket}) and would announce again; stop it (SIGTERM withdraws everything) or use `anycast-warden drain --all`"
    )]
    DaemonRunning { socket: String },
    #[error("the routing daemon did not confirm the withdrawal within {}s", DEADLINE.as_secs())]
    NotConfirmed,
}

/// BIRD: empty sets in the include file and a reconfigure; FRR: every route the warden
/// owns removed (and only those). The built-in speaker: nothing to do, since its routes
/// left with its BGP sessions when the process ended (or, with graceful restart, leave
/// when the peers' restart timer runs out).
pub async fn withdraw_all(config: &Config) -> Result<(), WithdrawError> {
    let socket = &config.control.socket;
    if client::call(socket, &Request::Status, Duration::from_secs(2)).is_ok() {
        return Err(WithdrawError::DaemonRunning {
            socket: socket.display().to_string(),
        });
    }
    if let Routing::Bgp(_) = config.routing {
        tracing::info!(
            "the built-in BGP speaker announces only over its own sessions, which end with the daemon; nothing to withdraw"
        );
        return Ok(());
    }
    let mut backend = backend::for_config(config);
    if announce::withdraw_all(backend.as_mut(), DEADLINE, &StatusBoard::default()).await {
        Ok(())
    } else {
        Err(WithdrawError::NotConfirmed)
    }
}
