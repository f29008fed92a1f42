//! DNS failover: services with `records` add or delete DNS records on a primary server
//! with RFC 2136 UPDATE messages signed with TSIG (RFC 8945).
//!
//! ```text
//!  service tasks ──Verdict──▶ ┌─────────┐ query RRsets, UPDATE ┌─────────────────┐
//!  supervisor ──Config/Stop──▶│ updater │─────────────────────▶│ primary (Knot,  │
//!                             └─────────┘◀──── TSIG-signed ────│ BIND, ...)      │
//!                                  │ status board               └─────────────────┘
//! ```
//! Pure parts: `plan` (what to change, `min_records`), `pacer` (when the next round is due:
//! batching, retry backoff, verify; shaped like the announcer's planner), `gate` (whether a
//! deletion may go),
//! `agreed` (the gate fed by the monitors' agreement). I/O: `client` (UDP/TCP exchange)
//! and `updater` (the task). The messages themselves are in `crate::dns`.

pub mod agreed;
pub mod client;
pub mod gate;
pub mod pacer;
pub mod plan;
pub mod updater;
