//! The http kind against HTTP and HTTPS servers this test runs on loopback, with
//! certificates from a test CA. Each check is built from configuration text, so every
//! option goes through validation as an operator's would.

use crate::support::{Ca, http_server, https_server, in_days, write};
use anycast_warden::check::CheckOutcome;

/// Runs the one check of a service written as `body` (keys of `[[service.check]]`).
async fn run(body: &str, timeout: &str) -> CheckOutcome {
    crate::support::check::run_check("http", body, timeout).await
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
async fn status_any_2xx_by_default_or_as_listed() {
    let (addr, _) = http_server("127.0.0.1:0").await;
    passes(&format!("url = \"http://{addr}/ok\"")).await;
    assert_eq!(
        fails(&format!("url = \"http://{addr}/503\"")).await,
        "status 503"
    );
    // Redirects are not followed: the status is what counts.
    assert_eq!(
        fails(&format!("url = \"http://{addr}/redirect\"")).await,
        "status 301"
    );
    passes(&format!("url = \"http://{addr}/redirect\"\nstatus = 301")).await;
    passes(&format!(
        "url = \"http://{addr}/503\"\nstatus = [200, \"500-503\"]"
    ))
    .await;
    assert_eq!(
        fails(&format!("url = \"http://{addr}/ok\"\nstatus = \"5xx\"")).await,
        "status 200"
    );
}

#[tokio::test]
async fn body_contains_and_body_regex() {
    let (addr, _) = http_server("127.0.0.1:0").await;
    passes(&format!(
        "url = \"http://{addr}/ok\"\nbody_contains = \"ok\""
    ))
    .await;
    assert_eq!(
        fails(&format!(
            "url = \"http://{addr}/ok\"\nbody_contains = \"healthy\""
        ))
        .await,
        "status 200, but the body does not contain \"healthy\""
    );
    passes(&format!(
        "url = \"http://{addr}/json\"\nbody_regex = '\"status\": *\"up\"'"
    ))
    .await;
    let reason = fails(&format!(
        "url = \"http://{addr}/json\"\nbody_regex = '\"status\": *\"down\"'"
    ))
    .await;
    assert!(reason.contains("does not match"), "{reason}");
}

#[tokio::test]
async fn method_headers_and_body_are_sent() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    passes(&format!(
        "url = \"http://{addr}/echo\"\nmethod = \"POST\"\nheaders = {{ \"X-Check\" = \"warden\" }}\nbody = \"hello\"\nbody_contains = \"hello\""
    ))
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.header("x-check"), Some("warden"));
    assert_eq!(seen.body, "hello");
    // GET by default, and an unknown path is the server's 404.
    assert_eq!(
        fails(&format!("url = \"http://{addr}/nothing\"")).await,
        "status 404"
    );
    assert_eq!(log.lock().unwrap().pop().unwrap().method, "GET");
}

#[tokio::test]
async fn host_sends_the_name_to_the_url_address() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    passes(&format!("url = \"http://{addr}/ok\"")).await;
    let plain = log.lock().unwrap().pop().unwrap();
    assert_eq!(plain.header("host"), Some(addr.to_string().as_str()));
    passes(&format!(
        "url = \"http://{addr}/ok\"\nhost = \"www.example.com\""
    ))
    .await;
    let named = log.lock().unwrap().pop().unwrap();
    assert_eq!(
        named.header("host"),
        Some(format!("www.example.com:{}", addr.port()).as_str())
    );
}

#[tokio::test]
async fn timeout_refused_and_source_address() {
    let (addr, log) = http_server("127.0.0.1:0").await;
    let out = run(&format!("url = \"http://{addr}/slow\""), "300ms").await;
    assert!(!out.passed());
    assert_eq!(out.detail, "timeout after 300ms");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let reason = fails(&format!("url = \"http://{closed}/ok\"")).await;
    assert!(
        reason.starts_with("connect: ") && reason.contains("refused"),
        "{reason}"
    );
    // All of 127.0.0.0/8 is on lo, so 127.0.0.2 is a local address to connect from.
    passes(&format!(
        "url = \"http://{addr}/ok\"\nsource = \"127.0.0.2\""
    ))
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.peer.unwrap().ip().to_string(), "127.0.0.2");
    // A documentation address is on no interface here: the connect fails.
    let reason = fails(&format!(
        "url = \"http://{addr}/ok\"\nsource = \"192.0.2.1\""
    ))
    .await;
    assert!(reason.starts_with("connect: "), "{reason}");
}

