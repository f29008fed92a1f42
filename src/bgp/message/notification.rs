//! NOTIFICATION (RFC 4271 §4.5, codes §6; Cease subcodes RFC 4486).

/// Error codes.
pub mod code {
    pub const MESSAGE_HEADER: u8 = 1;
    pub const OPEN: u8 = 2;
    pub const UPDATE: u8 = 3;
    pub const HOLD_TIMER_EXPIRED: u8 = 4;
    pub const FSM: u8 = 5;
    pub const CEASE: u8 = 6;
}

/// Cease subcodes (RFC 4486).
pub mod cease {
    pub const ADMINISTRATIVE_SHUTDOWN: u8 = 2;
    pub const PEER_DECONFIGURED: u8 = 3;
    pub const ADMINISTRATIVE_RESET: u8 = 4;
    pub const CONNECTION_REJECTED: u8 = 5;
    pub const CONNECTION_COLLISION: u8 = 7;
}

/// OPEN message error subcodes (RFC 4271 §6.2, RFC 5492).
pub mod open_error {
    pub const UNSUPPORTED_VERSION: u8 = 1;
    pub const BAD_PEER_AS: u8 = 2;
    pub const BAD_BGP_IDENTIFIER: u8 = 3;
    pub const UNSUPPORTED_OPTIONAL_PARAMETER: u8 = 4;
    pub const UNACCEPTABLE_HOLD_TIME: u8 = 6;
}

/// UPDATE message error subcodes (RFC 4271 §6.3).
pub mod update_error {
    pub const MALFORMED_ATTRIBUTE_LIST: u8 = 1;
    pub const UNRECOGNIZED_WELL_KNOWN: u8 = 2;
    pub const MISSING_WELL_KNOWN: u8 = 3;
    pub const ATTRIBUTE_FLAGS: u8 = 4;
    pub const ATTRIBUTE_LENGTH: u8 = 5;
    pub const INVALID_ORIGIN: u8 = 6;
    pub const INVALID_NEXT_HOP: u8 = 8;
    pub const OPTIONAL_ATTRIBUTE: u8 = 9;
    pub const INVALID_NETWORK_FIELD: u8 = 10;
    pub const MALFORMED_AS_PATH: u8 = 11;
}

/// FSM error subcodes (RFC 6608): an unexpected message in this state.
pub mod fsm_error {
    pub const UNSPECIFIED: u8 = 0;
    pub const IN_OPEN_SENT: u8 = 1;
    pub const IN_OPEN_CONFIRM: u8 = 2;
    pub const IN_ESTABLISHED: u8 = 3;
}

/// A NOTIFICATION: error code, subcode and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
}

impl Notification {
    pub fn new(code: u8, subcode: u8, data: Vec<u8>) -> Self {
        Notification {
            code,
            subcode,
            data,
        }
    }

    pub fn cease(subcode: u8) -> Self {
        Notification::new(code::CEASE, subcode, vec![])
    }

    /// A Cease with a shutdown communication (RFC 9003): a length octet and UTF-8 text.
    pub fn cease_with_reason(subcode: u8, reason: &str) -> Self {
        let mut text = reason.as_bytes();
        // At most 255 octets; cut at a character boundary.
        let mut end = text.len().min(255);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        text = &text[..end];
        let mut data = vec![text.len() as u8];
        data.extend_from_slice(text);
        Notification::new(code::CEASE, subcode, data)
    }

    pub fn encode_body(&self) -> Vec<u8> {
        let mut out = vec![self.code, self.subcode];
        // Keep the whole message within 4096 bytes.
        let room = super::MAX_MESSAGE_LEN - super::HEADER_LEN - 2;
        out.extend_from_slice(&self.data[..self.data.len().min(room)]);
        out
    }

