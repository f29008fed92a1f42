//! Talks to one FRR daemon over its vty socket (`DIR/bgpd.vty`, ...), the way vtysh does,
//! without starting a process: a connection, the whole batch written at once, one reply
//! read per command (see `vty_frame`). The exchange is bounded by a timeout as a whole.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::vty_frame::{self, ReplyDecoder, UnsendableCommand, VtyReply};
use super::vtysh::bounded;

/// An exchange with a daemon that did not work.
#[derive(Debug, thiserror::Error)]
pub enum VtyError {
    #[error("cannot connect to FRR's {socket} (is the daemon running, and is this the directory it was given with --vty_socket?): {source}", socket = .socket.display())]
    Connect {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("FRR's {socket} did not answer {what} within {}", humantime::format_duration(*timeout), socket = .socket.display())]
    Timeout {
        socket: PathBuf,
        what: &'static str,
        timeout: Duration,
    },
    #[error("talking to FRR's {socket} ({what}): {source}", socket = .socket.display())]
    Io {
        socket: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("FRR's {socket} closed the connection after {got} of {sent} replies ({what})", socket = .socket.display())]
    Closed {
        socket: PathBuf,
        what: &'static str,
        sent: usize,
        got: usize,
    },
    #[error(transparent)]
    Unsendable(#[from] UnsendableCommand),
    #[error("FRR's {socket} refused {} of {total} commands ({what}): {}", .refused.len(), bounded(&.refused.join(" | ")), socket = .socket.display())]
    Refused {
        socket: PathBuf,
        what: &'static str,
        total: usize,
        /// `command: output (CODE)` for each refused command.
        refused: Vec<String>,
    },
}

impl VtyError {
    /// Whether the daemon's socket is not there or nobody listens on it: the daemon is
    /// not running.
    pub fn daemon_absent(&self) -> bool {
        matches!(self, VtyError::Connect { source, .. }
            if matches!(source.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused))
    }
}

/// Sends `commands` to the daemon listening on `socket` and returns one reply per command,
/// in order. `what` names the exchange in errors.
pub async fn exchange(
    socket: &Path,
    what: &'static str,
    commands: &[String],
    timeout: Duration,
) -> Result<Vec<VtyReply>, VtyError> {
    let request = vty_frame::encode(commands)?;
    let talk = async {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|source| VtyError::Connect {
                socket: socket.to_path_buf(),
                source,
            })?;
        let io_error = |source| VtyError::Io {
            socket: socket.to_path_buf(),
            what,
            source,
        };
        let (mut reader, mut writer) = stream.into_split();
        // Written while the replies are read: a long batch's replies must not fill the
        // socket buffer while we are still writing.
        let write = async {
            writer.write_all(&request).await?;
            writer.flush().await
        };
        let read = async {
            let mut decoder = ReplyDecoder::default();
            let mut replies = Vec::with_capacity(commands.len());
            let mut buf = vec![0u8; 64 * 1024];
            while replies.len() < commands.len() {
                let n = reader.read(&mut buf).await.map_err(io_error)?;
                if n == 0 {
                    return Err(VtyError::Closed {
                        socket: socket.to_path_buf(),
                        what,
                        sent: commands.len(),
                        got: replies.len(),
                    });
                }
                replies.extend(decoder.push(&buf[..n]));
            }
            Ok(replies)
        };
        let (written, replies) = tokio::join!(write, read);
        let replies = replies?;
        written.map_err(io_error)?;
        Ok(replies)
    };
    match tokio::time::timeout(timeout, talk).await {
        Ok(result) => result,
        Err(_) => Err(VtyError::Timeout {
            socket: socket.to_path_buf(),
            what,
            timeout,
        }),
    }
}

