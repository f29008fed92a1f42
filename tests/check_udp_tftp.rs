//! The udp and tftp kinds against servers this test runs on loopback.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anycast_warden::check::address::AddressBook;
use anycast_warden::check::{Check, CheckContext, CheckOutcome};
use anycast_warden::config::{CheckConfig, CheckSpec, TftpSpec, UdpSpec};
use tokio::net::UdpSocket;

async fn run(spec: CheckSpec, timeout: Duration) -> CheckOutcome {
    let ctx = CheckContext {
        service: "t".into(),
        addresses: AddressBook::uncached(),
    };
    Check::new(&CheckConfig::from(spec), &ctx)
        .run(timeout)
        .await
}

/// Answers each datagram with "pong:" and what it got.
async fn echo_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut reply = b"pong:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, from).await;
        }
    });
    addr
}

fn udp(target: SocketAddr, expect: Option<&str>) -> CheckSpec {
    CheckSpec::Udp(UdpSpec {
        target: target.to_string(),
        payload: "ping".into(),
        expect: expect.map(str::to_string),
    })
}

#[tokio::test]
async fn udp_reply_with_and_without_expect() {
    let server = echo_server().await;
    let out = run(udp(server, None), Duration::from_secs(2)).await;
    assert!(out.passed(), "{}", out.detail);
    let out = run(udp(server, Some("pong:ping")), Duration::from_secs(2)).await;
    assert!(out.passed(), "{}", out.detail);
    let out = run(udp(server, Some("PONG")), Duration::from_secs(2)).await;
    assert!(!out.passed());
    assert_eq!(out.detail, "reply does not contain \"PONG\": \"pong:ping\"");
}

#[tokio::test]
async fn udp_closed_port_is_refused_and_silent_port_times_out() {
    let closed = {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.local_addr().unwrap()
    };
    let out = run(udp(closed, None), Duration::from_secs(2)).await;
    assert!(!out.passed());
    assert!(out.detail.contains("refused"), "{}", out.detail);
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let started = Instant::now();
    let out = run(
        udp(silent.local_addr().unwrap(), None),
        Duration::from_millis(300),
    )
    .await;
    assert!(!out.passed());
    assert!(
        out.detail.ends_with("timeout after 300ms"),
        "{}",
        out.detail
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// A TFTP server that knows one file: it answers a read request from a new port (its
/// transfer ID) with block 1, or with ERROR 1 for any other name, like a real one.
async fn tftp_server(known: &'static str) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let packet = &buf[..n];
            assert_eq!(&packet[..2], &[0, 1], "not a read request");
            let fields: Vec<&[u8]> = packet[2..].split(|&b| b == 0).collect();
            assert_eq!(fields[1], b"octet");
            let transfer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let reply = if fields[0] == known.as_bytes() {
                let mut p = vec![0, 3, 0, 1];
                p.extend_from_slice(b"file contents");
                p
            } else {
                let mut p = vec![0, 5, 0, 1];
                p.extend_from_slice(b"File not found\0");
                p
            };
            transfer.send_to(&reply, from).await.unwrap();
        }
    });
    addr
}

fn tftp(target: SocketAddr, file: &str) -> CheckSpec {
    CheckSpec::Tftp(TftpSpec {
        target: target.to_string(),
        file: file.into(),
    })
}

#[tokio::test]
async fn tftp_first_block_passes_and_error_packet_fails_with_its_message() {
    let server = tftp_server("pxelinux.0").await;
    let out = run(tftp(server, "pxelinux.0"), Duration::from_secs(2)).await;
    assert!(out.passed(), "{}", out.detail);
    assert_eq!(out.detail, "first data block (13 bytes)");
    let out = run(tftp(server, "missing.0"), Duration::from_secs(2)).await;
    assert!(!out.passed());
    assert_eq!(out.detail, "TFTP error 1: File not found");
}

#[tokio::test]
async fn tftp_silent_server_times_out() {
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let out = run(
        tftp(silent.local_addr().unwrap(), "x"),
        Duration::from_millis(300),
    )
    .await;
    assert!(!out.passed());
    assert!(
        out.detail.ends_with("timeout after 300ms"),
        "{}",
        out.detail
    );
}
