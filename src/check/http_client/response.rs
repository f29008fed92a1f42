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
#[path = "response_tests.rs"]
mod tests;
