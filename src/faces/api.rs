//! The optional HTTP API (`[api] listen`): the control socket's operations over HTTP, for
//! programs that register services from elsewhere (gocast's use case). JSON in and out.
//!
//! | request | does |
//! | --- | --- |
//! | `GET /v1/status` | the status snapshot |
//! | `POST /v1/check-now[?service=NAME]` | run checks now |
//! | `POST /v1/drain?service=NAME[&reason=TEXT]`, `?all=true` | drain |
//! | `POST /v1/undrain?service=NAME`, `?all=true` | undrain |
//! | `POST /v1/register` with a JSON body `{"name":..,"prefixes":[..],"checks":[..]}` | register |
//! | `POST /v1/deregister?service=NAME` | deregister |
//!
//! With `token_file`, every request needs `Authorization: Bearer TOKEN` (compared in
//! constant time); a listen address that is not loopback requires a token (validation).

use std::path::Path;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::ApiSettings;
use crate::config::registration::Registration;
use crate::faces::control::server::answer;
use crate::faces::control::{Call, Request, Response};
use crate::faces::http_server::{HttpRequest, READ_TIMEOUT, ReadError, read_request, respond};
use crate::status::StatusBoard;

/// Reads the token, binds, and serves until `cancel`. Errors stop the daemon's start.
pub async fn spawn(
    settings: &ApiSettings,
    board: StatusBoard,
    calls: mpsc::Sender<Call>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let Some(addr) = settings.listen else {
        return Ok(());
    };
    let token = match &settings.token_file {
        None => None,
        Some(path) => Some(read_token(path)?),
    };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("[api] listen = \"{addr}\": cannot bind: {e}"))?;
    tracing::info!(listen = %addr, token = token.is_some(), "serving the API on http://{addr}/v1/");
    tokio::spawn(serve(listener, token, board, calls, cancel));
    Ok(())
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("[api] token_file {}: {e}", path.display()))?;
    let token = text.trim().to_string();
    if token.len() < 16 {
        anyhow::bail!(
            "[api] token_file {}: the token is shorter than 16 characters (e.g. `openssl rand -hex 32 > FILE`)",
            path.display()
        );
    }
    Ok(token)
}

async fn serve(
    listener: TcpListener,
    token: Option<String>,
    board: StatusBoard,
    calls: mpsc::Sender<Call>,
    cancel: CancellationToken,
) {
    crate::faces::http_server::serve(listener, cancel, "api", READ_TIMEOUT * 4, |stream| {
        let (board, calls, token) = (board.clone(), calls.clone(), token.clone());
        async move {
            let _ = handle(stream, token.as_deref(), &board, &calls).await;
        }
    })
    .await;
}

/// Equal strings, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether the request carries the token (always true without one).
pub fn authorized(request: &HttpRequest, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    request
        .headers
        .get("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| same(given.trim().as_bytes(), token.as_bytes()))
}

/// The control request an HTTP request stands for. Pure.
pub fn route(request: &HttpRequest) -> Result<Request, (&'static str, String)> {
    let service = request.query.get("service").cloned();
    let all = request.query.get("all").is_some_and(|v| v == "true");
    let needs_target = |what: &str| {
        (
            "400 Bad Request",
            format!("{what} needs ?service=NAME or ?all=true"),
        )
    };
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/status") => Ok(Request::Status),
        ("POST", "/v1/check-now") => Ok(Request::CheckNow { service }),
        ("POST", "/v1/drain") => match (service, all) {
            (Some(s), false) => Ok(Request::Drain {
                service: Some(s),
                reason: request.query.get("reason").cloned(),
            }),
            (None, true) => Ok(Request::Drain {
                service: None,
                reason: request.query.get("reason").cloned(),
            }),
            _ => Err(needs_target("drain")),
        },
        ("POST", "/v1/undrain") => match (service, all) {
            (Some(s), false) => Ok(Request::Undrain { service: Some(s) }),
            (None, true) => Ok(Request::Undrain { service: None }),
            _ => Err(needs_target("undrain")),
        },
        ("POST", "/v1/register") => serde_json::from_slice::<Registration>(&request.body)
            .map(Request::Register)
            .map_err(|e| ("400 Bad Request", format!("not a registration: {e}"))),
        ("POST", "/v1/deregister") => match service {
            Some(service) => Ok(Request::Deregister { service }),
            None => Err(("400 Bad Request", "deregister needs ?service=NAME".into())),
        },
        (
            _,
            "/v1/status" | "/v1/check-now" | "/v1/drain" | "/v1/undrain" | "/v1/register"
            | "/v1/deregister",
        ) => Err(("405 Method Not Allowed", "wrong method".into())),
        _ => Err(("404 Not Found", "no such endpoint".into())),
    }
}

