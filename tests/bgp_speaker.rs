//! The speaker against a scripted peer on loopback: session set-up, the full table and
//! End-of-RIB, diffs, route refresh, and a fresh full table after the peer reconnects.
//! No namespaces, no root: the peer is this test, speaking through the crate's codec.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use anycast_warden::bgp::message::{
    self, Capability, Codec, Family, Message, Open, PathAttribute, RouteRefresh, Update,
};
use anycast_warden::bgp::routes::{RouteAttrs, RouteSet};
use anycast_warden::bgp::session::PeerConfig;
use anycast_warden::bgp::speaker::{Speaker, SpeakerConfig};
use anycast_warden::bgp::status::SpeakerStatus;
use ipnet::IpNet;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::timeout;

const CODEC: Codec = Codec {
    four_octet_as: true,
};

fn config(port: u16) -> SpeakerConfig {
    SpeakerConfig {
        asn: 4_200_000_001,
        router_id: Ipv4Addr::new(192, 0, 2, 1),
        hold_time: 9,
        keepalive: None,
        connect_retry: Duration::from_millis(100),
        listen: false,
        listen_port: 179,
        graceful_restart: None,
        peers: vec![PeerConfig {
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            asn: 65000,
            port,
            source: None,
            interface: None,
            passive: false,
            md5_password: None,
            ttl: 1,
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            next_hop_v4: None,
            next_hop_v6: Some("2001:db8:1::1".parse().unwrap()),
            extended_next_hop: false,
            next_hop_v6_link_local: None,
        }],
    }
}

fn routes(prefixes: &[&str]) -> RouteSet {
    let attrs = Arc::new(RouteAttrs {
        communities: vec![(65000 << 16) | 100],
        ..RouteAttrs::default()
    });
    prefixes
        .iter()
        .map(|p| (p.parse::<IpNet>().unwrap(), attrs.clone()))
        .collect()
}

