//! Any bytes through the BGP decoder: it must never panic, and whatever it accepts must
//! encode to a message it accepts again.
#![no_main]

use anycast_warden::bgp::message::{self, Codec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for codec in [Codec { four_octet_as: false }, Codec { four_octet_as: true }] {
        // The stream framing first, as the session reads it.
        let _ = message::message_len(data);
        if let Ok(msg) = message::decode(data, codec) {
            let again = msg.encode(codec);
            assert!(
                message::decode(&again, codec).is_ok(),
                "re-encoded {msg:?} does not decode"
            );
        }
    }
});
