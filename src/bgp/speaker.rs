//! The speaker: starts one task per peer and a listener, and publishes the desired routes
//! to all of them.
//!
//! ```text
//!  BgpBackend ──announce(routes)──▶ Speaker ──watch(version, routes)──▶ peer task × N
//!                                     │                                   ▲
//!                                     └── listener(s) ──accepted socket───┘ (by address)
//!  status: peer tasks ──watch(Vec<PeerStatus>)──▶ daemon / metrics / status
//! ```
//! The desired routes live here and only here: a peer that is down keeps nothing and
//! blocks nothing; when it comes back, its task sends the whole current set.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::fsm::{FsmConfig, State};
use super::md5;
use super::routes::RouteSet;
use super::session::{PeerConfig, PeerTask, Published, set_ttl};
use super::status::{PeerStatus, SpeakerStatus};

/// Settings of the whole speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeakerConfig {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub hold_time: u16,
    pub keepalive: Option<u16>,
    pub connect_retry: Duration,
    /// Accept connections from the peers on `listen_port` (as well as connecting).
    pub listen: bool,
    pub listen_port: u16,
    pub graceful_restart: Option<u16>,
    pub peers: Vec<PeerConfig>,
}

/// Upper bound of the growing connect-retry delay.
const CONNECT_RETRY_MAX: Duration = Duration::from_secs(60);

