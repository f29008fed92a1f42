//! Reading an HTTP/1.1 response from bytes: the head (status line and headers, parsed by
//! `httparse`, skipping 1xx interim responses), how its body is framed, and a body decoder
//! that is fed whatever arrived and keeps at most a bounded prefix of the body.
//!
//! Pure code: the connection in `super` does the reading and feeds these functions.

use thiserror::Error;

/// The most bytes of response head (interim responses included) read before giving up:
/// hyper's default read buffer is of this order, so a server reqwest accepted is accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most header lines in one head (hyper's limit too).
pub const MAX_HEADERS: usize = 100;
/// The longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// The most bytes of trailer section after the last chunk.
const MAX_TRAILERS: usize = 16 * 1024;

/// Why a response could not be read; the text is the check's one-line failure reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Malformed {
    #[error("malformed response: {0}")]
    Head(httparse::Error),
    #[error("malformed response: headers longer than {} KiB", MAX_HEAD / 1024)]
    HeadTooLong,
    #[error("malformed response: invalid Content-Length")]
    ContentLength,
    #[error("malformed response: invalid chunk size")]
    ChunkSize,
    #[error("malformed response: chunk data not followed by CRLF")]
    ChunkEnd,
    #[error("malformed response: invalid trailer: {0}")]
    Trailers(httparse::Error),
    #[error("malformed response: trailers longer than {} KiB", MAX_TRAILERS / 1024)]
    TrailersTooLong,
    #[error("connection closed before the end of the body")]
    Truncated,
}

/// How the body of a response is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: HEAD, 1xx, 204, 304.
    Empty,
    Length(u64),
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// The final response's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub framing: Framing,
    /// The connection may carry another request once the body has been read.
    pub reusable: bool,
}

/// Parses the final response head at the start of `buf`, skipping interim 1xx responses
/// (100 Continue, 103 Early Hints). `Ok(None)`: the head is not complete yet. On success,
/// also returns how many bytes of `buf` the heads took.
pub fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<(Head, usize)>, Malformed> {
    let mut offset = 0;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        // The default configuration rejects obsolete line folding and other lenient
        // forms: a server that sends them is broken, and guessing invites smuggling.
        let parsed = response.parse(&buf[offset..]).map_err(Malformed::Head)?;
        let httparse::Status::Complete(len) = parsed else {
            return if buf.len() > MAX_HEAD {
                Err(Malformed::HeadTooLong)
            } else {
                Ok(None)
            };
        };
        if offset + len > MAX_HEAD {
            return Err(Malformed::HeadTooLong);
        }
        // Complete means httparse saw a version and a three-digit code.
        let status = response.code.unwrap_or(0);
        let version = response.version.unwrap_or(1);
        offset += len;
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        let head = head_from(status, version, response.headers, head_request)?;
        return Ok(Some((head, offset)));
    }
}

fn head_from(
    status: u16,
    version: u8,
    headers: &[httparse::Header<'_>],
    head_request: bool,
) -> Result<Head, Malformed> {
    let connection_has =
        |token: &[u8]| list_items(headers, "connection").any(|v| v.eq_ignore_ascii_case(token));
    let mut reusable = if version >= 1 {
        !connection_has(b"close")
    } else {
        connection_has(b"keep-alive")
    };
    // 101 switches to another protocol, which nobody asked for: take the status, drop the
    // connection.
    if status == 101 {
        return Ok(Head {
            status,
            framing: Framing::Empty,
            reusable: false,
        });
    }
    if head_request || status == 204 || status == 304 {
        return Ok(Head {
            status,
            framing: Framing::Empty,
            reusable,
        });
    }
    let length = content_length(headers)?;
    let last_encoding = list_items(headers, "transfer-encoding").last();
    let framing = if let Some(last) = last_encoding {
        // Both headers: Transfer-Encoding wins, and the connection must not be trusted
        // for another message (RFC 9112 section 6.3).
        if length.is_some() {
            reusable = false;
        }
        if last.eq_ignore_ascii_case(b"chunked") {
            Framing::Chunked
        } else {
            reusable = false;
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        reusable = false;
        Framing::UntilClose
    };
    Ok(Head {
        status,
        framing,
        reusable,
    })
}

/// The non-empty items of the comma-separated lists in every header called `name`.
fn list_items<'a>(
    headers: &'a [httparse::Header<'a>],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .flat_map(|h| h.value.split(|&b| b == b','))
        .map(trim)
        .filter(|v| !v.is_empty())
}

