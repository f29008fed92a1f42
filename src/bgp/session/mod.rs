//! One task per peer: owns the peer's TCP connection(s), timers and state machine, and
//! keeps the peer's copy of the routes equal to the speaker's desired set.
//!
//! ```text
//!  speaker ──routes (watch)──▶ ┌───────────┐ ◀──frames (mpsc)── reader task (per connection)
//!  listener ──accepted (mpsc)─▶│ peer task │ ──write──▶ TCP
//!  cancel ────────────────────▶└───────────┘ ──status (watch)──▶ daemon, metrics
//! ```
//! Every decision is the [`Fsm`]'s; this file only carries out its actions. A second
//! connection from the peer while one is being opened runs in a second machine until an
//! OPEN tells which one survives (RFC 4271 §6.8; `collision.rs`). The socket work (connect
//! with TTL, source and MD5, reading frames, refusing) is in `socket.rs`.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

mod collision;
mod socket;

pub(crate) use self::socket::set_ttl;
use self::socket::{connect, join_pending, read_frames, refuse};
use super::fsm::{Action, Event, Fsm, FsmConfig, Negotiated, State, Timer};
use super::message::notification::cease;
use super::message::{self, Codec, Family, Message, Notification, Update};
use super::routes::{self, PeerContext, RouteSet};
use super::status::{LastError, SpeakerStatus};

/// A peer's transport settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub asn: u32,
    pub port: u16,
    /// Local address to connect from.
    pub source: Option<IpAddr>,
    /// Interface to bind the session to (SO_BINDTODEVICE).
    pub interface: Option<String>,
    pub passive: bool,
    pub md5_password: Option<String>,
    /// IP TTL / hop limit of the session's packets (1: directly connected).
    pub ttl: u8,
    pub families: Vec<Family>,
    /// Explicit next hops; `None`: the session's own address ("self").
    pub next_hop_v4: Option<Ipv4Addr>,
    pub next_hop_v6: Option<Ipv6Addr>,
    /// Offer RFC 8950: IPv4 routes with the IPv6 next hop, when the peer agrees.
    pub extended_next_hop: bool,
    /// Sent after the global IPv6 next hop (32-octet next hop, RFC 2545).
    pub next_hop_v6_link_local: Option<Ipv6Addr>,
}

/// The routes every peer should have, numbered so that a caller can wait for them.
#[derive(Debug, Clone, Default)]
pub struct Published {
    pub version: u64,
    pub routes: Arc<RouteSet>,
}

/// What a connection's reader task reports.
#[derive(Debug)]
pub(crate) enum Frame {
    /// One whole message, header included.
    Message(Vec<u8>),
    /// A bad header: send this and close.
    Error(Notification),
    Closed(String),
}

/// Aborts the task when dropped, so a dropped connection stops its reader.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Conn {
    id: u64,
    writer: OwnedWriteHalf,
    _reader: AbortOnDrop,
    /// Opened by this side.
    outgoing: bool,
    local: SocketAddr,
}

/// One state machine with its connection and timers.
struct Machine {
    fsm: Fsm,
    conn: Option<Conn>,
    timers: [Option<Instant>; 3],
    codec: Codec,
    /// What the peer has from this side on this session.
    sent: RouteSet,
    ctx: Option<PeerContext>,
}

impl Machine {
    fn new(fsm: Fsm) -> Self {
        Machine {
            fsm,
            conn: None,
            timers: [None; 3],
            codec: Codec::default(),
            sent: RouteSet::new(),
            ctx: None,
        }
    }

