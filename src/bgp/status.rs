//! What the speaker shows about each peer: a plain snapshot that the daemon, metrics and
//! `status` read from a `tokio::sync::watch` channel.

use std::net::IpAddr;
use std::time::SystemTime;

use super::fsm::State;
use super::message::{Family, Notification, Revision, Update, kind};

/// Messages by type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
}

impl MessageCounts {
    pub fn count(&mut self, message_kind: u8, n: u64) {
        let slot = match message_kind {
            kind::OPEN => &mut self.open,
            kind::UPDATE => &mut self.update,
            kind::NOTIFICATION => &mut self.notification,
            kind::KEEPALIVE => &mut self.keepalive,
            kind::ROUTE_REFRESH => &mut self.route_refresh,
            _ => return,
        };
        *slot = slot.saturating_add(n);
    }
}

/// The last NOTIFICATION of a session, in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    /// True when this side sent it, false when the peer did.
    pub sent: bool,
    pub code: u8,
    pub subcode: u8,
    /// "Cease / Administrative Shutdown (6/2)"
    pub text: String,
    pub at: SystemTime,
}

impl LastError {
    pub fn new(sent: bool, n: &Notification) -> Self {
        LastError {
            sent,
            code: n.code,
            subcode: n.subcode,
            text: n.describe(),
            at: SystemTime::now(),
        }
    }
}

/// One peer as the speaker sees it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    pub address: IpAddr,
    pub asn: u32,
    pub state: State,
    /// How often the session left Established.
    pub flaps: u64,
    pub established_since: Option<SystemTime>,
    /// Families negotiated on the current session.
    pub families: Vec<Family>,
    pub sent: MessageCounts,
    pub received: MessageCounts,
    /// Prefixes the peer has from this side on the current session.
    pub prefixes_announced: usize,
    pub last_error: Option<LastError>,
    /// The version of the desired routes this session has sent (the speaker waits on it).
    pub routes_version: u64,
    /// Malformed UPDATEs RFC 7606 answered without a NOTIFICATION: UPDATEs whose routes
    /// were treated as withdrawn, attributes dropped (all sessions).
    pub treated_as_withdraw: u64,
    pub attributes_discarded: u64,
}

impl PeerStatus {
    /// Counts the errors RFC 7606 handling kept the session through (one per UPDATE
    /// treated as withdraw, one per attribute discarded).
    pub fn count_revised(&mut self, update: &Update) {
        if update.revision() == Some(Revision::TreatAsWithdraw) {
            self.treated_as_withdraw = self.treated_as_withdraw.saturating_add(1);
        }
        let discarded = update
            .errors
            .iter()
            .filter(|e| e.revision == Revision::AttributeDiscard)
            .count() as u64;
        self.attributes_discarded = self.attributes_discarded.saturating_add(discarded);
    }

    pub fn new(address: IpAddr, asn: u32) -> Self {
        PeerStatus {
            address,
            asn,
            state: State::Idle,
            flaps: 0,
            established_since: None,
            families: vec![],
            sent: MessageCounts::default(),
            received: MessageCounts::default(),
            prefixes_announced: 0,
            last_error: None,
            routes_version: 0,
            treated_as_withdraw: 0,
            attributes_discarded: 0,
        }
    }
}

/// Every configured peer, in configuration order.
pub type SpeakerStatus = Vec<PeerStatus>;
