//! anycast-warden: keeps anycast service prefixes announced over BGP only while the
//! services behind them are healthy.

pub mod config;
