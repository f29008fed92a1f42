//! `kind = "dns"`: one query to one server (never the system resolver); passes when the
//! response code is the expected one (NOERROR by default, then with at least one answer)
//! and every `expect`ed answer is present.
//!
//! hickory-proto encodes and decodes the messages; the exchange itself is a few lines of
//! tokio (UDP with the reply matched by ID, retried over TCP when truncated; or TCP with
//! the 2-byte length prefix), so the whole query is bounded by the check's timeout and
//! no resolver state (caches, retries across servers, system configuration) gets in.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{CheckOutcome, Failed, Failure, timeout_reason};
use crate::config::{DnsProtocol, DnsSpec};

use crate::dns::rcode::{name as rcode_name, value as rcode_value};

/// The query message, with recursion desired (a resolver answers it; an authoritative
/// server ignores the flag).
pub fn encode_query(id: u16, name: &str, record: RecordType) -> Result<Vec<u8>, String> {
    let mut name = Name::from_str(name).map_err(|e| format!("bad name {name}: {e}"))?;
    // The name is asked as written, never completed with a search domain.
    name.set_fqdn(true);
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(name, record));
    message
        .to_vec()
        .map_err(|e| format!("cannot encode the query: {e}"))
}

/// An answer's data as text to compare with `expect`: addresses as addresses, TXT as its
/// strings joined, anything else as hickory prints it, without the root's dot.
fn answer_text(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect(),
        other => other.to_string().trim_end_matches('.').to_string(),
    }
}

/// Whether an answer is the expected one: addresses compare as addresses, the rest as
/// text, ignoring case and a final dot.
fn same_answer(got: &str, want: &str) -> bool {
    let want = want.trim();
    match (got.parse::<IpAddr>(), want.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => got.eq_ignore_ascii_case(want.trim_end_matches('.')),
    }
}

/// What the response must look like: the pure part of the check.
#[derive(Debug, Clone)]
pub struct Rules {
    pub record: RecordType,
    pub rcode: u16,
    pub expect: Vec<String>,
}

impl Rules {
    pub fn judge(&self, response: &Message) -> CheckOutcome {
        let rcode = u16::from(response.metadata.response_code);
        if rcode != self.rcode {
            return CheckOutcome::fail(
                Failure::Unexpected,
                if self.rcode == 0 {
                    rcode_name(rcode)
                } else {
                    format!("{}, expected {}", rcode_name(rcode), rcode_name(self.rcode))
                },
            );
        }
        let answers: Vec<String> = response
            .answers
            .iter()
            .filter(|r| r.record_type() == self.record)
            .map(|r| answer_text(&r.data))
            .collect();
        if rcode != 0 {
            return CheckOutcome::pass(rcode_name(rcode));
        }
        if answers.is_empty() {
            return CheckOutcome::fail(Failure::Unexpected, format!("no {} answer", self.record));
        }
        let missing: Vec<&str> = self
            .expect
            .iter()
            .filter(|want| !answers.iter().any(|got| same_answer(got, want)))
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            CheckOutcome::pass(answers.join(", "))
        } else {
            CheckOutcome::fail(
                Failure::Unexpected,
                format!(
                    "no answer {} (got {})",
                    missing.join(", "),
                    answers.join(", ")
                ),
            )
        }
    }
}

#[derive(Debug, Clone)]
pub struct DnsCheck {
    query: String,
    server: SocketAddr,
    protocol: DnsProtocol,
    rules: Rules,
}

impl DnsCheck {
    pub fn new(spec: &DnsSpec) -> Self {
        DnsCheck {
            query: spec.query.clone(),
            server: spec.server,
            protocol: spec.protocol,
            rules: Rules {
                // Validation accepted the type's name.
                record: spec.record.parse().unwrap_or(RecordType::A),
                rcode: rcode_value(&spec.rcode).unwrap_or(0),
                expect: spec.expect.clone(),
            },
        }
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        match tokio::time::timeout(timeout, self.ask()).await {
            Ok(Ok(response)) => self.rules.judge(&response),
            Ok(Err(failed)) => failed.into(),
            Err(_) => CheckOutcome::fail(
                Failure::Timeout,
                format!(
                    "no answer from {}: {}",
                    self.server,
                    timeout_reason(timeout)
                ),
            ),
        }
    }

    async fn ask(&self) -> Result<Message, Failed> {
        let id: u16 = rand::random();
        let query = encode_query(id, &self.query, self.rules.record).map_err(Failed::other)?;
        if self.protocol == DnsProtocol::Udp {
            let response = udp_exchange(self.server, id, &query).await?;
            // A truncated answer is asked again over TCP, as a resolver would.
            if !response.metadata.truncation {
                return Ok(response);
            }
        }
        tcp_exchange(self.server, id, &query).await
    }
}

