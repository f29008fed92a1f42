//! `GET /metrics` over HTTP.

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::faces::http_server::{READ_TIMEOUT, ReadError, read_request, respond};
use crate::status::StatusBoard;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

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
            let body = if head {
                String::new()
            } else {
                board.read(super::render)
            };
            respond(&mut stream, "200 OK", CONTENT_TYPE, "", body.as_bytes()).await
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
