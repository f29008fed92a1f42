//! The built-in speaker's peers as the board shows them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One peer of the built-in BGP speaker, as `status` and the metrics show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BgpPeerView {
    pub address: String,
    pub asn: u32,
    /// `idle`, `connect`, `active`, `opensent`, `openconfirm` or `established`.
    pub state: String,
    /// How often the session left Established.
    pub flaps: u64,
    /// Since when the session is Established (Unix seconds).
    pub established_since: Option<f64>,
    /// Families negotiated on the current session (`ipv4-unicast`, `ipv6-unicast`).
    pub families: Vec<String>,
    /// Messages by type (`open`, `update`, `notification`, `keepalive`, `route_refresh`).
    pub sent: BTreeMap<String, u64>,
    pub received: BTreeMap<String, u64>,
    /// Prefixes the peer has from the warden on the current session.
    pub prefixes_announced: usize,
    pub last_error: Option<BgpErrorView>,
    /// Malformed UPDATEs that kept the session (RFC 7606), by handling:
    /// `treat-as-withdraw` (UPDATEs), `attribute-discard` (attributes).
    #[serde(default)]
    pub update_errors: BTreeMap<String, u64>,
}

/// The last NOTIFICATION of a peer's session, in either direction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BgpErrorView {
    /// True when the warden sent it, false when the peer did.
    pub sent: bool,
    pub code: u8,
    pub subcode: u8,
    /// "Cease / Administrative Shutdown (6/2)"
    pub text: String,
    pub at: f64,
}

impl BgpPeerView {
    pub fn of(peer: &crate::bgp::status::PeerStatus) -> Self {
        let unix = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        let counts = |c: &crate::bgp::status::MessageCounts| {
            BTreeMap::from([
                ("open".to_string(), c.open),
                ("update".to_string(), c.update),
                ("notification".to_string(), c.notification),
                ("keepalive".to_string(), c.keepalive),
                ("route_refresh".to_string(), c.route_refresh),
            ])
        };
        BgpPeerView {
            address: peer.address.to_string(),
            asn: peer.asn,
            state: peer.state.as_str().to_string(),
            flaps: peer.flaps,
            established_since: peer.established_since.map(unix),
            families: peer.families.iter().map(ToString::to_string).collect(),
            sent: counts(&peer.sent),
            received: counts(&peer.received),
            prefixes_announced: peer.prefixes_announced,
            update_errors: BTreeMap::from([
                ("treat-as-withdraw".to_string(), peer.treated_as_withdraw),
                ("attribute-discard".to_string(), peer.attributes_discarded),
            ]),
            last_error: peer.last_error.as_ref().map(|e| BgpErrorView {
                sent: e.sent,
                code: e.code,
                subcode: e.subcode,
                text: e.text.clone(),
                at: unix(e.at),
            }),
        }
    }
}
