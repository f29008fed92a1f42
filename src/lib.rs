//! anycast-warden: keeps anycast service prefixes announced over BGP only while the
//! services behind them are healthy.

pub mod announce;
pub mod check;
pub mod config;
pub mod health;
pub mod schedule;
pub mod service;
