//! The end-to-end tests, one test binary: the warden against real BIRD 2, BIRD 1.6, FRR
//! and GoBGP in network namespaces (the lab, see `lab`), and against Knot DNS, etcd and
//! the Debian package's target system. A module per area, run as `cargo test --test e2e`
//! or one area of it: `cargo test --test e2e bgp::`.
//!
//! The tests run in parallel threads of this one process. Those that load the whole
//! machine run alone (`lab::machine`); every lab has its own namespaces, tempdir and
//! processes, so nothing else is shared.

mod lab;

mod agreement;
mod bgp;
mod bird1;
mod bird2;
mod checks;
mod clock;
mod coalescing;
mod dns;
mod faults;
mod flapping;
mod frr;
mod lab_selftest;
mod operations;
mod package;
mod privilege;
mod storm;
