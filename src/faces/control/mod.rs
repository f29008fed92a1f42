//! The control socket: a Unix socket under the state directory through which the CLI
//! (`status`, `check-now`, `drain`, `undrain`, `register`, `deregister`, `reload`) talks to the
//! running daemon. The HTTP API (`faces::api`) answers the same requests the same way.
//!
//! ```text
//!  anycast-warden status ──JSON line──▶ server (one task per connection)
//!                        ◀─JSON line──    │ status: read from the StatusBoard
//!                                         │ anything else: ──Call──▶ supervisor ──▶ announcer
//! ```
//! The protocol is line-delimited JSON: each request is one line, each answer one line.
//! `{"command":"status"}`, `{"command":"check-now","service":"dns"}`,
//! `{"command":"drain","service":null,"reason":"rack move"}`, `{"command":"undrain"}`,
//! `{"command":"register","name":"web","prefixes":[...],"checks":["tcp:127.0.0.1:80"]}`,
//! `{"command":"deregister","service":"web"}`, `{"command":"reload"}`.
//! Access is the file's: mode 0600 (only the daemon's user, normally root), or 0660 with
//! `[control] group`.

pub mod client;
pub mod commands;
pub mod render;
pub mod server;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::config::registration::Registration;
use crate::status::Snapshot;

/// Longest request line accepted.
pub const MAX_REQUEST: usize = 64 * 1024;

/// One request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Request {
    /// The whole status snapshot.
    Status,
    /// Run the checks now: of one service, or of every service (`None`).
    CheckNow {
        #[serde(default)]
        service: Option<String>,
    },
    /// Withdraw a service (or, with `None`, every service) for maintenance.
    Drain {
        #[serde(default)]
        service: Option<String>,
        #[serde(default)]
        reason: Option<String>,
    },
    /// End a drain (`None`: every drain).
    Undrain {
        #[serde(default)]
        service: Option<String>,
    },
    /// Add (or replace) a service at run time; it persists across restarts.
    Register(Registration),
    /// Remove a registered service.
    Deregister { service: String },
    /// Load the files again (as SIGHUP), answering whether the new configuration runs or
    /// why it was refused.
    Reload,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    /// What was done, or why not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Box<Snapshot>>,
}

impl Response {
    pub fn done(message: impl Into<String>) -> Self {
        Response {
            ok: true,
            message: Some(message.into()),
            status: None,
        }
    }

    pub fn refused(message: impl Into<String>) -> Self {
        Response {
            ok: false,
            message: Some(message.into()),
            status: None,
        }
    }
}

/// A request the server hands to the supervisor, which owns services and drains.
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_wire_form() {
        let r: Request = serde_json::from_str(r#"{"command":"check-now"}"#).unwrap();
        assert_eq!(r, Request::CheckNow { service: None });
        let r: Request =
            serde_json::from_str(r#"{"command":"drain","service":"dns","reason":"upgrade"}"#)
                .unwrap();
        assert_eq!(
            r,
            Request::Drain {
                service: Some("dns".into()),
                reason: Some("upgrade".into())
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Undrain { service: None }).unwrap(),
            r#"{"command":"undrain","service":null}"#
        );
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"command":"reload"}"#).unwrap(),
            Request::Reload
        );
        assert!(serde_json::from_str::<Request>(r#"{"command":"reboot"}"#).is_err());
    }
}
