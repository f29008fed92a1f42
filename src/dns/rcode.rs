//! DNS response codes by name: the ones a `dns` check may expect (RFC 1035, 2136) and
//! TSIG's (RFC 8945), which only signed responses carry. One table for the check, its
//! configuration and the failover's errors.

/// The codes a `dns` check may name in `rcode`.
pub const RCODES: &[(&str, u16)] = &[
    ("NOERROR", 0),
    ("FORMERR", 1),
    ("SERVFAIL", 2),
    ("NXDOMAIN", 3),
    ("NOTIMP", 4),
    ("REFUSED", 5),
    ("YXDOMAIN", 6),
    ("YXRRSET", 7),
    ("NXRRSET", 8),
    ("NOTAUTH", 9),
    ("NOTZONE", 10),
];

/// TSIG's error codes.
const TSIG_RCODES: &[(&str, u16)] = &[
    ("BADSIG", 16),
    ("BADKEY", 17),
    ("BADTIME", 18),
    ("BADTRUNC", 22),
];

/// The value of a code a check may expect.
pub fn value(name: &str) -> Option<u16> {
    RCODES.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// The name of a code, `RCODE<n>` for one without a name.
pub fn name(value: u16) -> String {
    RCODES
        .iter()
        .chain(TSIG_RCODES)
        .find(|(_, v)| *v == value)
        .map_or_else(|| format!("RCODE{value}"), |(n, _)| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_round_trip() {
        for (n, v) in RCODES {
            assert_eq!(value(n), Some(*v));
            assert_eq!(name(*v), *n);
        }
        assert_eq!(name(16), "BADSIG");
        assert_eq!(name(23), "RCODE23");
        assert_eq!(value("BADSIG"), None, "a check cannot expect a TSIG error");
    }
}
