//! Whether a record that this warden sees down may be deleted, and whether this warden
//! is the one that sends UPDATEs. Alone, both are always yes; with `[dns.agreement]` the
//! answers come from the other monitors' votes in etcd (the agreement module).

use std::collections::BTreeMap;

/// Whether a deletion may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteDecision {
    Delete,
    /// Why not, for status and logs.
    Hold(String),
}

/// What the gate knows, for the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateView {
    /// `Err`: why the coordination store is unreachable.
    pub store: Result<(), String>,
    /// Whether this warden sends the UPDATEs.
    pub sender: bool,
    pub sender_id: Option<String>,
    /// Per record key: each other monitor's vote (true: down).
    pub votes: BTreeMap<String, BTreeMap<String, bool>>,
}

impl Default for GateView {
    fn default() -> Self {
        GateView {
            store: Ok(()),
            sender: false,
            sender_id: None,
            votes: BTreeMap::new(),
        }
    }
}

/// The coordination between wardens that watch the same records.
pub trait Gate: Send + Sync {
    /// This warden's verdict for one record.
    fn publish(&self, record: &str, down: bool);
    /// The record is no longer managed.
    fn forget(&self, record: &str);
    /// Whether a record this warden sees down may be deleted.
    fn decide(&self, record: &str) -> DeleteDecision;
    /// Whether the deletion is agreed whatever this warden sees (enough other monitors
    /// see the record down): then it goes even while this warden sees it up.
    fn agreed_down(&self, _record: &str) -> bool {
        false
    }
    /// Whether another live monitor sees the record up: then it belongs in the zone
    /// unless the deletion was agreed, whatever this warden sees.
    fn others_up(&self, _record: &str) -> bool {
        false
    }
    fn view(&self) -> GateView;
    /// Signalled whenever `decide`, `others_up` or `view` may answer differently (votes,
    /// leadership, the store's health), so the updater runs a round.
    fn notify(&self) -> Option<std::sync::Arc<tokio::sync::Notify>> {
        None
    }
}

/// A warden on its own: it alone decides and sends.
#[derive(Debug, Default)]
pub struct Alone;

impl Gate for Alone {
    fn publish(&self, _record: &str, _down: bool) {}
    fn forget(&self, _record: &str) {}
    fn decide(&self, _record: &str) -> DeleteDecision {
        DeleteDecision::Delete
    }
    fn view(&self) -> GateView {
        GateView {
            store: Ok(()),
            sender: true,
            sender_id: None,
            votes: BTreeMap::new(),
        }
    }
}
