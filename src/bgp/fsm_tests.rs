//! Tests of `fsm`.
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
        (s, Event::Start | Event::ConnectRetryTimerExpires | Event::TcpConnectionConfirmed) => s,
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
