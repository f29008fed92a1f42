//! TSIG (RFC 8945): signs requests and verifies the server's signature on responses with
//! a shared HMAC key. Pure: the time is a parameter.
//!
//! Written with `ring::hmac` (already in the tree through rustls) rather than
//! hickory-proto's TSIG, which needs its `dnssec-ring` feature and its own message types;
//! the signing rules are short and the byte-exact tests below pin them.

use ring::hmac;
use thiserror::Error;

use super::message::{CLASS_ANY, Name, Response, TYPE_TSIG, read_name};

/// Seconds of clock difference allowed between us and the server (RFC 8945 §10: 300).
pub const FUDGE: u16 = 300;

/// The HMAC algorithms a TSIG key can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Algorithm {
    /// For old servers only (RFC 8945 §6: SHA-1 is still allowed, not recommended).
    HmacSha1,
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [
        Algorithm::HmacSha1,
        Algorithm::HmacSha256,
        Algorithm::HmacSha384,
        Algorithm::HmacSha512,
    ];

    /// The name as written in configuration and key files (and, with a dot, on the wire).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "hmac-sha1",
            Algorithm::HmacSha256 => "hmac-sha256",
            Algorithm::HmacSha384 => "hmac-sha384",
            Algorithm::HmacSha512 => "hmac-sha512",
        }
    }

    pub fn parse(text: &str) -> Option<Algorithm> {
        let t = text.trim().trim_end_matches('.').to_ascii_lowercase();
        Algorithm::ALL.into_iter().find(|a| a.name() == t)
    }

    fn wire_name(self) -> Name {
        // The names are fixed valid labels.
        Name::parse(&format!("{}.", self.name())).unwrap_or_else(|_| unreachable!())
    }

    fn ring(self) -> hmac::Algorithm {
        match self {
            Algorithm::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Algorithm::HmacSha256 => hmac::HMAC_SHA256,
            Algorithm::HmacSha384 => hmac::HMAC_SHA384,
            Algorithm::HmacSha512 => hmac::HMAC_SHA512,
        }
    }

    fn mac_len(self) -> usize {
        self.ring().digest_algorithm().output_len()
    }
}

/// A TSIG key: its name (which the server knows it by), algorithm and secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    pub name: Name,
    pub algorithm: Algorithm,
    pub secret: Vec<u8>,
}

/// Never print the secret.
impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &format_args!("<{} bytes>", self.secret.len()))
            .finish()
    }
}

/// Why a response was not accepted.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TsigError {
    #[error(
        "the server answered {} without a TSIG signature (it may not know key \"{key}\", or TSIG is not configured for this zone)",
        crate::dns::rcode::name(*rcode)
    )]
    Unsigned { rcode: u16, key: String },
    #[error(
        "the server does not accept key \"{0}\" for this request (TSIG BADKEY): it does not know the key by this name and algorithm (check tsig_key_name and tsig_algorithm), or its ACL does not grant the key this change (Knot answers a denied update so)"
    )]
    BadKey(String),
    #[error(
        "the server rejected our signature (TSIG BADSIG): the secret in tsig_secret_file does not match the server's for key \"{0}\""
    )]
    BadSig(String),
    #[error("the server rejected our time (TSIG BADTIME): our clock and the server's differ by more than {FUDGE}s{}", server_time.map(|t| format!(" (server time {t})")).unwrap_or_default())]
    BadTime { server_time: Option<u64> },
    #[error("the server reported TSIG error {0}")]
    Other(u16),
    #[error(
        "the response's signature does not verify with key \"{0}\": not from the server, or altered"
    )]
    Invalid(String),
    #[error("the response is signed with key \"{got}\", not \"{want}\"")]
    WrongKey { got: String, want: String },
    #[error("the response's signature time {signed} is more than {fudge}s from ours ({now})")]
    Stale { signed: u64, now: u64, fudge: u16 },
    #[error("the response's TSIG record is malformed")]
    Malformed,
}

/// The TSIG variables (RFC 8945 §4.3.3) after the key name, class and TTL.
fn variables(out: &mut Vec<u8>, key: &Key, time: u64, fudge: u16, error: u16, other: &[u8]) {
    key.name.to_wire(out);
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    key.algorithm.wire_name().to_wire(out);
    out.extend_from_slice(&time.to_be_bytes()[2..]);
    out.extend_from_slice(&fudge.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&(other.len() as u16).to_be_bytes());
    out.extend_from_slice(other);
}

fn mac(key: &Key, data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(key.algorithm.ring(), &key.secret), data)
        .as_ref()
        .to_vec()
}

/// The bytes a request's MAC covers: the message, then the TSIG variables.
pub fn request_digest_input(msg: &[u8], key: &Key, time: u64) -> Vec<u8> {
    let mut input = msg.to_vec();
    variables(&mut input, key, time, FUDGE, 0, &[]);
    input
}