/// The scripted peer's side of one connection.
struct Peer {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    async fn read(&mut self) -> Message {
        loop {
            if let Ok(Some(len)) = message::message_len(&self.buf)
                && self.buf.len() >= len
            {
                let rest = self.buf.split_off(len);
                let frame = std::mem::replace(&mut self.buf, rest);
                return message::decode(&frame, CODEC).expect("the speaker sent a valid message");
            }
            let mut chunk = [0u8; 4096];
            let n = timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
                .await
                .expect("no message within 5 s")
                .expect("read");
            assert!(n > 0, "the speaker closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn send(&mut self, m: Message) {
        self.stream.write_all(&m.encode(CODEC)).await.unwrap();
    }

    /// Accepts the speaker's connection and brings the session up.
    async fn establish(listener: &TcpListener) -> (Peer, Open) {
        let (stream, _) = timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("the speaker did not connect")
            .unwrap();
        let mut peer = Peer {
            stream,
            buf: vec![],
        };
        let Message::Open(open) = peer.read().await else {
            panic!("expected OPEN")
        };
        peer.send(Message::Open(Open::new(
            65000,
            30,
            Ipv4Addr::new(192, 0, 2, 2),
            vec![
                Capability::family(Family::Ipv4Unicast),
                Capability::family(Family::Ipv6Unicast),
                Capability::RouteRefresh,
            ],
        )))
        .await;
        assert_eq!(peer.read().await, Message::Keepalive);
        peer.send(Message::Keepalive).await;
        (peer, open)
    }

    /// Reads UPDATEs until both End-of-RIB markers (or just `n` UPDATEs); returns the
    /// announced and withdrawn prefixes.
    async fn updates_until(&mut self, stop: impl Fn(&[Update]) -> bool) -> Vec<Update> {
        let mut got = vec![];
        while !stop(&got) {
            match self.read().await {
                Message::Update(u) => got.push(u),
                Message::Keepalive => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        got
    }
}

fn announced(updates: &[Update]) -> Vec<IpNet> {
    let mut out = vec![];
    for u in updates {
        out.extend(u.nlri.iter().map(|n| IpNet::V4(*n)));
        for a in &u.attributes {
            if let PathAttribute::MpReach { nlri, .. } = a {
                out.extend(nlri.iter().copied());
            }
        }
    }
    out.sort();
    out
}

fn withdrawn(updates: &[Update]) -> Vec<IpNet> {
    let mut out = vec![];
    for u in updates {
        out.extend(u.withdrawn.iter().map(|n| IpNet::V4(*n)));
        for a in &u.attributes {
            if let PathAttribute::MpUnreach { withdrawn, .. } = a {
                out.extend(withdrawn.iter().copied());
            }
        }
    }
    out.sort();
    out
}

fn eors(updates: &[Update]) -> usize {
    updates
        .iter()
        .filter(|u| u.is_end_of_rib().is_some())
        .count()
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    let mut v: Vec<IpNet> = list.iter().map(|p| p.parse().unwrap()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_session_gets_the_table_the_diffs_and_the_table_again_after_a_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (status_tx, status) = watch::channel(SpeakerStatus::new());
    let speaker = Speaker::start(&config(port), status_tx);
    // Routes published before any session exists wait in the speaker.
    speaker
        .announce(
            routes(&["203.0.113.53/32", "2001:db8::53/128"]),
            Duration::from_millis(10),
        )
        .await;

    let (mut peer, open) = Peer::establish(&listener).await;
    assert_eq!(open.asn(), 4_200_000_001);
    assert_eq!(open.my_as, 23456);
    assert_eq!(
        open.families(),
        vec![Family::Ipv4Unicast, Family::Ipv6Unicast]
    );
    let table = peer.updates_until(|u| eors(u) == 2).await;
    assert_eq!(
        announced(&table),
        nets(&["203.0.113.53/32", "2001:db8::53/128"])
    );
    // The IPv4 route's next hop is the session's own address; attributes are there.
    let v4 = table.iter().find(|u| !u.nlri.is_empty()).unwrap();
    assert!(
        v4.attributes
            .contains(&PathAttribute::NextHop(Ipv4Addr::LOCALHOST))
    );
    assert!(
        v4.attributes
            .contains(&PathAttribute::Communities(vec![(65000 << 16) | 100]))
    );

    // A change goes out as a diff; announce() returns once the session sent it.
    let behind = speaker
        .announce(
            routes(&["203.0.113.54/32", "2001:db8::53/128"]),
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(behind, 0);
    let diff = peer
        .updates_until(|u| !announced(u).is_empty() && !withdrawn(u).is_empty())
        .await;
    assert_eq!(announced(&diff), nets(&["203.0.113.54/32"]));
    assert_eq!(withdrawn(&diff), nets(&["203.0.113.53/32"]));

    // Route refresh: the family's routes again, then its End-of-RIB.
    peer.send(Message::RouteRefresh(RouteRefresh { afi: 2, safi: 1 }))
        .await;
    let again = peer.updates_until(|u| eors(u) == 1).await;
    assert_eq!(announced(&again), nets(&["2001:db8::53/128"]));

    {
        let s = status.borrow();
        assert_eq!(s[0].state.as_str(), "established");
        assert_eq!(s[0].prefixes_announced, 2);
        assert_eq!(s[0].received.route_refresh, 1);
        assert!(s[0].sent.update >= 4);
    }

    // The peer goes away; the speaker reconnects and sends the whole current set.
    drop(peer);
    let (mut peer, _) = Peer::establish(&listener).await;
    let table = peer.updates_until(|u| eors(u) == 2).await;
    assert_eq!(
        announced(&table),
        nets(&["203.0.113.54/32", "2001:db8::53/128"])
    );
    assert_eq!(status.borrow()[0].flaps, 1);

    // Stop: Cease / Administrative Shutdown.
    speaker.stop(Duration::from_secs(2)).await;
    let Message::Notification(n) = peer.read().await else {
        panic!("expected NOTIFICATION")
    };
    assert_eq!((n.code, n.subcode), (6, 2));
}

/// An UPDATE body framed as a message.
fn update_frame(body: &[u8]) -> Vec<u8> {
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(2);
    m.extend_from_slice(body);
    m
}

/// An UPDATE with these path attributes and one IPv4 prefix, 198.51.100.0/24.
fn update_with(attrs: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    body.extend_from_slice(attrs);
    body.extend_from_slice(&[24, 198, 51, 100]);
    update_frame(&body)
}

#[rustfmt::skip]
const AS_PATH4: [u8; 9] = [0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe8]; // 65000, 4-octet
const NEXT_HOP: [u8; 7] = [0x40, 3, 4, 192, 0, 2, 2];

#[tokio::test]
async fn an_update_whose_routes_cannot_be_located_is_answered_with_its_notification() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (status_tx, status) = watch::channel(SpeakerStatus::new());
    let _speaker = Speaker::start(&config(port), status_tx);
    let (mut peer, _) = Peer::establish(&listener).await;
    peer.updates_until(|u| eors(u) == 2).await;
    // A /33 in the NLRI: Invalid Network Field, a session reset even under RFC 7606.
    let mut bad = update_with(&[&[0x40, 1, 1, 0][..], &AS_PATH4, &NEXT_HOP].concat());
    let n = bad.len();
    bad[n - 4] = 33;
    peer.stream.write_all(&bad).await.unwrap();
    let Message::Notification(n) = peer.read().await else {
        panic!("expected NOTIFICATION")
    };
    assert_eq!((n.code, n.subcode), (3, 10));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let s = status.borrow();
    let e = s[0].last_error.as_ref().unwrap();
    assert!(e.sent && e.code == 3 && e.subcode == 10);
}

/// RFC 7606: a malformed ORIGIN (treat-as-withdraw) and a malformed AGGREGATOR
/// (attribute-discard) keep the session; both are counted, and the session still
/// carries the speaker's changes afterwards.
#[tokio::test]
async fn malformed_attributes_keep_the_session_and_are_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (status_tx, status) = watch::channel(SpeakerStatus::new());
    let speaker = Speaker::start(&config(port), status_tx);
    speaker
        .announce(routes(&["203.0.113.53/32"]), Duration::from_millis(10))
        .await;
    let (mut peer, _) = Peer::establish(&listener).await;
    peer.updates_until(|u| eors(u) == 2).await;

    // ORIGIN 7, twice; then an AGGREGATOR of 5 octets on an otherwise good UPDATE.
    let bad_origin = update_with(&[&[0x40, 1, 1, 7][..], &AS_PATH4, &NEXT_HOP].concat());
    peer.stream.write_all(&bad_origin).await.unwrap();
    peer.stream.write_all(&bad_origin).await.unwrap();
    let bad_aggregator = update_with(
        &[
            &[0x40, 1, 1, 0][..],
            &AS_PATH4,
            &NEXT_HOP,
            &[0xc0, 7, 5, 0xfd, 0xe8, 192, 0, 2],
        ]
        .concat(),
    );
    peer.stream.write_all(&bad_aggregator).await.unwrap();

    let mut rx = status.clone();
    timeout(
        Duration::from_secs(5),
        rx.wait_for(|s| s[0].treated_as_withdraw == 2 && s[0].attributes_discarded == 1),
    )
    .await
    .expect("the speaker counted the malformed UPDATEs")
    .unwrap();

    // The session is the same one and still works: a change reaches the peer.
    let behind = speaker
        .announce(
            routes(&["203.0.113.53/32", "203.0.113.54/32"]),
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(behind, 0);
    let diff = peer.updates_until(|u| !announced(u).is_empty()).await;
    assert_eq!(announced(&diff), nets(&["203.0.113.54/32"]));
    let s = status.borrow();
    assert_eq!(s[0].state.as_str(), "established");
    assert_eq!(s[0].flaps, 0);
    assert!(s[0].last_error.is_none(), "{:?}", s[0].last_error);
    assert_eq!(s[0].received.update, 3);
    assert_eq!(s[0].sent.notification, 0);
}

/// Reads messages until a NOTIFICATION or the end of the connection.
async fn notification_or_close(peer: &mut Peer) -> Option<(u8, u8)> {
    loop {
        if let Ok(Some(len)) = message::message_len(&peer.buf)
            && peer.buf.len() >= len
        {
            let rest = peer.buf.split_off(len);
            let frame = std::mem::replace(&mut peer.buf, rest);
            if let Ok(Message::Notification(n)) = message::decode(&frame, CODEC) {
                return Some((n.code, n.subcode));
            }
            continue;
        }
        let mut chunk = [0u8; 4096];
        match timeout(Duration::from_secs(5), peer.stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => peer.buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

fn peer_open(id: Ipv4Addr) -> Message {
    Message::Open(Open::new(
        65000,
        30,
        id,
        vec![
            Capability::family(Family::Ipv4Unicast),
            Capability::RouteRefresh,
        ],
    ))
}

/// Both sides connect at once (RFC 4271 §6.8): the connection opened by the side with the
/// higher BGP Identifier survives, the other is closed with Cease 6/7.
#[tokio::test]
async fn colliding_connections_keep_the_one_of_the_higher_identifier() {
    for (peer_id, peers_connection_wins) in [
        (Ipv4Addr::new(192, 0, 2, 2), true),
        (Ipv4Addr::new(192, 0, 2, 0), false),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let speaker_port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut config = config(port);
        config.listen = true;
        config.listen_port = speaker_port;
        let (status_tx, _status) = watch::channel(SpeakerStatus::new());
        let speaker = Speaker::start(&config, status_tx);
        speaker
            .announce(routes(&["203.0.113.53/32"]), Duration::from_millis(1))
            .await;
        // The speaker's connection: its OPEN arrives, the peer does not answer yet.
        let (stream, _) = timeout(Duration::from_secs(5), listener.accept())
            .await
            .unwrap()
            .unwrap();
        let mut ours = Peer {
            stream,
            buf: vec![],
        };
        assert!(matches!(ours.read().await, Message::Open(_)));
        // The peer's own connection to the speaker.
        let stream = poll_connect(speaker_port).await;
        let mut theirs = Peer {
            stream,
            buf: vec![],
        };
        assert!(matches!(theirs.read().await, Message::Open(_)));
        theirs.send(peer_open(peer_id)).await;
        ours.send(peer_open(peer_id)).await;
        let (winner, loser) = if peers_connection_wins {
            (&mut theirs, &mut ours)
        } else {
            (&mut ours, &mut theirs)
        };
        assert_eq!(notification_or_close(loser).await, Some((6, 7)));
        assert_eq!(winner.read().await, Message::Keepalive);
        winner.send(Message::Keepalive).await;
        let table = winner.updates_until(|u| eors(u) == 1).await;
        assert_eq!(announced(&table), nets(&["203.0.113.53/32"]));
        speaker.stop(Duration::from_secs(1)).await;
    }
}

/// Connects to the speaker's listener once it is up.
async fn poll_connect(port: u16) -> TcpStream {
    for _ in 0..100 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the speaker does not listen on {port}");
}
