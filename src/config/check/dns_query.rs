//! The `dns` kind: one query to one server, whose answer must have the expected rcode and
//! records.

use std::net::{IpAddr, SocketAddr};

use super::checker::Checker;
use crate::config::model::*;
use crate::config::raw::*;
use crate::config::values::Words;

const PROTOCOLS: Words<DnsProtocol> = Words {
    what: "protocol",
    words: &[("udp", DnsProtocol::Udp), ("tcp", DnsProtocol::Tcp)],
    hint: "write protocol = \"udp\" or protocol = \"tcp\"",
};

pub(super) fn dns(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    let query = c.text("query", raw.query.as_ref(), "health.example.net");
    if let (Some(name), Some(q)) = (query.as_ref(), raw.query.as_ref())
        && hickory_proto::rr::Name::from_ascii(name).is_err()
    {
        c.error(
            q.span(),
            format!("\"{name}\" is not a DNS name"),
            "write a domain name, e.g. query = \"health.example.net\"",
        );
    }
    let record = record_type(c, raw);
    let server = server(c, raw);
    let protocol = PROTOCOLS.read(c.src, raw.protocol.as_ref(), DnsProtocol::Udp, c.errors);
    let expect = expected_answers(c, raw, &record);
    let rcode = rcode(c, raw);
    Some(CheckSpec::Dns(Box::new(DnsSpec {
        query: query?,
        record,
        server: server?,
        protocol,
        expect,
        rcode,
    })))
}

/// `record`: a record type hickory knows, in capitals; A unless written.
fn record_type(c: &mut Checker<'_>, raw: &RawCheck) -> String {
    let Some(r) = raw.record.as_ref() else {
        return "A".to_string();
    };
    let name = r.get_ref().trim().to_ascii_uppercase();
    match name.parse::<hickory_proto::rr::RecordType>() {
        Ok(t) if !matches!(t, hickory_proto::rr::RecordType::Unknown(_)) => t.to_string(),
        _ => {
            c.error(
                r.span(),
                format!("\"{}\" is not a DNS record type", r.get_ref()),
                "write a record type, e.g. record = \"A\", \"AAAA\", \"TXT\", \"SOA\", \"MX\" or \"NS\"",
            );
            name
        }
    }
}

/// `server`: required, an address and port (a bare address means port 53), never a name.
fn server(c: &mut Checker<'_>, raw: &RawCheck) -> Option<SocketAddr> {
    let s = c.required("server", raw.server.as_ref(), "server = \"127.0.0.1:53\"")?;
    let text = s.get_ref().trim();
    // A bare address means port 53.
    let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
        text.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, 53))
    });
    match parsed {
        Some(a) if a.port() != 0 => Some(a),
        _ => {
            c.error(
                s.span(),
                format!("\"{text}\" is not a server address"),
                "write the server's address and port, e.g. server = \"127.0.0.1:53\" or \"[2001:db8::53]:53\" (an address, not a name: the check never asks the system resolver)",
            );
            None
        }
    }
}

/// `expect`: answers that must be present, none empty; addresses of the family of an A or
/// AAAA query.
fn expected_answers(c: &mut Checker<'_>, raw: &RawCheck, record: &str) -> Vec<String> {
    let Some(e) = raw.expect.as_ref() else {
        return Vec::new();
    };
    let answers = match e.get_ref() {
        RawExpect::One(one) => vec![one.clone()],
        RawExpect::Many(many) => many.clone(),
    };
    if answers.is_empty() || answers.iter().any(|a| a.trim().is_empty()) {
        c.error(
            e.span(),
            "expect has an empty answer",
            "list the answers that must be present, e.g. expect = [\"192.0.2.53\"], or remove expect",
        );
    }
    if matches!(record, "A" | "AAAA") {
        for answer in &answers {
            let ok = match answer.trim().parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => record == "A",
                Ok(IpAddr::V6(_)) => record == "AAAA",
                Err(_) => false,
            };
            if !ok && !answer.trim().is_empty() {
                let (family, example) = if record == "A" {
                    ("IPv4", "192.0.2.53")
                } else {
                    ("IPv6", "2001:db8::53")
                };
                c.error(
                    e.span(),
                    format!("\"{answer}\" is not an answer to an {record} query"),
                    format!("write {family} addresses, e.g. expect = [\"{example}\"]"),
                );
            }
        }
    }
    answers
}

/// `rcode`: a response code's name, in capitals; NOERROR unless written.
fn rcode(c: &mut Checker<'_>, raw: &RawCheck) -> String {
    use crate::dns::rcode::{RCODES, value as rcode_value};
    let Some(r) = raw.rcode.as_ref() else {
        return "NOERROR".to_string();
    };
    let name = r.get_ref().trim().to_ascii_uppercase();
    if rcode_value(&name).is_none() {
        let names: Vec<&str> = RCODES.iter().map(|(n, _)| *n).collect();
        c.error(
            r.span(),
            format!("\"{}\" is not a DNS response code", r.get_ref()),
            format!("write one of {}", names.join(", ")),
        );
    }
    name
}
