//! Sends signed queries and UPDATEs to the primary over UDP or TCP and checks the signed
//! answers. The only I/O of the DNS side apart from the updater's timers.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::config::{DnsProtocol, DnsSettings};
use crate::dns::message::{
    self, Name, OPCODE_QUERY, OPCODE_UPDATE, Update, encode_query, encode_update, parse_response,
};
use crate::dns::tsig::{self, Key, TsigError};

/// Why an exchange with the server failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DnsError {
    #[error("{server}: {0}", server = .1)]
    Io(String, SocketAddr),
    #[error("{0}: no answer within {1:?}")]
    Timeout(SocketAddr, Duration),
    #[error("{0}: malformed answer: {1}")]
    Malformed(SocketAddr, String),
    #[error("{0}: TSIG: {1}")]
    Tsig(SocketAddr, TsigError),
    /// NXRRSET/YXRRSET on an UPDATE: the RRset changed since it was read.
    #[error("{0}: the RRset changed since it was read ({1}); reading it again")]
    Prerequisite(SocketAddr, &'static str),
    #[error("{server}: the server answered {} to the {what}{hint}", crate::dns::rcode::name(*rcode))]
    Rcode {
        server: SocketAddr,
        rcode: u16,
        what: &'static str,
        hint: &'static str,
    },
}

impl DnsError {
    /// The `result` label of `anycast_warden_dns_updates_total`.
    pub fn label(&self) -> &'static str {
        match self {
            DnsError::Io(..) | DnsError::Timeout(..) => "unreachable",
            DnsError::Malformed(..) => "malformed",
            DnsError::Tsig(..) => "tsig",
            DnsError::Prerequisite(..) => "prerequisite",
            DnsError::Rcode { rcode: 5, .. } => "refused",
            DnsError::Rcode { .. } => "error",
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One server, one key.
#[derive(Debug, Clone)]
pub struct Client {
    pub server: SocketAddr,
    pub zone: Name,
    pub key: Key,
    pub protocol: DnsProtocol,
    pub timeout: Duration,
    pub ttl: u32,
}

impl Client {
    pub fn new(settings: &DnsSettings) -> Client {
        Client {
            server: settings.server,
            zone: settings.zone.clone(),
            key: settings.key.clone(),
            protocol: settings.protocol,
            timeout: settings.timeout,
            ttl: u32::try_from(settings.ttl.as_secs()).unwrap_or(u32::MAX),
        }
    }

    /// The addresses of one RRset as the primary holds them.
    pub async fn query(&self, name: &Name, rtype: u16) -> Result<BTreeSet<IpAddr>, DnsError> {
        let id: u16 = rand::random();
        let msg = encode_query(id, name, rtype);
        let answer = self.exchange(id, OPCODE_QUERY, &msg).await?;
        match answer.1.rcode {
            0 | 3 => Ok(answer
                .1
                .addresses(&answer.0, name, rtype)
                .into_iter()
                .collect()),
            rcode => Err(DnsError::Rcode {
                server: self.server,
                rcode,
                what: "query",
                hint: if rcode == 5 {
                    " (the server must allow queries of the zone from this host)"
                } else {
                    ""
                },
            }),
        }
    }

    /// Sends one UPDATE; Ok when the server applied it.
    pub async fn update(&self, update: &Update) -> Result<(), DnsError> {
        let id: u16 = rand::random();
        let msg = encode_update(id, &self.zone, self.ttl, update);
        let (_, answer) = self.exchange(id, OPCODE_UPDATE, &msg).await?;
        match answer.rcode {
            0 => Ok(()),
            8 => Err(DnsError::Prerequisite(self.server, "NXRRSET")),
            7 => Err(DnsError::Prerequisite(self.server, "YXRRSET")),
            rcode => Err(DnsError::Rcode {
                server: self.server,
                rcode,
                what: "update",
                hint: match rcode {
                    5 => {
                        " (the zone's update ACL or update-policy does not let this key change these records)"
                    }
                    9 => {
                        " (the server is not authoritative for the zone, or does not accept the key)"
                    }
                    10 => " (a record is outside the zone)",
                    _ => "",
                },
            }),
        }
    }

    /// Signs, sends, receives and verifies one message.
    async fn exchange(
        &self,
        id: u16,
        opcode: u8,
        msg: &[u8],
    ) -> Result<(Vec<u8>, message::Response), DnsError> {
        let (signed, mac) = tsig::sign(msg, &self.key, now());
        let mut bytes = match self.protocol {
            DnsProtocol::Udp => self.udp(id, &signed).await?,
            DnsProtocol::Tcp => self.tcp(&signed).await?,
        };
        let mut parsed = self.parse(&bytes)?;
        if parsed.truncated && self.protocol == DnsProtocol::Udp {
            bytes = self.tcp(&signed).await?;
            parsed = self.parse(&bytes)?;
        }
        if parsed.id != id || !parsed.is_response || parsed.opcode != opcode {
            return Err(DnsError::Malformed(
                self.server,
                "the answer does not belong to the request".into(),
            ));
        }
        tsig::verify(&bytes, &parsed, &self.key, &mac, now())
            .map_err(|e| DnsError::Tsig(self.server, e))?;
        Ok((bytes, parsed))
    }

    fn parse(&self, bytes: &[u8]) -> Result<message::Response, DnsError> {
        parse_response(bytes).map_err(|e| DnsError::Malformed(self.server, e.to_string()))
    }

    async fn udp(&self, id: u16, msg: &[u8]) -> Result<Vec<u8>, DnsError> {
        let io = |e: std::io::Error| DnsError::Io(e.to_string(), self.server);
        let local: SocketAddr = if self.server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await.map_err(io)?;
        socket.connect(self.server).await.map_err(io)?;
        socket.send(msg).await.map_err(io)?;
        let mut buf = vec![0u8; 65_535];
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let n = tokio::time::timeout_at(deadline, socket.recv(&mut buf))
                .await
                .map_err(|_| DnsError::Timeout(self.server, self.timeout))?
                .map_err(io)?;
            // A late answer to an earlier request on a reused port: wait for ours.
            if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                buf.truncate(n);
                return Ok(buf);
            }
        }
    }

    async fn tcp(&self, msg: &[u8]) -> Result<Vec<u8>, DnsError> {
        let io = |e: std::io::Error| DnsError::Io(e.to_string(), self.server);
        let exchange = async {
            let mut stream = TcpStream::connect(self.server).await.map_err(io)?;
            let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(msg);
            stream.write_all(&framed).await.map_err(io)?;
            let len = stream.read_u16().await.map_err(io)? as usize;
            let mut buf = vec![0u8; len];
            stream.read_exact(&mut buf).await.map_err(io)?;
            Ok(buf)
        };
        timeout(self.timeout, exchange)
            .await
            .map_err(|_| DnsError::Timeout(self.server, self.timeout))?
    }
}
