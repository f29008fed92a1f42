//! DNS wire format for what the updater sends and reads: RFC 2136 UPDATE messages, plain
//! queries of one RRset, and the parts of a response it needs (header, answer records,
//! the trailing TSIG record). Pure: bytes in, bytes out.
//!
//! Hand-written rather than through hickory-proto: the updater needs exact control of
//! the prerequisite section and of the bytes TSIG signs (the message without its TSIG
//! record, with ARCOUNT as before signing), and only A/AAAA records, SOA zone sections and
//! TSIG; the whole codec is a few hundred lines and tested byte for byte.

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

pub const TYPE_A: u16 = 1;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_TSIG: u16 = 250;
pub const CLASS_IN: u16 = 1;
/// RFC 2136 §2.4.3 / §2.5.4: "delete this exact RR".
pub const CLASS_NONE: u16 = 254;
pub const CLASS_ANY: u16 = 255;
pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_UPDATE: u8 = 5;

/// A validated, absolute domain name, kept in lower case (names compare without case).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NameError {
    #[error("\"{0}\" is not fully qualified (it must end with a dot)")]
    NotAbsolute(String),
    #[error("\"{0}\" has an empty label")]
    EmptyLabel(String),
    #[error("\"{0}\" has a label longer than 63 characters")]
    LabelTooLong(String),
    #[error("\"{0}\" is longer than 255 bytes on the wire")]
    TooLong(String),
    #[error("\"{0}\" has a character other than letters, digits, '-' and '_'")]
    BadCharacter(String),
}

impl Name {
    /// Parses `www.example.net.` (the root is `.`).
    pub fn parse(text: &str) -> Result<Name, NameError> {
        if !text.ends_with('.') {
            return Err(NameError::NotAbsolute(text.to_string()));
        }
        if text == "." {
            return Ok(Name(".".to_string()));
        }
        let body = &text[..text.len() - 1];
        for label in body.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel(text.to_string()));
            }
            if label.len() > 63 {
                return Err(NameError::LabelTooLong(text.to_string()));
            }
            if !label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(NameError::BadCharacter(text.to_string()));
            }
        }
        // Each label costs its length plus one, and the root one more.
        if body.len() + 2 > 255 {
            return Err(NameError::TooLong(text.to_string()));
        }
        Ok(Name(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this name is `zone` or below it.
    pub fn is_in(&self, zone: &Name) -> bool {
        zone.0 == "." || self.0 == zone.0 || self.0.ends_with(&format!(".{}", zone.0))
    }

    /// Uncompressed wire form (also the canonical form TSIG signs: lower case).
    pub fn to_wire(&self, out: &mut Vec<u8>) {
        if self.0 != "." {
            for label in self.0[..self.0.len() - 1].split('.') {
                out.push(label.len() as u8);
                out.extend_from_slice(label.as_bytes());
            }
        }
        out.push(0);
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One address record: the type follows from the address (A for IPv4, AAAA for IPv6).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressRecord {
    pub name: Name,
    pub addr: IpAddr,
}

impl AddressRecord {
    pub fn rtype(&self) -> u16 {
        rtype_of(&self.addr)
    }

    pub fn type_name(&self) -> &'static str {
        type_name(self.rtype())
    }

    fn rdata(&self) -> Vec<u8> {
        match self.addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        }
    }
}

/// "www.example.net. A 198.51.100.10"
impl fmt::Display for AddressRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.name, self.type_name(), self.addr)
    }
}

pub fn rtype_of(addr: &IpAddr) -> u16 {
    match addr {
        IpAddr::V4(_) => TYPE_A,
        IpAddr::V6(_) => TYPE_AAAA,
    }
}

pub fn type_name(rtype: u16) -> &'static str {
    match rtype {
        TYPE_A => "A",
        TYPE_AAAA => "AAAA",
        TYPE_SOA => "SOA",
        TYPE_TSIG => "TSIG",
        _ => "?",
    }
}

/// What one UPDATE message asks for. The whole message succeeds or fails as one
/// (RFC 2136 §3: the prerequisites are checked first, then every update applied).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// RRsets that must be exactly these records (RFC 2136 §2.4.2, "RRset exists
    /// (value dependent)"): the state the updater read before deciding a deletion, so a
    /// concurrent change of the same RRset makes the server refuse with NXRRSET instead
    /// of the updater deleting on stale knowledge (e.g. the last record left).
    pub exact_rrsets: Vec<Vec<AddressRecord>>,
    /// Records to add (RFC 2136 §2.5.1). An add of a record that exists is a no-op
    /// (§3.4.2.2), so an add never clobbers anything and needs no prerequisite.
    pub add: Vec<AddressRecord>,
    /// Exact records to delete (§2.5.4, class NONE): nothing else of the RRset is touched.
    pub delete: Vec<AddressRecord>,
}

