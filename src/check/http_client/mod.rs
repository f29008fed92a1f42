//! The http check's own HTTP/1.1 client, for plain `http://` URLs: at 1,000 checks a
//! second, reqwest's per-request work (URL conversion, header maps, pool checkout) was
//! most of the daemon's CPU. This client writes a request rendered once when the check
//! was built, keeps one connection per check open between rounds, and reads the response
//! with the pure parser in `response`.
//!
//! A connection is reused only if the last response said it may be, was read to its end,
//! and the check runs often enough (rounds no more than `IDLE_LIMIT` apart); otherwise it
//! is closed after the response. A reused connection that fails before the first byte of
//! the response (the server closed it while idle) is retried once on a new connection,
//! whose result is the check's: a server that is down fails the retry too.

pub mod request;
pub mod response;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::{Failed, Failure};
use request::Rendered;
use response::{BodyDecoder, Step, parse_head};

/// How long a connection may sit idle and still be used: below the shortest common server
/// keep-alive (Apache's 5 s), so a request rarely races the server closing it.
pub const IDLE_LIMIT: Duration = Duration::from_secs(4);

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Address(SocketAddr),
    /// Resolved each time a connection is opened.
    Name(String, u16),
}

/// One check's client: its request and its connection between rounds.
#[derive(Debug)]
pub struct PlainClient {
    request: Rendered,
    destination: Destination,
    source: Option<IpAddr>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    idle: Option<Idle>,
    last_start: Option<Instant>,
}

#[derive(Debug)]
struct Idle {
    stream: TcpStream,
    since: Instant,
}

/// The parts of a response a check judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The first `limit` bytes of the body, when asked to keep them.
    pub body: Vec<u8>,
}

/// Why an exchange failed, and whether a new connection may be tried.
enum Lost {
    /// Nothing of a response arrived: on a reused connection, the server may have closed
    /// it while it was idle.
    NoResponse(Failed),
    Final(Failed),
}

impl PlainClient {
    pub fn new(request: Rendered, destination: Destination, source: Option<IpAddr>) -> Self {
        PlainClient {
            request,
            destination,
            source,
            state: Mutex::default(),
        }
    }

    /// Sends the request and reads the response, reading at most `limit` bytes of body
    /// (kept if `keep_body`). Not bounded in time: the caller's timeout is.
    pub async fn exchange(&self, keep_body: bool, limit: usize) -> Result<Response, Failed> {
        let (idle, frequent) = self.checkout();
        if let Some(stream) = idle {
            match self.send(stream, keep_body, limit, frequent).await {
                Ok(r) => return Ok(r),
                Err(Lost::NoResponse(_)) => {}
                Err(Lost::Final(failed)) => return Err(failed),
            }
        }
        let stream = self.connect().await?;
        match self.send(stream, keep_body, limit, frequent).await {
            Ok(r) => Ok(r),
            Err(Lost::NoResponse(failed) | Lost::Final(failed)) => Err(failed),
        }
    }

    /// The idle connection, if it is still worth using, and whether rounds come often
    /// enough to keep the connection after this one.
    fn checkout(&self) -> (Option<TcpStream>, bool) {
        let now = Instant::now();
        // A poisoned lock only means a panic elsewhere mid-update: the state is still a
        // connection or none.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let frequent = state
            .last_start
            .is_none_or(|t| now.duration_since(t) <= IDLE_LIMIT);
        state.last_start = Some(now);
        let idle = state
            .idle
            .take()
            .filter(|i| now.duration_since(i.since) <= IDLE_LIMIT)
            .map(|i| i.stream)
            .filter(quiet);
        (idle, frequent)
    }

