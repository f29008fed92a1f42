//! Tests of `response`.
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
    let h = complete("HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 0\r\n\r\n");
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
    let h = complete("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
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
    let wire: &[u8] = b"4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
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
