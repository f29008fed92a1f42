//! The DNS updater's part of the board.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::health::Health;

/// The DNS updater's part: the server, and every managed record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsStatus {
    pub server: String,
    pub zone: String,
    pub dry_run: bool,
    pub min_records: usize,
    /// Whether deletions need agreement through etcd.
    pub agreement: bool,
    /// Why the agreement store is unreachable (nothing is deleted meanwhile).
    pub store_error: Option<String>,
    /// Whether this warden sends the UPDATEs (always, without agreement).
    pub sender: bool,
    /// The monitor that sends them (with agreement).
    pub sender_id: Option<String>,
    /// By `name/type/value`.
    pub records: BTreeMap<String, DnsRecordStatus>,
    /// UPDATE rounds by result (`ok`, `dry_run`, `refused`, `tsig`, ...).
    pub updates: BTreeMap<String, u64>,
    /// Records changed in the zone, by action (`add`, `delete`).
    pub changes: BTreeMap<String, u64>,
    /// The last failure, until a round succeeds.
    pub last_error: Option<String>,
    /// When the zone was last read successfully (Unix seconds).
    pub last_read: Option<f64>,
}

/// One managed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordStatus {
    pub service: String,
    pub name: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub value: String,
    /// This warden's verdict (its service's health).
    pub verdict: Health,
    /// Whether the primary has it, as last read; `None` before the first read.
    pub in_zone: Option<bool>,
    /// Why a wanted deletion does not happen (min_records, agreement).
    pub held: Option<String>,
    /// The other monitors' votes (true: down), with agreement.
    pub votes: BTreeMap<String, bool>,
    pub last_update: Option<DnsUpdateStatus>,
}

impl Default for DnsRecordStatus {
    fn default() -> Self {
        DnsRecordStatus {
            service: String::new(),
            name: String::new(),
            rtype: String::new(),
            value: String::new(),
            verdict: Health::Unknown,
            in_zone: None,
            held: None,
            votes: BTreeMap::new(),
            last_update: None,
        }
    }
}

/// The last UPDATE that concerned a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsUpdateStatus {
    pub at: f64,
    /// `add` or `delete`.
    pub action: String,
    pub ok: bool,
    /// Only logged (dry_run).
    pub dry_run: bool,
    pub error: Option<String>,
}