async fn handle(
    mut stream: TcpStream,
    token: Option<&str>,
    board: &StatusBoard,
    calls: &mpsc::Sender<Call>,
) -> std::io::Result<()> {
    let request = match read_request(&mut stream).await {
        Ok(r) => r,
        Err(ReadError::Io) => return Ok(()),
        Err(ReadError::TooLarge) => {
            return json(
                &mut stream,
                "413 Content Too Large",
                &Response::refused("too large"),
            )
            .await;
        }
        Err(ReadError::Malformed) => {
            return json(
                &mut stream,
                "400 Bad Request",
                &Response::refused("bad request"),
            )
            .await;
        }
    };
    if !authorized(&request, token) {
        let body = serde_json::to_vec(&Response::refused("missing or wrong bearer token"))
            .unwrap_or_default();
        return respond(
            &mut stream,
            "401 Unauthorized",
            "application/json",
            "WWW-Authenticate: Bearer\r\n",
            &body,
        )
        .await;
    }
    match route(&request) {
        Err((status, message)) => json(&mut stream, status, &Response::refused(message)).await,
        Ok(control) => {
            let response = answer(control, board, calls).await;
            let status = if response.ok {
                "200 OK"
            } else {
                "400 Bad Request"
            };
            json(&mut stream, status, &response).await
        }
    }
}

async fn json(stream: &mut TcpStream, status: &str, response: &Response) -> std::io::Result<()> {
    let body = serde_json::to_vec(response).unwrap_or_default();
    respond(stream, status, "application/json", "", &body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faces::http_server::parse_head;

    fn req(head: &str) -> HttpRequest {
        parse_head(head).unwrap()
    }

    #[test]
    fn bearer_token_is_required_when_set() {
        let token = Some("0123456789abcdef0123");
        assert!(!authorized(&req("GET /v1/status HTTP/1.1"), token));
        assert!(!authorized(
            &req("GET /v1/status HTTP/1.1\r\nAuthorization: Bearer 0123456789abcdef0124"),
            token
        ));
        assert!(!authorized(
            &req("GET /v1/status HTTP/1.1\r\nAuthorization: Basic 0123456789abcdef0123"),
            token
        ));
        assert!(authorized(
            &req("GET /v1/status HTTP/1.1\r\nAuthorization: Bearer 0123456789abcdef0123"),
            token
        ));
        assert!(authorized(&req("GET /v1/status HTTP/1.1"), None));
    }

    #[test]
    fn routes_map_to_control_requests() {
        assert_eq!(route(&req("GET /v1/status HTTP/1.1")), Ok(Request::Status));
        assert_eq!(
            route(&req("POST /v1/drain?service=dns&reason=upgrade HTTP/1.1")),
            Ok(Request::Drain {
                service: Some("dns".into()),
                reason: Some("upgrade".into())
            })
        );
        assert_eq!(
            route(&req("POST /v1/undrain?all=true HTTP/1.1")),
            Ok(Request::Undrain { service: None })
        );
        assert!(
            route(&req("POST /v1/drain HTTP/1.1")).is_err(),
            "drain needs a target"
        );
        assert_eq!(
            route(&req("GET /v1/drain?all=true HTTP/1.1"))
                .unwrap_err()
                .0,
            "405 Method Not Allowed"
        );
        assert_eq!(
            route(&req("GET /nothing HTTP/1.1")).unwrap_err().0,
            "404 Not Found"
        );
        let mut r = req("POST /v1/register HTTP/1.1");
        r.body = br#"{"name":"web","prefixes":["203.0.113.80/32"],"checks":["tcp:127.0.0.1:80"]}"#
            .to_vec();
        match route(&r) {
            Ok(Request::Register(reg)) => assert_eq!(reg.name, "web"),
            other => panic!("{other:?}"),
        }
    }
}
