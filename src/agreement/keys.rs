//! Where the agreement lives in etcd's key space, and how arbitrary strings become key
//! segments.
//!
//! Under the configured prefix `P` (always ending in `/`):
//!
//! ```text
//! P votes/<endpoint>/<monitor>   "down" | "up"     put with the monitor's lease
//! P leader/<lease id, 16 hex>    <monitor id>      put with the monitor's lease
//! ```
//!
//! Endpoint and monitor strings are percent-encoded (everything but `A-Z a-z 0-9 - . _ ~`),
//! so a `/` inside an endpoint such as `www.example.net./A/198.51.100.10` can never be
//! mistaken for a separator, and every string has exactly one encoding.

/// The key layout under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

/// What a key under the prefix stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A monitor's verdict on one endpoint.
    Vote { endpoint: String, monitor: String },
    /// A leadership candidate, named by the lease that keeps it alive.
    Candidate { lease: i64 },
}

/// The verdict as stored in a vote's value.
pub fn vote_value(down: bool) -> &'static str {
    if down { "down" } else { "up" }
}

/// Reads a vote's value; anything but the two words is ignored by the caller.
pub fn parse_vote_value(value: &[u8]) -> Option<bool> {
    match value {
        b"down" => Some(true),
        b"up" => Some(false),
        _ => None,
    }
}

impl Keys {
    /// `prefix` as configured; a missing trailing `/` is added, so `/aw` and `/aw/` mean the
    /// same and `/aw` never also matches `/aw2/...`.
    pub fn new(prefix: &str) -> Keys {
        let mut prefix = prefix.trim_end_matches('/').to_string();
        prefix.push('/');
        Keys { prefix }
    }

    /// The prefix every key of the agreement starts with (what the watch covers).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn vote(&self, endpoint: &str, monitor: &str) -> String {
        format!(
            "{}votes/{}/{}",
            self.prefix,
            encode(endpoint),
            encode(monitor)
        )
    }

    pub fn candidate(&self, lease: i64) -> String {
        // Lease ids are positive in etcd; the cast keeps the text fixed-width either way.
        format!("{}leader/{:016x}", self.prefix, lease as u64)
    }

    /// What `key` stands for; `None` for keys that are not ours (or malformed).
    pub fn parse(&self, key: &[u8]) -> Option<Entry> {
        let key = std::str::from_utf8(key).ok()?;
        let rest = key.strip_prefix(self.prefix.as_str())?;
        if let Some(rest) = rest.strip_prefix("votes/") {
            let (endpoint, monitor) = rest.split_once('/')?;
            if monitor.contains('/') {
                return None;
            }
            return Some(Entry::Vote {
                endpoint: decode(endpoint)?,
                monitor: decode(monitor)?,
            });
        }
        let lease = rest.strip_prefix("leader/")?;
        if lease.len() != 16 {
            return None;
        }
        let lease = u64::from_str_radix(lease, 16).ok()?;
        Some(Entry::Candidate {
            lease: lease as i64,
        })
    }
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes `s` into a key segment without `/`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Inverse of [`encode`]; `None` unless `s` is exactly what `encode` produces for some
/// string (so two different keys never decode to the same endpoint).
pub fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if hex.bytes().any(|h| h.is_ascii_lowercase()) {
                return None;
            }
            let value = u8::from_str_radix(hex, 16).ok()?;
            if unreserved(value) {
                return None;
            }
            out.push(value);
            i += 3;
        } else if unreserved(b) {
            out.push(b);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_never_contains_a_slash() {
        for s in [
            "",
            "fra-1",
            "www.example.net./A/198.51.100.10",
            "www.example.net./AAAA/2001:db8::10",
            "100% / 50%",
            "ünïcode ✓",
            "%2F",
            "a~b_c-d.e",
        ] {
            let e = encode(s);
            assert!(!e.contains('/'), "{s:?} -> {e:?}");
            assert_eq!(decode(&e).as_deref(), Some(s), "{s:?} -> {e:?}");
        }
        assert_eq!(
            encode("www.example.net./A/198.51.100.10"),
            "www.example.net.%2FA%2F198.51.100.10"
        );
        assert_eq!(encode("2001:db8::1"), "2001%3Adb8%3A%3A1");
    }

    #[test]
    fn decoding_rejects_everything_encode_cannot_produce() {
        for bad in [
            "a/b",    // raw separator
            "a b",    // raw reserved byte
            "%2",     // truncated escape
            "%",      // truncated escape
            "%zz",    // not hex
            "%2f",    // lower-case hex: a second spelling of %2F
            "%41",    // escaped unreserved byte: a second spelling of "A"
            "%FF",    // not UTF-8
            "%C3%28", // invalid UTF-8 sequence
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefix_is_normalised_to_one_trailing_slash() {
        assert_eq!(Keys::new("/aw").prefix(), "/aw/");
        assert_eq!(Keys::new("/aw/").prefix(), "/aw/");
        assert_eq!(Keys::new("/aw//").prefix(), "/aw/");
        assert_eq!(Keys::new("").prefix(), "/");
    }

    #[test]
    fn keys_parse_back_to_what_they_were_built_from() {
        let keys = Keys::new("/anycast-warden");
        let vote = keys.vote("www.example.net./A/198.51.100.10", "fra/1");
        assert_eq!(
            vote,
            "/anycast-warden/votes/www.example.net.%2FA%2F198.51.100.10/fra%2F1"
        );
        assert_eq!(
            keys.parse(vote.as_bytes()),
            Some(Entry::Vote {
                endpoint: "www.example.net./A/198.51.100.10".into(),
                monitor: "fra/1".into()
            })
        );
        let candidate = keys.candidate(0x694d_7a3b_11c2_0a05);
        assert_eq!(candidate, "/anycast-warden/leader/694d7a3b11c20a05");
        assert_eq!(
            keys.parse(candidate.as_bytes()),
            Some(Entry::Candidate {
                lease: 0x694d_7a3b_11c2_0a05
            })
        );
    }

    #[test]
    fn foreign_and_malformed_keys_are_ignored() {
        let keys = Keys::new("/aw");
        for key in [
            "/aw2/votes/a/b",   // another prefix that merely starts the same
            "/other/votes/a/b", // another prefix
            "/aw/votes/a",      // no monitor
            "/aw/votes/a/b/c",  // too many segments
            "/aw/votes/a%2/b",  // bad escape
            "/aw/leader/12",    // short lease id
            "/aw/leader/zzzzzzzzzzzzzzzz",
            "/aw/leader/0000000000000001/x",
            "/aw/something-else",
        ] {
            assert_eq!(keys.parse(key.as_bytes()), None, "{key}");
        }
        assert_eq!(keys.parse(&[b'/', b'a', b'w', b'/', 0xff]), None);
    }

    #[test]
    fn vote_values() {
        assert_eq!(parse_vote_value(vote_value(true).as_bytes()), Some(true));
        assert_eq!(parse_vote_value(vote_value(false).as_bytes()), Some(false));
        assert_eq!(parse_vote_value(b"DOWN"), None);
        assert_eq!(parse_vote_value(b""), None);
    }
}
