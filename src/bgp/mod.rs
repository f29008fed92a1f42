//! The built-in BGP speaker: announces the desired prefixes to its peers itself, for hosts
//! that run no routing daemon.
//!
//! Pure parts: `message` (wire format), `fsm` (the RFC 4271 session state machine),
//! `routes` (the UPDATEs that carry a set of routes to one peer). I/O: `session` (one
//! task per peer), `speaker` (the owner of the desired routes), `md5` (TCP MD5 signatures).
//!
//! ```text
//!  announcer ──apply(set)──▶ backend::bgp ──routes (watch)──▶ speaker ──routes (watch)──▶ peer task ──▶ TCP
//!                                                              listener ──accepted (mpsc)──▶ peer task
//!  peer tasks ──PeerStatus (watch)──▶ SpeakerStatus ──▶ daemon ──▶ StatusBoard (bgp_peers)
//! ```

pub mod fsm;
pub mod md5;
pub mod message;
pub mod routes;
pub mod session;
pub mod speaker;
pub mod status;
