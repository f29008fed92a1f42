//! Asking BIRD to re-read its configuration, and hearing its answer.
//!
//! Two ways, chosen by the settings:
//! - [`configure_socket`]: speak BIRD's control protocol on its Unix socket, as birdc
//!   does: read the `0001` greeting, send `configure`, read the reply to its final line.
//!   This saves a fork and exec per apply.
//! - [`configure_command`]: run the user's `reconfigure` argv (no shell), capture its
//!   output (bounded) and judge exit status and text.
//!
//! Each step (connect, greeting, send, reply; or the whole command) is bounded by
//! `reconfigure_timeout`, so a stuck BIRD makes an apply fail instead of hang.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::UnixStream;
use tokio::process::Command;

use super::reply::{
    Accepted, BadLine, Refused, Reply, ReplyBuilder, judge_birdc_output, parse_line,
};

/// Longest line accepted from BIRD (its own CLI lines are far shorter).
const MAX_LINE: u64 = 16 * 1024;
/// Most lines in one reply; `configure` answers with two or three.
const MAX_REPLY_LINES: usize = 1024;
/// Output kept from a `reconfigure` command, per stream.
const MAX_OUTPUT: usize = 64 * 1024;

/// Why BIRD could not be asked, or what it answered instead of taking the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ReconfigureError {
    #[error("cannot connect to BIRD's control socket {} (is BIRD running?): {source}", socket.display())]
    Connect {
        socket: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("BIRD's control socket {}: {what} timed out after {}", socket.display(), humantime::format_duration(*after))]
    SocketTimeout {
        socket: PathBuf,
        what: &'static str,
        after: Duration,
    },
    #[error("BIRD's control socket {}: {what}: {source}", socket.display())]
    Io {
        socket: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("BIRD's control socket {}: {problem}", socket.display())]
    Protocol { socket: PathBuf, problem: String },
    #[error("BIRD's control socket {}: {source}", socket.display())]
    SocketRefused {
        socket: PathBuf,
        #[source]
        source: Refused,
    },
    #[error("the reconfigure command is empty")]
    EmptyCommand,
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` did not finish within {}; killed it", humantime::format_duration(*after))]
    CommandTimeout { command: String, after: Duration },
    #[error("`{command}`: {what}: {source}")]
    CommandIo {
        command: String,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` failed ({status}): {source}")]
    CommandRefused {
        command: String,
        status: String,
        #[source]
        source: Refused,
    },
}

/// Asks the BIRD behind `socket` to reconfigure and judges its reply.
pub async fn configure_socket(
    socket: &Path,
    timeout: Duration,
    nudge_feed: bool,
) -> Result<Accepted, ReconfigureError> {
    let stream = match tokio::time::timeout(timeout, UnixStream::connect(socket)).await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => {
            return Err(ReconfigureError::Connect {
                socket: socket.to_path_buf(),
                source,
            });
        }
        Err(_) => {
            return Err(ReconfigureError::SocketTimeout {
                socket: socket.to_path_buf(),
                what: "connecting",
                after: timeout,
            });
        }
    };
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);

    let greeting = step(
        socket,
        "reading the greeting",
        timeout,
        read_reply(&mut read),
    )
    .await?;
    let greeting = greeting.map_err(|problem| protocol(socket, problem))?;
    if greeting.code() != 1 {
        return Err(protocol(
            socket,
            format!(
                "expected the 0001 greeting, got {:04} {}",
                greeting.code(),
                greeting.text()
            ),
        ));
    }
    step(socket, "sending configure", timeout, async {
        write.write_all(b"configure\n").await?;
        write.flush().await?;
        Ok(Ok(()))
    })
    .await?
    .map_err(|problem| protocol(socket, problem))?;
    let reply = step(
        socket,
        "reading the reply to configure",
        timeout,
        read_reply(&mut read),
    )
    .await?
    .map_err(|problem| protocol(socket, problem))?;
    let accepted = super::reply::judge_configure(&reply).map_err(|source| {
        ReconfigureError::SocketRefused {
            socket: socket.to_path_buf(),
            source,
        }
    })?;
    if nudge_feed {
        nudge(&mut read, &mut write, timeout).await;
    }
    Ok(accepted)
}

/// Routes BIRD re-feeds through a changed export filter per step of its main loop.
const ROUTES_PER_FEED_STEP: usize = 256;
/// At most this many nudges per reconfigure (a 256,000-route table).
const MAX_NUDGES: usize = 1000;

/// After a reconfigure that changed a set, BIRD (2.0.12, 1.6.8) reloads the channels
/// whose export filter uses it: it re-feeds every route of their table, 256 per turn of
/// its main loop, and an idle BIRD turns its loop only on I/O or after 3 s. So 1,000
/// prefixes took 3 s to reach the router. Each cheap command here is such I/O and lets
/// the feed take its next step at once (measured: 1,000 withdrawals in 25 ms instead of
/// 3 s). The table's size (`show route count`) says how many steps there are. Failures
/// only end the nudging early: BIRD has already taken the configuration.
async fn nudge<R, W>(read: &mut R, write: &mut W, timeout: Duration)
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut ask = async |command: &[u8]| -> Option<Reply> {
        let turn = async {
            write.write_all(command).await?;
            write.flush().await?;
            read_reply(read).await
        };
        match tokio::time::timeout(timeout, turn).await {
            Ok(Ok(Ok(reply))) => Some(reply),
            _ => None,
        }
    };
    let Some(count) = ask(b"show route count\n").await else {
        return;
    };
    let steps = super::reply::largest_table(&count).unwrap_or(0) / ROUTES_PER_FEED_STEP + 1;
    for _ in 0..steps.min(MAX_NUDGES) {
        if ask(b"show status\n").await.is_none() {
            return;
        }
    }
}