/// A running speaker. Dropping it stops every session (without waiting).
pub struct Speaker {
    routes: watch::Sender<Published>,
    status: watch::Receiver<SpeakerStatus>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Speaker {
    /// Starts the sessions; `status` receives every peer's snapshot.
    pub fn start(config: &SpeakerConfig, status: watch::Sender<SpeakerStatus>) -> Speaker {
        status.send_replace(
            config
                .peers
                .iter()
                .map(|p| PeerStatus::new(p.address, p.asn))
                .collect(),
        );
        let (routes, _) = watch::channel(Published::default());
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let mut by_address = HashMap::new();
        for (index, peer) in config.peers.iter().enumerate() {
            let (tx, rx) = mpsc::channel(4);
            by_address.insert(peer.address, tx);
            let task = PeerTask {
                index,
                config: Arc::new(peer.clone()),
                fsm_config: FsmConfig {
                    local_as: config.asn,
                    local_id: config.router_id,
                    peer_as: peer.asn,
                    hold_time: config.hold_time,
                    keepalive: config.keepalive,
                    passive: peer.passive,
                    families: peer.families.clone(),
                    connect_retry: config.connect_retry,
                    connect_retry_max: CONNECT_RETRY_MAX.max(config.connect_retry),
                    graceful_restart: config.graceful_restart,
                    extended_next_hop: peer.extended_next_hop,
                },
                routes: routes.subscribe(),
                incoming: rx,
                status: status.clone(),
                cancel: cancel.child_token(),
            };
            tracker.spawn(task.run());
        }
        if config.listen {
            let peers: Arc<Vec<PeerConfig>> = Arc::new(config.peers.clone());
            let by_address = Arc::new(by_address);
            for v6 in [false, true] {
                if config.peers.iter().any(|p| p.address.is_ipv6() == v6) {
                    tracker.spawn(listen(
                        v6,
                        config.listen_port,
                        peers.clone(),
                        by_address.clone(),
                        cancel.child_token(),
                    ));
                }
            }
        }
        tracker.close();
        Speaker {
            routes,
            status: status.subscribe(),
            cancel,
            tracker,
        }
    }

    /// Makes `routes` the desired set, and waits up to `wait` until every Established
    /// session has sent it. Returns how many sessions had not within that time (they
    /// keep trying; a session that goes down drops the routes at the peer anyway).
    pub async fn announce(&self, routes: RouteSet, wait: Duration) -> usize {
        let mut version = 0;
        self.routes.send_modify(|p| {
            p.version += 1;
            version = p.version;
            p.routes = Arc::new(routes);
        });
        let behind = |v: &SpeakerStatus| {
            v.iter()
                .filter(|p| p.state == State::Established && p.routes_version < version)
                .count()
        };
        let mut status = self.status.clone();
        match tokio::time::timeout(wait, status.wait_for(|v| behind(v) == 0)).await {
            Ok(_) => 0,
            Err(_) => behind(&self.status.borrow()),
        }
    }

    /// Closes every session with Cease / Administrative Shutdown and waits (at most
    /// `wait`) until the peers were told.
    pub async fn stop(&self, wait: Duration) {
        self.cancel.cancel();
        let _ = tokio::time::timeout(wait, self.tracker.wait()).await;
    }
}

/// Accepts the peers' connections and hands each to its peer's task; connections from
/// other addresses are closed at once.
async fn listen(
    v6: bool,
    port: u16,
    peers: Arc<Vec<PeerConfig>>,
    by_address: Arc<HashMap<IpAddr, mpsc::Sender<TcpStream>>>,
    cancel: CancellationToken,
) {
    let listener = loop {
        match bind(v6, port, &peers) {
            Ok(l) => break l,
            Err(e) => {
                let error = ListenError { port, error: e };
                warn!(
                    ipv6 = v6,
                    "{error}; retrying in 5 s (outgoing sessions work meanwhile)"
                );
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    };
    info!(port, ipv6 = v6, "listening for BGP connections");
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, from) = match accepted {
            Ok(a) => a,
            Err(e) => {
                warn!(error = %e, "accepting a BGP connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let ip = canonical(from.ip());
        let Some(tx) = by_address.get(&ip) else {
            warn!(from = %ip, "refused a BGP connection from an address that is not a configured peer");
            continue;
        };
        if let Some(peer) = peers.iter().find(|p| p.address == ip) {
            let _ = set_ttl(socket2::SockRef::from(&stream), v6, peer.ttl);
        }
        let _ = tx.try_send(stream);
    }
}

/// The speaker cannot listen on its port. Its text names what would let it.
#[derive(Debug, thiserror::Error)]
#[error("{}", describe(*.port, .error))]
pub struct ListenError {
    pub port: u16,
    /// Not a `#[source]`: its text is already part of the message.
    pub error: io::Error,
}

fn describe(port: u16, source: &io::Error) -> String {
    if source.kind() == io::ErrorKind::PermissionDenied {
        format!(
            "cannot listen for BGP connections on port {port}: permission denied: ports below net.ipv4.ip_unprivileged_port_start (1024 by default) need CAP_NET_BIND_SERVICE; give the daemon that capability (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE and CapabilityBoundingSet=CAP_NET_BIND_SERVICE), run it as root, or set listen = false in [bgp] to only connect out to the peers (which needs no capability)"
        )
    } else {
        format!("cannot listen for BGP connections on port {port}: {source}")
    }
}

/// Whether the speaker of `config` may bind its listening port(s), tried with a socket
/// that is closed again at once. Called before the daemon starts, so that a missing
/// CAP_NET_BIND_SERVICE stops it with a clear error instead of a warning every 5 s; an
/// address in use is left to the listener, which retries.
pub fn check_listen(config: &SpeakerConfig) -> Result<(), ListenError> {
    use socket2::{Domain, Socket, Type};
    if !config.listen {
        return Ok(());
    }
    for v6 in [false, true] {
        if !config.peers.iter().any(|p| p.address.is_ipv6() == v6) {
            continue;
        }
        let error = |error| ListenError {
            port: config.listen_port,
            error,
        };
        let (domain, any) = if v6 {
            (Domain::IPV6, IpAddr::V6(Ipv6Addr::UNSPECIFIED))
        } else {
            (Domain::IPV4, IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        };
        let socket = Socket::new(domain, Type::STREAM, None).map_err(error)?;
        socket.set_reuse_address(true).map_err(error)?;
        if v6 {
            socket.set_only_v6(true).map_err(error)?;
        }
        match socket.bind(&SocketAddr::new(any, config.listen_port).into()) {
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Err(error(e)),
            _ => {}
        }
    }
    Ok(())
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
        a => a,
    }
}

fn bind(v6: bool, port: u16, peers: &[PeerConfig]) -> io::Result<TcpListener> {
    let socket = if v6 {
        TcpSocket::new_v6()?
    } else {
        TcpSocket::new_v4()?
    };
    socket.set_reuseaddr(true)?;
    let any: IpAddr = if v6 {
        let sock = socket2::SockRef::from(&socket);
        sock.set_only_v6(true)?;
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    // The kernel checks signatures per peer address on the listening socket.
    for peer in peers.iter().filter(|p| p.address.is_ipv6() == v6) {
        if let Some(password) = &peer.md5_password {
            md5::set_key(socket.as_fd(), v6, peer.address, password.as_bytes())?;
        }
    }
    socket.bind(SocketAddr::new(any, port))?;
    socket.listen(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_port_names_the_capability_and_the_ways_out() {
        let e = ListenError {
            port: 179,
            error: io::Error::from(io::ErrorKind::PermissionDenied),
        };
        let text = e.to_string();
        for needle in [
            "port 179",
            "CAP_NET_BIND_SERVICE",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE",
            "listen = false",
        ] {
            assert!(text.contains(needle), "{needle:?} not in {text}");
        }
        let busy = ListenError {
            port: 1179,
            error: io::Error::from(io::ErrorKind::AddrInUse),
        }
        .to_string();
        assert!(
            busy.starts_with("cannot listen for BGP connections on port 1179: ")
                && !busy.contains("CAP_"),
            "{busy}"
        );
    }
}
