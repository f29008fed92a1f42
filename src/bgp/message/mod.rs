//! BGP-4 messages (RFC 4271 §4): pure encoders and strict decoders, no I/O.
//!
//! Decoding never panics on what a peer sends: every malformed input becomes a
//! [`Notification`] with the code and subcode RFC 4271 §6 prescribes, ready to be sent
//! before the session is closed.

pub mod notification;
pub mod open;
pub mod revised;
pub mod route_refresh;
pub mod update;

pub use notification::Notification;
pub use open::{Capability, Open};
pub use revised::{AttributeError, Revision};
pub use route_refresh::RouteRefresh;
pub use update::{AsSegment, Origin, PathAttribute, Update};

/// Header length: 16-octet marker, 2-octet length, 1-octet type.
pub const HEADER_LEN: usize = 19;
/// Largest message without the extended message capability (RFC 8654).
pub const MAX_MESSAGE_LEN: usize = 4096;

/// AFI / SAFI values (IANA) for the two families the speaker announces.
pub const AFI_IPV4: u16 = 1;
pub const AFI_IPV6: u16 = 2;
pub const SAFI_UNICAST: u8 = 1;

/// Message type codes.
pub mod kind {
    pub const OPEN: u8 = 1;
    pub const UPDATE: u8 = 2;
    pub const NOTIFICATION: u8 = 3;
    pub const KEEPALIVE: u8 = 4;
    pub const ROUTE_REFRESH: u8 = 5;
}

/// An address family the speaker can announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

impl Family {
    pub fn afi_safi(self) -> (u16, u8) {
        match self {
            Family::Ipv4Unicast => (AFI_IPV4, SAFI_UNICAST),
            Family::Ipv6Unicast => (AFI_IPV6, SAFI_UNICAST),
        }
    }

    pub fn from_afi_safi(afi: u16, safi: u8) -> Option<Family> {
        match (afi, safi) {
            (AFI_IPV4, SAFI_UNICAST) => Some(Family::Ipv4Unicast),
            (AFI_IPV6, SAFI_UNICAST) => Some(Family::Ipv6Unicast),
            _ => None,
        }
    }

    /// The family a prefix belongs to.
    pub fn of(prefix: &ipnet::IpNet) -> Family {
        match prefix {
            ipnet::IpNet::V4(_) => Family::Ipv4Unicast,
            ipnet::IpNet::V6(_) => Family::Ipv6Unicast,
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::Ipv4Unicast => "ipv4-unicast",
            Family::Ipv6Unicast => "ipv6-unicast",
        })
    }
}

/// One BGP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// The message type code (for counters).
    pub fn kind(&self) -> u8 {
        match self {
            Message::Open(_) => kind::OPEN,
            Message::Update(_) => kind::UPDATE,
            Message::Notification(_) => kind::NOTIFICATION,
            Message::Keepalive => kind::KEEPALIVE,
            Message::RouteRefresh(_) => kind::ROUTE_REFRESH,
        }
    }
}

/// What the decoder needs to know about the session: AS_PATH carries 4-octet AS numbers
/// only once both sides announced the capability (RFC 6793).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Codec {
    pub four_octet_as: bool,
}

/// Wraps `body` in a header of type `kind`.
pub fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&[0xff; 16]);
    // Callers keep bodies within MAX_MESSAGE_LEN; the cast cannot truncate then.
    out.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(body);
    out
}

impl Message {
    pub fn encode(&self, codec: Codec) -> Vec<u8> {
        match self {
            Message::Open(open) => frame(kind::OPEN, &open.encode_body()),
            Message::Update(update) => frame(kind::UPDATE, &update.encode_body(codec)),
            Message::Notification(n) => frame(kind::NOTIFICATION, &n.encode_body()),
            Message::Keepalive => frame(kind::KEEPALIVE, &[]),
            Message::RouteRefresh(r) => frame(kind::ROUTE_REFRESH, &r.encode_body()),
        }
    }
}

