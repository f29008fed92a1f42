//! anycast-warden: keeps anycast service prefixes announced over BGP only while the
//! services behind them are healthy.

pub mod agreement;
pub mod announce;
pub mod api;
pub mod backend;
pub mod bgp;
pub mod check;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod dampening;
pub mod dns;
pub mod drain;
pub mod fuzz_invariants;
pub mod health;
pub mod http;
pub mod logging;
pub mod man;
pub mod metrics;
pub mod notify;
pub mod register;
pub mod schedule;
pub mod service;
pub mod status;
pub mod summary;
pub mod withdraw;
