//! libFuzzer's inputs through `fuzz_invariants::dns_response` (the invariants are
//! documented there, and `tests/fuzz_corpus.rs` replays this target's corpus on stable
//! Rust).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| anycast_warden::fuzz_invariants::dns_response(data));
