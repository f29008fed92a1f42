//! The `dns` kind: one query to one server, whose answer must have the expected rcode and
//! records.

use std::net::IpAddr;

use super::checker::Checker;
use crate::config::model::*;
use crate::config::raw::*;

pub(super) fn dns(c: &mut Checker<'_>, raw: &RawCheck) -> Option<CheckSpec> {
    use crate::dns::rcode::{RCODES, value as rcode_value};
    let before = c.errors.len();
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
    let record = match raw.record.as_ref() {
        None => "A".to_string(),
        Some(r) => {
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
    };
    let server = c
        .required("server", raw.server.as_ref(), "server = \"127.0.0.1:53\"")
        .and_then(|s| {
            let text = s.get_ref().trim();
            // A bare address means port 53.
            let parsed = text.parse::<std::net::SocketAddr>().ok().or_else(|| {
                text.parse::<IpAddr>()
                    .ok()
                    .map(|ip| std::net::SocketAddr::new(ip, 53))
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
        });
    let protocol = match raw.protocol.as_ref() {
        None => DnsProtocol::Udp,
        Some(p) => match p.get_ref().as_str() {
            "udp" => DnsProtocol::Udp,
            "tcp" => DnsProtocol::Tcp,
            other => {
                c.error(
                    p.span(),
                    format!("unknown protocol \"{other}\""),
                    "write protocol = \"udp\" or protocol = \"tcp\"",
                );
                DnsProtocol::Udp
            }
        },
    };
    let expect = match raw.expect.as_ref() {
        None => Vec::new(),
        Some(e) => {
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
            if matches!(record.as_str(), "A" | "AAAA") {
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
    };
    let rcode = match raw.rcode.as_ref() {
        None => "NOERROR".to_string(),
        Some(r) => {
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
    };
    let (query, server) = (query?, server?);
    (c.errors.len() == before).then(|| {
        CheckSpec::Dns(Box::new(DnsSpec {
            query,
            record,
            server,
            protocol,
            expect,
            rcode,
        }))
    })
}