/// The Content-Length, if any: repeated headers or list items must all be the same
/// number of decimal digits.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, Malformed> {
    let mut found = None;
    for h in headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
    {
        for item in h.value.split(|&b| b == b',').map(trim) {
            if item.is_empty() || item.len() > 19 || !item.iter().all(u8::is_ascii_digit) {
                return Err(Malformed::ContentLength);
            }
            let n = item.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            match found {
                Some(m) if m != n => return Err(Malformed::ContentLength),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = v.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(s), Some(e)) => &v[s..=e],
        _ => &[],
    }
}

/// Where a body decoder stands after being fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// More bytes are needed.
    More,
    /// The body ended; the connection is positioned at the next response.
    Done,
    /// `limit` bytes of body were read and the body goes on: the rest is not read, so the
    /// connection cannot be reused.
    Stopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Body bytes left (Length framing).
    Length(u64),
    UntilClose,
    ChunkSize,
    ChunkData(u64),
    ChunkEnd,
    Trailers,
    Done,
}

/// Decodes one response body fed in pieces, keeping its first `limit` bytes when asked.
#[derive(Debug)]
pub struct BodyDecoder {
    state: State,
    /// Body bytes decoded so far.
    read: usize,
    limit: usize,
    keep: bool,
    kept: Vec<u8>,
}