    fn checkin(&self, stream: TcpStream) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle = Some(Idle {
            stream,
            since: Instant::now(),
        });
    }

    async fn connect(&self) -> Result<TcpStream, Failed> {
        let addresses: Vec<SocketAddr> = match &self.destination {
            Destination::Address(a) => vec![*a],
            Destination::Name(name, port) => tokio::net::lookup_host((name.as_str(), *port))
                .await
                .map_err(|e| {
                    Failed::new(
                        Failure::Resolve,
                        format!("connect: cannot resolve {name}: {e}"),
                    )
                })?
                .collect(),
        };
        let mut last = Failed::new(Failure::Resolve, "connect: no address");
        for address in addresses {
            match self.connect_to(address).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Failed::io(&e, format!("connect: {e}")),
            }
        }
        Err(last)
    }

    async fn connect_to(&self, address: SocketAddr) -> io::Result<TcpStream> {
        let stream = match self.source {
            None => TcpStream::connect(address).await?,
            Some(source) => {
                let socket = if address.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                socket.bind(SocketAddr::new(source, 0))?;
                socket.connect(address).await?
            }
        };
        // The request goes out in one write; no reason to hold it back.
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// One request and response on `stream`, which goes back to idle if it can carry the
    /// next round's request.
    async fn send(
        &self,
        mut stream: TcpStream,
        keep_body: bool,
        limit: usize,
        frequent: bool,
    ) -> Result<Response, Lost> {
        stream
            .write_all(&self.request.bytes)
            .await
            .map_err(|e| Lost::NoResponse(Failed::io(&e, format!("send: {e}"))))?;
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let head = loop {
            if let Some((head, used)) = parse_head(&buf, self.request.head_request)
                .map_err(|e| Lost::Final(Failed::unexpected(e.to_string())))?
            {
                buf.drain(..used);
                break head;
            }
            let first = buf.is_empty();
            match read_more(&mut stream, &mut buf).await {
                Ok(0) if first => {
                    return Err(Lost::NoResponse(Failed::new(
                        Failure::Connect,
                        "connection closed before the response",
                    )));
                }
                Ok(0) => {
                    return Err(Lost::Final(Failed::new(
                        Failure::Connect,
                        "connection closed in the response headers",
                    )));
                }
                Ok(_) => {}
                Err(e) if first => {
                    return Err(Lost::NoResponse(Failed::io(&e, format!("read: {e}"))));
                }
                Err(e) => return Err(Lost::Final(Failed::io(&e, format!("read: {e}")))),
            }
        };
        let mut body = BodyDecoder::new(head.framing, limit, keep_body);
        let mut closed = false;
        let step = loop {
            let (used, step) = body
                .feed(&buf)
                .map_err(|e| Lost::Final(Failed::unexpected(e.to_string())))?;
            buf.drain(..used);
            if step != Step::More {
                break step;
            }
            match read_more(&mut stream, &mut buf).await {
                Ok(0) => {
                    closed = true;
                    // Closed before the body's end: the connection broke, the answer did not.
                    break body
                        .eof()
                        .map_err(|e| Lost::Final(Failed::new(Failure::Connect, e.to_string())))?;
                }
                Ok(_) => {}
                Err(e) => return Err(Lost::Final(Failed::io(&e, format!("read: {e}")))),
            }
        };
        // Bytes after the response were never asked for: the connection is out of step.
        let reusable = head.reusable
            && !self.request.close
            && frequent
            && !closed
            && step == Step::Done
            && buf.is_empty();
        let response = Response {
            status: head.status,
            body: body.body().to_vec(),
        };
        if reusable {
            self.checkin(stream);
        }
        Ok(response)
    }
}

/// Appends what the server sent next to `buf`; 0 when it closed the connection.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.capacity() - buf.len() < 512 {
        buf.reserve(4096);
    }
    stream.read_buf(buf).await
}