    fn next_timer(&self) -> Option<(Instant, Timer)> {
        [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive]
            .into_iter()
            .filter_map(|t| self.timers[t as usize].map(|at| (at, t)))
            .min()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Main,
    Contender,
}

/// The task of one peer.
pub(crate) struct PeerTask {
    pub index: usize,
    pub config: Arc<PeerConfig>,
    pub fsm_config: FsmConfig,
    pub routes: watch::Receiver<Published>,
    pub incoming: mpsc::Receiver<TcpStream>,
    pub status: watch::Sender<SpeakerStatus>,
    pub cancel: CancellationToken,
}

struct Runner {
    task: PeerTask,
    main: Machine,
    contender: Option<Machine>,
    connecting: Option<JoinHandle<io::Result<TcpStream>>>,
    frames_tx: mpsc::Sender<(u64, Frame)>,
    next_conn_id: u64,
}

impl PeerTask {
    pub async fn run(self) {
        let (frames_tx, mut frames_rx) = mpsc::channel(256);
        let seed = rand::random::<u64>();
        let fsm = Fsm::new(self.fsm_config.clone(), seed);
        let mut r = Runner {
            task: self,
            main: Machine::new(fsm),
            contender: None,
            connecting: None,
            frames_tx,
            next_conn_id: 0,
        };
        r.feed(Which::Main, Event::Start).await;
        loop {
            let timer = [
                Some(Which::Main),
                r.contender.as_ref().map(|_| Which::Contender),
            ]
            .into_iter()
            .flatten()
            .filter_map(|w| {
                r.machine(w)
                    .and_then(Machine::next_timer)
                    .map(|(at, t)| (at, t, w))
            })
            .min_by_key(|(at, _, _)| *at);
            tokio::select! {
                () = r.task.cancel.cancelled() => {
                    let bye = Notification::cease_with_reason(cease::ADMINISTRATIVE_SHUTDOWN, "anycast-warden is stopping");
                    if r.contender.is_some() {
                        r.feed(Which::Contender, Event::Stop(bye.clone())).await;
                    }
                    r.feed(Which::Main, Event::Stop(bye)).await;
                    return;
                }
                () = sleep_until(timer.map_or_else(Instant::now, |(at, _, _)| at)), if timer.is_some() => {
                    if let Some((_, t, w)) = timer {
                        if let Some(m) = r.machine_mut(w) {
                            m.timers[t as usize] = None;
                        }
                        let event = match t {
                            Timer::ConnectRetry => Event::ConnectRetryTimerExpires,
                            Timer::Hold => Event::HoldTimerExpires,
                            Timer::Keepalive => Event::KeepaliveTimerExpires,
                        };
                        r.feed(w, event).await;
                    }
                }
                result = join_pending(&mut r.connecting), if r.connecting.is_some() => {
                    r.connecting = None;
                    match result {
                        Ok(Ok(stream)) => {
                            r.attach(Which::Main, stream, true);
                            r.feed(Which::Main, Event::TcpConnectionConfirmed).await;
                        }
                        Ok(Err(e)) => {
                            debug!(peer = %r.task.config.address, error = %e, "BGP connect failed");
                            r.feed(Which::Main, Event::TcpConnectionFails).await;
                        }
                        Err(_) => {} // aborted
                    }
                }
                Some(stream) = r.task.incoming.recv() => r.incoming(stream).await,
                Some((id, frame)) = frames_rx.recv() => r.frame(id, frame).await,
                Ok(()) = r.task.routes.changed() => r.sync_routes().await,
            }
        }
    }
}

impl Runner {
    fn machine(&self, w: Which) -> Option<&Machine> {
        match w {
            Which::Main => Some(&self.main),
            Which::Contender => self.contender.as_ref(),
        }
    }

    fn machine_mut(&mut self, w: Which) -> Option<&mut Machine> {
        match w {
            Which::Main => Some(&mut self.main),
            Which::Contender => self.contender.as_mut(),
        }
    }

    fn peer(&self) -> IpAddr {
        self.task.config.address
    }

    fn set_status(&self, f: impl FnOnce(&mut super::status::PeerStatus)) {
        let i = self.task.index;
        self.task.status.send_modify(|v| {
            if let Some(s) = v.get_mut(i) {
                f(s);
            }
        });
    }

