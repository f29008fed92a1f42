//! The daemon's end of the control socket.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{Call, MAX_REQUEST, Request, Response};
use crate::status::StatusBoard;

/// A connection idle this long is closed.
const IDLE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("another anycast-warden answers on {}; stop it first", path.display())]
    InUse { path: PathBuf },
    #[error("[control] group \"{group}\" does not exist")]
    NoSuchGroup { group: String },
    #[error("cannot look up group \"{group}\": {source}")]
    Group { group: String, source: nix::Error },
    #[error("cannot create the control socket {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// Binds the socket at `path` with mode 0600, or 0660 and group `group`.
///
/// It is bound under a temporary name, given its mode and group, and only then renamed
/// into place, so there is no moment at which the socket is open to anyone else. A
/// leftover socket of a dead daemon is replaced; a live one is left alone.
pub fn bind(path: &Path, group: Option<&str>) -> Result<UnixListener, BindError> {
    let io_err = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(BindError::InUse {
                path: path.to_path_buf(),
            });
        }
        std::fs::remove_file(path).map_err(io_err)?;
    }
    let gid = match group {
        None => None,
        Some(name) => match nix::unistd::Group::from_name(name) {
            Ok(Some(g)) => Some(g.gid),
            Ok(None) => {
                return Err(BindError::NoSuchGroup {
                    group: name.to_string(),
                });
            }
            Err(source) => {
                return Err(BindError::Group {
                    group: name.to_string(),
                    source,
                });
            }
        },
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let listener = std::os::unix::net::UnixListener::bind(&temp).map_err(io_err)?;
    let prepared = (|| {
        let mode = if gid.is_some() { 0o660 } else { 0o600 };
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode))?;
        if let Some(gid) = gid {
            nix::unistd::chown(&temp, None, Some(gid)).map_err(io::Error::from)?;
        }
        std::fs::rename(&temp, path)?;
        listener.set_nonblocking(true)?;
        UnixListener::from_std(listener)
    })();
    if prepared.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    prepared.map_err(io_err)
}

/// Who may talk to the daemon besides root: its own user, and members of `[control]
/// group`. The socket's mode already says so; the peer's credentials (SO_PEERCRED) are
/// checked as well, so that a socket whose mode was widened, or a descriptor passed on,
/// does not open the daemon to anyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerPolicy {
    pub own_uid: u32,
    pub group: Option<u32>,
}

impl PeerPolicy {
    /// The running daemon's user, and `group` looked up by name (`None` if it is gone).
    pub fn current(group: Option<&str>) -> Self {
        PeerPolicy {
            own_uid: nix::unistd::geteuid().as_raw(),
            group: group.and_then(|name| {
                nix::unistd::Group::from_name(name)
                    .ok()
                    .flatten()
                    .map(|g| g.gid.as_raw())
            }),
        }
    }

    /// Whether a peer with `uid`, primary `gid` and supplementary groups (asked only when
    /// needed) may connect. Pure.
    pub fn allows(&self, uid: u32, gid: u32, groups: impl FnOnce() -> Vec<u32>) -> bool {
        if uid == 0 || uid == self.own_uid {
            return true;
        }
        match self.group {
            None => false,
            Some(group) => gid == group || groups().contains(&group),
        }
    }
}

/// The groups of the user with `uid` (from the user database).
fn groups_of(uid: u32, gid: u32) -> Vec<u32> {
    let Ok(Some(user)) = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) else {
        return Vec::new();
    };
    let Ok(name) = std::ffi::CString::new(user.name) else {
        return Vec::new();
    };
    nix::unistd::getgrouplist(&name, nix::unistd::Gid::from_raw(gid))
        .map(|list| list.into_iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default()
}

