//! The dns kind against a small authoritative responder this test runs on loopback (UDP
//! and TCP on the same port), built from hickory-proto's message types.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use anycast_warden::check::CheckOutcome;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

/// Which transport each query came over.
type Seen = Arc<Mutex<Vec<&'static str>>>;

/// The zone: health.example.net A 192.0.2.53 and 192.0.2.54, AAAA 2001:db8::53, TXT
/// "v=up"; big.example.net too large for UDP (truncated there, whole over TCP);
/// refused.example.net REFUSED; silent.example.net never answered; the rest NXDOMAIN.
fn answer(query: &Message, udp: bool) -> Option<Message> {
    let q = query.queries.first()?;
    let name = q.name().to_string();
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.authoritative = true;
    reply.add_query(q.clone());
    let owner = Name::from_str(&name).ok()?;
    let record = |data| Record::from_rdata(owner.clone(), 60, data);
    match (name.trim_end_matches('.'), q.query_type()) {
        ("health.example.net", RecordType::A) => {
            reply.add_answer(record(RData::A(A("192.0.2.53".parse().ok()?))));
            reply.add_answer(record(RData::A(A("192.0.2.54".parse().ok()?))));
        }
        ("health.example.net", RecordType::AAAA) => {
            reply.add_answer(record(RData::AAAA(AAAA("2001:db8::53".parse().ok()?))));
        }
        ("health.example.net", RecordType::TXT) => {
            reply.add_answer(record(RData::TXT(TXT::new(vec!["v=up".into()]))));
        }
        ("health.example.net", _) => {}
        ("big.example.net", RecordType::A) if udp => reply.metadata.truncation = true,
        ("big.example.net", RecordType::A) => {
            reply.add_answer(record(RData::A(A("198.51.100.7".parse().ok()?))));
        }
        ("refused.example.net", _) => reply.metadata.response_code = ResponseCode::Refused,
        ("silent.example.net", _) => return None,
        _ => reply.metadata.response_code = ResponseCode::NXDomain,
    }
    Some(reply)
}

async fn dns_server() -> (SocketAddr, Seen) {
    // One port for both: the UDP port the kernel picks may be taken for TCP (another
    // test's connection), so pick again until both bind.
    let mut attempt = 0;
    let (udp, addr, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        match TcpListener::bind(addr).await {
            Ok(tcp) => break (udp, addr, tcp),
            Err(e) if attempt < 100 => {
                attempt += 1;
                eprintln!("port {addr} taken for TCP ({e}); another");
            }
            Err(e) => panic!("no port free for both UDP and TCP: {e}"),
        }
    };
    let seen: Seen = Arc::default();
    let s = seen.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            s.lock().unwrap().push("udp");
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            if let Some(reply) = answer(&query, true) {
                let _ = udp.send_to(&reply.to_vec().unwrap(), from).await;
            }
        }
    });
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            s.lock().unwrap().push("tcp");
            tokio::spawn(async move {
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                if stream.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let Ok(query) = Message::from_vec(&buf) else {
                    return;
                };
                if let Some(reply) = answer(&query, false) {
                    let bytes = reply.to_vec().unwrap();
                    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&bytes);
                    let _ = stream.write_all(&framed).await;
                } else {
                    // Hold the connection open without answering.
                    tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                }
            });
        }
    });
    (addr, seen)
}

async fn run(body: &str, timeout: &str) -> CheckOutcome {
    crate::support::check::run_check("dns", body, timeout).await
}

async fn passes(body: &str) -> CheckOutcome {
    let out = run(body, "2s").await;
    assert!(out.passed(), "{body}: {}", out.detail);
    out
}

async fn fails(body: &str) -> String {
    let out = run(body, "2s").await;
    assert!(!out.passed(), "{body}: passed: {}", out.detail);
    out.detail
}

#[tokio::test]
async fn records_and_expected_answers() {
    let (addr, _) = dns_server().await;
    let s = format!("server = \"{addr}\"");
    let out = passes(&format!("{s}\nquery = \"health.example.net\"")).await;
    assert_eq!(out.detail, "192.0.2.53, 192.0.2.54");
    passes(&format!(
        "{s}\nquery = \"health.example.net\"\nexpect = [\"192.0.2.54\"]"
    ))
    .await;
    assert_eq!(
        fails(&format!(
            "{s}\nquery = \"health.example.net\"\nexpect = [\"192.0.2.99\"]"
        ))
        .await,
        "no answer 192.0.2.99 (got 192.0.2.53, 192.0.2.54)"
    );
    passes(&format!(
        "{s}\nquery = \"health.example.net\"\nrecord = \"AAAA\"\nexpect = [\"2001:db8::53\"]"
    ))
    .await;
    passes(&format!(
        "{s}\nquery = \"health.example.net\"\nrecord = \"txt\"\nexpect = \"v=up\""
    ))
    .await;
    assert_eq!(
        fails(&format!(
            "{s}\nquery = \"health.example.net\"\nrecord = \"MX\""
        ))
        .await,
        "no MX answer"
    );
}

#[tokio::test]
async fn response_codes() {
    let (addr, _) = dns_server().await;
    let s = format!("server = \"{addr}\"");
    assert_eq!(
        fails(&format!("{s}\nquery = \"gone.example.net\"")).await,
        "NXDOMAIN"
    );
    passes(&format!(
        "{s}\nquery = \"gone.example.net\"\nrcode = \"NXDOMAIN\""
    ))
    .await;
    assert_eq!(
        fails(&format!(
            "{s}\nquery = \"health.example.net\"\nrcode = \"NXDOMAIN\""
        ))
        .await,
        "NOERROR, expected NXDOMAIN"
    );
    assert_eq!(
        fails(&format!("{s}\nquery = \"refused.example.net\"")).await,
        "REFUSED"
    );
}

#[tokio::test]
async fn tcp_and_truncation() {
    let (addr, seen) = dns_server().await;
    let s = format!("server = \"{addr}\"");
    passes(&format!(
        "{s}\nquery = \"health.example.net\"\nprotocol = \"tcp\""
    ))
    .await;
    assert_eq!(*seen.lock().unwrap(), ["tcp"]);
    seen.lock().unwrap().clear();
    // Truncated over UDP: asked again over TCP, which has the answer.
    let out = passes(&format!("{s}\nquery = \"big.example.net\"")).await;
    assert_eq!(out.detail, "198.51.100.7");
    assert_eq!(*seen.lock().unwrap(), ["udp", "tcp"]);
}

#[tokio::test]
async fn silent_and_missing_servers() {
    let (addr, _) = dns_server().await;
    for protocol in ["udp", "tcp"] {
        let out = run(
            &format!(
                "server = \"{addr}\"\nquery = \"silent.example.net\"\nprotocol = \"{protocol}\""
            ),
            "300ms",
        )
        .await;
        assert!(!out.passed());
        assert_eq!(
            out.detail,
            format!("no answer from {addr}: timeout after 300ms")
        );
    }
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let reason = fails(&format!(
        "server = \"{closed}\"\nquery = \"health.example.net\""
    ))
    .await;
    assert!(reason.contains("refused"), "{reason}");
}