    /// Gives a machine a connection and starts its reader.
    fn attach(&mut self, w: Which, stream: TcpStream, outgoing: bool) {
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
        let (reader, writer) = stream.into_split();
        self.next_conn_id += 1;
        let id = self.next_conn_id;
        let reader = AbortOnDrop(tokio::spawn(read_frames(
            id,
            reader,
            self.frames_tx.clone(),
        )));
        if let Some(m) = self.machine_mut(w) {
            m.conn = Some(Conn {
                id,
                writer,
                _reader: reader,
                outgoing,
                local,
            });
            m.codec = Codec::default();
        }
    }

    /// A connection from the peer (the listener matched its address).
    async fn incoming(&mut self, stream: TcpStream) {
        if self.main.conn.is_none() {
            if let Some(h) = self.connecting.take() {
                h.abort();
            }
            self.attach(Which::Main, stream, false);
            self.feed(Which::Main, Event::TcpConnectionConfirmed).await;
            return;
        }
        if self.contender.is_some() || self.main.fsm.state() == State::Established {
            // RFC 4271 §6.8: an Established session stays; one contender at a time.
            debug!(peer = %self.peer(), "refusing a second connection from the peer");
            refuse(stream).await;
            return;
        }
        let fsm = Fsm::new_incoming(self.task.fsm_config.clone(), rand::random::<u64>());
        self.contender = Some(Machine::new(fsm));
        self.attach(Which::Contender, stream, false);
        self.feed(Which::Contender, Event::TcpConnectionConfirmed)
            .await;
    }

    async fn frame(&mut self, id: u64, frame: Frame) {
        let w = if self.main.conn.as_ref().is_some_and(|c| c.id == id) {
            Which::Main
        } else if self
            .contender
            .as_ref()
            .and_then(|m| m.conn.as_ref())
            .is_some_and(|c| c.id == id)
        {
            Which::Contender
        } else {
            return; // from a connection already closed
        };
        let event = match frame {
            Frame::Message(bytes) => {
                let codec = self.machine(w).map(|m| m.codec).unwrap_or_default();
                match message::decode(&bytes, codec) {
                    Ok(msg) => {
                        let kind = msg.kind();
                        self.set_status(|s| s.received.count(kind, 1));
                        if let Message::Update(u) = &msg
                            && !u.errors.is_empty()
                        {
                            self.revised(u);
                        }
                        if let Message::Notification(n) = &msg {
                            warn!(peer = %self.peer(), notification = %n, "the peer closed the session with a NOTIFICATION");
                            let e = LastError::new(false, n);
                            self.set_status(|s| s.last_error = Some(e));
                        }
                        Event::Received(msg)
                    }
                    Err(n) => {
                        warn!(peer = %self.peer(), error = %n, "malformed message from the peer");
                        Event::MessageError(n)
                    }
                }
            }
            Frame::Error(n) => {
                warn!(peer = %self.peer(), error = %n, "malformed message header from the peer");
                Event::MessageError(n)
            }
            Frame::Closed(why) => {
                debug!(peer = %self.peer(), why, "connection closed");
                Event::TcpConnectionFails
            }
        };
        self.feed(w, event).await;
    }

    /// A malformed UPDATE that RFC 7606 lets the session survive: counted; logged as a
    /// warning the first time for this peer, afterwards at debug level (a peer that
    /// sends the same broken attribute with every UPDATE must not flood the log).
    fn revised(&self, update: &Update) {
        let first = self
            .task
            .status
            .borrow()
            .get(self.task.index)
            .is_some_and(|s| s.treated_as_withdraw + s.attributes_discarded == 0);
        let errors = update
            .errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if first {
            warn!(peer = %self.peer(), %errors,
                "malformed UPDATE from the peer; the session stays (RFC 7606); further ones are counted in status and metrics");
        } else {
            debug!(peer = %self.peer(), %errors, "malformed UPDATE from the peer; the session stays (RFC 7606)");
        }
        self.set_status(|s| s.count_revised(update));
    }

