//! `kind = "tcp"`: passes when a TCP connection opens within the timeout.

use std::time::Duration;

use tokio::net::{TcpStream, lookup_host};

use super::{CheckOutcome, Failed, Failure};
use crate::config::TcpSpec;

#[derive(Debug, Clone)]
pub struct TcpCheck {
    target: String,
}

impl TcpCheck {
    pub fn new(spec: &TcpSpec) -> Self {
        TcpCheck {
            target: spec.target.clone(),
        }
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        match tokio::time::timeout(timeout, self.connect()).await {
            Ok(outcome) => outcome.into(),
            Err(_) => CheckOutcome::fail(
                Failure::Timeout,
                format!(
                    "connect to {}: {}",
                    self.target,
                    super::timeout_reason(timeout)
                ),
            ),
        }
    }

    /// Tries each resolved address in turn; the first that accepts passes, else the last
    /// address's error decides.
    async fn connect(&self) -> Result<CheckOutcome, Failed> {
        let addrs = lookup_host(self.target.as_str()).await.map_err(|e| {
            Failed::new(
                Failure::Resolve,
                format!("cannot resolve {}: {e}", self.target),
            )
        })?;
        let mut last_error = Failed::new(
            Failure::Resolve,
            format!("{} resolved to no address", self.target),
        );
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    close_with_reset(&stream);
                    return Ok(CheckOutcome::pass(format!("connected to {addr}")));
                }
                Err(e) => last_error = Failed::io(&e, format!("connect to {addr}: {e}")),
            }
        }
        Err(last_error)
    }
}

/// Makes the close that follows send a reset instead of the FIN exchange, as HAProxy's
/// checks do: the handshake is all the check wants, and a FIN close leaves a TIME_WAIT
/// socket behind for every check (60,000 a minute at 1,000 checks a second) and costs
/// more packets. A failure only costs that saving, so it is ignored.
fn close_with_reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: String) -> TcpCheck {
        TcpCheck::new(&TcpSpec { target })
    }

    #[tokio::test]
    async fn open_port_passes_and_closed_port_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let c = check(addr.to_string());
        assert!(c.run(Duration::from_secs(2)).await.passed());
        drop(listener);
        let outcome = c.run(Duration::from_secs(2)).await;
        assert!(!outcome.passed());
        assert!(outcome.detail.contains("refused"), "{}", outcome.detail);
    }

    #[tokio::test]
    async fn a_passing_check_closes_with_a_reset() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = check(listener.local_addr().unwrap().to_string());
        assert!(c.run(Duration::from_secs(2)).await.passed());
        let (mut server_side, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1];
        // A FIN close would read as end of stream (Ok(0)).
        let read = server_side.read(&mut buf).await;
        assert_eq!(
            read.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::ConnectionReset)
        );
    }

    #[tokio::test]
    async fn unresolvable_name_fails_with_reason() {
        let outcome = check("no-such-host.invalid:53".into())
            .run(Duration::from_secs(2))
            .await;
        assert!(!outcome.passed());
        assert!(
            outcome.detail.contains("no-such-host.invalid"),
            "{}",
            outcome.detail
        );
    }
}
