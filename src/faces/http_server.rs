//! A minimal HTTP/1.1 server side: one request per connection, bounded head and body,
//! bounded time. Enough for `/metrics` and the small JSON API; no framework needed.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Longest body read.
pub const MAX_BODY: usize = 64 * 1024;
/// A client that sends its request more slowly than this is dropped.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once per server; more wait in the kernel's backlog, so a flood
/// of slow clients costs bounded memory.
pub const MAX_CONNECTIONS: usize = 64;

/// One request.
#[derive(Debug, Default, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Query parameters, percent-decoded.
    pub query: BTreeMap<String, String>,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

#[derive(Debug, PartialEq)]
pub enum ReadError {
    TooLarge,
    Malformed,
    Io,
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Parses a request head (everything before the blank line). Pure.
pub fn parse_head(head: &str) -> Result<HttpRequest, ReadError> {
    let mut lines = head.split("\r\n");
    let first = lines.next().ok_or(ReadError::Malformed)?;
    let mut parts = first.split_whitespace();
    let (method, target) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/1.") => (m, t),
        _ => return Err(ReadError::Malformed),
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut request = HttpRequest {
        method: method.to_string(),
        path: percent_decode(path),
        ..HttpRequest::default()
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        request.query.insert(percent_decode(k), percent_decode(v));
    }
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(ReadError::Malformed)?;
        request
            .headers
            .insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    Ok(request)
}

/// `%41` → `A`, `+` → space (form encoding); invalid escapes stay as they are.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                // Bytes, not str slices: a multi-byte character after '%' must not panic.
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one request (head and `Content-Length` body).
/// Accepts connections until `cancel` fires, at most `MAX_CONNECTIONS` at a time, and hands
/// each to `handle`, which must finish within `limit`. `what` names the server in logs.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    cancel: CancellationToken,
    what: &'static str,
    limit: Duration,
    handle: F,
) where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::debug!(error = %e, "{what}: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let connection = handle(stream);
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tokio::time::timeout(limit, connection).await;
        });
    }
}

/// One more read within READ_TIMEOUT, appended to `into`; a closed connection before the
/// request is whole is a malformed request.
async fn read_more(
    stream: &mut TcpStream,
    chunk: &mut [u8],
    into: &mut Vec<u8>,
) -> Result<(), ReadError> {
    let n = tokio::time::timeout(READ_TIMEOUT, stream.read(chunk))
        .await
        .map_err(|_| ReadError::Io)?
        .map_err(|_| ReadError::Io)?;
    if n == 0 {
        return Err(ReadError::Malformed);
    }
    into.extend_from_slice(&chunk[..n]);
    Ok(())
}

pub async fn read_request(stream: &mut TcpStream) -> Result<HttpRequest, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::TooLarge);
        }
        read_more(stream, &mut chunk, &mut buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end - 4]).map_err(|_| ReadError::Malformed)?;
    let mut request = parse_head(head)?;
    let length: usize = match request.headers.get("content-length") {
        None => 0,
        Some(v) => v.parse().map_err(|_| ReadError::Malformed)?,
    };
    if length > MAX_BODY {
        return Err(ReadError::TooLarge);
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        read_more(stream, &mut chunk, &mut body).await?;
    }
    body.truncate(length);
    request.body = body;
    Ok(request)
}

pub async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    extra_headers: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_method_path_query_and_headers() {
        let r = parse_head(
            "POST /v1/drain?service=dns&reason=kernel+upgrade%21 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc",
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/drain");
        assert_eq!(r.query["service"], "dns");
        assert_eq!(r.query["reason"], "kernel upgrade!");
        assert_eq!(r.headers["authorization"], "Bearer abc");
        assert_eq!(parse_head("GET /"), Err(ReadError::Malformed));
        assert_eq!(
            parse_head("GET / HTTP/1.1\r\nno colon"),
            Err(ReadError::Malformed)
        );
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%2Fb%zz%"), "a/b%zz%");
        assert_eq!(percent_decode("%E2%9C%93"), "✓");
        assert_eq!(percent_decode("%é"), "%é");
    }
}
