//! anycast-warden: keeps anycast service prefixes announced over BGP only while the
//! services behind them are healthy.
//!
//! The folders follow the pipeline (ARCHITECTURE.md draws it):
//! `check` → `health` → `service` → `announce` → `backend` (`bgp`, `dns` beside it), with
//! `config` (data in, validated once), `status` (the board every task reports to),
//! `faces` (what the operator sees), `daemon` (the supervisor that wires it all) and
//! `sys` (OS helpers any room may use).

pub mod agreement;
pub mod announce;
pub mod backend;
pub mod backoff;
pub mod bgp;
pub mod check;
pub mod config;
pub mod daemon;
pub mod dns;
pub mod faces;
pub mod fuzz_invariants;
pub mod health;
pub mod records;
pub mod service;
pub mod status;
pub mod sys;
