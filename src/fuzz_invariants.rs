//! What must hold for any input to the parsers that read text or bytes from outside: the
//! configuration loader, BIRD's control-socket replies and birdc's output, the include
//! file the warden reads back, FRR's running configuration, the vty socket framing, the
//! BGP decoder and DNS responses (with their TSIG signatures).
//!
//! Each function panics when its parser panics or breaks a promise. The cargo-fuzz
//! targets in `fuzz/` call them with libFuzzer's inputs; `tests/fuzz_corpus.rs` replays
//! the kept corpus (`fuzz/corpus/`) through them on stable Rust, so CI checks every input
//! that ever found new coverage, and a crash found by fuzzing stays fixed once its input
//! is added to the corpus.

use std::path::Path;

use crate::backend::bird::{announced, reply};
use crate::backend::frr::{running, vty_frame};
use crate::bgp::message::{self, Codec};
use crate::dns::message::{Name, TYPE_A, TYPE_AAAA, parse_response, read_name};
use crate::dns::tsig;

/// The names the targets go by, in `fuzz/fuzz_targets/` and `fuzz/corpus/`.
pub const TARGETS: [&str; 6] = [
    "config",
    "bird_reply",
    "frr_running",
    "vty_frame",
    "decode",
    "dns_response",
];

/// Runs the named target on `data`. Panics on an unknown name (a corpus folder without a
/// target is a mistake to see).
pub fn run(target: &str, data: &[u8]) {
    match target {
        "config" => config(data),
        "bird_reply" => bird_reply(data),
        "frr_running" => frr_running(data),
        "vty_frame" => vty_frame(data),
        "decode" => bgp_decode(data),
        "dns_response" => dns_response(data),
        other => panic!("no fuzz target named {other:?}; the targets are {TARGETS:?}"),
    }
}

/// The configuration loader never panics, and every error names the file and, when it
/// has a place, a line and column inside the text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.toml");
    let Err(errors) = crate::config::load_str(path, text) else {
        return;
    };
    assert!(!errors.0.is_empty(), "a failed load reported no error");
    // TOML's own errors may point one past the last line (an unterminated table).
    let lines = text.lines().count() + 1;
    for error in &errors.0 {
        assert_eq!(error.file, path, "error names another file: {error}");
        assert!(!error.message.is_empty(), "an error without a message");
        if let Some((line, col)) = error.position {
            assert!(
                (1..=lines).contains(&line) && col >= 1,
                "error at {line}:{col} outside a text of {lines} lines: {error}"
            );
        }
    }
}

/// BIRD's control protocol: lines parse or are refused, replies judge without panicking,
/// and birdc's output is judged whatever it holds. The include file's reader (for adopting
/// what BIRD announced before a restart) is fed the same text.
pub fn bird_reply(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut builder = reply::ReplyBuilder::default();
    for line in text.split('\n') {
        let Ok(parsed) = reply::parse_line(line) else {
            continue;
        };
        if let Some(done) = builder.push(parsed) {
            let _ = reply::judge_configure(&done);
            let _ = reply::largest_table(&done);
            let _ = done.text();
            assert!(!done.lines.is_empty(), "an empty reply");
        }
    }
    // birdc's stdout and stderr: split the input at its first NUL, if any.
    let (stdout, stderr) = text.split_once('\0').unwrap_or((&text, ""));
    for success in [true, false] {
        let judged = reply::judge_birdc_output(success, stdout, stderr);
        if !success {
            assert!(judged.is_err(), "a failed birdc run was judged a success");
        }
        if let Err(refused) = judged {
            let _ = refused.to_string();
        }
    }
    if let Err((line, _)) = announced::parse(&text) {
        assert!(line >= 1, "the include file reader blamed line 0");
    }
}

/// FRR's running configuration: parses or is refused; what it finds can be listed.
pub fn frr_running(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(config) = running::parse(&text) {
        let networks = config.networks();
        let total: usize = config.bgp.values().map(|b| b.networks.len()).sum();
        assert_eq!(networks.len(), total, "networks lost between instances");
    }
}

/// The vty framing: however the bytes are cut into reads, the same replies come out.
/// The first byte chooses the read size.
pub fn vty_frame(data: &[u8]) {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = vty_frame::ReplyDecoder::default().push(stream);
    let mut decoder = vty_frame::ReplyDecoder::default();
    let mut pieces = Vec::new();
    for chunk in stream.chunks(usize::from(cut).max(1)) {
        pieces.extend(decoder.push(chunk));
    }
    assert_eq!(
        whole, pieces,
        "the replies depend on how the reads were cut"
    );
    // What goes out must come back as one reply per command when a daemon echoes it.
    let commands: Vec<String> = String::from_utf8_lossy(stream)
        .split(['\0', '\n'])
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    if let Ok(bytes) = vty_frame::encode(&commands) {
        assert_eq!(
            bytes.iter().filter(|&&b| b == 0).count(),
            commands.len(),
            "one NUL per command"
        );
    }
}

/// The BGP decoder never panics, and whatever it accepts re-encodes into a message it
/// accepts again (both AS number widths).
pub fn bgp_decode(data: &[u8]) {
    for codec in [
        Codec {
            four_octet_as: false,
        },
        Codec {
            four_octet_as: true,
        },
    ] {
        let _ = message::message_len(data);
        if let Ok(msg) = message::decode(data, codec) {
            let again = msg.encode(codec);
            assert!(
                message::decode(&again, codec).is_ok(),
                "re-encoded {msg:?} does not decode"
            );
        }
    }
}

/// The key the `dns_response` target verifies with (`warden-key.`, hmac-sha256); the
/// corpus holds responses signed with other MACs, so the fuzzer reaches the HMAC itself.
fn dns_fuzz_key() -> Option<tsig::Key> {
    Some(tsig::Key {
        name: Name::parse("warden-key.").ok()?,
        algorithm: tsig::Algorithm::parse("hmac-sha256")?,
        secret: b"0123456789abcdef0123456789abcdef".to_vec(),
    })
}

/// What a DNS server sends back (a response to an UPDATE or a query, from the network):
/// parsing never panics nor points outside the message, names read at any offset stay
/// within DNS's 255 bytes, addresses come only from records of the right size, and
/// checking the TSIG signature never panics.
pub fn dns_response(data: &[u8]) {
    for at in 0..data.len().min(64) {
        if let Ok((name, end)) = read_name(data, at) {
            assert!(
                end <= data.len(),
                "a name at {at} ends at {end}, past the message"
            );
            assert!(
                name.as_str().len() <= 255,
                "a name of {} bytes",
                name.as_str().len()
            );
        }
    }
    let Ok(response) = parse_response(data) else {
        return;
    };
    for record in response.answers.iter().chain(&response.tsig) {
        assert!(
            record.rdata.start <= record.rdata.end && record.rdata.end <= data.len(),
            "record data {:?} outside a message of {} bytes",
            record.rdata,
            data.len()
        );
        assert!(
            record.start < record.rdata.start,
            "a record starts after its data"
        );
    }
    for record in &response.answers {
        for rtype in [TYPE_A, TYPE_AAAA] {
            for address in response.addresses(data, &record.name, rtype) {
                assert_eq!(
                    address.is_ipv4(),
                    rtype == TYPE_A,
                    "{address} read as type {rtype}"
                );
            }
        }
    }
    if let Some(key) = dns_fuzz_key() {
        let _ = tsig::verify(data, &response, &key, &[0x5a; 32], 1_700_000_000);
    }
}
