//! The BGP session state machine of RFC 4271 §8, without I/O: [`Fsm::process`] takes an
//! event and returns the actions the session task carries out (connect, send, arm a
//! timer, ...). The task owns the socket and the timers; this type owns every decision.
//!
//! Differences from the RFC's optional parts: no DelayOpen, no DampPeerOscillations
//! beyond the growing connect-retry delay, and a session that failed restarts by itself
//! (AutomaticStart) after that delay. The delay doubles with each consecutive failure up
//! to a ceiling, with the jitter of §10 (×0.75…1.0), and resets once a session reaches
//! Established. A passive peer never connects, it only waits in Active.

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
mod tests {
    use super::*;
    use crate::bgp::message::Update;

    fn config(passive: bool) -> FsmConfig {
        FsmConfig {
            local_as: 65001,
            local_id: Ipv4Addr::new(192, 0, 2, 1),
            peer_as: 65000,
            hold_time: 90,
            keepalive: None,
            passive,
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            connect_retry: Duration::from_secs(2),
            connect_retry_max: Duration::from_secs(60),
            graceful_restart: None,
            extended_next_hop: false,
        }
    }

    fn peer_open(asn: u32, hold: u16) -> Message {
        Message::Open(Open::new(
            asn,
            hold,
            Ipv4Addr::new(192, 0, 2, 2),
            vec![
                Capability::family(Family::Ipv4Unicast),
                Capability::family(Family::Ipv6Unicast),
                Capability::RouteRefresh,
            ],
        ))
    }

    fn has_send(actions: &[Action], pred: impl Fn(&Message) -> bool) -> bool {
        actions
            .iter()
            .any(|a| matches!(a, Action::Send(m) if pred(m)))
    }

    fn sent_notification(actions: &[Action]) -> Option<(u8, u8)> {
        actions.iter().find_map(|a| match a {
            Action::Send(Message::Notification(n)) => Some((n.code, n.subcode)),
            _ => None,
        })
    }

    /// Drives a fresh machine into `state`.
    fn fsm_in(state: State) -> Fsm {
        let mut f = Fsm::new(config(false), 7);
        if state == State::Idle {
            return f;
        }
        f.process(Event::Start);
        if state == State::Connect {
            return f;
        }
        if state == State::Active {
            f.process(Event::TcpConnectionFails);
            return f;
        }
        f.process(Event::TcpConnectionConfirmed);
        if state == State::OpenSent {
            return f;
        }
        f.process(Event::Received(peer_open(65000, 30)));
        if state == State::OpenConfirm {
            return f;
        }
        f.process(Event::Received(Message::Keepalive));
        assert_eq!(f.state(), State::Established);
        f
    }

    const ALL: [State; 6] = [
        State::Idle,
        State::Connect,
        State::Active,
        State::OpenSent,
        State::OpenConfirm,
        State::Established,
    ];

    fn every_event() -> Vec<Event> {
        vec![
            Event::Start,
            Event::Stop(Notification::cease(2)),
            Event::ConnectRetryTimerExpires,
            Event::HoldTimerExpires,
            Event::KeepaliveTimerExpires,
            Event::TcpConnectionConfirmed,
            Event::TcpConnectionFails,
            Event::Received(peer_open(65000, 30)),
            Event::Received(Message::Keepalive),
            Event::Received(Message::Update(Update::default())),
            Event::Received(Message::Notification(Notification::cease(2))),
            Event::Received(Message::RouteRefresh(RouteRefresh { afi: 1, safi: 1 })),
            Event::MessageError(Notification::new(1, 1, vec![])),
        ]
    }

    /// The expected next state for every (state, event) pair: the table of RFC 4271 §8.2.2
    /// as this machine implements it.
    fn expected(state: State, event: &Event) -> State {
        use State::*;
        match (state, event) {
            (Idle, Event::Start) => Connect,
            (Idle, _) => Idle,
            (Connect | Active, Event::Stop(_)) => Idle,
            (Connect | Active, Event::ConnectRetryTimerExpires) => Connect,
            (Connect | Active, Event::TcpConnectionConfirmed) => OpenSent,
            (Connect | Active, Event::TcpConnectionFails) => Active,
            (s @ (Connect | Active), _) => s,
            (s, Event::Start | Event::ConnectRetryTimerExpires | Event::TcpConnectionConfirmed) => {
                s
            }
            (OpenSent, Event::KeepaliveTimerExpires) => OpenSent,
            (s @ (OpenConfirm | Established), Event::KeepaliveTimerExpires) => s,
            (OpenSent, Event::TcpConnectionFails) => Active,
            (OpenSent, Event::Received(Message::Open(_))) => OpenConfirm,
            (OpenConfirm, Event::Received(Message::Keepalive)) => Established,
            (
                Established,
                Event::Received(Message::Keepalive | Message::Update(_) | Message::RouteRefresh(_)),
            ) => Established,
            _ => Idle,
        }
    }

