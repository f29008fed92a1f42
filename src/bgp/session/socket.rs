//! The session's socket work: connect (source, device, TTL, MD5 first), read frames,
//! refuse an unwanted connection.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::{Frame, PeerConfig};
use crate::bgp::md5;
use crate::bgp::message::notification::cease;
use crate::bgp::message::{self, Codec, Message, Notification};

/// Waits for a pending connect (never completes without one).
pub(super) async fn join_pending(
    h: &mut Option<JoinHandle<io::Result<TcpStream>>>,
) -> Result<io::Result<TcpStream>, tokio::task::JoinError> {
    match h {
        Some(h) => h.await,
        None => std::future::pending().await,
    }
}

/// Sends Cease / Connection Collision Resolution on a connection that is not wanted.
pub(super) async fn refuse(mut stream: TcpStream) {
    let bytes = Message::Notification(Notification::cease(cease::CONNECTION_COLLISION))
        .encode(Codec::default());
    let _ = timeout(Duration::from_secs(1), stream.write_all(&bytes)).await;
}

/// Sets the TTL (hop limit) of the session's packets.
pub(crate) fn set_ttl(sock: socket2::SockRef<'_>, v6: bool, ttl: u8) -> io::Result<()> {
    if v6 {
        sock.set_unicast_hops_v6(u32::from(ttl))
    } else {
        sock.set_ttl_v4(u32::from(ttl))
    }
}

/// Opens the session's TCP connection: source address, TTL and MD5 key first.
pub(super) async fn connect(config: Arc<PeerConfig>) -> io::Result<TcpStream> {
    let v6 = config.address.is_ipv6();
    let socket = if v6 {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    if let Some(source) = config.source {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    if let Some(interface) = &config.interface {
        socket2::SockRef::from(&socket).bind_device(Some(interface.as_bytes()))?;
    }
    set_ttl(socket2::SockRef::from(&socket), v6, config.ttl)?;
    if let Some(password) = &config.md5_password {
        md5::set_key(socket.as_fd(), v6, config.address, password.as_bytes())?;
    }
    let stream = socket
        .connect(SocketAddr::new(config.address, config.port))
        .await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Splits the byte stream into messages until the connection ends or a header is bad.
pub(super) async fn read_frames(
    id: u64,
    mut reader: OwnedReadHalf,
    tx: mpsc::Sender<(u64, Frame)>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 65536];
    loop {
        loop {
            match message::message_len(&buf) {
                Err(n) => {
                    let _ = tx.send((id, Frame::Error(n))).await;
                    return;
                }
                Ok(Some(len)) if buf.len() >= len => {
                    let rest = buf.split_off(len);
                    let frame = std::mem::replace(&mut buf, rest);
                    if tx.send((id, Frame::Message(frame))).await.is_err() {
                        return;
                    }
                }
                Ok(_) => break,
            }
        }
        match reader.read(&mut chunk).await {
            Ok(0) => {
                let _ = tx
                    .send((id, Frame::Closed("closed by the peer".into())))
                    .await;
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                let _ = tx.send((id, Frame::Closed(e.to_string()))).await;
                return;
            }
        }
    }
}