#[tokio::test]
async fn https_with_ca_file_sni_and_certificate_names() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warden Test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let leaf = ca.issue(
        "www.example.com",
        &["www.example.com", "127.0.0.1"],
        in_days(90),
    );
    let (addr, log) = https_server(&leaf, None).await;
    let ca_line = format!("ca_file = \"{}\"", ca_file.display());
    // The certificate names 127.0.0.1 too, so the bare address verifies.
    passes(&format!("url = \"https://{addr}/ok\"\n{ca_line}")).await;
    // With host: SNI and the certificate check use the name.
    passes(&format!(
        "url = \"https://{addr}/ok\"\nhost = \"www.example.com\"\n{ca_line}"
    ))
    .await;
    let seen = log.lock().unwrap().pop().unwrap();
    assert_eq!(seen.sni.as_deref(), Some("www.example.com"));
    assert_eq!(
        seen.header("host"),
        Some(format!("www.example.com:{}", addr.port()).as_str())
    );
    let reason = fails(&format!(
        "url = \"https://{addr}/ok\"\nhost = \"other.example.com\"\n{ca_line}"
    ))
    .await;
    assert!(reason.contains("certificate"), "{reason}");
    // The system's CAs do not know the test CA; insecure accepts anything.
    let reason = fails(&format!("url = \"https://{addr}/ok\"")).await;
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    passes(&format!("url = \"https://{addr}/ok\"\ninsecure = true")).await;
    // Status and body rules apply over TLS too.
    assert_eq!(
        fails(&format!("url = \"https://{addr}/503\"\n{ca_line}")).await,
        "status 503"
    );
}

#[tokio::test]
async fn https_expired_certificate_fails() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warden Test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let leaf = ca.issue("www.example.com", &["127.0.0.1"], in_days(-1));
    let (addr, _) = https_server(&leaf, None).await;
    let reason = fails(&format!(
        "url = \"https://{addr}/ok\"\nca_file = \"{}\"",
        ca_file.display()
    ))
    .await;
    assert!(reason.contains("certificate expired"), "{reason}");
}

#[tokio::test]
async fn https_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Warden Test CA");
    let ca_file = write(dir.path(), "ca.pem", &ca.pem());
    let server = ca.issue("server", &["127.0.0.1"], in_days(90));
    let client = ca.issue("warden", &["warden.example.com"], in_days(90));
    let cert = write(dir.path(), "client.pem", &client.cert_pem);
    let key = write(dir.path(), "client.key", &client.key_pem);
    let (addr, _) = https_server(&server, Some(&ca)).await;
    let base = format!(
        "url = \"https://{addr}/ok\"\nca_file = \"{}\"",
        ca_file.display()
    );
    passes(&format!(
        "{base}\nclient_cert = \"{}\"\nclient_key = \"{}\"",
        cert.display(),
        key.display()
    ))
    .await;
    fails(&base).await;
}

// Plain http goes through the check's own HTTP/1.1 client, which keeps one connection per
// check between rounds. These servers are written out byte by byte, so each test controls
// exactly what the client reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server that answers the n-th request it reads (counted over all connections, from 0)
/// with `reply(n)`, keeping the connection open, or closes the connection unanswered when
/// `reply` gives `None`. `idle_close`: closes each connection that long after answering.
struct Scripted {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

type Reply = Arc<dyn Fn(usize) -> Option<Vec<u8>> + Send + Sync>;

impl Scripted {
    async fn start(
        reply: impl Fn(usize) -> Option<Vec<u8>> + Send + Sync + 'static,
        idle_close: Option<Duration>,
    ) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let reply: Reply = Arc::new(reply);
        let (c, r) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(Self::serve(stream, reply.clone(), r.clone(), idle_close));
            }
        });
        Scripted {
            addr,
            connections,
            requests,
        }
    }

    async fn serve(
        mut stream: TcpStream,
        reply: Reply,
        requests: Arc<AtomicUsize>,
        idle_close: Option<Duration>,
    ) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            // One request: the head, then as many bytes as its Content-Length says.
            let end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + length {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.drain(..end + length);
            let n = requests.fetch_add(1, Ordering::SeqCst);
            let Some(answer) = reply(n) else { return };
            if stream.write_all(&answer).await.is_err() {
                return;
            }
            if let Some(after) = idle_close {
                tokio::time::sleep(after).await;
                return;
            }
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn check(&self, extra: &str, timeout: &str) -> (anycast_warden::check::Check, Duration) {
        crate::support::check::build_check(
            "http",
            &format!("url = \"http://{}/health\"\n{extra}", self.addr),
            timeout,
        )
    }
}

