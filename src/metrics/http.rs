//! `GET /metrics` over HTTP.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::http::{MAX_CONNECTIONS, READ_TIMEOUT, ReadError, read_request, respond};
use crate::status::StatusBoard;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn serve(listener: TcpListener, board: StatusBoard, cancel: CancellationToken) {
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
                    debug!(error = %e, "metrics: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let board = board.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _ = tokio::time::timeout(READ_TIMEOUT * 2, answer(stream, &board)).await;
        });
    }
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