    /// Any code is accepted: a NOTIFICATION is never answered with another one.
    pub fn decode_body(body: &[u8]) -> Self {
        Notification {
            code: body.first().copied().unwrap_or(0),
            subcode: body.get(1).copied().unwrap_or(0),
            data: body.get(2..).unwrap_or_default().to_vec(),
        }
    }

    /// "Cease / Administrative Shutdown (6/2)" and the like, for logs and status.
    pub fn describe(&self) -> String {
        let code = match self.code {
            code::MESSAGE_HEADER => "Message Header Error",
            code::OPEN => "OPEN Message Error",
            code::UPDATE => "UPDATE Message Error",
            code::HOLD_TIMER_EXPIRED => "Hold Timer Expired",
            code::FSM => "Finite State Machine Error",
            code::CEASE => "Cease",
            _ => "unknown error",
        };
        let sub = match (self.code, self.subcode) {
            (code::MESSAGE_HEADER, 1) => "Connection Not Synchronized",
            (code::MESSAGE_HEADER, 2) => "Bad Message Length",
            (code::MESSAGE_HEADER, 3) => "Bad Message Type",
            (code::OPEN, 1) => "Unsupported Version Number",
            (code::OPEN, 2) => "Bad Peer AS",
            (code::OPEN, 3) => "Bad BGP Identifier",
            (code::OPEN, 4) => "Unsupported Optional Parameter",
            (code::OPEN, 6) => "Unacceptable Hold Time",
            (code::OPEN, 7) => "Unsupported Capability",
            (code::UPDATE, 1) => "Malformed Attribute List",
            (code::UPDATE, 2) => "Unrecognized Well-known Attribute",
            (code::UPDATE, 3) => "Missing Well-known Attribute",
            (code::UPDATE, 4) => "Attribute Flags Error",
            (code::UPDATE, 5) => "Attribute Length Error",
            (code::UPDATE, 6) => "Invalid ORIGIN Attribute",
            (code::UPDATE, 8) => "Invalid NEXT_HOP Attribute",
            (code::UPDATE, 9) => "Optional Attribute Error",
            (code::UPDATE, 10) => "Invalid Network Field",
            (code::UPDATE, 11) => "Malformed AS_PATH",
            (code::CEASE, 1) => "Maximum Number of Prefixes Reached",
            (code::CEASE, 2) => "Administrative Shutdown",
            (code::CEASE, 3) => "Peer De-configured",
            (code::CEASE, 4) => "Administrative Reset",
            (code::CEASE, 5) => "Connection Rejected",
            (code::CEASE, 6) => "Other Configuration Change",
            (code::CEASE, 7) => "Connection Collision Resolution",
            (code::CEASE, 8) => "Out of Resources",
            (code::CEASE, 9) => "Hard Reset",
            _ => "",
        };
        if sub.is_empty() {
            format!("{code} ({}/{})", self.code, self.subcode)
        } else {
            format!("{code} / {sub} ({}/{})", self.code, self.subcode)
        }
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::message::{Codec, Message, decode};

    #[test]
    fn administrative_shutdown_with_a_reason_is_byte_exact() {
        let n = Notification::cease_with_reason(cease::ADMINISTRATIVE_SHUTDOWN, "bye");
        let bytes = Message::Notification(n.clone()).encode(Codec::default());
        let mut expected = vec![0xff; 16];
        expected.extend_from_slice(&[0, 25, 3, 6, 2, 3, b'b', b'y', b'e']);
        assert_eq!(bytes, expected);
        assert_eq!(
            decode(&bytes, Codec::default()),
            Ok(Message::Notification(n.clone()))
        );
        assert_eq!(
            n.describe(),
            "Cease / Administrative Shutdown (6/2)".to_string()
        );
    }

    #[test]
    fn long_reasons_are_cut_at_a_character_boundary() {
        let reason = "é".repeat(200);
        let n = Notification::cease_with_reason(2, &reason);
        assert_eq!(n.data[0], 254);
        assert!(std::str::from_utf8(&n.data[1..]).is_ok());
    }
}
