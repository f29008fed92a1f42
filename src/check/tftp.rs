//! `kind = "tftp"`: a read request (RFC 1350) for `file` at `target`; passes when the first
//! DATA block arrives, fails with the server's own message on an ERROR packet.
//!
//! The server answers from a new port (its transfer ID), so the socket is not connected;
//! replies from other addresses are ignored. Once block 1 is in, the transfer is ended
//! with an ERROR packet so the server does not keep retransmitting.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

use super::udp::resolve;
use super::{CheckOutcome, Failed, Failure, timeout_reason};
use crate::config::TftpSpec;

const OP_RRQ: u16 = 1;
const OP_DATA: u16 = 3;
const OP_ACK: u16 = 4;
const OP_ERROR: u16 = 5;
const OP_OACK: u16 = 6;

/// A DATA packet holds at most 512 bytes of data (no blksize option is asked for).
const MAX_PACKET: usize = 4 + 512;

/// A TFTP packet as far as the check cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Data {
        block: u16,
        len: usize,
    },
    Error {
        code: u16,
        message: String,
    },
    /// Any other opcode (ACK, OACK, a request), kept for the reason.
    Other {
        opcode: u16,
    },
}

/// RRQ: opcode 1, file name, NUL, mode "octet", NUL.
pub fn encode_rrq(file: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + file.len() + 1 + 6);
    p.extend_from_slice(&OP_RRQ.to_be_bytes());
    p.extend_from_slice(file.as_bytes());
    p.push(0);
    p.extend_from_slice(b"octet\0");
    p
}

/// ERROR: opcode 5, error code, message, NUL.
pub fn encode_error(code: u16, message: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(4 + message.len() + 1);
    p.extend_from_slice(&OP_ERROR.to_be_bytes());
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(message.as_bytes());
    p.push(0);
    p
}

/// Parses what the server sent; `None` for a packet too short to have an opcode.
pub fn parse(packet: &[u8]) -> Option<Packet> {
    let opcode = u16::from_be_bytes([*packet.first()?, *packet.get(1)?]);
    let rest = &packet[2..];
    match opcode {
        OP_DATA => {
            let block = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
            Some(Packet::Data {
                block,
                len: rest.len() - 2,
            })
        }
        OP_ERROR => {
            let code = u16::from_be_bytes([*rest.first()?, *rest.get(1)?]);
            let text = &rest[2..];
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            Some(Packet::Error {
                code,
                message: String::from_utf8_lossy(&text[..end]).into_owned(),
            })
        }
        opcode => Some(Packet::Other { opcode }),
    }
}

/// RFC 1350's names of the error codes, for servers that send an empty message.
fn error_name(code: u16) -> &'static str {
    match code {
        1 => "file not found",
        2 => "access violation",
        3 => "disk full",
        4 => "illegal operation",
        5 => "unknown transfer ID",
        6 => "file already exists",
        7 => "no such user",
        8 => "option refused",
        _ => "not defined",
    }
}

/// Turns the server's first packet into the check's verdict.
pub fn judge(packet: Option<Packet>) -> CheckOutcome {
    // The server answered; anything but the first data block is not what was asked for.
    let unexpected = |detail: String| CheckOutcome::fail(Failure::Unexpected, detail);
    match packet {
        Some(Packet::Data { block: 1, len }) => {
            CheckOutcome::pass(format!("first data block ({len} bytes)"))
        }
        Some(Packet::Data { block, .. }) => {
            unexpected(format!("data block {block} instead of block 1"))
        }
        Some(Packet::Error { code, message }) if message.is_empty() => {
            unexpected(format!("TFTP error {code}: {}", error_name(code)))
        }
        Some(Packet::Error { code, message }) => {
            unexpected(format!("TFTP error {code}: {message}"))
        }
        Some(Packet::Other { opcode: OP_OACK }) => {
            unexpected("option acknowledgement to a request without options".into())
        }
        Some(Packet::Other { opcode: OP_ACK }) => unexpected("ACK instead of data".into()),
        Some(Packet::Other { opcode }) => unexpected(format!("unexpected opcode {opcode}")),
        None => unexpected("packet too short".into()),
    }
}

#[derive(Debug, Clone)]
pub struct TftpCheck {
    target: String,
    file: String,
}

impl TftpCheck {
    pub fn new(spec: &TftpSpec) -> Self {
        TftpCheck {
            target: spec.target.clone(),
            file: spec.file.clone(),
        }
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        match tokio::time::timeout(timeout, self.request()).await {
            Ok(result) => result.into(),
            Err(_) => CheckOutcome::fail(
                Failure::Timeout,
                format!(
                    "no answer from {}: {}",
                    self.target,
                    timeout_reason(timeout)
                ),
            ),
        }
    }

    async fn request(&self) -> Result<CheckOutcome, Failed> {
        let server = resolve(&self.target).await?;
        let local: SocketAddr = if server.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| Failed::other(format!("cannot open a UDP socket: {e}")))?;
        socket
            .send_to(&encode_rrq(&self.file), server)
            .await
            .map_err(|e| Failed::io(&e, format!("send to {server}: {e}")))?;
        let mut buf = [0u8; MAX_PACKET];
        loop {
            let (n, from) = socket
                .recv_from(&mut buf)
                .await
                .map_err(|e| Failed::io(&e, format!("receive from {server}: {e}")))?;
            // The reply comes from the server's address on a new port; anything else is
            // not for us.
            if from.ip() != server.ip() {
                continue;
            }
            let packet = parse(&buf[..n]);
            if matches!(packet, Some(Packet::Data { .. })) {
                // Best effort: the verdict does not depend on the server hearing it.
                let _ = socket
                    .send_to(&encode_error(0, "health check done"), from)
                    .await;
            }
            return Ok(judge(packet));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rrq_bytes() {
        assert_eq!(
            encode_rrq("pxelinux.0"),
            b"\x00\x01pxelinux.0\x00octet\x00".to_vec()
        );
    }

    #[test]
    fn error_bytes() {
        assert_eq!(
            encode_error(1, "File not found"),
            b"\x00\x05\x00\x01File not found\x00".to_vec()
        );
    }

    #[test]
    fn parses_data_error_and_others() {
        assert_eq!(
            parse(b"\x00\x03\x00\x01abc"),
            Some(Packet::Data { block: 1, len: 3 })
        );
        assert_eq!(
            parse(b"\x00\x05\x00\x01File not found\x00"),
            Some(Packet::Error {
                code: 1,
                message: "File not found".into()
            })
        );
        // A message without its NUL is still read.
        assert_eq!(
            parse(b"\x00\x05\x00\x02denied"),
            Some(Packet::Error {
                code: 2,
                message: "denied".into()
            })
        );
        assert_eq!(
            parse(b"\x00\x04\x00\x01"),
            Some(Packet::Other { opcode: 4 })
        );
        assert_eq!(parse(b"\x00"), None);
        assert_eq!(parse(b"\x00\x03\x00"), None);
    }

    #[test]
    fn verdicts() {
        assert!(judge(parse(b"\x00\x03\x00\x01")).passed());
        let out = judge(parse(b"\x00\x05\x00\x01File not found\x00"));
        assert!(!out.passed());
        assert_eq!(out.detail, "TFTP error 1: File not found");
        assert_eq!(
            judge(parse(b"\x00\x05\x00\x02\x00")).detail,
            "TFTP error 2: access violation"
        );
        assert!(!judge(parse(b"\x00\x03\x00\x02x")).passed());
        assert!(!judge(parse(b"\x00\x06")).passed());
        assert!(!judge(None).passed());
    }
}
