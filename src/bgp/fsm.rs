//! The BGP session state machine of RFC 4271 §8, without I/O: [`Fsm::process`] takes an
//! event and returns the actions the session task carries out (connect, send, arm a
//! timer, ...). The task owns the socket and the timers; this type owns every decision.
//!
//! Differences from the RFC's optional parts: no DelayOpen, no DampPeerOscillations
//! beyond the growing connect-retry delay, and a session that failed restarts by itself
//! (AutomaticStart) after that delay. The delay doubles with each consecutive failure up
//! to a ceiling, with the jitter of §10 (×0.75…1.0), and resets once a session reaches
//! Established. A passive peer never connects, it only waits in Active.
//!
//! `process` is one match over (state, event), as the RFC's §8.2.2 tables are laid out, so
//! its length (about 160 lines) is the table's; each arm is short. The tests are in
//! `fsm_tests.rs`.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::backoff::Backoff;

use super::message::notification::{code, fsm_error, open_error};
use super::message::{
    AFI_IPV4, AFI_IPV6, Capability, Family, Message, Notification, Open, RouteRefresh, SAFI_UNICAST,
};

/// RFC 4271 §8.2.2: the hold time while waiting for the peer's OPEN ("a large value").
pub const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Connect => "connect",
            State::Active => "active",
            State::OpenSent => "opensent",
            State::OpenConfirm => "openconfirm",
            State::Established => "established",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    ConnectRetry,
    Hold,
    Keepalive,
}

/// What happens to a session (RFC 4271 §8.1 event names in the comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Event 1 ManualStart (Event 4 ManualStart_with_PassiveTcpEstablishment when passive).
    Start,
    /// Event 2 ManualStop: close with this NOTIFICATION (a Cease) and stay down.
    Stop(Notification),
    /// Event 9 ConnectRetryTimer_Expires.
    ConnectRetryTimerExpires,
    /// Event 10 HoldTimer_Expires.
    HoldTimerExpires,
    /// Event 11 KeepaliveTimer_Expires.
    KeepaliveTimerExpires,
    /// Events 16/17 Tcp_CR_Acked / TcpConnectionConfirmed: a connection is up.
    TcpConnectionConfirmed,
    /// Event 18 TcpConnectionFails.
    TcpConnectionFails,
    /// Events 19–28: a message arrived.
    Received(Message),
    /// Events 21/22/28 (BGPHeaderErr, BGPOpenMsgErr, UpdateMsgErr): the decoder's answer.
    MessageError(Notification),
}

/// What the session task must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open an outgoing TCP connection.
    Connect,
    /// Close the connection (and abandon a pending connect).
    Disconnect,
    Send(Message),
    StartTimer(Timer, Duration),
    StopTimer(Timer),
    /// The peer's OPEN was accepted (collision detection needs its BGP Identifier).
    OpenReceived(Negotiated),
    /// The session is Established: send every route, then End-of-RIB.
    Established(Negotiated),
    /// The peer asked for a family's routes again (RFC 2918): send them all.
    Resend(Family),
    /// The session left Established; everything announced on it is gone at the peer.
    Down,
}

/// The session's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsmConfig {
    pub local_as: u32,
    pub local_id: Ipv4Addr,
    pub peer_as: u32,
    /// Proposed hold time in seconds (0 or 3..=65535).
    pub hold_time: u16,
    /// Keepalive interval when shorter than hold/3.
    pub keepalive: Option<u16>,
    pub passive: bool,
    pub families: Vec<Family>,
    /// First connect-retry delay, and the ceiling it doubles up to.
    pub connect_retry: Duration,
    pub connect_retry_max: Duration,
    /// Announce graceful restart with this restart time (seconds).
    pub graceful_restart: Option<u16>,
    /// Offer IPv4 routes with an IPv6 next hop (RFC 8950 extended next hop).
    pub extended_next_hop: bool,
}

/// What both sides agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub peer_id: Ipv4Addr,
    pub peer_as: u32,
    /// Zero: no hold timer and no keepalives.
    pub hold_time: Duration,
    pub keepalive: Duration,
    /// Families both sides announced.
    pub families: Vec<Family>,
    pub four_octet_as: bool,
    pub route_refresh: bool,
    /// Both sides take IPv4 unicast routes with an IPv6 next hop (RFC 8950).
    pub ipv4_over_ipv6: bool,
}

impl Negotiated {
    pub fn ibgp(&self, local_as: u32) -> bool {
        self.peer_as == local_as
    }
}

/// Which of two colliding connections survives (RFC 4271 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Survivor {
    Existing,
    New,
}