fn ok(body: &str) -> Option<Vec<u8>> {
    Some(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// Runs `check` `n` times and returns the outcomes' details, each with + or -.
async fn rounds(check: &anycast_warden::check::Check, timeout: Duration, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        let o = check.run(timeout).await;
        out.push(format!(
            "{}{}",
            if o.passed() { "+" } else { "-" },
            o.detail
        ));
    }
    out
}

#[tokio::test]
async fn plain_http_keeps_one_connection_across_rounds() {
    let server = Scripted::start(|_| ok("all ok"), None).await;
    let (check, timeout) = server.check("body_contains = \"ok\"", "2s");
    assert_eq!(rounds(&check, timeout, 5).await, vec!["+status 200"; 5]);
    assert_eq!(server.requests(), 5);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_server_closing_idle_connections_costs_a_new_connection_not_a_failure() {
    let server = Scripted::start(|_| ok("ok"), Some(Duration::from_millis(20))).await;
    let (check, timeout) = server.check("", "2s");
    for _ in 0..4 {
        assert_eq!(rounds(&check, timeout, 1).await, vec!["+status 200"]);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!((server.requests(), server.connections()), (4, 4));
}

#[tokio::test]
async fn a_keep_alive_race_is_retried_once_on_a_new_connection() {
    // Every second request finds its connection closed by the server (as when it closes
    // an idle connection just as the request goes out): each round still passes, on its
    // retry.
    let server = Scripted::start(|n| if n % 2 == 0 { ok("ok") } else { None }, None).await;
    let (check, timeout) = server.check("", "2s");
    assert_eq!(rounds(&check, timeout, 4).await, vec!["+status 200"; 4]);
    assert_eq!((server.requests(), server.connections()), (7, 4));
}

#[tokio::test]
async fn a_server_that_stops_answering_fails_despite_the_retry() {
    let server = Scripted::start(|n| if n == 0 { ok("ok") } else { None }, None).await;
    let (check, timeout) = server.check("", "2s");
    assert_eq!(
        rounds(&check, timeout, 3).await,
        vec![
            "+status 200",
            "-connection closed before the response",
            "-connection closed before the response"
        ]
    );
    // One retry in the second round (its connection was reused), none in the third.
    assert_eq!((server.requests(), server.connections()), (4, 3));
}

#[tokio::test]
async fn chunked_bodies_with_trailers() {
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nall \r\n2;ext=1\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n";
    let server = Scripted::start(|_| Some(chunked.to_vec()), None).await;
    let (check, timeout) = server.check("body_contains = \"all ok\"", "2s");
    assert_eq!(rounds(&check, timeout, 3).await, vec!["+status 200"; 3]);
    assert_eq!(server.connections(), 1);
    let (check, timeout) = server.check("body_regex = \"^all ok$\"", "2s");
    assert_eq!(rounds(&check, timeout, 1).await, vec!["+status 200"]);
}

#[tokio::test]
async fn a_slow_server_times_out_and_its_connection_is_dropped() {
    // The head, then 2 of the 10 bytes promised.
    let server = Scripted::start(
        |n| match n {
            0 => ok("ok"),
            1 => Some(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok".to_vec()),
            _ => ok("ok"),
        },
        None,
    )
    .await;
    let (check, timeout) = server.check("", "300ms");
    assert_eq!(
        rounds(&check, timeout, 3).await,
        vec!["+status 200", "-timeout after 300ms", "+status 200"]
    );
    // The stalled connection is not used again.
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn oversized_and_malformed_responses_fail_with_a_reason() {
    let big = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(70_000));
    let server = Scripted::start(move |_| Some(big.clone().into_bytes()), None).await;
    let (check, timeout) = server.check("", "2s");
    assert_eq!(
        rounds(&check, timeout, 1).await,
        vec!["-malformed response: headers longer than 64 KiB"]
    );
    let server = Scripted::start(|_| Some(b"HTTP/1.1 20 OK\r\n\r\n".to_vec()), None).await;
    let (check, timeout) = server.check("", "2s");
    assert_eq!(
        rounds(&check, timeout, 1).await,
        vec!["-malformed response: invalid response status"]
    );
    let folded = b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 0\r\n\r\n";
    let server = Scripted::start(|_| Some(folded.to_vec()), None).await;
    let (check, timeout) = server.check("", "2s");
    let got = rounds(&check, timeout, 1).await;
    assert!(got[0].starts_with("-malformed response: "), "{got:?}");
}

#[tokio::test]
async fn interim_responses_and_bodiless_replies() {
    let server = Scripted::start(
        |_| {
            Some(
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
                    .to_vec(),
            )
        },
        None,
    )
    .await;
    let (check, timeout) = server.check(
        "method = \"POST\"\nbody = \"x\"\nbody_contains = \"ok\"",
        "2s",
    );
    assert_eq!(rounds(&check, timeout, 2).await, vec!["+status 201"; 2]);
    assert_eq!(server.connections(), 1);
    // HEAD: the Content-Length is the GET's, and no body follows.
    let server = Scripted::start(
        |_| Some(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec()),
        None,
    )
    .await;
    let (check, timeout) = server.check("method = \"HEAD\"", "2s");
    assert_eq!(rounds(&check, timeout, 3).await, vec!["+status 200"; 3]);
    assert_eq!(server.connections(), 1);
}
