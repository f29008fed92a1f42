//! anycast-warden: keeps anycast service prefixes announced over BGP only while the
//! services behind them are healthy.

pub mod announce;
pub mod backend;
pub mod bgp;
pub mod check;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod health;
pub mod logging;
pub mod schedule;
pub mod service;
pub mod summary;