/// RFC 4271 §6.8: an Established session always wins; otherwise the connection opened
/// by the side with the higher BGP Identifier survives. `existing_outgoing`: whether the
/// existing connection was opened by this side (the new one then is the peer's).
pub fn resolve_collision(
    existing: State,
    existing_outgoing: bool,
    local_id: Ipv4Addr,
    remote_id: Ipv4Addr,
) -> Survivor {
    match existing {
        State::Established => Survivor::Existing,
        State::Idle | State::Connect | State::Active => Survivor::New,
        State::OpenSent | State::OpenConfirm => {
            let keep_local = u32::from(local_id) > u32::from(remote_id);
            if keep_local == existing_outgoing {
                Survivor::Existing
            } else {
                Survivor::New
            }
        }
    }
}

/// The state machine of one session.
#[derive(Debug, Clone)]
pub struct Fsm {
    config: FsmConfig,
    state: State,
    /// Consecutive failed attempts: the connect-retry delay grows with it.
    failures: u32,
    /// After Stop: no automatic restart.
    stopped: bool,
    negotiated: Option<Negotiated>,
    /// xorshift state for the jitter (seeded by the caller, so tests are repeatable).
    rng: u64,
}

impl Fsm {
    pub fn new(config: FsmConfig, seed: u64) -> Self {
        Fsm {
            config,
            state: State::Idle,
            failures: 0,
            stopped: true,
            negotiated: None,
            rng: seed | 1,
        }
    }