/// An idle connection the server has neither closed nor written to (a 408 sent before
/// closing is not this round's answer). Costs a system call only when the socket was
/// last seen readable.
fn quiet(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    matches!(stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn client_for(listener: &TcpListener) -> PlainClient {
        let url = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let request = request::render("GET", &url, &[], None).unwrap();
        PlainClient::new(
            request,
            Destination::Address(listener.local_addr().unwrap()),
            None,
        )
    }

    /// Reads one request head from `stream`.
    async fn read_request(stream: &mut TcpStream) -> bool {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    #[tokio::test]
    async fn keeps_the_connection_between_rounds() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = client_for(&listener).await;
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            for _ in 0..3 {
                assert!(read_request(&mut s).await);
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await
                    .unwrap();
            }
            // No second connection comes.
            tokio::time::timeout(Duration::from_millis(200), listener.accept())
                .await
                .is_err()
        });
        for _ in 0..3 {
            let r = client.exchange(true, 1024).await.unwrap();
            assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        }
        assert!(server.await.unwrap(), "a second connection was opened");
    }

    /// Answers the first request on the first connection; on the second request it
    /// closes that connection without a word and, if `then_listen`, answers the retry on
    /// a new connection, else stops listening. Returns the connections it accepted.
    async fn closes_after_one(listener: TcpListener, then_listen: bool) -> usize {
        let (mut s, _) = listener.accept().await.unwrap();
        assert!(read_request(&mut s).await);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        assert!(read_request(&mut s).await);
        if !then_listen {
            drop(listener);
            drop(s);
            return 1;
        }
        drop(s);
        let (mut s, _) = listener.accept().await.unwrap();
        assert!(read_request(&mut s).await);
        s.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        2
    }

    #[tokio::test]
    async fn an_idle_close_is_retried_on_a_new_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = client_for(&listener).await;
        let server = tokio::spawn(closes_after_one(listener, true));
        assert_eq!(client.exchange(false, 1024).await.unwrap().status, 200);
        assert_eq!(client.exchange(false, 1024).await.unwrap().status, 204);
        assert_eq!(server.await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_dead_server_fails_despite_the_retry() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = client_for(&listener).await;
        let server = tokio::spawn(closes_after_one(listener, false));
        assert_eq!(client.exchange(false, 1024).await.unwrap().status, 200);
        let reason = client.exchange(false, 1024).await.unwrap_err();
        assert!(
            reason.detail.starts_with("connect: ") && reason.detail.contains("refused"),
            "{reason}"
        );
        assert_eq!(reason.failure, Failure::Refused);
        assert_eq!(server.await.unwrap(), 1);
    }

    #[tokio::test]
    async fn an_answer_on_a_reused_connection_is_not_retried() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = client_for(&listener).await;
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            assert!(read_request(&mut s).await);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            assert!(read_request(&mut s).await);
            // A broken answer, then a healthy listener: the broken one counts.
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok")
                .await
                .unwrap();
            drop(s);
            tokio::time::timeout(Duration::from_millis(300), listener.accept())
                .await
                .is_err()
        });
        assert_eq!(client.exchange(false, 1024).await.unwrap().status, 200);
        assert_eq!(
            client.exchange(false, 1024).await.unwrap_err(),
            Failed::new(
                Failure::Connect,
                "connection closed before the end of the body"
            )
        );
        assert!(server.await.unwrap(), "the failure was retried");
    }

    #[tokio::test]
    async fn connection_close_and_unframed_bodies_are_not_reused() {
        for reply in [
            &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\n\r\nuntil close",
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = client_for(&listener).await;
            let server = tokio::spawn(async move {
                let mut seen = 0;
                for _ in 0..2 {
                    let (mut s, _) = listener.accept().await.unwrap();
                    seen += 1;
                    assert!(read_request(&mut s).await);
                    s.write_all(reply).await.unwrap();
                    // Leave it to the client to close (an HTTP/1.0 server might not).
                    if reply.ends_with(b"until close") {
                        drop(s);
                    } else {
                        tokio::spawn(async move {
                            let _ = read_request(&mut s).await;
                        });
                    }
                }
                seen
            });
            for _ in 0..2 {
                assert_eq!(client.exchange(true, 1024).await.unwrap().status, 200);
            }
            assert_eq!(
                server.await.unwrap(),
                2,
                "{}",
                String::from_utf8_lossy(reply)
            );
        }
    }
}
