//! `kind = "udp"`: sends `payload` to `target` and passes when a reply arrives (containing
//! `expect`, when set). The socket is connected, so an ICMP port-unreachable comes back
//! as "connection refused" instead of a silent timeout.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{UdpSocket, lookup_host};

use super::{CheckOutcome, Failed, Failure, timeout_reason};
use crate::config::UdpSpec;

/// Largest UDP payload.
const MAX_REPLY: usize = 65_535;

#[derive(Debug, Clone)]
pub struct UdpCheck {
    target: String,
    payload: Vec<u8>,
    expect: Option<Vec<u8>>,
}

impl UdpCheck {
    pub fn new(spec: &UdpSpec) -> Self {
        UdpCheck {
            target: spec.target.clone(),
            payload: spec.payload.as_bytes().to_vec(),
            expect: spec.expect.as_ref().map(|e| e.as_bytes().to_vec()),
        }
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        match tokio::time::timeout(timeout, self.exchange()).await {
            Ok(Ok(reply)) => judge_reply(&reply, self.expect.as_deref()),
            Ok(Err(failed)) => failed.into(),
            Err(_) => CheckOutcome::fail(
                Failure::Timeout,
                format!("no reply from {}: {}", self.target, timeout_reason(timeout)),
            ),
        }
    }

    async fn exchange(&self) -> Result<Vec<u8>, Failed> {
        let addr = resolve(&self.target).await?;
        let socket = send_connected(addr, &self.payload).await?;
        let mut buf = vec![0u8; MAX_REPLY];
        let n = socket
            .recv(&mut buf)
            .await
            .map_err(|e| Failed::io(&e, format!("no reply from {addr}: {e}")))?;
        buf.truncate(n);
        Ok(buf)
    }
}

/// A UDP socket connected to `addr` (so an ICMP port-unreachable comes back as "connection
/// refused"), after sending `payload` on it.
pub async fn send_connected(addr: SocketAddr, payload: &[u8]) -> Result<UdpSocket, Failed> {
    let local = if addr.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| Failed::other(format!("cannot open a UDP socket: {e}")))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| Failed::io(&e, format!("connect to {addr}: {e}")))?;
    socket
        .send(payload)
        .await
        .map_err(|e| Failed::io(&e, format!("send to {addr}: {e}")))?;
    Ok(socket)
}

/// The first address a `host:port` target resolves to.
pub async fn resolve(target: &str) -> Result<SocketAddr, Failed> {
    lookup_host(target)
        .await
        .map_err(|e| Failed::new(Failure::Resolve, format!("cannot resolve {target}: {e}")))?
        .next()
        .ok_or_else(|| Failed::new(Failure::Resolve, format!("{target} resolved to no address")))
}

/// Whether a reply is the one wanted; a failure quotes the start of what came back.
pub fn judge_reply(reply: &[u8], expect: Option<&[u8]>) -> CheckOutcome {
    match expect {
        None => CheckOutcome::pass(format!("reply of {} bytes", reply.len())),
        Some(e) if contains(reply, e) => {
            CheckOutcome::pass(format!("reply contains \"{}\"", String::from_utf8_lossy(e)))
        }
        Some(e) => CheckOutcome::fail(
            Failure::Unexpected,
            format!(
                "reply does not contain \"{}\": \"{}\"",
                String::from_utf8_lossy(e),
                quote(reply)
            ),
        ),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first 64 bytes as text, with control characters escaped, for a one-line reason.
pub fn quote(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    let mut text: String = String::from_utf8_lossy(head).escape_debug().collect();
    if bytes.len() > head.len() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_is_a_substring_of_the_reply() {
        assert!(judge_reply(b"+PONG\r\n", Some(b"PONG")).passed());
        assert!(judge_reply(b"anything", None).passed());
        let out = judge_reply(b"-ERR\r\n", Some(b"PONG"));
        assert!(!out.passed());
        assert_eq!(
            out.detail,
            "reply does not contain \"PONG\": \"-ERR\\r\\n\""
        );
    }

    #[test]
    fn long_replies_are_cut_in_reasons() {
        let quoted = quote(&[b'a'; 100]);
        assert_eq!(quoted.chars().count(), 65);
        assert!(quoted.ends_with('…'));
    }
}