/// How long the message at the start of `buf` is, once its header is complete
/// (`Ok(None)`: fewer than 19 bytes so far). A bad header is an error to send.
pub fn message_len(buf: &[u8]) -> Result<Option<usize>, Notification> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    if buf[..16].iter().any(|&b| b != 0xff) {
        return Err(Notification::new(1, 1, vec![]));
    }
    let len = usize::from(u16::from_be_bytes([buf[16], buf[17]]));
    let kind = buf[18];
    let min = match kind {
        kind::OPEN => HEADER_LEN + 10,
        kind::UPDATE => HEADER_LEN + 4,
        kind::NOTIFICATION => HEADER_LEN + 2,
        kind::KEEPALIVE => HEADER_LEN,
        kind::ROUTE_REFRESH => HEADER_LEN + 4,
        other => return Err(Notification::new(1, 3, vec![other])),
    };
    let bad_len = len < min
        || len > MAX_MESSAGE_LEN
        || (kind == kind::KEEPALIVE && len != HEADER_LEN)
        || (kind == kind::ROUTE_REFRESH && len != HEADER_LEN + 4);
    if bad_len {
        return Err(Notification::new(1, 2, buf[16..18].to_vec()));
    }
    Ok(Some(len))
}

/// Decodes one whole message (header included). `buf` must be exactly one message.
pub fn decode(buf: &[u8], codec: Codec) -> Result<Message, Notification> {
    let Some(len) = message_len(buf)? else {
        return Err(Notification::new(1, 2, vec![0, buf.len() as u8]));
    };
    if len != buf.len() {
        return Err(Notification::new(1, 2, buf[16..18].to_vec()));
    }
    let body = &buf[HEADER_LEN..];
    Ok(match buf[18] {
        kind::OPEN => Message::Open(Open::decode_body(body)?),
        kind::UPDATE => Message::Update(Update::decode_body(body, codec)?),
        kind::NOTIFICATION => Message::Notification(Notification::decode_body(body)),
        kind::KEEPALIVE => Message::Keepalive,
        kind::ROUTE_REFRESH => Message::RouteRefresh(RouteRefresh::decode_body(body)?),
        other => return Err(Notification::new(1, 3, vec![other])),
    })
}

/// A cursor over a byte slice whose reads fail with the caller's error instead of
/// panicking on truncated input.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.buf.len() < n {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_is_a_bare_header() {
        let bytes = Message::Keepalive.encode(Codec::default());
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0x00, 0x13, 0x04]);
        assert_eq!(bytes, expected);
        assert_eq!(decode(&bytes, Codec::default()), Ok(Message::Keepalive));
    }

    #[test]
    fn header_errors_name_the_problem() {
        let mut bytes = Message::Keepalive.encode(Codec::default());
        bytes[3] = 0;
        assert_eq!(message_len(&bytes), Err(Notification::new(1, 1, vec![])));
        // A KEEPALIVE of 20 bytes: Bad Message Length, data = the length field.
        let mut long = Message::Keepalive.encode(Codec::default());
        long[17] = 20;
        long.push(0);
        assert_eq!(
            message_len(&long),
            Err(Notification::new(1, 2, vec![0, 20]))
        );
        // Too long for any message.
        let mut huge = Message::Keepalive.encode(Codec::default());
        huge[16] = 0x10;
        huge[17] = 0x01;
        assert_eq!(
            message_len(&huge),
            Err(Notification::new(1, 2, vec![0x10, 0x01]))
        );
        let mut unknown = Message::Keepalive.encode(Codec::default());
        unknown[18] = 9;
        assert_eq!(message_len(&unknown), Err(Notification::new(1, 3, vec![9])));
        assert_eq!(message_len(&unknown[..10]), Ok(None));
    }

    #[test]
    fn route_refresh_length_is_fixed() {
        let mut bytes = frame(kind::ROUTE_REFRESH, &[0, 1, 0, 1, 0]);
        assert_eq!(
            message_len(&bytes),
            Err(Notification::new(1, 2, vec![0, 24]))
        );
        bytes = frame(kind::ROUTE_REFRESH, &[0, 2, 0, 1]);
        assert_eq!(
            decode(&bytes, Codec::default()),
            Ok(Message::RouteRefresh(RouteRefresh {
                afi: AFI_IPV6,
                safi: 1
            }))
        );
    }
}
