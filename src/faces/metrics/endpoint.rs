//! `GET /metrics` over HTTP: the Prometheus text format 0.0.4, or OpenMetrics when the
//! scraper's Accept header prefers it (as Prometheus' own does).

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::Format;
use crate::faces::http_server::{READ_TIMEOUT, ReadError, read_request, respond};
use crate::status::StatusBoard;

/// The format an Accept header asks for: OpenMetrics when an `application/openmetrics-text`
/// range (version 1.0.0, 0.0.1 or none) has a higher q than any range 0.0.4 matches
/// (`text/plain` of version 0.0.4 or none, `text/*`, `*/*`); on equal q the one listed
/// first, which is how the official client libraries choose. Anything else, no header
/// included, gets 0.0.4, which every scraper reads. Pure.
pub fn negotiate(accept: Option<&str>) -> Format {
    let mut best: Option<(f64, Format)> = None;
    for range in accept.unwrap_or("").split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut q, mut version) = (1.0, None);
        for param in parts {
            match param.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some((k, v)) if k.eq_ignore_ascii_case("q") => q = v.parse().unwrap_or(0.0),
                Some((k, v)) if k.eq_ignore_ascii_case("version") => version = Some(v),
                _ => {}
            }
        }
        let format = match (media.as_str(), version) {
            ("application/openmetrics-text", None | Some("1.0.0" | "0.0.1")) => Format::OpenMetrics,
            ("text/plain", None | Some("0.0.4")) | ("text/*" | "*/*", _) => Format::Prometheus,
            _ => continue,
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, format));
        }
    }
    best.map_or(Format::Prometheus, |(_, f)| f)
}

pub async fn serve(listener: TcpListener, board: StatusBoard, cancel: CancellationToken) {
    crate::faces::http_server::serve(listener, cancel, "metrics", READ_TIMEOUT * 2, |stream| {
        let board = board.clone();
        async move {
            let _ = answer(stream, &board).await;
        }
    })
    .await;
}

async fn answer(mut stream: TcpStream, board: &StatusBoard) -> std::io::Result<()> {
    let request = match read_request(&mut stream).await {
        Ok(r) => r,
        Err(ReadError::Io) => return Ok(()),
        Err(_) => {
            return respond(
                &mut stream,
                "400 Bad Request",
                "text/plain",
                "",
                b"bad request\n",
            )
            .await;
        }
    };
    let head = request.method == "HEAD";
    match (request.method.as_str(), request.path.as_str()) {
        ("GET" | "HEAD", "/metrics") => {
            let format = negotiate(request.headers.get("accept").map(String::as_str));
            let body = if head {
                String::new()
            } else {
                board.read(|s| super::render_as(s, format))
            };
            respond(
                &mut stream,
                "200 OK",
                format.content_type(),
                "Vary: Accept\r\n",
                body.as_bytes(),
            )
            .await
        }
        ("GET" | "HEAD", "/") => {
            respond(
                &mut stream,
                "200 OK",
                "text/plain; charset=utf-8",
                "",
                b"anycast-warden: metrics at /metrics\n",
            )
            .await
        }
        ("GET" | "HEAD", _) => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "",
                b"not found\n",
            )
            .await
        }
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                "text/plain",
                "Allow: GET, HEAD\r\n",
                b"only GET\n",
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_only_when_the_scraper_prefers_it() {
        for (accept, want) in [
            (None, Format::Prometheus),
            (Some(""), Format::Prometheus),
            (Some("*/*"), Format::Prometheus),
            (Some("text/plain"), Format::Prometheus),
            (Some("application/json"), Format::Prometheus),
            // Prometheus 2.42's scrape header.
            (
                Some(
                    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
                ),
                Format::OpenMetrics,
            ),
            // Prometheus 2.43 and later.
            (
                Some(
                    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                ),
                Format::OpenMetrics,
            ),
            // A scraper that disables OpenMetrics (and the protobuf format, which is not served).
            (
                Some(
                    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
                ),
                Format::Prometheus,
            ),
            (Some("Application/OpenMetrics-Text"), Format::OpenMetrics),
            (
                Some("text/plain;version=0.0.4;q=0.9, application/openmetrics-text;q=0.5"),
                Format::Prometheus,
            ),
            (
                Some("application/openmetrics-text, text/plain"),
                Format::OpenMetrics,
            ),
            (
                Some("text/plain, application/openmetrics-text"),
                Format::Prometheus,
            ),
            (Some("application/openmetrics-text;q=0"), Format::Prometheus),
            (
                Some("application/openmetrics-text;version=2.0.0"),
                Format::Prometheus,
            ),
            (
                Some("application/openmetrics-text;q=bad"),
                Format::Prometheus,
            ),
        ] {
            assert_eq!(negotiate(accept), want, "{accept:?}");
        }
    }
}
