//! What this monitor currently knows about the agreement: etcd's health, who leads, and
//! every live monitor's vote.

use std::collections::BTreeMap;

/// A snapshot published through [`super::Agreement::subscribe`].
#[derive(Clone, Debug, PartialEq)]
pub struct AgreementView {
    /// `Err` says why etcd is not usable right now (unreachable, lease lost, not connected
    /// yet). While it is `Err`, `leader` is false and `votes` is empty: nothing is known.
    pub etcd: Result<(), String>,
    /// True while this monitor holds the leadership (its candidate key is the oldest and its
    /// lease is alive as far as this process can tell).
    pub leader: bool,
    /// The monitor id of the current leader, if any.
    pub leader_id: Option<String>,
    /// endpoint -> monitor -> down. Only monitors whose lease is alive appear: a dead
    /// monitor's votes expire with its lease.
    pub votes: BTreeMap<String, BTreeMap<String, bool>>,
}

impl Default for AgreementView {
    fn default() -> Self {
        AgreementView {
            etcd: Err("not connected yet".to_string()),
            leader: false,
            leader_id: None,
            votes: BTreeMap::new(),
        }
    }
}

impl AgreementView {
    /// The view while etcd is not usable: nothing known, nobody leads.
    pub fn unreachable(why: impl Into<String>) -> AgreementView {
        AgreementView {
            etcd: Err(why.into()),
            ..AgreementView::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_not_connected_and_knows_nothing() {
        let view = AgreementView::default();
        assert_eq!(view.etcd, Err("not connected yet".to_string()));
        assert!(!view.leader);
        assert_eq!(view.leader_id, None);
        assert!(view.votes.is_empty());
        assert_eq!(
            AgreementView::unreachable("etcd gone").etcd,
            Err("etcd gone".to_string())
        );
    }
}
