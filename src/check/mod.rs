//! Health checks: one file per kind, all behind `Check::run`, which never takes longer
//! than the timeout it is given (a check that overruns counts as failed).

pub mod address;
pub mod exec;
pub mod exec_slots;
pub mod reaper;
pub mod tcp;

use std::time::{Duration, Instant};

use crate::config::CheckSpec;

/// The result of one check run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub passed: bool,
    /// Why it failed (with captured output for exec), or a short note when it passed.
    pub detail: String,
    pub elapsed: Duration,
}

impl CheckOutcome {
    pub fn pass(detail: impl Into<String>) -> Self {
        CheckOutcome {
            passed: true,
            detail: detail.into(),
            elapsed: Duration::ZERO,
        }
    }

    pub fn fail(detail: impl Into<String>) -> Self {
        CheckOutcome {
            passed: false,
            detail: detail.into(),
            elapsed: Duration::ZERO,
        }
    }
}

/// A runnable check, built from its configuration.
#[derive(Debug, Clone)]
pub enum Check {
    Exec(exec::ExecCheck),
    Tcp(tcp::TcpCheck),
}

impl Check {
    /// `service` is passed to exec checks as `ANYCAST_WARDEN_SERVICE`.
    pub fn from_spec(spec: &CheckSpec, service: &str) -> Self {
        match spec {
            CheckSpec::Exec(s) => Check::Exec(exec::ExecCheck::new(s, service)),
            CheckSpec::Tcp(s) => Check::Tcp(tcp::TcpCheck::new(s)),
        }
    }

    /// Short text naming the check, for logs.
    pub fn describe(&self) -> String {
        match self {
            Check::Exec(c) => format!("exec {}", c.command()),
            Check::Tcp(c) => format!("tcp {}", c.target()),
        }
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        let started = Instant::now();
        let mut outcome = match self {
            Check::Exec(c) => c.run(timeout).await,
            Check::Tcp(c) => c.run(timeout).await,
        };
        outcome.elapsed = started.elapsed();
        outcome
    }
}