    /// Runs `event` through a machine and carries out the actions, and whatever follows
    /// from them (a failed write is a failed connection).
    async fn feed(&mut self, w: Which, event: Event) {
        let mut queue = VecDeque::from([(w, event)]);
        while let Some((w, event)) = queue.pop_front() {
            let Some(m) = self.machine_mut(w) else {
                continue;
            };
            let before = m.fsm.state();
            let actions = m.fsm.process(event);
            let after = m.fsm.state();
            for action in actions {
                self.act(w, action, &mut queue).await;
            }
            if before != after {
                if w == Which::Main {
                    // One line per transition; a peer that stays down adds one per retry,
                    // and the retries back off to a minute.
                    info!(peer = %self.peer(), from = %before, to = %after, "BGP session state");
                    self.set_status(|s| {
                        s.state = after;
                        if after != State::Established {
                            s.established_since = None;
                        }
                    });
                }
                if w == Which::Contender && after == State::Idle {
                    self.contender = None;
                }
            }
        }
    }

    async fn act(&mut self, w: Which, action: Action, queue: &mut VecDeque<(Which, Event)>) {
        match action {
            Action::Connect => {
                if let Some(h) = self.connecting.take() {
                    h.abort();
                }
                self.connecting = Some(tokio::spawn(connect(self.task.config.clone())));
            }
            Action::Disconnect => {
                if let Some(m) = self.machine_mut(w) {
                    m.conn = None;
                    m.ctx = None;
                    m.sent.clear();
                }
                if w == Which::Main
                    && let Some(h) = self.connecting.take()
                {
                    h.abort();
                }
            }
            Action::Send(msg) => {
                if let Message::Notification(n) = &msg {
                    info!(peer = %self.peer(), notification = %n, "sending NOTIFICATION");
                    let e = LastError::new(true, n);
                    self.set_status(|s| s.last_error = Some(e));
                }
                let kind = msg.kind();
                let codec = self.machine(w).map(|m| m.codec).unwrap_or_default();
                let bytes = msg.encode(codec);
                if self.write(w, &bytes).await.is_ok() {
                    self.set_status(|s| s.sent.count(kind, 1));
                } else if kind != message::kind::NOTIFICATION {
                    queue.push_back((w, Event::TcpConnectionFails));
                }
            }
            Action::StartTimer(t, d) => {
                if let Some(m) = self.machine_mut(w) {
                    m.timers[t as usize] = Some(Instant::now() + d);
                }
            }
            Action::StopTimer(t) => {
                if let Some(m) = self.machine_mut(w) {
                    m.timers[t as usize] = None;
                }
            }
            Action::OpenReceived(n) => {
                if let Some(m) = self.machine_mut(w) {
                    m.codec.four_octet_as = n.four_octet_as;
                }
                self.resolve_collision(w, &n, queue);
            }
            Action::Established(n) => self.established(w, n, queue).await,
            Action::Resend(family) => {
                let Some(m) = self.machine(w) else { return };
                let Some(ctx) = m.ctx.clone() else { return };
                let mine: RouteSet = m
                    .sent
                    .iter()
                    .filter(|(p, _)| Family::of(p) == family)
                    .map(|(p, a)| (*p, a.clone()))
                    .collect();
                info!(peer = %self.peer(), %family, prefixes = mine.len(), "route refresh: sending the routes again");
                let mut updates = routes::updates(&ctx, &mine, &[]);
                let (afi, safi) = family.afi_safi();
                updates.push(Update::end_of_rib(afi, safi));
                if self.send_updates(w, &ctx, &updates).await.is_err() {
                    queue.push_back((w, Event::TcpConnectionFails));
                }
            }
            Action::Down => {
                warn!(peer = %self.peer(), "BGP session down; the peer drops this side's routes");
                self.set_status(|s| {
                    s.flaps += 1;
                    s.prefixes_announced = 0;
                    s.families.clear();
                });
            }
        }
    }

