//! Why a check failed, as a type decided where the failure happens.
//!
//! The human text (`detail`) holds output, addresses and numbers: far too many distinct
//! values for a metric label, and no contract. [`Failure`] is the contract: the status
//! board counts failures by it and `anycast_warden_check_failures_total{reason}` labels
//! them with [`Failure::label`]; nothing reads the text back to classify it.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

/// The class of one failed check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The check's time ran out (connect, answer or process).
    Timeout,
    /// The target refused the connection (TCP RST, ICMP port unreachable on UDP).
    Refused,
    /// No path to the target: unreachable, reset, aborted, handshake failed.
    Connect,
    /// The target's name did not resolve, or to no address.
    Resolve,
    /// An exec check's command exited non-zero or was killed by a signal.
    ExitStatus,
    /// An exec check's command could not be started.
    Start,
    /// An address the service needs is not on its interface (`ip_check`, `address`).
    AddressMissing,
    /// The target answered, or the file was looked at, but not as the check expects
    /// (HTTP status or body, DNS rcode or records, UDP/TFTP reply, certificate rules).
    Unexpected,
    /// Anything else (a local error: cannot list addresses, cannot read a file, ...).
    Other,
}

impl Failure {
    /// Every class, in label order (for documentation and tests).
    pub const ALL: [Failure; 9] = [
        Failure::Timeout,
        Failure::Refused,
        Failure::Connect,
        Failure::Resolve,
        Failure::ExitStatus,
        Failure::Start,
        Failure::AddressMissing,
        Failure::Unexpected,
        Failure::Other,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Refused => "refused",
            Failure::Connect => "connect",
            Failure::Resolve => "resolve",
            Failure::ExitStatus => "exit_status",
            Failure::Start => "start",
            Failure::AddressMissing => "address_missing",
            Failure::Unexpected => "unexpected",
            Failure::Other => "other",
        }
    }

    /// The class of a network I/O error (connect, send, receive).
    pub fn of_io(e: &io::Error) -> Failure {
        use io::ErrorKind as K;
        match e.kind() {
            K::TimedOut | K::WouldBlock => Failure::Timeout,
            K::ConnectionRefused => Failure::Refused,
            K::HostUnreachable
            | K::NetworkUnreachable
            | K::NetworkDown
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::AddrNotAvailable
            | K::BrokenPipe
            | K::UnexpectedEof => Failure::Connect,
            _ => Failure::Other,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// A failed step on the way to a verdict: its class and its one-line text. Kinds' inner
/// steps return `Result<T, Failed>`, and `?` carries both to the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub failure: Failure,
    pub detail: String,
}

impl Failed {
    pub fn new(failure: Failure, detail: impl Into<String>) -> Self {
        Failed {
            failure,
            detail: detail.into(),
        }
    }

    /// A network I/O error, classed by its kind (see [`Failure::of_io`]).
    pub fn io(e: &io::Error, detail: impl Into<String>) -> Self {
        Failed::new(Failure::of_io(e), detail)
    }

    pub fn timeout(detail: impl Into<String>) -> Self {
        Failed::new(Failure::Timeout, detail)
    }

    pub fn unexpected(detail: impl Into<String>) -> Self {
        Failed::new(Failure::Unexpected, detail)
    }

    pub fn other(detail: impl Into<String>) -> Self {
        Failed::new(Failure::Other, detail)
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_serde_agrees() {
        let labels: std::collections::BTreeSet<_> =
            Failure::ALL.iter().map(|f| f.label()).collect();
        assert_eq!(labels.len(), Failure::ALL.len());
        for f in Failure::ALL {
            assert_eq!(
                serde_json::to_string(&f).expect("serialises"),
                format!("\"{}\"", f.label())
            );
        }
    }

    #[test]
    fn io_errors_are_classed_by_kind() {
        for (kind, want) in [
            (io::ErrorKind::TimedOut, Failure::Timeout),
            (io::ErrorKind::ConnectionRefused, Failure::Refused),
            (io::ErrorKind::NetworkUnreachable, Failure::Connect),
            (io::ErrorKind::HostUnreachable, Failure::Connect),
            (io::ErrorKind::ConnectionReset, Failure::Connect),
            (io::ErrorKind::PermissionDenied, Failure::Other),
        ] {
            assert_eq!(Failure::of_io(&io::Error::from(kind)), want, "{kind:?}");
        }
    }
}
