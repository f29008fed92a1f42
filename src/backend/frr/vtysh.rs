//! Runs vtysh: argv without a shell, a timeout after which the process is killed, input
//! fed on stdin, stdout and stderr captured so a failure carries vtysh's own words.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::config::FrrSettings;

/// At most this much of vtysh's output goes into an error message.
const OUTPUT_LIMIT: usize = 4096;

/// A vtysh run that did not work.
#[derive(Debug, thiserror::Error)]
pub enum VtyshError {
    #[error("cannot run {vtysh}: {source}")]
    Spawn {
        vtysh: String,
        source: std::io::Error,
    },
    #[error("{vtysh} ({what}) did not finish within {}; killed it", humantime::format_duration(*timeout))]
    Timeout {
        vtysh: String,
        what: &'static str,
        timeout: Duration,
    },
    #[error("{vtysh} ({what}) failed with {status}: {output}")]
    Failed {
        vtysh: String,
        what: &'static str,
        status: String,
        output: String,
    },
}

/// Runs `vtysh TARGET-ARGS ARGS`, with `input` on stdin; returns stdout on exit status 0.
/// `what` names the run in errors ("show running-config", "configure").
pub async fn run(
    settings: &FrrSettings,
    what: &'static str,
    args: &[&str],
    input: Option<String>,
) -> Result<String, VtyshError> {
    let vtysh = settings.vtysh.display().to_string();
    let mut command = Command::new(&settings.vtysh);
    command
        .args(settings.vtysh_target_args())
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A timed-out run is dropped, and dropping must not leave it behind.
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|source| VtyshError::Spawn {
        vtysh: vtysh.clone(),
        source,
    })?;
    // Feed stdin while the output is read: a big batch with many error lines could
    // otherwise fill both pipes and hang.
    let feeder = match (input, child.stdin.take()) {
        (Some(text), Some(mut stdin)) => Some(tokio::spawn(async move {
            // A write error shows up as vtysh's own failure below.
            let _ = stdin.write_all(text.as_bytes()).await;
            let _ = stdin.shutdown().await;
        })),
        _ => None,
    };
    let output = match tokio::time::timeout(settings.timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => return Err(VtyshError::Spawn { vtysh, source }),
        Err(_) => {
            return Err(VtyshError::Timeout {
                vtysh,
                what,
                timeout: settings.timeout,
            });
        }
    };
    if let Some(feeder) = feeder {
        feeder.abort();
    }
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let both = format!("{}\n{}", stdout.trim(), stderr.trim());
    Err(VtyshError::Failed {
        vtysh,
        what,
        status: output.status.to_string(),
        output: bounded(both.trim()),
    })
}

/// The text, cut at `OUTPUT_LIMIT` bytes on a character boundary, lines joined by " | ".
pub(super) fn bounded(text: &str) -> String {
    let joined = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if joined.len() <= OUTPUT_LIMIT {
        return joined;
    }
    let mut end = OUTPUT_LIMIT;
    while !joined.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &joined[..end], joined.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FrrMode;
    use std::path::PathBuf;

    fn settings(vtysh: &str, timeout_ms: u64) -> FrrSettings {
        FrrSettings {
            transport: crate::config::FrrTransport::Vtysh,
            vtysh: PathBuf::from(vtysh),
            vty_socket: None,
            pathspace: None,
            mode: FrrMode::Network,
            asn: None,
            tag: 4711,
            timeout: Duration::from_millis(timeout_ms),
            verify_interval: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn stdin_reaches_the_program_and_stdout_comes_back() {
        // `cat` stands in for vtysh: it echoes the batch.
        let out = run(&settings("cat", 5000), "test", &[], Some("a\nb\n".into()))
            .await
            .unwrap();
        assert_eq!(out, "a\nb\n");
    }

    #[tokio::test]
    async fn failure_carries_the_output_and_timeout_kills() {
        let e = run(
            &settings("sh", 5000),
            "test",
            &["-c", "echo '% Unknown command'; echo oops >&2; exit 1"],
            None,
        )
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("% Unknown command | oops"), "{text}");
        let started = std::time::Instant::now();
        let e = run(&settings("sleep", 100), "test", &["5"], None)
            .await
            .unwrap_err();
        assert!(matches!(e, VtyshError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let e = run(&settings("/nonexistent/vtysh", 100), "test", &[], None)
            .await
            .unwrap_err();
        assert!(
            e.to_string().starts_with("cannot run /nonexistent/vtysh"),
            "{e}"
        );
    }

    #[test]
    fn long_output_is_cut() {
        let long = "é".repeat(5000);
        let cut = bounded(&long);
        assert!(cut.len() < 4200 && cut.ends_with("(10000 bytes in all)"));
    }
}