    async fn established(&mut self, w: Which, n: Negotiated, queue: &mut VecDeque<(Which, Event)>) {
        if w == Which::Contender {
            self.promote();
        }
        let w = Which::Main;
        let Some(local) = self.main.conn.as_ref().map(|c| c.local.ip()) else {
            return;
        };
        let (next_hop_v4, next_hop_v6) = routes::next_hops(
            local,
            self.task.config.next_hop_v4,
            self.task.config.next_hop_v6,
        );
        let ctx = PeerContext {
            local_as: self.task.fsm_config.local_as,
            ibgp: n.ibgp(self.task.fsm_config.local_as),
            codec: self.main.codec,
            families: n.families.clone(),
            next_hop_v4,
            next_hop_v6,
            ipv4_over_ipv6: n.ipv4_over_ipv6,
            next_hop_v6_link_local: self.task.config.next_hop_v6_link_local,
        };
        let published = self.task.routes.borrow_and_update().clone();
        let table = routes::for_peer(&ctx, &published.routes);
        let mut updates = routes::updates(&ctx, &table, &[]);
        for family in &n.families {
            let (afi, safi) = family.afi_safi();
            updates.push(Update::end_of_rib(afi, safi));
        }
        let skipped: Vec<String> = [Family::Ipv4Unicast, Family::Ipv6Unicast]
            .into_iter()
            .filter(|f| published.routes.keys().any(|p| Family::of(p) == *f) && !ctx.can_send(*f))
            .map(|f| f.to_string())
            .collect();
        info!(peer = %self.peer(), peer_as = n.peer_as, peer_id = %n.peer_id,
            hold = n.hold_time.as_secs(), families = %n.families.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "),
            ipv4_over_ipv6 = ctx.ipv4_over_ipv6 && ctx.next_hop_v6.is_some(),
            prefixes = table.len(), "BGP session established; sending the full table and End-of-RIB");
        if !skipped.is_empty() {
            warn!(peer = %self.peer(), families = %skipped.join(" "),
                "this session cannot carry these families (not negotiated, or no next hop: set next_hop for them)");
        }
        self.main.ctx = Some(ctx.clone());
        let count = table.len();
        self.main.sent = table;
        let families = n.families.clone();
        self.set_status(|s| {
            s.state = State::Established;
            s.established_since = Some(SystemTime::now());
            s.families = families;
            s.prefixes_announced = count;
            s.routes_version = published.version;
        });
        if self.send_updates(w, &ctx, &updates).await.is_err() {
            queue.push_back((w, Event::TcpConnectionFails));
        }
    }

    /// Sends the difference between what the peer has and the desired routes.
    async fn sync_routes(&mut self) {
        let published = self.task.routes.borrow_and_update().clone();
        if self.main.fsm.state() != State::Established {
            return;
        }
        let Some(ctx) = self.main.ctx.clone() else {
            return;
        };
        let target = routes::for_peer(&ctx, &published.routes);
        let (announce, withdraw) = routes::diff(&self.main.sent, &target);
        let updates = routes::updates(&ctx, &announce, &withdraw);
        let count = target.len();
        self.main.sent = target;
        if !updates.is_empty()
            && self
                .send_updates(Which::Main, &ctx, &updates)
                .await
                .is_err()
        {
            self.feed(Which::Main, Event::TcpConnectionFails).await;
            return;
        }
        self.set_status(|s| {
            s.prefixes_announced = count;
            s.routes_version = published.version;
        });
    }

    /// Writes UPDATEs in one go (one system call for a whole table).
    async fn send_updates(
        &mut self,
        w: Which,
        ctx: &PeerContext,
        updates: &[Update],
    ) -> io::Result<()> {
        let mut bytes = Vec::new();
        for u in updates {
            bytes.extend_from_slice(&Message::Update(u.clone()).encode(ctx.codec));
        }
        self.write(w, &bytes).await?;
        let n = updates.len() as u64;
        self.set_status(|s| s.sent.count(message::kind::UPDATE, n));
        Ok(())
    }

    async fn write(&mut self, w: Which, bytes: &[u8]) -> io::Result<()> {
        let Some(conn) = self.machine_mut(w).and_then(|m| m.conn.as_mut()) else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "no connection"));
        };
        // A peer that stops reading must not stall this task forever; the hold time is
        // what it would take the peer to notice us gone anyway.
        match timeout(Duration::from_secs(30), conn.writer.write_all(bytes)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the peer does not read",
            )),
        }
    }
}