async fn udp_exchange(server: SocketAddr, id: u16, query: &[u8]) -> Result<Message, Failed> {
    let socket = super::udp::send_connected(server, query).await?;
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(|e| Failed::io(&e, format!("no answer from {server}: {e}")))?;
        // A late answer to an earlier query, or garbage: wait for ours.
        match Message::from_vec(&buf[..n]) {
            Ok(m) if m.metadata.id == id && m.metadata.message_type == MessageType::Response => {
                return Ok(m);
            }
            _ => continue,
        }
    }
}

async fn tcp_exchange(server: SocketAddr, id: u16, query: &[u8]) -> Result<Message, Failed> {
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| Failed::io(&e, format!("connect to {server}: {e}")))?;
    let len = u16::try_from(query.len()).map_err(|_| Failed::other("query too long"))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| Failed::io(&e, format!("send to {server}: {e}")))?;
    let mut len = [0u8; 2];
    stream
        .read_exact(&mut len)
        .await
        .map_err(|e| Failed::io(&e, format!("no answer from {server}: {e}")))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(|e| Failed::io(&e, format!("short answer from {server}: {e}")))?;
    let message = Message::from_vec(&buf)
        .map_err(|e| Failed::unexpected(format!("bad answer from {server}: {e}")))?;
    if message.metadata.id != id {
        return Err(Failed::unexpected(format!(
            "answer from {server} has another ID"
        )));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, TXT};

    fn response(code: ResponseCode, answers: Vec<Record>) -> Message {
        let mut m = Message::response(1, OpCode::Query);
        m.metadata.response_code = code;
        m.add_answers(answers);
        m
    }

    fn a(ip: &str) -> Record {
        Record::from_rdata(
            Name::from_str("h.example.").unwrap(),
            60,
            RData::A(A(ip.parse().unwrap())),
        )
    }

    fn rules(record: RecordType, rcode: &str, expect: &[&str]) -> Rules {
        Rules {
            record,
            rcode: rcode_value(rcode).unwrap(),
            expect: expect.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn rcode_names() {
        assert_eq!(rcode_value("NXDOMAIN"), Some(3));
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(23), "RCODE23");
        assert_eq!(rcode_value("nope"), None);
    }

    #[test]
    fn query_bytes_have_the_question() {
        let bytes = encode_query(0x1234, "health.example.net", RecordType::AAAA).unwrap();
        let back = Message::from_vec(&bytes).unwrap();
        assert_eq!(back.metadata.id, 0x1234);
        assert!(back.metadata.recursion_desired);
        assert_eq!(back.queries[0].query_type(), RecordType::AAAA);
        assert_eq!(back.queries[0].name().to_string(), "health.example.net.");
    }

    #[test]
    fn verdicts() {
        let ok = response(ResponseCode::NoError, vec![a("192.0.2.1"), a("192.0.2.2")]);
        assert!(rules(RecordType::A, "NOERROR", &[]).judge(&ok).passed());
        assert!(
            rules(RecordType::A, "NOERROR", &["192.0.2.2"])
                .judge(&ok)
                .passed()
        );
        let out = rules(RecordType::A, "NOERROR", &["192.0.2.9"]).judge(&ok);
        assert_eq!(out.detail, "no answer 192.0.2.9 (got 192.0.2.1, 192.0.2.2)");
        let nx = response(ResponseCode::NXDomain, vec![]);
        assert_eq!(
            rules(RecordType::A, "NOERROR", &[]).judge(&nx).detail,
            "NXDOMAIN"
        );
        assert!(rules(RecordType::A, "NXDOMAIN", &[]).judge(&nx).passed());
        assert_eq!(
            rules(RecordType::A, "NXDOMAIN", &[]).judge(&ok).detail,
            "NOERROR, expected NXDOMAIN"
        );
        let empty = response(ResponseCode::NoError, vec![]);
        assert_eq!(
            rules(RecordType::A, "NOERROR", &[]).judge(&empty).detail,
            "no A answer"
        );
        let txt = response(
            ResponseCode::NoError,
            vec![Record::from_rdata(
                Name::from_str("h.example.").unwrap(),
                60,
                RData::TXT(TXT::new(vec!["v=up".into()])),
            )],
        );
        assert!(
            rules(RecordType::TXT, "NOERROR", &["v=up"])
                .judge(&txt)
                .passed()
        );
        assert!(
            !rules(RecordType::TXT, "NOERROR", &["v=down"])
                .judge(&txt)
                .passed()
        );
    }

    #[test]
    fn answers_compare_as_addresses_or_names() {
        assert!(same_answer("2001:db8::1", "2001:DB8:0::1"));
        assert!(same_answer("ns1.example.net", "NS1.example.net."));
        assert!(!same_answer("192.0.2.1", "192.0.2.10"));
    }
}