/// Signs `msg` (a complete message without additional records of its own beyond what
/// ARCOUNT says) at `time` (Unix seconds). Returns the signed message and its MAC, which
/// the response's verification needs.
pub fn sign(msg: &[u8], key: &Key, time: u64) -> (Vec<u8>, Vec<u8>) {
    let mac = mac(key, &request_digest_input(msg, key, time));
    let mut out = msg.to_vec();
    let id = [msg[0], msg[1]];
    let arcount = u16::from_be_bytes([msg[10], msg[11]]).wrapping_add(1);
    out[10..12].copy_from_slice(&arcount.to_be_bytes());
    key.name.to_wire(&mut out);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let mut rdata = Vec::with_capacity(32 + mac.len());
    key.algorithm.wire_name().to_wire(&mut rdata);
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&id);
    rdata.extend_from_slice(&0u16.to_be_bytes()); // error
    rdata.extend_from_slice(&0u16.to_be_bytes()); // other len
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    (out, mac)
}

/// The fields of a TSIG record's RDATA.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TsigRdata {
    algorithm: Name,
    time: u64,
    fudge: u16,
    mac: Vec<u8>,
    original_id: u16,
    error: u16,
    other: Vec<u8>,
}

fn parse_rdata(msg: &[u8], range: std::ops::Range<usize>) -> Result<TsigRdata, TsigError> {
    let data = msg.get(range.clone()).ok_or(TsigError::Malformed)?;
    // The algorithm name is never compressed (RFC 8945 §4.2), but read it as a name
    // from the whole message anyway.
    let (algorithm, after) = read_name(msg, range.start).map_err(|_| TsigError::Malformed)?;
    let mut at = after - range.start;
    let take = |at: &mut usize, n: usize| -> Result<&[u8], TsigError> {
        let s = data.get(*at..*at + n).ok_or(TsigError::Malformed)?;
        *at += n;
        Ok(s)
    };
    let t = take(&mut at, 6)?;
    let time = u64::from_be_bytes([0, 0, t[0], t[1], t[2], t[3], t[4], t[5]]);
    let be16 = |s: &[u8]| u16::from_be_bytes([s[0], s[1]]);
    let fudge = be16(take(&mut at, 2)?);
    let mac_len = be16(take(&mut at, 2)?) as usize;
    let mac = take(&mut at, mac_len)?.to_vec();
    let original_id = be16(take(&mut at, 2)?);
    let error = be16(take(&mut at, 2)?);
    let other_len = be16(take(&mut at, 2)?) as usize;
    let other = take(&mut at, other_len)?.to_vec();
    if at != data.len() {
        return Err(TsigError::Malformed);
    }
    Ok(TsigRdata {
        algorithm,
        time,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

/// Verifies the signature of `response` (parsed as `parsed`) to the request whose MAC was
/// `request_mac`, at `now` (Unix seconds). A TSIG error from the server (BADKEY, BADSIG,
/// BADTIME) comes out as its own error.
pub fn verify(
    msg: &[u8],
    parsed: &Response,
    key: &Key,
    request_mac: &[u8],
    now: u64,
) -> Result<(), TsigError> {
    let Some(record) = &parsed.tsig else {
        return Err(TsigError::Unsigned {
            rcode: parsed.rcode,
            key: key.name.to_string(),
        });
    };
    let rdata = parse_rdata(msg, record.rdata.clone())?;
    match rdata.error {
        0 => {}
        16 => return Err(TsigError::BadSig(key.name.to_string())),
        17 => return Err(TsigError::BadKey(key.name.to_string())),
        18 => {
            let server_time = (rdata.other.len() == 6).then(|| {
                let o = &rdata.other;
                u64::from_be_bytes([0, 0, o[0], o[1], o[2], o[3], o[4], o[5]])
            });
            return Err(TsigError::BadTime { server_time });
        }
        e => return Err(TsigError::Other(e)),
    }
    if record.name != key.name || rdata.algorithm != key.algorithm.wire_name() {
        return Err(TsigError::WrongKey {
            got: format!("{} ({})", record.name, rdata.algorithm),
            want: format!("{} ({}.)", key.name, key.algorithm.name()),
        });
    }
    if rdata.mac.len() != key.algorithm.mac_len() {
        // Truncated MACs (RFC 8945 §5.2.2.1) are not asked for, so not accepted.
        return Err(TsigError::Invalid(key.name.to_string()));
    }
    let mut input = Vec::with_capacity(msg.len() + 128);
    input.extend_from_slice(&(request_mac.len() as u16).to_be_bytes());
    input.extend_from_slice(request_mac);
    let body = msg.get(..record.start).ok_or(TsigError::Malformed)?;
    let start = input.len();
    input.extend_from_slice(body);
    // The message as it was before the TSIG record was added: original ID, one
    // additional record fewer.
    input[start..start + 2].copy_from_slice(&rdata.original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([input[start + 10], input[start + 11]]).wrapping_sub(1);
    input[start + 10..start + 12].copy_from_slice(&arcount.to_be_bytes());
    variables(
        &mut input,
        key,
        rdata.time,
        rdata.fudge,
        rdata.error,
        &rdata.other,
    );
    hmac::verify(
        &hmac::Key::new(key.algorithm.ring(), &key.secret),
        &input,
        &rdata.mac,
    )
    .map_err(|_| TsigError::Invalid(key.name.to_string()))?;
    if now.abs_diff(rdata.time) > u64::from(rdata.fudge) {
        return Err(TsigError::Stale {
            signed: rdata.time,
            now,
            fudge: rdata.fudge,
        });
    }
    Ok(())
}

/// Signs a response the way a server does (RFC 8945 §5.3): for tests of `verify`, here
/// and in the updater's tests.
pub fn sign_response(
    msg: &[u8],
    key: &Key,
    request_mac: &[u8],
    time: u64,
    error: u16,
    other: &[u8],
) -> Vec<u8> {
    let mut input = Vec::new();
    input.extend_from_slice(&(request_mac.len() as u16).to_be_bytes());
    input.extend_from_slice(request_mac);
    input.extend_from_slice(msg);
    variables(&mut input, key, time, FUDGE, error, other);
    let mac = if error == 16 || error == 17 {
        Vec::new()
    } else {
        mac(key, &input)
    };
    let mut out = msg.to_vec();
    let arcount = u16::from_be_bytes([msg[10], msg[11]]).wrapping_add(1);
    out[10..12].copy_from_slice(&arcount.to_be_bytes());
    key.name.to_wire(&mut out);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let mut rdata = Vec::new();
    key.algorithm.wire_name().to_wire(&mut rdata);
    rdata.extend_from_slice(&time.to_be_bytes()[2..]);
    rdata.extend_from_slice(&FUDGE.to_be_bytes());
    rdata.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    rdata.extend_from_slice(&mac);
    rdata.extend_from_slice(&msg[0..2]);
    rdata.extend_from_slice(&error.to_be_bytes());
    rdata.extend_from_slice(&(other.len() as u16).to_be_bytes());
    rdata.extend_from_slice(other);
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    out
}

#[cfg(test)]
mod tests {
    use super::super::message::{Name, TYPE_A, encode_query, parse_response};
    use super::*;

    fn key(alg: Algorithm) -> Key {
        Key {
            name: Name::parse("warden.").unwrap(),
            algorithm: alg,
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const TIME: u64 = 1_700_000_000;

    #[test]
    fn algorithm_names() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.name()), Some(a));
            assert_eq!(
                Algorithm::parse(&format!("{}.", a.name().to_uppercase())),
                Some(a)
            );
        }
        assert_eq!(Algorithm::parse("hmac-md5"), None);
    }

    #[test]
    fn request_digest_input_bytes() {
        let msg = encode_query(0x0102, &Name::parse("a.").unwrap(), TYPE_A);
        let input = request_digest_input(&msg, &key(Algorithm::HmacSha256), TIME);
        let mut want = msg.clone();
        want.extend_from_slice(b"\x06warden\x00"); // key name
        want.extend_from_slice(&[0, 255, 0, 0, 0, 0]); // class ANY, TTL 0
        want.extend_from_slice(b"\x0bhmac-sha256\x00");
        want.extend_from_slice(&[0x00, 0x00, 0x65, 0x53, 0xf1, 0x00]); // 1700000000
        want.extend_from_slice(&[0x01, 0x2c, 0, 0, 0, 0]); // fudge 300, error 0, other 0
        assert_eq!(input, want);
    }

    /// MACs computed independently (Python's hmac module over the digest input above).
    #[test]
    fn signed_request_bytes() {
        let msg = encode_query(0x0102, &Name::parse("a.").unwrap(), TYPE_A);
        for (a, want) in [
            (
                Algorithm::HmacSha256,
                "425448716377ac7418638ae1579d9b4a6ffae4503d7104a745e445735380e1d2",
            ),
            (
                Algorithm::HmacSha512,
                "74806cda660a67b276237cee8fdd0c553a175b5d18050f219496894a93e0d3cab150fbc4201841b838b3c9b3496a0f7a29b6e6812effec47397785154a4a77b0",
            ),
            (
                Algorithm::HmacSha1,
                "b55cf1f258ce47da6305ca70ea0cd49203428202",
            ),
        ] {
            assert_eq!(hex(&sign(&msg, &key(a), TIME).1), want, "{}", a.name());
        }
        let (signed, mac) = sign(&msg, &key(Algorithm::HmacSha256), TIME);
        let mut want = msg.clone();
        want[11] = 1; // ARCOUNT
        want.extend_from_slice(b"\x06warden\x00\x00\xfa\x00\xff\x00\x00\x00\x00");
        let mut rdata = b"\x0bhmac-sha256\x00".to_vec();
        rdata.extend_from_slice(&[0x00, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x01, 0x2c, 0, 32]);
        rdata.extend_from_slice(&mac);
        rdata.extend_from_slice(&[0x01, 0x02, 0, 0, 0, 0]);
        want.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        want.extend_from_slice(&rdata);
        assert_eq!(signed, want);
        // Every algorithm's MAC has its full length and the message stays parseable.
        for a in Algorithm::ALL {
            let (signed, mac) = sign(&msg, &key(a), TIME);
            assert_eq!(mac.len(), a.mac_len());
            assert!(parse_response(&signed).unwrap().tsig.is_some());
        }
    }

    fn answer(request: &[u8]) -> Vec<u8> {
        let mut r = request.to_vec();
        r[2] |= 0x80;
        r
    }

    #[test]
    fn verifies_signed_responses_for_every_algorithm() {
        let msg = encode_query(7, &Name::parse("a.").unwrap(), TYPE_A);
        for a in Algorithm::ALL {
            let k = key(a);
            let (_, req_mac) = sign(&msg, &k, TIME);
            let resp = sign_response(&answer(&msg), &k, &req_mac, TIME + 1, 0, &[]);
            let parsed = parse_response(&resp).unwrap();
            assert_eq!(verify(&resp, &parsed, &k, &req_mac, TIME + 2), Ok(()));
            // Another request's MAC, a flipped bit, another secret: refused.
            let mut other_mac = req_mac.clone();
            other_mac[0] ^= 1;
            assert_eq!(
                verify(&resp, &parsed, &k, &other_mac, TIME),
                Err(TsigError::Invalid("warden.".into()))
            );
            let mut tampered = resp.clone();
            tampered[3] ^= 0x01;
            let p = parse_response(&tampered).unwrap();
            assert!(verify(&tampered, &p, &k, &req_mac, TIME).is_err());
            let mut wrong = k.clone();
            wrong.secret[0] ^= 1;
            assert_eq!(
                verify(&resp, &parsed, &wrong, &req_mac, TIME),
                Err(TsigError::Invalid("warden.".into()))
            );
            // Out of the fudge window.
            assert!(matches!(
                verify(&resp, &parsed, &k, &req_mac, TIME + 1000),
                Err(TsigError::Stale { .. })
            ));
        }
    }

    #[test]
    fn server_tsig_errors_are_named() {
        let msg = encode_query(7, &Name::parse("a.").unwrap(), TYPE_A);
        let k = key(Algorithm::HmacSha256);
        let (_, req_mac) = sign(&msg, &k, TIME);
        let mut notauth = answer(&msg);
        notauth[3] = 9;
        for (code, want) in [
            (16, TsigError::BadSig("warden.".into())),
            (17, TsigError::BadKey("warden.".into())),
            (
                18,
                TsigError::BadTime {
                    server_time: Some(TIME + 900),
                },
            ),
            (22, TsigError::Other(22)),
        ] {
            let other = if code == 18 {
                (TIME + 900).to_be_bytes()[2..].to_vec()
            } else {
                vec![]
            };
            let resp = sign_response(&notauth, &k, &req_mac, TIME, code, &other);
            let parsed = parse_response(&resp).unwrap();
            let got = verify(&resp, &parsed, &k, &req_mac, TIME);
            assert_eq!(got, Err(want));
        }
        let parsed = parse_response(&notauth).unwrap();
        let e = verify(&notauth, &parsed, &k, &req_mac, TIME).unwrap_err();
        assert_eq!(
            e,
            TsigError::Unsigned {
                rcode: 9,
                key: "warden.".into()
            }
        );
        assert!(e.to_string().contains("NOTAUTH"));
        assert!(
            TsigError::BadTime {
                server_time: Some(5)
            }
            .to_string()
            .contains("BADTIME")
        );
    }

    #[test]
    fn wrong_key_name_is_reported() {
        let msg = encode_query(7, &Name::parse("a.").unwrap(), TYPE_A);
        let k = key(Algorithm::HmacSha256);
        let (_, req_mac) = sign(&msg, &k, TIME);
        let mut other = k.clone();
        other.name = Name::parse("someone-else.").unwrap();
        let resp = sign_response(&answer(&msg), &other, &req_mac, TIME, 0, &[]);
        let parsed = parse_response(&resp).unwrap();
        assert!(matches!(
            verify(&resp, &parsed, &k, &req_mac, TIME),
            Err(TsigError::WrongKey { .. })
        ));
    }
}
