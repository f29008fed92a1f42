//! DNS failover: services with `records` add or delete DNS records on a primary server
//! with RFC 2136 UPDATE messages signed with TSIG (RFC 8945).
//!
//! ```text
//!  service tasks ──Verdict──▶ ┌─────────┐ query RRsets, UPDATE ┌─────────────────┐
//!  supervisor ──Config/Stop──▶│ updater │─────────────────────▶│ primary (Knot,  │
//!                             └─────────┘◀──── TSIG-signed ────│ BIND, ...)      │
//!                                  │ status board               └─────────────────┘
//! ```
//! Pure parts: `message` (wire format), `tsig` (signing, verification), `key_file`,
//! `plan` (what to change, `min_records`), `gate` (whether a deletion may go). I/O:
//! `client` (UDP/TCP exchange) and `updater` (the task).

pub mod agreed;
pub mod client;
pub mod gate;
pub mod key_file;
pub mod message;
pub mod plan;
pub mod tsig;
pub mod updater;

pub use message::{AddressRecord, Name};
