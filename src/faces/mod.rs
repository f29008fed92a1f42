//! What the daemon shows the operator and the programs around it: the command line, the
//! control socket, the HTTP API and the small HTTP server beneath it and `/metrics`, the
//! metrics renderings, systemd's notify protocol, logging, and the `check` summary.
//! Faces read the status board and send requests to the supervisor; they decide nothing
//! about health or routing.
//!
//! ```text
//!  StatusBoard ──snapshot (watch)──▶ control server, HTTP API, /metrics, textfile, sd_notify
//!  control server, HTTP API ──Call{Request, reply} (mpsc)──▶ supervisor ──Response──▶ back
//!  command line ──dispatch──▶ control client (status, drain, ...) or, for run, the daemon
//! ```

pub mod api;
pub mod cli;
pub mod control;
pub mod dispatch;
pub mod http_server;
pub mod logging;
pub mod man;
pub mod metrics;
pub mod sd_notify;
pub mod summary;