impl Update {
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.delete.is_empty()
    }
}

fn header(out: &mut Vec<u8>, id: u16, opcode: u8, counts: [u16; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    // QR=0, opcode, no flags (RD off: the primary answers from its own data).
    out.push(opcode << 3);
    out.push(0);
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

fn rr(out: &mut Vec<u8>, name: &Name, rtype: u16, class: u16, ttl: u32, rdata: &[u8]) {
    name.to_wire(out);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// Encodes an UPDATE of `zone` (without TSIG; see `tsig::sign`).
pub fn encode_update(id: u16, zone: &Name, ttl: u32, update: &Update) -> Vec<u8> {
    let prereqs: usize = update.exact_rrsets.iter().map(Vec::len).sum();
    let updates = update.add.len() + update.delete.len();
    let mut out = Vec::with_capacity(64 + 32 * (prereqs + updates));
    header(
        &mut out,
        id,
        OPCODE_UPDATE,
        [1, prereqs as u16, updates as u16, 0],
    );
    // Zone section: ZNAME, ZTYPE=SOA, ZCLASS=IN.
    zone.to_wire(&mut out);
    out.extend_from_slice(&TYPE_SOA.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    for set in &update.exact_rrsets {
        for r in set {
            // §2.4.2: class of the zone, TTL 0, the record's RDATA.
            rr(&mut out, &r.name, r.rtype(), CLASS_IN, 0, &r.rdata());
        }
    }
    for r in &update.delete {
        rr(&mut out, &r.name, r.rtype(), CLASS_NONE, 0, &r.rdata());
    }
    for r in &update.add {
        rr(&mut out, &r.name, r.rtype(), CLASS_IN, ttl, &r.rdata());
    }
    out
}

/// Encodes a query for one RRset (without TSIG).
pub fn encode_query(id: u16, name: &Name, rtype: u16) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    header(&mut out, id, OPCODE_QUERY, [1, 0, 0, 0]);
    name.to_wire(&mut out);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParseError {
    #[error("the response is cut short at byte {0}")]
    Truncated(usize),
    #[error("the response has a name compression loop")]
    PointerLoop,
    #[error("the response has a malformed name")]
    BadName,
}

/// One resource record of a response; `rdata` is the range in the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRecord {
    pub name: Name,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: std::ops::Range<usize>,
    /// Where the record starts in the message.
    pub start: usize,
}

/// What the updater needs from a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    pub is_response: bool,
    pub opcode: u8,
    pub truncated: bool,
    /// The 4-bit header RCODE (a TSIG error is in the TSIG record).
    pub rcode: u16,
    pub answers: Vec<ParsedRecord>,
    /// The last record of the additional section when it is a TSIG record.
    pub tsig: Option<ParsedRecord>,
}

impl Response {
    /// The addresses of `name`'s records of type `rtype` in the answer section.
    pub fn addresses(&self, msg: &[u8], name: &Name, rtype: u16) -> Vec<IpAddr> {
        self.answers
            .iter()
            .filter(|r| &r.name == name && r.rtype == rtype && r.class == CLASS_IN)
            .filter_map(|r| {
                let data = msg.get(r.rdata.clone())?;
                match (rtype, data.len()) {
                    (TYPE_A, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(data).ok()?)),
                    (TYPE_AAAA, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(data).ok()?)),
                    _ => None,
                }
            })
            .collect()
    }
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16, ParseError> {
    msg.get(at..at + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or(ParseError::Truncated(at))
}

fn u32_at(msg: &[u8], at: usize) -> Result<u32, ParseError> {
    msg.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(ParseError::Truncated(at))
}

/// Reads a possibly compressed name at `at`; returns it and the offset after it.
pub fn read_name(msg: &[u8], mut at: usize) -> Result<(Name, usize), ParseError> {
    let mut text = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(at).ok_or(ParseError::Truncated(at))?;
        match len {
            0 => {
                let end = end.unwrap_or(at + 1);
                if text.is_empty() {
                    text.push('.');
                }
                let name = Name::parse(&text).map_err(|_| ParseError::BadName)?;
                return Ok((name, end));
            }
            l if l & 0xC0 == 0xC0 => {
                let target = (u16_at(msg, at)? & 0x3FFF) as usize;
                end.get_or_insert(at + 2);
                jumps += 1;
                if jumps > 64 {
                    return Err(ParseError::PointerLoop);
                }
                at = target;
            }
            l if l & 0xC0 != 0 => return Err(ParseError::BadName),
            l => {
                let label = msg
                    .get(at + 1..at + 1 + l as usize)
                    .ok_or(ParseError::Truncated(at))?;
                text.push_str(&String::from_utf8_lossy(label));
                text.push('.');
                at += 1 + l as usize;
            }
        }
    }
}

fn read_record(msg: &[u8], start: usize) -> Result<(ParsedRecord, usize), ParseError> {
    let (name, at) = read_name(msg, start)?;
    let rtype = u16_at(msg, at)?;
    let class = u16_at(msg, at + 2)?;
    let ttl = u32_at(msg, at + 4)?;
    let len = u16_at(msg, at + 8)? as usize;
    let data = at + 10;
    if msg.len() < data + len {
        return Err(ParseError::Truncated(data));
    }
    Ok((
        ParsedRecord {
            name,
            rtype,
            class,
            ttl,
            rdata: data..data + len,
            start,
        },
        data + len,
    ))
}

/// Parses a response far enough for the updater.
pub fn parse_response(msg: &[u8]) -> Result<Response, ParseError> {
    if msg.len() < 12 {
        return Err(ParseError::Truncated(msg.len()));
    }
    let id = u16_at(msg, 0)?;
    let flags = u16_at(msg, 2)?;
    let counts = [
        u16_at(msg, 4)?,
        u16_at(msg, 6)?,
        u16_at(msg, 8)?,
        u16_at(msg, 10)?,
    ];
    let mut at = 12;
    for _ in 0..counts[0] {
        let (_, next) = read_name(msg, at)?;
        at = next + 4;
    }
    let mut answers = Vec::new();
    for _ in 0..counts[1] {
        let (r, next) = read_record(msg, at)?;
        answers.push(r);
        at = next;
    }
    for _ in 0..counts[2] {
        at = read_record(msg, at)?.1;
    }
    let mut tsig = None;
    for i in 0..counts[3] {
        let (r, next) = read_record(msg, at)?;
        if i + 1 == counts[3] && r.rtype == TYPE_TSIG {
            tsig = Some(r);
        }
        at = next;
    }
    Ok(Response {
        id,
        is_response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xF) as u8,
        truncated: flags & 0x0200 != 0,
        rcode: flags & 0xF,
        answers,
        tsig,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn rec(n: &str, a: &str) -> AddressRecord {
        AddressRecord {
            name: name(n),
            addr: a.parse().unwrap(),
        }
    }

    #[test]
    fn names_are_checked_and_lowercased() {
        assert_eq!(name("WWW.Example.NET.").as_str(), "www.example.net.");
        assert_eq!(
            Name::parse("www.example.net"),
            Err(NameError::NotAbsolute("www.example.net".into()))
        );
        assert!(matches!(
            Name::parse("a..b."),
            Err(NameError::EmptyLabel(_))
        ));
        assert!(matches!(
            Name::parse(&format!("{}.", "a".repeat(64))),
            Err(NameError::LabelTooLong(_))
        ));
        assert!(matches!(
            Name::parse("a b.example."),
            Err(NameError::BadCharacter(_))
        ));
        let long = format!("{}.", vec!["a".repeat(63); 4].join("."));
        assert!(matches!(Name::parse(&long), Err(NameError::TooLong(_))));
        let fits = format!(
            "{}.",
            [
                "a".repeat(61),
                "a".repeat(63),
                "a".repeat(63),
                "a".repeat(63)
            ]
            .join(".")
        );
        assert!(Name::parse(&fits).is_ok());
        assert!(name("www.example.net.").is_in(&name("example.net.")));
        assert!(name("example.net.").is_in(&name("example.net.")));
        assert!(!name("www.badexample.net.").is_in(&name("example.net.")));
        assert!(name("x.").is_in(&name(".")));
    }

    #[test]
    fn wire_names() {
        let mut out = Vec::new();
        name("www.example.net.").to_wire(&mut out);
        assert_eq!(out, b"\x03www\x07example\x03net\x00");
        out.clear();
        name(".").to_wire(&mut out);
        assert_eq!(out, b"\x00");
    }

    #[test]
    fn update_add_bytes() {
        let u = Update {
            add: vec![rec("www.example.net.", "198.51.100.10")],
            ..Update::default()
        };
        let msg = encode_update(0x1234, &name("example.net."), 30, &u);
        let mut want = vec![
            0x12, 0x34, 0x28, 0x00, // id, opcode UPDATE
            0, 1, 0, 0, 0, 1, 0, 0, // ZO=1 PR=0 UP=1 AD=0
        ];
        want.extend_from_slice(b"\x07example\x03net\x00\x00\x06\x00\x01");
        want.extend_from_slice(b"\x03www\x07example\x03net\x00");
        want.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 198, 51, 100, 10]);
        assert_eq!(msg, want);
    }

    #[test]
    fn update_delete_with_exact_rrset_prerequisite_bytes() {
        let u = Update {
            exact_rrsets: vec![vec![
                rec("www.example.net.", "198.51.100.10"),
                rec("www.example.net.", "198.51.100.11"),
            ]],
            delete: vec![rec("www.example.net.", "198.51.100.10")],
            add: vec![rec("v6.example.net.", "2001:db8::1")],
        };
        let msg = encode_update(1, &name("example.net."), 300, &u);
        let www = b"\x03www\x07example\x03net\x00";
        let mut want = vec![0, 1, 0x28, 0, 0, 1, 0, 2, 0, 2, 0, 0];
        want.extend_from_slice(b"\x07example\x03net\x00\x00\x06\x00\x01");
        // prerequisites: class IN, TTL 0
        want.extend_from_slice(www);
        want.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 198, 51, 100, 10]);
        want.extend_from_slice(www);
        want.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 198, 51, 100, 11]);
        // delete: class NONE, TTL 0
        want.extend_from_slice(www);
        want.extend_from_slice(&[0, 1, 0, 254, 0, 0, 0, 0, 0, 4, 198, 51, 100, 10]);
        // add: AAAA, class IN, TTL 300
        want.extend_from_slice(b"\x02v6\x07example\x03net\x00");
        want.extend_from_slice(&[0, 28, 0, 1, 0, 0, 1, 44, 0, 16]);
        want.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(msg, want);
    }

    #[test]
    fn query_bytes() {
        let q = encode_query(0xabcd, &name("www.example.net."), TYPE_AAAA);
        let mut want = vec![0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x03net\x00\x00\x1c\x00\x01");
        assert_eq!(q, want);
    }

    #[test]
    fn parses_a_compressed_answer() {
        // Response to the query above for A, two answers with a pointer to the question.
        let mut msg = vec![0xab, 0xcd, 0x84, 0x00, 0, 1, 0, 2, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x03www\x07example\x03net\x00\x00\x01\x00\x01");
        for last in [10u8, 11] {
            msg.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 198, 51, 100, last]);
        }
        let r = parse_response(&msg).unwrap();
        assert!(r.is_response);
        assert_eq!(
            (r.id, r.rcode, r.opcode, r.truncated),
            (0xabcd, 0, 0, false)
        );
        assert_eq!(r.tsig, None);
        let www = name("www.example.net.");
        assert_eq!(
            r.addresses(&msg, &www, TYPE_A),
            vec![
                "198.51.100.10".parse::<IpAddr>().unwrap(),
                "198.51.100.11".parse().unwrap()
            ]
        );
        assert!(
            r.addresses(&msg, &name("other.example.net."), TYPE_A)
                .is_empty()
        );
        assert!(r.addresses(&msg, &www, TYPE_AAAA).is_empty());
    }

    #[test]
    fn malformed_responses_are_errors_not_panics() {
        assert_eq!(parse_response(&[0; 5]), Err(ParseError::Truncated(5)));
        // An answer that claims more RDATA than there is.
        let mut msg = vec![0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1]);
        assert!(matches!(
            parse_response(&msg),
            Err(ParseError::Truncated(_))
        ));
        // A pointer to itself.
        let mut msg = vec![0, 1, 0x80, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(&[0xC0, 12]);
        assert_eq!(parse_response(&msg), Err(ParseError::PointerLoop));
        // Every prefix of a valid response fails cleanly.
        let q = encode_query(1, &name("www.example.net."), TYPE_A);
        for n in 0..q.len() {
            let _ = parse_response(&q[..n]);
        }
    }
}