/// Answers connections until `cancel`. Status requests are answered from the board;
/// the others go to the supervisor through `calls`.
pub async fn serve(
    listener: UnixListener,
    policy: PeerPolicy,
    board: StatusBoard,
    calls: mpsc::Sender<Call>,
    cancel: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "control socket: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        match stream.peer_cred() {
            Ok(cred)
                if policy.allows(cred.uid(), cred.gid(), || groups_of(cred.uid(), cred.gid())) => {}
            peer => {
                let who = peer.as_ref().map_or_else(
                    |e| format!("unknown peer ({e})"),
                    |c| format!("uid {} gid {} pid {:?}", c.uid(), c.gid(), c.pid()),
                );
                warn!(peer = %who, "control socket: refused a connection from a user who may not use it");
                let refusal = serde_json::to_string(&Response::refused(
                    "this user may not use the control socket (root, the daemon's user or members of [control] group only)",
                ))
                .unwrap_or_default();
                // The request is read (and ignored) first, so the client gets the answer
                // rather than a broken pipe.
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(1), async {
                        let (read, mut write) = stream.into_split();
                        let mut line = String::new();
                        let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
                        let _ = reader.read_line(&mut line).await;
                        let _ = write.write_all(format!("{refusal}\n").as_bytes()).await;
                    })
                    .await;
                });
                continue;
            }
        }
        let board = board.clone();
        let calls = calls.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = handle(stream, board, calls) => {}
            }
        });
    }
}

async fn handle(stream: UnixStream, board: StatusBoard, calls: mpsc::Sender<Call>) {
    let (read, mut write) = stream.into_split();
    // One connection may send at most MAX_REQUEST bytes in all: nobody needs more.
    let mut reader = BufReader::new(read.take(MAX_REQUEST as u64));
    loop {
        let mut line = String::new();
        match tokio::time::timeout(IDLE, reader.read_line(&mut line)).await {
            Ok(Ok(0)) | Err(_) => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                debug!(error = %e, "control socket: read failed");
                return;
            }
        }
        let response = match serde_json::from_str::<Request>(line.trim()) {
            Err(e) => Response::refused(format!("not a valid request: {e}")),
            Ok(request) => answer(request, &board, &calls).await,
        };
        let mut text = serde_json::to_string(&response).unwrap_or_else(|e| {
            format!(r#"{{"ok":false,"message":"cannot encode the answer: {e}"}}"#)
        });
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Answers one request: status from the board, the rest through the supervisor. Shared
/// by the control socket and the HTTP API.
pub async fn answer(request: Request, board: &StatusBoard, calls: &mpsc::Sender<Call>) -> Response {
    match request {
        Request::Status => Response {
            ok: true,
            message: None,
            status: Some(Box::new(board.snapshot())),
        },
        request => forward(calls, request).await,
    }
}

async fn forward(calls: &mpsc::Sender<Call>, request: Request) -> Response {
    let (reply, answer) = oneshot::channel();
    if calls.send(Call { request, reply }).await.is_err() {
        return Response::refused("the daemon is shutting down");
    }
    answer
        .await
        .unwrap_or_else(|_| Response::refused("the daemon is shutting down"))
}

#[cfg(test)]
mod peer_tests {
    use super::PeerPolicy;

    #[test]
    fn root_the_daemons_user_and_the_group_get_in() {
        let alone = PeerPolicy {
            own_uid: 998,
            group: None,
        };
        let asked = std::cell::Cell::new(false);
        let groups = |list: Vec<u32>| {
            asked.set(true);
            list
        };
        assert!(alone.allows(0, 0, || groups(vec![])));
        assert!(alone.allows(998, 998, || groups(vec![])));
        assert!(!alone.allows(1000, 1000, || groups(vec![997])));
        let shared = PeerPolicy {
            own_uid: 998,
            group: Some(997),
        };
        asked.set(false);
        assert!(shared.allows(1000, 997, || groups(vec![])), "primary group");
        assert!(!asked.get(), "no lookup when the primary group matches");
        assert!(
            shared.allows(1000, 1000, || groups(vec![1000, 997])),
            "member"
        );
        assert!(!shared.allows(1000, 1000, || groups(vec![1000, 27])));
    }
}