/// Like `exchange`, but every command must succeed; returns the outputs.
pub async fn exchange_all_ok(
    socket: &Path,
    what: &'static str,
    commands: &[String],
    timeout: Duration,
) -> Result<Vec<String>, VtyError> {
    let replies = exchange(socket, what, commands, timeout).await?;
    let refused: Vec<String> = commands
        .iter()
        .zip(&replies)
        .filter(|(_, reply)| !reply.succeeded())
        .map(|(command, reply)| {
            let output = reply
                .output
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            format!("`{command}`: {output} ({})", reply.code_name())
        })
        .collect();
    if !refused.is_empty() {
        return Err(VtyError::Refused {
            socket: socket.to_path_buf(),
            what,
            total: commands.len(),
            refused,
        });
    }
    Ok(replies.into_iter().map(|r| r.output).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A stand-in daemon: answers each NUL-terminated command through `answer`, with
    /// the replies cut into odd pieces to exercise the decoder.
    async fn fake_daemon(
        socket: PathBuf,
        answer: fn(&str) -> Option<(String, u8)>,
    ) -> tokio::task::JoinHandle<Vec<String>> {
        let listener = UnixListener::bind(&socket).unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut pending = Vec::new();
            let mut buf = [0u8; 7];
            loop {
                let n = stream.read(&mut buf).await.unwrap();
                if n == 0 {
                    return seen;
                }
                pending.extend_from_slice(&buf[..n]);
                while let Some(at) = pending.iter().position(|b| *b == 0) {
                    let command = String::from_utf8(pending[..at].to_vec()).unwrap();
                    pending.drain(..=at);
                    seen.push(command.clone());
                    let Some((output, code)) = answer(&command) else {
                        return seen; // hang up
                    };
                    let mut reply = output.into_bytes();
                    reply.extend_from_slice(&[0, 0, 0, code]);
                    for piece in reply.chunks(3) {
                        stream.write_all(piece).await.unwrap();
                    }
                }
            }
        })
    }

    fn commands(words: &[&str]) -> Vec<String> {
        words.iter().map(ToString::to_string).collect()
    }

    #[tokio::test]
    async fn pipelined_commands_get_their_replies_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bgpd.vty");
        let daemon = fake_daemon(socket.clone(), |c| match c {
            "show running-config" => Some(("router bgp 65001\nexit\n".into(), 0)),
            "bad" => Some(("% Unknown command: bad\n".into(), 2)),
            _ => Some((String::new(), 0)),
        })
        .await;
        let sent = commands(&["enable", "show running-config", "bad"]);
        let replies = exchange(&socket, "test", &sent, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(replies.len(), 3);
        assert_eq!(replies[1].output, "router bgp 65001\nexit\n");
        assert_eq!(replies[2].code, 2);
        assert_eq!(daemon.await.unwrap(), sent);
    }

    #[tokio::test]
    async fn a_refused_command_names_itself_and_the_daemon_output() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bgpd.vty");
        fake_daemon(socket.clone(), |c| {
            if c.starts_with("router bgp") {
                Some(("BGP is already running; AS is 65001\n".into(), 13))
            } else {
                Some((String::new(), 0))
            }
        })
        .await;
        let e = exchange_all_ok(
            &socket,
            "configure",
            &commands(&["enable", "router bgp 65002", "end"]),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "FRR's {} refused 1 of 3 commands (configure): `router bgp 65002`: BGP is already running; AS is 65001 (CMD_WARNING_CONFIG_FAILED)",
                socket.display()
            )
        );
    }

    #[tokio::test]
    async fn absent_daemon_hang_up_and_silence_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("staticd.vty");
        let e = exchange(
            &missing,
            "t",
            &commands(&["enable"]),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(e.daemon_absent(), "{e}");

        let socket = dir.path().join("bgpd.vty");
        fake_daemon(socket.clone(), |c| {
            (c != "second").then(|| (String::new(), 0))
        })
        .await;
        let e = exchange(
            &socket,
            "t",
            &commands(&["first", "second", "third"]),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        // A hang-up with commands unread may also reach us as a reset.
        assert!(
            matches!(
                e,
                VtyError::Closed {
                    sent: 3,
                    got: 1,
                    ..
                } | VtyError::Io { .. }
            ),
            "{e}"
        );
        assert!(!e.daemon_absent());

        // Accepts but never answers.
        let silent = dir.path().join("zebra.vty");
        let _listener = UnixListener::bind(&silent).unwrap();
        let started = std::time::Instant::now();
        let e = exchange(
            &silent,
            "show running-config",
            &commands(&["enable"]),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, VtyError::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_command_with_a_newline_is_never_sent() {
        let e = exchange(
            Path::new("/nonexistent/bgpd.vty"),
            "t",
            &commands(&["network 192.0.2.1/32\nno router bgp"]),
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, VtyError::Unsendable(_)), "{e}");
    }
}