/// Runs one socket step under the timeout, naming the step in errors.
async fn step<T>(
    socket: &Path,
    what: &'static str,
    timeout: Duration,
    fut: impl Future<Output = io::Result<Result<T, String>>>,
) -> Result<Result<T, String>, ReconfigureError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(source)) => Err(ReconfigureError::Io {
            socket: socket.to_path_buf(),
            what,
            source,
        }),
        Err(_) => Err(ReconfigureError::SocketTimeout {
            socket: socket.to_path_buf(),
            what,
            after: timeout,
        }),
    }
}

fn protocol(socket: &Path, problem: String) -> ReconfigureError {
    ReconfigureError::Protocol {
        socket: socket.to_path_buf(),
        problem,
    }
}

/// Reads lines up to the final line of one reply. The outer `Err` is an I/O error, the
/// inner one a protocol problem (closed early, overlong, not BIRD's format).
pub async fn read_reply<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Result<Reply, String>> {
    let mut builder = ReplyBuilder::default();
    let mut buf = Vec::new();
    let mut seen = Vec::new();
    for _ in 0..MAX_REPLY_LINES {
        buf.clear();
        let n = (&mut *r).take(MAX_LINE).read_until(b'\n', &mut buf).await?;
        if n == 0 {
            return Ok(Err(if seen.is_empty() {
                "BIRD closed the connection without a reply".to_string()
            } else {
                format!(
                    "BIRD closed the connection mid-reply after: {}",
                    seen.join("; ")
                )
            }));
        }
        if buf.last() != Some(&b'\n') {
            return Ok(Err(if n as u64 >= MAX_LINE {
                format!("a reply line is longer than {MAX_LINE} bytes")
            } else {
                "BIRD closed the connection mid-line".to_string()
            }));
        }
        buf.pop();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let line = match parse_line(&text) {
            Ok(line) => line,
            Err(BadLine(l)) => return Ok(Err(format!("not BIRD's reply format: {l:?}"))),
        };
        seen.push(text);
        if let Some(reply) = builder.push(line) {
            return Ok(Ok(reply));
        }
    }
    Ok(Err(format!("a reply longer than {MAX_REPLY_LINES} lines")))
}

/// Takes a command's process group off the reaper's list when the run ends, however.
struct ForgetGroup(Option<i32>);

impl Drop for ForgetGroup {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            crate::sys::reaper::forget_group(pgid);
        }
    }
}

/// Runs `argv` (no shell) and judges what it printed and how it exited.
pub async fn configure_command(
    argv: &[String],
    timeout: Duration,
) -> Result<Accepted, ReconfigureError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(ReconfigureError::EmptyCommand);
    };
    let command = argv.join(" ");
    let mut builder = Command::new(program);
    builder
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout also kills whatever it started.
        .process_group(0)
        .kill_on_drop(true);
    // Registered with the reaper like an exec check's group: otherwise the reaper's sweep
    // takes the command (a child outside the daemon's group) for an escaped check, kills
    // and reaps it, and the apply fails with "No child processes".
    let mut child = crate::sys::reaper::spawn_check(&mut builder).map_err(|source| {
        ReconfigureError::Spawn {
            command: command.clone(),
            source,
        }
    })?;
    let pid = child.id();
    let _registered = ForgetGroup(pid.and_then(|p| i32::try_from(p).ok()));
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(ReconfigureError::CommandIo {
            command,
            what: "capturing output",
            source: io::Error::other("no pipe"),
        });
    };
    let run = async {
        let (out, err, status) =
            tokio::join!(read_bounded(stdout), read_bounded(stderr), child.wait());
        (out, err, status)
    };
    let (out, err, status) = match tokio::time::timeout(timeout, run).await {
        Ok(r) => r,
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                // The group id is the child's pid (process_group(0)).
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return Err(ReconfigureError::CommandTimeout {
                command,
                after: timeout,
            });
        }
    };
    let io_err = |what, source| ReconfigureError::CommandIo {
        command: command.clone(),
        what,
        source,
    };
    let status = status.map_err(|e| io_err("waiting for it", e))?;
    let out = out.map_err(|e| io_err("reading its output", e))?;
    let err = err.map_err(|e| io_err("reading its error output", e))?;
    judge_birdc_output(status.success(), &out, &err).map_err(|source| {
        ReconfigureError::CommandRefused {
            command: command.clone(),
            status: status.to_string(),
            source,
        }
    })
}

/// Reads a stream to its end, keeping the first [`MAX_OUTPUT`] bytes (the rest is
/// drained so the child never blocks on a full pipe).
async fn read_bounded<R: AsyncRead + Unpin>(mut r: R) -> io::Result<String> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
    Ok(String::from_utf8_lossy(&kept).into_owned())
}

#[cfg(test)]
#[path = "control_tests.rs"]
mod tests;