impl BodyDecoder {
    /// Reads at most `limit` bytes of body; `keep`: remember them for `body()`.
    pub fn new(framing: Framing, limit: usize, keep: bool) -> BodyDecoder {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::ChunkSize,
            Framing::UntilClose => State::UntilClose,
        };
        BodyDecoder {
            state,
            read: 0,
            limit,
            keep,
            kept: Vec::new(),
        }
    }

    /// The body bytes kept (the first `limit`, if `keep`).
    pub fn body(&self) -> &[u8] {
        &self.kept
    }

    /// Where it stands without more input.
    pub fn step(&self) -> Step {
        match self.state {
            State::Done => Step::Done,
            _ if self.read >= self.limit => Step::Stopped,
            _ => Step::More,
        }
    }

    /// Takes bytes from the start of `input`; returns how many it consumed and where it
    /// stands. Unconsumed bytes are needed again with more appended (an incomplete chunk
    /// size line), or belong to whatever follows the body.
    pub fn feed(&mut self, input: &[u8]) -> Result<(usize, Step), Malformed> {
        let mut used = 0;
        loop {
            let step = self.step();
            if step != Step::More {
                return Ok((used, step));
            }
            let rest = &input[used..];
            match self.state {
                State::Length(left) => {
                    let n = self.data(rest, left);
                    used += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    if rest.len() == n && left > 0 {
                        return Ok((used, self.step()));
                    }
                }
                State::UntilClose => {
                    used += self.data(rest, u64::MAX);
                    return Ok((used, self.step()));
                }
                // httparse takes an empty size line for 0: a size starts with a digit.
                State::ChunkSize if rest.first().is_some_and(|b| !b.is_ascii_hexdigit()) => {
                    return Err(Malformed::ChunkSize);
                }
                State::ChunkSize => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((n, size))) => {
                        used += n;
                        self.state = if size == 0 {
                            State::Trailers
                        } else {
                            State::ChunkData(size)
                        };
                    }
                    Ok(httparse::Status::Partial) if rest.len() <= MAX_CHUNK_LINE => {
                        return Ok((used, Step::More));
                    }
                    _ => return Err(Malformed::ChunkSize),
                },
                State::ChunkData(left) => {
                    let n = self.data(rest, left);
                    used += n;
                    let left = left - n as u64;
                    if left == 0 {
                        self.state = State::ChunkEnd;
                    } else {
                        self.state = State::ChunkData(left);
                        if rest.len() == n {
                            return Ok((used, self.step()));
                        }
                    }
                }
                State::ChunkEnd => {
                    if rest.len() < 2 {
                        if rest.first().is_some_and(|&b| b != b'\r') {
                            return Err(Malformed::ChunkEnd);
                        }
                        return Ok((used, Step::More));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(Malformed::ChunkEnd);
                    }
                    used += 2;
                    self.state = State::ChunkSize;
                }
                State::Trailers => {
                    if rest.starts_with(b"\r\n") {
                        used += 2;
                        self.state = State::Done;
                        continue;
                    }
                    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                    match httparse::parse_headers(rest, &mut fields) {
                        Ok(httparse::Status::Complete((n, _))) => {
                            used += n;
                            self.state = State::Done;
                        }
                        Ok(httparse::Status::Partial) if rest.len() <= MAX_TRAILERS => {
                            return Ok((used, Step::More));
                        }
                        Ok(httparse::Status::Partial) => return Err(Malformed::TrailersTooLong),
                        Err(e) => return Err(Malformed::Trailers(e)),
                    }
                }
                State::Done => return Ok((used, Step::Done)),
            }
        }
    }

    /// The server closed the connection: the end of an until-close body, and a cut-short
    /// body otherwise.
    pub fn eof(&mut self) -> Result<Step, Malformed> {
        match self.state {
            State::Done => Ok(Step::Done),
            State::UntilClose => {
                self.state = State::Done;
                Ok(Step::Done)
            }
            _ => Err(Malformed::Truncated),
        }
    }

    /// Takes up to `left` body bytes (and no more than the limit allows) from `rest`.
    fn data(&mut self, rest: &[u8], left: u64) -> usize {
        let room = self.limit - self.read;
        let n = rest
            .len()
            .min(room)
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        if self.keep {
            self.kept.extend_from_slice(&rest[..n]);
        }
        self.read += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str) -> Result<Option<(Head, usize)>, Malformed> {
        parse_head(text.as_bytes(), false)
    }

    fn complete(text: &str) -> Head {
        let (h, used) = head(text).unwrap().unwrap();
        assert_eq!(used, text.len(), "{text:?}");
        h
    }

    fn reason(text: &str) -> String {
        head(text).unwrap_err().to_string()
    }

    #[test]
    fn status_line_and_content_length() {
        let h = complete("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
        assert_eq!(
            h,
            Head {
                status: 200,
                framing: Framing::Length(2),
                reusable: true
            }
        );
        // The reason phrase may be empty or anything.
        assert_eq!(
            complete("HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n").status,
            503
        );
        assert_eq!(
            complete("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n").status,
            404
        );
        // Bare LF line ends are accepted, as by hyper.
        assert_eq!(
            complete("HTTP/1.1 200 OK\nContent-Length: 0\n\n").status,
            200
        );
    }

    #[test]
    fn incomplete_heads_ask_for_more() {
        let full = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        for cut in 0..full.len() - 2 {
            assert_eq!(head(&full[..cut]), Ok(None), "cut at {cut}");
        }
        // Bytes after the head are not part of it.
        let (_, used) = head(full).unwrap().unwrap();
        assert_eq!(used, full.len() - 2);
    }

    #[test]
    fn malformed_status_lines() {
        assert_eq!(
            reason("HTTP/2 200 OK\r\n\r\n"),
            "malformed response: invalid HTTP version"
        );
        assert_eq!(
            reason("SSH-2.0-OpenSSH_9.2\r\n\r\n"),
            "malformed response: invalid HTTP version"
        );
        assert_eq!(
            reason("HTTP/1.1 2000 OK\r\n\r\n"),
            "malformed response: invalid response status"
        );
        assert_eq!(
            reason("HTTP/1.1 OK\r\n\r\n"),
            "malformed response: invalid response status"
        );
        assert_eq!(
            reason("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n"),
            "malformed response: invalid header name"
        );
        assert_eq!(
            reason("HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n"),
            "malformed response: invalid header value"
        );
    }

    #[test]
    fn folded_headers_are_rejected() {
        let r = reason("HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 0\r\n\r\n");
        assert!(r.starts_with("malformed response: "), "{r}");
        let r = reason("HTTP/1.1 200 OK\r\n Content-Length: 0\r\n\r\n");
        assert!(r.starts_with("malformed response: "), "{r}");
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let h = complete("HTTP/1.1 200 OK\r\ncOnTeNt-LeNgTh: 7\r\nCONNECTION: Close\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(7));
        assert!(!h.reusable);
        let h = complete("HTTP/1.1 200 OK\r\ntransfer-ENCODING: CHUNKED\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        assert!(h.reusable);
    }

    #[test]
    fn connection_tokens_and_versions() {
        let h =
            complete("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n");
        assert!(!h.reusable);
        let h = complete("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
        assert!(h.reusable);
        // HTTP/1.0 closes unless it says keep-alive.
        let h = complete("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(!h.reusable);
        let h = complete("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
        assert!(h.reusable);
        // "closed" is not "close".
        let h = complete("HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 0\r\n\r\n");
        assert!(h.reusable);
    }

    #[test]
    fn content_length_forms() {
        let h = complete("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(5));
        assert_eq!(
            complete("HTTP/1.1 200 OK\r\nContent-Length:  0 \r\n\r\n").framing,
            Framing::Length(0)
        );
        let bad = "malformed response: invalid Content-Length";
        assert_eq!(
            reason("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            bad
        );
        assert_eq!(
            reason("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
            bad
        );
        assert_eq!(reason("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), bad);
        assert_eq!(reason("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n"), bad);
        assert_eq!(
            reason("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n"),
            bad
        );
        assert_eq!(reason("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"), bad);
        assert_eq!(
            reason("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n"),
            bad
        );
        assert_eq!(
            complete("HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999999\r\n\r\n").framing,
            Framing::Length(9_999_999_999_999_999_999)
        );
    }

    #[test]
    fn framing_rules() {
        // Neither header: the body runs until the server closes.
        let h = complete("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        assert!(!h.reusable);
        // Transfer-Encoding wins over Content-Length, and the connection is not reused.
        let h =
            complete("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        assert!(!h.reusable);
        // chunked must be the last coding, else the body runs until close.
        let h = complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = complete(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        );
        assert_eq!(h.framing, Framing::UntilClose);
        assert!(!h.reusable);
        // No body after 204, 304 or a HEAD request, whatever the headers say.
        for status in [204, 304] {
            let h = complete(&format!(
                "HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\n"
            ));
            assert_eq!(
                (h.status, h.framing, h.reusable),
                (status, Framing::Empty, true)
            );
        }
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        let (h, _) = parse_head(text.as_bytes(), true).unwrap().unwrap();
        assert_eq!(h.framing, Framing::Empty);
        assert!(h.reusable);
        // Without a body, Content-Length is not looked at.
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", true).is_ok());
    }

    #[test]
    fn interim_responses_are_skipped() {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
        let h = complete(text);
        assert_eq!(h.status, 201);
        // Only the interim response so far: wait for the final one.
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\n"), Ok(None));
        assert_eq!(head("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2"), Ok(None));
        // 101 is final (and ends the connection's HTTP life).
        let h = complete("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n");
        assert_eq!(
            (h.status, h.framing, h.reusable),
            (101, Framing::Empty, false)
        );
    }

    #[test]
    fn head_size_limits() {
        let mut text = String::from("HTTP/1.1 200 OK\r\n");
        while text.len() <= MAX_HEAD {
            text.push_str(&format!("X-Filler: {}\r\n", "a".repeat(2000)));
        }
        // Still incomplete but over the limit.
        assert_eq!(head(&text), Err(Malformed::HeadTooLong));
        assert_eq!(
            reason(&text),
            "malformed response: headers longer than 64 KiB"
        );
        text.push_str("\r\n");
        assert_eq!(head(&text), Err(Malformed::HeadTooLong));
        // Endless interim responses count together.
        let many = "HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_HEAD / 20);
        assert_eq!(head(&many), Err(Malformed::HeadTooLong));
        // Too many header lines.
        let mut text = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..=MAX_HEADERS {
            text.push_str(&format!("X-{i}: 1\r\n"));
        }
        text.push_str("\r\n");
        assert_eq!(reason(&text), "malformed response: too many headers");
    }

    /// Feeds `input` to a decoder in pieces of `piece` bytes, as a connection would:
    /// unconsumed bytes stay and more are appended.
    fn decode(
        framing: Framing,
        input: &[u8],
        piece: usize,
        limit: usize,
    ) -> (Result<Step, Malformed>, Vec<u8>, usize) {
        let mut d = BodyDecoder::new(framing, limit, true);
        let mut pending: Vec<u8> = Vec::new();
        let mut offered = 0;
        let mut consumed_total = 0;
        loop {
            match d.feed(&pending) {
                Err(e) => return (Err(e), d.body().to_vec(), consumed_total),
                Ok((used, step)) => {
                    pending.drain(..used);
                    consumed_total += used;
                    if step != Step::More {
                        return (Ok(step), d.body().to_vec(), consumed_total);
                    }
                }
            }
            if offered == input.len() {
                return (d.eof(), d.body().to_vec(), consumed_total);
            }
            let end = (offered + piece).min(input.len());
            pending.extend_from_slice(&input[offered..end]);
            offered = end;
        }
    }

    #[test]
    fn length_bodies() {
        for piece in [1, 2, 3, 100] {
            let (step, body, used) = decode(Framing::Length(5), b"hello", piece, 1024);
            assert_eq!(
                (step, body.as_slice(), used),
                (Ok(Step::Done), &b"hello"[..], 5)
            );
            // What follows the body is not taken.
            let (step, body, used) = decode(Framing::Length(5), b"helloHTTP/1.1", piece, 1024);
            assert_eq!(
                (step, body.as_slice(), used),
                (Ok(Step::Done), &b"hello"[..], 5)
            );
            let (step, _, _) = decode(Framing::Length(5), b"hel", piece, 1024);
            assert_eq!(step, Err(Malformed::Truncated));
        }
        let (step, body, _) = decode(Framing::Length(0), b"", 1, 1024);
        assert_eq!((step, body.len()), (Ok(Step::Done), 0));
        let (step, body, _) = decode(Framing::Empty, b"junk", 1, 1024);
        assert_eq!((step, body.len()), (Ok(Step::Done), 0));
        assert_eq!(
            Malformed::Truncated.to_string(),
            "connection closed before the end of the body"
        );
    }

    #[test]
    fn bodies_are_read_only_up_to_the_limit() {
        for piece in [1, 3, 100] {
            let (step, body, used) = decode(Framing::Length(10), b"0123456789", piece, 4);
            assert_eq!(
                (step, body.as_slice(), used),
                (Ok(Step::Stopped), &b"0123"[..], 4)
            );
            let (step, body, _) = decode(Framing::UntilClose, b"0123456789", piece, 4);
            assert_eq!((step, body.as_slice()), (Ok(Step::Stopped), &b"0123"[..]));
            let (step, body, _) = decode(
                Framing::Chunked,
                b"3\r\n012\r\n7\r\n3456789\r\n0\r\n\r\n",
                piece,
                4,
            );
            assert_eq!((step, body.as_slice()), (Ok(Step::Stopped), &b"0123"[..]));
        }
        // Exactly the limit: the body is complete, not stopped.
        let (step, body, _) = decode(Framing::Length(4), b"0123", 1, 4);
        assert_eq!((step, body.as_slice()), (Ok(Step::Done), &b"0123"[..]));
        // A huge Content-Length is not read at all with a zero limit.
        let mut d = BodyDecoder::new(Framing::Length(1 << 40), 0, false);
        assert_eq!(d.feed(b"abc"), Ok((0, Step::Stopped)));
        // Without keep, nothing is kept but everything is read.
        let mut d = BodyDecoder::new(Framing::Length(3), 1024, false);
        assert_eq!(d.feed(b"abc"), Ok((3, Step::Done)));
        assert!(d.body().is_empty());
    }

    #[test]
    fn until_close_bodies() {
        for piece in [1, 4, 100] {
            let (step, body, _) = decode(Framing::UntilClose, b"all of it", piece, 1024);
            assert_eq!((step, body.as_slice()), (Ok(Step::Done), &b"all of it"[..]));
        }
    }

    #[test]
    fn chunked_bodies() {
        let wire: &[u8] =
            b"4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
        for piece in 1..wire.len() + 1 {
            let (step, body, used) = decode(Framing::Chunked, wire, piece, 1024);
            assert_eq!(step, Ok(Step::Done), "piece {piece}");
            assert_eq!(body, b"Wikipedia in\r\n\r\nchunks.", "piece {piece}");
            assert_eq!(used, wire.len());
        }
        // Upper-case hex, leading zeros, an extension after the last chunk.
        let (step, body, _) = decode(
            Framing::Chunked,
            b"0A\r\n0123456789\r\n000;x=y\r\n\r\n",
            7,
            1024,
        );
        assert_eq!(
            (step, body.as_slice()),
            (Ok(Step::Done), &b"0123456789"[..])
        );
        // What follows the last chunk is left for the next response.
        let (step, _, used) = decode(Framing::Chunked, b"1\r\na\r\n0\r\n\r\nHTTP", 100, 1024);
        assert_eq!((step, used), (Ok(Step::Done), 11));
    }

    #[test]
    fn chunked_trailers() {
        let wire: &[u8] = b"2\r\nok\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n";
        for piece in 1..wire.len() + 1 {
            let (step, body, used) = decode(Framing::Chunked, wire, piece, 1024);
            assert_eq!(
                (step, body.as_slice(), used),
                (Ok(Step::Done), &b"ok"[..], wire.len()),
                "piece {piece}"
            );
        }
        let (step, _, _) = decode(Framing::Chunked, b"0\r\nBad Trailer: x\r\n\r\n", 100, 1024);
        assert_eq!(step, Err(Malformed::Trailers(httparse::Error::HeaderName)));
        // Folded trailers are refused like folded headers.
        let (step, _, _) = decode(Framing::Chunked, b"0\r\nX: a\r\n b\r\n\r\n", 100, 1024);
        assert!(matches!(step, Err(Malformed::Trailers(_))), "{step:?}");
        let mut endless = b"0\r\n".to_vec();
        while endless.len() <= MAX_TRAILERS {
            endless.extend_from_slice(format!("X-Filler: {}\r\n", "a".repeat(2000)).as_bytes());
        }
        let (step, _, _) = decode(Framing::Chunked, &endless, 1000, 1024);
        assert_eq!(step, Err(Malformed::TrailersTooLong));
    }

    #[test]
    fn malformed_chunks() {
        let cases: &[(&[u8], Malformed)] = &[
            (b"x\r\nabc\r\n0\r\n\r\n", Malformed::ChunkSize),
            (b"-1\r\n", Malformed::ChunkSize),
            (b"\r\n", Malformed::ChunkSize),
            (b"1 1\r\na\r\n", Malformed::ChunkSize),
            (b"11111111111111111\r\n", Malformed::ChunkSize),
            (b"3\r\nabcX\r\n", Malformed::ChunkEnd),
            (b"3\r\nabc\rX", Malformed::ChunkEnd),
            (b"3\r\nabc\n\r", Malformed::ChunkEnd),
        ];
        for (wire, want) in cases {
            for piece in [1, 100] {
                let (step, _, _) = decode(Framing::Chunked, wire, piece, 1024);
                assert_eq!(
                    step.as_ref(),
                    Err(want),
                    "{:?} in pieces of {piece}",
                    String::from_utf8_lossy(wire)
                );
            }
        }
        // A size line that never ends.
        let mut long = b"1;".to_vec();
        long.extend(std::iter::repeat_n(b'x', MAX_CHUNK_LINE));
        let (step, _, _) = decode(Framing::Chunked, &long, 100, 1024);
        assert_eq!(step, Err(Malformed::ChunkSize));
        // Cut short anywhere before the end.
        let wire: &[u8] = b"4\r\nWiki\r\n0\r\n\r\n";
        for cut in 0..wire.len() {
            let (step, _, _) = decode(Framing::Chunked, &wire[..cut], 3, 1024);
            assert_eq!(step, Err(Malformed::Truncated), "cut at {cut}");
        }
    }
}
