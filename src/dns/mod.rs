//! The DNS protocol as the rest of the crate speaks it: names and address records, the
//! wire format of queries and UPDATE messages (RFC 1035, 2136), TSIG signing and
//! verification (RFC 8945), TSIG key files and response codes. Pure: no sockets, no
//! configuration. `config` reads names, records and keys with these types, the `dns` check
//! its response codes, and `records` (DNS failover) sends the messages.

pub mod key_file;
pub mod message;
pub mod rcode;
pub mod tsig;

pub use message::{AddressRecord, Name};