    #[test]
    fn every_event_in_every_state() {
        for state in ALL {
            for event in every_event() {
                let mut f = fsm_in(state);
                assert_eq!(f.state(), state);
                let actions = f.process(event.clone());
                let want = expected(state, &event);
                assert_eq!(f.state(), want, "{state:?} + {event:?} → {actions:?}");
                // Leaving Established always reports Down, and only then.
                let down = actions.contains(&Action::Down);
                assert_eq!(
                    down,
                    state == State::Established && want != State::Established,
                    "{state:?} + {event:?}"
                );
                // Whenever a connection is dropped to Idle, nothing stays armed but the
                // automatic restart.
                if want == State::Idle && state >= State::OpenSent {
                    assert!(
                        actions.contains(&Action::Disconnect),
                        "{state:?} + {event:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_full_session_comes_up_with_negotiated_timers() {
        let mut f = Fsm::new(config(false), 1);
        let a = f.process(Event::Start);
        assert_eq!(a[0], Action::Connect);
        assert!(
            matches!(a[1], Action::StartTimer(Timer::ConnectRetry, d) if d >= Duration::from_millis(1500) && d <= Duration::from_secs(2))
        );
        let a = f.process(Event::TcpConnectionConfirmed);
        assert!(has_send(
            &a,
            |m| matches!(m, Message::Open(o) if o.hold_time == 90 && o.asn() == 65001)
        ));
        assert!(a.contains(&Action::StartTimer(Timer::Hold, OPEN_HOLD_TIME)));
        let a = f.process(Event::Received(peer_open(65000, 30)));
        assert!(has_send(&a, |m| *m == Message::Keepalive));
        assert!(a.contains(&Action::StartTimer(Timer::Hold, Duration::from_secs(30))));
        assert!(a.contains(&Action::StartTimer(
            Timer::Keepalive,
            Duration::from_secs(10)
        )));
        let a = f.process(Event::Received(Message::Keepalive));
        let Some(Action::Established(n)) = a.iter().find(|a| matches!(a, Action::Established(_)))
        else {
            panic!("{a:?}")
        };
        assert_eq!(n.families, vec![Family::Ipv4Unicast, Family::Ipv6Unicast]);
        assert!(n.four_octet_as && n.route_refresh);
        assert!(!n.ibgp(65001));
        // Keepalives keep the session; each restarts the hold timer.
        let a = f.process(Event::Received(Message::Keepalive));
        assert_eq!(
            a,
            vec![Action::StartTimer(Timer::Hold, Duration::from_secs(30))]
        );
        let a = f.process(Event::KeepaliveTimerExpires);
        assert_eq!(
            a,
            vec![
                Action::Send(Message::Keepalive),
                Action::StartTimer(Timer::Keepalive, Duration::from_secs(10))
            ]
        );
    }

    #[test]
    fn configured_keepalive_and_zero_hold() {
        let mut c = config(false);
        c.keepalive = Some(3);
        let mut f = Fsm::new(c, 1);
        f.process(Event::Start);
        f.process(Event::TcpConnectionConfirmed);
        let a = f.process(Event::Received(peer_open(65000, 90)));
        assert!(a.contains(&Action::StartTimer(
            Timer::Keepalive,
            Duration::from_secs(3)
        )));
        let mut f = Fsm::new(config(false), 1);
        f.process(Event::Start);
        f.process(Event::TcpConnectionConfirmed);
        let a = f.process(Event::Received(peer_open(65000, 0)));
        assert!(a.contains(&Action::StopTimer(Timer::Hold)));
        assert!(
            !a.iter()
                .any(|a| matches!(a, Action::StartTimer(Timer::Keepalive, _)))
        );
    }

    #[test]
    fn wrong_peer_as_is_refused_with_bad_peer_as() {
        let mut f = fsm_in(State::OpenSent);
        let a = f.process(Event::Received(peer_open(65099, 90)));
        assert_eq!(sent_notification(&a), Some((2, 2)));
        assert_eq!(f.state(), State::Idle);
    }

    #[test]
    fn ibgp_with_our_own_identifier_is_refused() {
        let mut c = config(false);
        c.peer_as = 65001;
        let mut f = Fsm::new(c, 1);
        f.process(Event::Start);
        f.process(Event::TcpConnectionConfirmed);
        let open = Open::new(65001, 90, Ipv4Addr::new(192, 0, 2, 1), vec![]);
        let a = f.process(Event::Received(Message::Open(open)));
        assert_eq!(sent_notification(&a), Some((2, 3)));
    }

    #[test]
    fn unexpected_messages_are_fsm_errors_with_the_state_in_the_subcode() {
        for (state, subcode) in [
            (State::OpenSent, 1),
            (State::OpenConfirm, 2),
            (State::Established, 3),
        ] {
            let mut f = fsm_in(state);
            let msg = if state == State::OpenSent {
                Message::Keepalive
            } else {
                peer_open(65000, 90)
            };
            let a = f.process(Event::Received(msg));
            assert_eq!(sent_notification(&a), Some((5, subcode)), "{state:?}");
        }
        let mut f = fsm_in(State::OpenConfirm);
        let a = f.process(Event::Received(Message::Update(Update::default())));
        assert_eq!(sent_notification(&a), Some((5, 2)));
    }

    #[test]
    fn hold_timer_expiry_sends_code_4() {
        for state in [State::OpenSent, State::OpenConfirm, State::Established] {
            let mut f = fsm_in(state);
            let a = f.process(Event::HoldTimerExpires);
            assert_eq!(sent_notification(&a), Some((4, 0)));
        }
    }

    #[test]
    fn route_refresh_resends_only_negotiated_families() {
        let mut f = fsm_in(State::Established);
        let a = f.process(Event::Received(Message::RouteRefresh(RouteRefresh {
            afi: AFI_IPV6,
            safi: 1,
        })));
        assert!(a.contains(&Action::Resend(Family::Ipv6Unicast)));
        let a = f.process(Event::Received(Message::RouteRefresh(RouteRefresh {
            afi: 25,
            safi: 65,
        })));
        assert!(!a.iter().any(|a| matches!(a, Action::Resend(_))));
    }

    #[test]
    fn families_are_the_intersection() {
        let mut c = config(false);
        c.families = vec![Family::Ipv6Unicast];
        let mut f = Fsm::new(c, 1);
        f.process(Event::Start);
        f.process(Event::TcpConnectionConfirmed);
        let open = Open::new(
            65000,
            90,
            Ipv4Addr::new(192, 0, 2, 2),
            vec![Capability::family(Family::Ipv4Unicast)],
        );
        f.process(Event::Received(Message::Open(open)));
        assert!(f.negotiated().unwrap().families.is_empty());
        // A peer without any MP capability: IPv4 unicast.
        let mut f = Fsm::new(config(false), 1);
        f.process(Event::Start);
        f.process(Event::TcpConnectionConfirmed);
        f.process(Event::Received(Message::Open(Open {
            my_as: 65000,
            hold_time: 90,
            router_id: Ipv4Addr::new(192, 0, 2, 2),
            capabilities: vec![],
        })));
        let n = f.negotiated().unwrap();
        assert_eq!(n.families, vec![Family::Ipv4Unicast]);
        assert!(!n.four_octet_as);
    }

    fn retry_of(actions: &[Action]) -> Option<Duration> {
        actions.iter().find_map(|a| match a {
            Action::StartTimer(Timer::ConnectRetry, d) => Some(*d),
            _ => None,
        })
    }

    #[test]
    fn connect_retry_backs_off_with_jitter_and_resets_when_established() {
        let mut f = Fsm::new(config(false), 42);
        f.process(Event::Start);
        let mut delays = vec![];
        for _ in 0..8 {
            delays.push(retry_of(&f.process(Event::TcpConnectionFails)).unwrap());
            f.process(Event::ConnectRetryTimerExpires);
        }
        // 2 s doubling, ×0.75…1.0, capped at 60 s.
        for (i, d) in delays.iter().enumerate() {
            let nominal = Duration::from_secs(2 << (i + 1)).min(Duration::from_secs(60));
            assert!(*d <= nominal && *d >= nominal.mul_f64(0.75), "{i}: {d:?}");
        }
        assert_ne!(delays[6], delays[7], "jitter");
        // Once Established, the next failure retries after the base delay again.
        f.process(Event::TcpConnectionConfirmed);
        f.process(Event::Received(peer_open(65000, 90)));
        f.process(Event::Received(Message::Keepalive));
        let d = retry_of(&f.process(Event::TcpConnectionFails)).unwrap();
        assert!(d <= Duration::from_secs(4), "{d:?}");
        // And the automatic restart connects again.
        assert_eq!(f.state(), State::Idle);
        let a = f.process(Event::ConnectRetryTimerExpires);
        assert_eq!(a[0], Action::Connect);
    }

    #[test]
    fn stop_closes_with_the_given_cease_and_stays_down() {
        let mut f = fsm_in(State::Established);
        let a = f.process(Event::Stop(Notification::cease(2)));
        assert_eq!(sent_notification(&a), Some((6, 2)));
        assert!(a.contains(&Action::Down));
        assert!(f.process(Event::ConnectRetryTimerExpires).is_empty());
        assert_eq!(f.state(), State::Idle);
    }

    #[test]
    fn a_failed_session_takes_the_peers_connection_while_waiting_to_retry() {
        let mut f = fsm_in(State::Established);
        f.process(Event::TcpConnectionFails);
        assert_eq!(f.state(), State::Idle);
        let a = f.process(Event::TcpConnectionConfirmed);
        assert!(has_send(&a, |m| matches!(m, Message::Open(_))));
        assert_eq!(f.state(), State::OpenSent);
        let mut incoming = Fsm::new_incoming(config(false), 3);
        incoming.process(Event::TcpConnectionConfirmed);
        assert_eq!(incoming.state(), State::OpenSent);
    }

    #[test]
    fn passive_peers_never_connect() {
        let mut f = Fsm::new(config(true), 1);
        let a = f.process(Event::Start);
        assert!(a.is_empty());
        assert_eq!(f.state(), State::Active);
        assert!(f.process(Event::ConnectRetryTimerExpires).is_empty());
        assert_eq!(f.state(), State::Active);
        let a = f.process(Event::TcpConnectionConfirmed);
        assert!(has_send(&a, |m| matches!(m, Message::Open(_))));
        let a = f.process(Event::TcpConnectionFails);
        assert!(!a.contains(&Action::Connect));
    }

    #[test]
    fn collisions_keep_the_connection_of_the_higher_identifier() {
        let low = Ipv4Addr::new(192, 0, 2, 1);
        let high = Ipv4Addr::new(192, 0, 2, 2);
        // We are lower: the peer's connection wins, whichever came first.
        assert_eq!(
            resolve_collision(State::OpenConfirm, true, low, high),
            Survivor::New
        );
        assert_eq!(
            resolve_collision(State::OpenConfirm, false, low, high),
            Survivor::Existing
        );
        // We are higher: ours wins.
        assert_eq!(
            resolve_collision(State::OpenSent, true, high, low),
            Survivor::Existing
        );
        assert_eq!(
            resolve_collision(State::OpenSent, false, high, low),
            Survivor::New
        );
        // Established always stays; no connection yet: take the new one.
        assert_eq!(
            resolve_collision(State::Established, false, low, high),
            Survivor::Existing
        );
        assert_eq!(
            resolve_collision(State::Active, true, high, low),
            Survivor::New
        );
    }

    #[test]
    fn graceful_restart_is_announced_when_configured() {
        let mut c = config(false);
        c.graceful_restart = Some(120);
        let open = Fsm::new(c, 1).open();
        assert!(open.capabilities.iter().any(|c| matches!(
            c,
            Capability::GracefulRestart {
                restart_time: 120,
                ..
            }
        )));
    }

    #[test]
    fn extended_next_hop_is_offered_when_configured_and_used_when_both_agree() {
        let mut c = config(false);
        assert!(!Fsm::new(c.clone(), 1).open().ipv4_over_ipv6());
        c.extended_next_hop = true;
        let fsm = Fsm::new(c.clone(), 1);
        assert!(fsm.open().ipv4_over_ipv6());
        let peer = |enh: bool| {
            let mut caps = vec![
                Capability::family(Family::Ipv4Unicast),
                Capability::family(Family::Ipv6Unicast),
            ];
            if enh {
                caps.push(Capability::ExtendedNextHop(vec![(1, 1, 2)]));
            }
            Open::new(65000, 90, Ipv4Addr::new(192, 0, 2, 2), caps)
        };
        assert!(fsm.check_open(&peer(true)).unwrap().ipv4_over_ipv6);
        assert!(!fsm.check_open(&peer(false)).unwrap().ipv4_over_ipv6);
        // Not offered by this side: not used even when the peer offers it.
        c.extended_next_hop = false;
        assert!(
            !Fsm::new(c, 1)
                .check_open(&peer(true))
                .unwrap()
                .ipv4_over_ipv6
        );
    }
}
