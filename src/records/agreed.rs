//! The gate of `[dns.agreement]`: the other monitors' votes in etcd (`crate::agreement`)
//! decide deletions, and only the etcd leader sends UPDATEs. While etcd is unreachable
//! nothing is deleted (`decide_delete` holds) and every monitor may send additions.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{Notify, watch};

use super::gate::{DeleteDecision, Gate, GateView};
use crate::agreement::{self, Agreement, AgreementSettings, AgreementView};
use crate::config::AgreementConfig;

pub struct Agreed {
    agreement: Agreement,
    view: watch::Receiver<AgreementView>,
    monitor_id: String,
    min_agree: usize,
    notify: Arc<Notify>,
}

impl Agreed {
    /// Starts the agreement task (on the current runtime).
    pub fn start(config: &AgreementConfig) -> Agreed {
        let agreement = Agreement::start(AgreementSettings {
            endpoints: config.etcd_endpoints.clone(),
            monitor_id: config.monitor_id.clone(),
            min_agree: config.min_agree,
            lease_ttl: config.lease_ttl,
            key_prefix: config.key_prefix.clone(),
        });
        let notify = Arc::new(Notify::new());
        let mut changes = agreement.subscribe();
        let wake = notify.clone();
        // Ends with the agreement task (its sender gone).
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                wake.notify_one();
            }
        });
        Agreed {
            view: agreement.subscribe(),
            agreement,
            monitor_id: config.monitor_id.clone(),
            min_agree: config.min_agree,
            notify,
        }
    }
}

/// The pure part: the gate's answers from one view.
pub fn gate_view(view: &AgreementView, monitor_id: &str) -> GateView {
    GateView {
        store: view.etcd.clone(),
        // With etcd away nobody leads; additions must still go, deletions are held.
        sender: view.leader || view.etcd.is_err(),
        sender_id: view.leader_id.clone(),
        votes: view
            .votes
            .iter()
            .map(|(record, votes)| {
                let others: BTreeMap<String, bool> = votes
                    .iter()
                    .filter(|(m, _)| m.as_str() != monitor_id)
                    .map(|(m, d)| (m.clone(), *d))
                    .collect();
                (record.clone(), others)
            })
            .collect(),
    }
}

pub fn others_up(view: &AgreementView, monitor_id: &str, record: &str) -> bool {
    view.etcd.is_ok()
        && view
            .votes
            .get(record)
            .is_some_and(|v| v.iter().any(|(m, down)| m != monitor_id && !down))
}

impl Gate for Agreed {
    fn publish(&self, record: &str, down: bool) {
        self.agreement.publish(record, down);
    }

    fn forget(&self, record: &str) {
        self.agreement.forget(record);
    }

    fn decide(&self, record: &str) -> DeleteDecision {
        match agreement::decide_delete(&self.view.borrow(), record, self.min_agree) {
            agreement::DeleteDecision::Delete => DeleteDecision::Delete,
            agreement::DeleteDecision::Hold(why) => DeleteDecision::Hold(why),
        }
    }

    fn agreed_down(&self, record: &str) -> bool {
        matches!(self.decide(record), DeleteDecision::Delete)
    }

    fn others_up(&self, record: &str) -> bool {
        others_up(&self.view.borrow(), &self.monitor_id, record)
    }

    fn view(&self) -> GateView {
        gate_view(&self.view.borrow(), &self.monitor_id)
    }

    fn notify(&self) -> Option<Arc<Notify>> {
        Some(self.notify.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "www.example.net./A/198.51.100.10";

    fn view(etcd: Result<(), String>, leader: bool, votes: &[(&str, bool)]) -> AgreementView {
        AgreementView {
            etcd,
            leader,
            leader_id: Some("m2".into()),
            votes: BTreeMap::from([(
                R.to_string(),
                votes.iter().map(|(m, d)| (m.to_string(), *d)).collect(),
            )]),
        }
    }

    #[test]
    fn the_leader_sends_and_others_votes_exclude_our_own() {
        let v = view(Ok(()), false, &[("m1", true), ("m2", false)]);
        let g = gate_view(&v, "m1");
        assert!(!g.sender);
        assert_eq!(g.sender_id.as_deref(), Some("m2"));
        assert_eq!(g.votes[R], BTreeMap::from([("m2".to_string(), false)]));
        assert!(others_up(&v, "m1", R));
        assert!(!others_up(&v, "m2", R));
        assert!(gate_view(&view(Ok(()), true, &[]), "m1").sender);
    }

    #[test]
    fn without_etcd_every_monitor_may_add_and_nobody_knows_votes() {
        let v = view(Err("gone".into()), false, &[("m2", false)]);
        let g = gate_view(&v, "m1");
        assert!(g.sender);
        assert_eq!(g.store, Err("gone".into()));
        assert!(!others_up(&v, "m1", R));
    }
}
