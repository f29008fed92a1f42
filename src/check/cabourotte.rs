//! `kind = "cabourotte"`: the latest result of a check that Cabourotte runs, read from its
//! HTTP API (`GET {url}/result/{name}`, a JSON object with `success` and `message`), so
//! that users of the Python anycastd can keep their Cabourotte checks while they move.

use std::time::Duration;

use reqwest::{Client, StatusCode, Url};
use serde::Deserialize;

use super::http::reqwest_failure;
use super::{CheckOutcome, Failed, Failure, timeout_reason};
use crate::config::CabourotteSpec;

/// Bytes of the API's answer read at most (a result is a few hundred).
const ANSWER_LIMIT: usize = 64 * 1024;

/// The fields of Cabourotte's result that the check reads.
#[derive(Debug, Deserialize)]
struct CabourotteResult {
    success: bool,
    #[serde(default)]
    message: String,
}

/// The verdict on the API's status and body: the pure part of the check.
pub fn judge(name: &str, status: u16, body: &[u8]) -> CheckOutcome {
    // Cabourotte answered; anything but a successful result is not what was asked for.
    let unexpected = |detail: String| CheckOutcome::fail(Failure::Unexpected, detail);
    if status == StatusCode::NOT_FOUND.as_u16() {
        return unexpected(format!("Cabourotte has no check named \"{name}\""));
    }
    if status != StatusCode::OK.as_u16() {
        return unexpected(format!("Cabourotte answered status {status}"));
    }
    match serde_json::from_slice::<CabourotteResult>(body) {
        Ok(r) if r.success => CheckOutcome::pass(format!("Cabourotte: {}", r.message)),
        Ok(r) if r.message.is_empty() => unexpected("Cabourotte: failed".into()),
        Ok(r) => unexpected(format!("Cabourotte: {}", r.message)),
        Err(e) => unexpected(format!("Cabourotte's answer is not a result: {e}")),
    }
}

#[derive(Debug, Clone)]
pub struct CabourotteCheck {
    name: String,
    /// The client and the result's URL, or why they could not be made.
    client: Result<(Client, Url), String>,
}

impl CabourotteCheck {
    pub fn new(spec: &CabourotteSpec) -> Self {
        CabourotteCheck {
            name: spec.name.clone(),
            client: build(spec),
        }
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        let (client, url) = match &self.client {
            Ok(c) => c,
            Err(reason) => return CheckOutcome::fail(Failure::Other, reason.clone()),
        };
        let exchange = async {
            let mut response = client.get(url.clone()).send().await.map_err(|e| {
                let f = reqwest_failure(&e);
                Failed::new(f.failure, format!("Cabourotte at {url}: {}", f.detail))
            })?;
            let status = response.status().as_u16();
            let mut body = Vec::new();
            while body.len() < ANSWER_LIMIT {
                match response.chunk().await.map_err(|e| reqwest_failure(&e))? {
                    Some(chunk) => body.extend_from_slice(&chunk),
                    None => break,
                }
            }
            Ok::<_, Failed>(judge(&self.name, status, &body))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result.into(),
            Err(_) => CheckOutcome::fail(
                Failure::Timeout,
                format!("Cabourotte: {}", timeout_reason(timeout)),
            ),
        }
    }
}

/// `{url}/result/{name}`, the name as one path segment (escaped as needed).
fn result_url(spec: &CabourotteSpec) -> Result<Url, String> {
    let mut url = Url::parse(&spec.url).map_err(|e| format!("bad url {}: {e}", spec.url))?;
    url.path_segments_mut()
        .map_err(|()| format!("{} cannot have a path", spec.url))?
        .pop_if_empty()
        .push("result")
        .push(&spec.name);
    Ok(url)
}

fn build(spec: &CabourotteSpec) -> Result<(Client, Url), String> {
    Ok((super::http::default_client()?, result_url(spec)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results() {
        let ok = br#"{"name":"dns","summary":"","success":true,"healthcheck-timestamp":1700000000,"message":"success","duration":3,"source":"configuration"}"#;
        let out = judge("dns", 200, ok);
        assert!(out.passed(), "{}", out.detail);
        let bad = br#"{"name":"dns","success":false,"message":"dial tcp 127.0.0.1:53: connection refused"}"#;
        let out = judge("dns", 200, bad);
        assert!(!out.passed());
        assert_eq!(
            out.detail,
            "Cabourotte: dial tcp 127.0.0.1:53: connection refused"
        );
        assert_eq!(
            judge("dns", 404, b"{}").detail,
            "Cabourotte has no check named \"dns\""
        );
        assert_eq!(
            judge("dns", 500, b"").detail,
            "Cabourotte answered status 500"
        );
        assert!(!judge("dns", 200, b"<html>").passed());
        assert!(!judge("dns", 200, br#"{"success": "yes"}"#).passed());
    }

    #[test]
    fn result_url_escapes_the_name() {
        let spec = |url: &str, name: &str| CabourotteSpec {
            url: url.into(),
            name: name.into(),
        };
        assert_eq!(
            result_url(&spec("http://127.0.0.1:9013", "dns"))
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9013/result/dns"
        );
        assert_eq!(
            result_url(&spec("https://h.example/api", "a b/c"))
                .unwrap()
                .as_str(),
            "https://h.example/api/result/a%20b%2Fc"
        );
    }
}