    /// A machine for a connection the peer opened while another one exists (collision
    /// detection runs both until one OPEN decides): already started, in Active.
    pub fn new_incoming(config: FsmConfig, seed: u64) -> Self {
        let mut fsm = Fsm::new(config, seed);
        fsm.stopped = false;
        fsm.state = State::Active;
        fsm
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    pub fn config(&self) -> &FsmConfig {
        &self.config
    }

    /// The OPEN this side sends.
    pub fn open(&self) -> Open {
        let c = &self.config;
        let mut caps: Vec<Capability> = c.families.iter().map(|f| Capability::family(*f)).collect();
        caps.push(Capability::RouteRefresh);
        if c.extended_next_hop && c.families.contains(&Family::Ipv4Unicast) {
            caps.push(Capability::ExtendedNextHop(vec![(
                AFI_IPV4,
                u16::from(SAFI_UNICAST),
                AFI_IPV6,
            )]));
        }
        if let Some(time) = c.graceful_restart {
            // Forwarding state "preserved" for every family: the routes live in the
            // configuration, so a restarted warden announces the same ones again.
            caps.push(Capability::GracefulRestart {
                restarting: false,
                restart_time: time.min(4095),
                families: c
                    .families
                    .iter()
                    .map(|f| {
                        let (afi, safi) = f.afi_safi();
                        (afi, safi, true)
                    })
                    .collect(),
            });
        }
        Open::new(c.local_as, c.hold_time, c.local_id, caps)
    }

    /// The connect-retry delay after `failures` consecutive failures, with jitter.
    fn retry_delay(&mut self) -> Duration {
        // xorshift64
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        let random = (x >> 11) as f64 / (1u64 << 53) as f64;
        Backoff::new(self.config.connect_retry, self.config.connect_retry_max).jittered(
            self.failures,
            0.75,
            random,
        )
    }

    pub fn process(&mut self, event: Event) -> Vec<Action> {
        use Action as A;
        let mut out = Vec::new();
        match (self.state, event) {
            // ----- Idle: no connection.
            (State::Idle, Event::Start) => {
                self.stopped = false;
                self.start(&mut out);
            }
            (State::Idle, Event::ConnectRetryTimerExpires) if !self.stopped => {
                self.start(&mut out);
            }
            (State::Idle, Event::Stop(_)) => {
                self.stopped = true;
                self.failures = 0;
                out.push(A::StopTimer(Timer::ConnectRetry));
            }
            // While waiting to restart by itself, a connection from the peer is taken (as
            // AutomaticStart_with_PassiveTcpEstablishment would); after Stop it is
            // refused (§8.2.2, Idle state).
            (State::Idle, Event::TcpConnectionConfirmed) if !self.stopped => {
                out.push(A::StopTimer(Timer::ConnectRetry));
                out.push(A::Send(Message::Open(self.open())));
                out.push(A::StartTimer(Timer::Hold, OPEN_HOLD_TIME));
                self.state = State::OpenSent;
            }
            (State::Idle, Event::TcpConnectionConfirmed) => out.push(A::Disconnect),
            (State::Idle, _) => {}

            // ----- Connect / Active: waiting for a TCP connection.
            (State::Connect | State::Active, Event::Start) => {}
            (State::Connect | State::Active, Event::Stop(_)) => {
                out.push(A::Disconnect);
                self.stop_here(&mut out);
            }
            (State::Connect | State::Active, Event::ConnectRetryTimerExpires) => {
                if self.config.passive {
                    self.state = State::Active;
                } else {
                    out.push(A::Disconnect);
                    out.push(A::Connect);
                    let delay = self.retry_delay();
                    out.push(A::StartTimer(Timer::ConnectRetry, delay));
                    self.state = State::Connect;
                }
            }
            (State::Connect | State::Active, Event::TcpConnectionConfirmed) => {
                out.push(A::StopTimer(Timer::ConnectRetry));
                out.push(A::Send(Message::Open(self.open())));
                out.push(A::StartTimer(Timer::Hold, OPEN_HOLD_TIME));
                self.state = State::OpenSent;
            }
            (State::Connect | State::Active, Event::TcpConnectionFails) => {
                self.failures = self.failures.saturating_add(1);
                if !self.config.passive {
                    let delay = self.retry_delay();
                    out.push(A::StartTimer(Timer::ConnectRetry, delay));
                }
                self.state = State::Active;
            }
            // Stale timers and messages without a connection: nothing to do.
            (State::Connect | State::Active, _) => {}

            // ----- A connection exists.
            (_, Event::Start) => {}
            (_, Event::Stop(notification)) => {
                out.push(A::Send(Message::Notification(notification)));
                out.push(A::Disconnect);
                self.stop_here(&mut out);
            }
            (_, Event::ConnectRetryTimerExpires) => {}
            (_, Event::HoldTimerExpires) => {
                self.fail(
                    Some(Notification::new(code::HOLD_TIMER_EXPIRED, 0, vec![])),
                    &mut out,
                );
            }
            (State::OpenSent, Event::KeepaliveTimerExpires) => {}
            (_, Event::KeepaliveTimerExpires) => {
                out.push(A::Send(Message::Keepalive));
                if let Some(n) = &self.negotiated
                    && !n.keepalive.is_zero()
                {
                    out.push(A::StartTimer(Timer::Keepalive, n.keepalive));
                }
            }
            (State::OpenSent, Event::TcpConnectionFails) => {
                // §8.2.2 OpenSent: back to Active, retry later.
                out.push(A::Disconnect);
                out.push(A::StopTimer(Timer::Hold));
                self.failures = self.failures.saturating_add(1);
                if !self.config.passive {
                    let delay = self.retry_delay();
                    out.push(A::StartTimer(Timer::ConnectRetry, delay));
                }
                self.state = State::Active;
            }
            (_, Event::TcpConnectionFails) => self.fail(None, &mut out),
            (_, Event::TcpConnectionConfirmed) => {
                // A second connection is the session task's business (collision
                // detection); this machine keeps its own.
            }
            (_, Event::MessageError(notification)) => self.fail(Some(notification), &mut out),
            (_, Event::Received(Message::Notification(_))) => self.fail(None, &mut out),

            (State::OpenSent, Event::Received(Message::Open(open))) => {
                match self.check_open(&open) {
                    Err(notification) => self.fail(Some(notification), &mut out),
                    Ok(negotiated) => {
                        out.push(A::Send(Message::Keepalive));
                        if negotiated.hold_time.is_zero() {
                            out.push(A::StopTimer(Timer::Hold));
                        } else {
                            out.push(A::StartTimer(Timer::Hold, negotiated.hold_time));
                            out.push(A::StartTimer(Timer::Keepalive, negotiated.keepalive));
                        }
                        out.push(A::OpenReceived(negotiated.clone()));
                        self.negotiated = Some(negotiated);
                        self.state = State::OpenConfirm;
                    }
                }
            }
            (State::OpenSent, Event::Received(_)) => {
                self.unexpected(fsm_error::IN_OPEN_SENT, &mut out)
            }

            (State::OpenConfirm, Event::Received(Message::Keepalive)) => {
                let negotiated = self.negotiated.clone();
                if let Some(n) = negotiated {
                    self.restart_hold(&mut out);
                    self.failures = 0;
                    self.state = State::Established;
                    out.push(A::Established(n));
                }
            }
            (State::OpenConfirm, Event::Received(_)) => {
                self.unexpected(fsm_error::IN_OPEN_CONFIRM, &mut out)
            }

            (State::Established, Event::Received(Message::Keepalive | Message::Update(_))) => {
                // Announce-only: a well-formed UPDATE is dropped, it only proves liveness.
                self.restart_hold(&mut out);
            }
            (
                State::Established,
                Event::Received(Message::RouteRefresh(RouteRefresh { afi, safi })),
            ) => {
                self.restart_hold(&mut out);
                // RFC 2918 §4: a family that was not negotiated is ignored.
                if let Some(family) = Family::from_afi_safi(afi, safi)
                    && self
                        .negotiated
                        .as_ref()
                        .is_some_and(|n| n.families.contains(&family))
                {
                    out.push(A::Resend(family));
                }
            }
            (State::Established, Event::Received(Message::Open(_))) => {
                self.unexpected(fsm_error::IN_ESTABLISHED, &mut out)
            }
        }
        out
    }

    fn start(&mut self, out: &mut Vec<Action>) {
        if self.config.passive {
            self.state = State::Active;
        } else {
            out.push(Action::Connect);
            let delay = self.retry_delay();
            out.push(Action::StartTimer(Timer::ConnectRetry, delay));
            self.state = State::Connect;
        }
    }

    fn restart_hold(&self, out: &mut Vec<Action>) {
        if let Some(n) = &self.negotiated
            && !n.hold_time.is_zero()
        {
            out.push(Action::StartTimer(Timer::Hold, n.hold_time));
        }
    }

    fn unexpected(&mut self, subcode: u8, out: &mut Vec<Action>) {
        self.fail(Some(Notification::new(code::FSM, subcode, vec![])), out);
    }

    /// Closes the connection (after sending `notification`), goes to Idle and arms the
    /// automatic restart.
    fn fail(&mut self, notification: Option<Notification>, out: &mut Vec<Action>) {
        if let Some(n) = notification {
            out.push(Action::Send(Message::Notification(n)));
        }
        out.push(Action::Disconnect);
        out.push(Action::StopTimer(Timer::Hold));
        out.push(Action::StopTimer(Timer::Keepalive));
        if self.state == State::Established {
            out.push(Action::Down);
        }
        self.failures = self.failures.saturating_add(1);
        let delay = self.retry_delay();
        out.push(Action::StartTimer(Timer::ConnectRetry, delay));
        self.negotiated = None;
        self.state = State::Idle;
    }

    fn stop_here(&mut self, out: &mut Vec<Action>) {
        for t in [Timer::ConnectRetry, Timer::Hold, Timer::Keepalive] {
            out.push(Action::StopTimer(t));
        }
        if self.state == State::Established {
            out.push(Action::Down);
        }
        self.stopped = true;
        self.failures = 0;
        self.negotiated = None;
        self.state = State::Idle;
    }

    /// RFC 4271 §6.2 checks on the peer's OPEN (the decoder did the structural ones), and
    /// the negotiation of hold time, keepalive and families.
    fn check_open(&self, open: &Open) -> Result<Negotiated, Notification> {
        let c = &self.config;
        if open.asn() != c.peer_as {
            return Err(Notification::new(
                code::OPEN,
                open_error::BAD_PEER_AS,
                open.my_as.to_be_bytes().to_vec(),
            ));
        }
        if c.peer_as == c.local_as && open.router_id == c.local_id {
            return Err(Notification::new(
                code::OPEN,
                open_error::BAD_BGP_IDENTIFIER,
                vec![],
            ));
        }
        let hold = c.hold_time.min(open.hold_time);
        if hold != 0 && hold < 3 {
            return Err(Notification::new(
                code::OPEN,
                open_error::UNACCEPTABLE_HOLD_TIME,
                vec![],
            ));
        }
        let keepalive = match c.keepalive {
            Some(k) => k.min(hold / 3),
            None => hold / 3,
        };
        let theirs = open.families();
        let families = c
            .families
            .iter()
            .copied()
            .filter(|f| {
                theirs.contains(f)
                    // A peer that sent no MP capability speaks IPv4 unicast only; this side
                    // always sends them, so plain IPv4 works with an old peer too.
                    || (*f == Family::Ipv4Unicast && f.afi_safi().0 == AFI_IPV4 && theirs.is_empty())
            })
            .collect::<Vec<_>>();
        let ipv4_over_ipv6 =
            c.extended_next_hop && open.ipv4_over_ipv6() && families.contains(&Family::Ipv4Unicast);
        Ok(Negotiated {
            peer_id: open.router_id,
            peer_as: open.asn(),
            hold_time: Duration::from_secs(u64::from(hold)),
            keepalive: Duration::from_secs(u64::from(keepalive)),
            families,
            four_octet_as: open.four_octet_as(),
            route_refresh: open.has(&Capability::RouteRefresh),
            ipv4_over_ipv6,
        })
    }
}

#[cfg(test)]
#[path = "fsm_tests.rs"]
mod tests;
