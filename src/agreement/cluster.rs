//! The agreement's keys as etcd holds them, kept current from one prefix read plus the watch
//! that follows it; pure, so the leader rule is unit-tested.
//!
//! Leadership follows etcd's own election recipe (`concurrency.Election`): every monitor
//! puts a candidate key bound to its lease; the candidate with the lowest create revision
//! leads. When a leader's lease ends, etcd deletes its key and the next-oldest candidate
//! leads, in the same order on every monitor, since all watch the same revision history.

use std::collections::BTreeMap;

use super::keys::{Entry, Keys, parse_vote_value};
use super::view::AgreementView;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Vote {
    down: bool,
    lease: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Candidate {
    create_revision: i64,
    monitor: String,
}

/// What the agreement's part of etcd holds right now.
#[derive(Clone, Debug)]
pub struct Cluster {
    keys: Keys,
    votes: BTreeMap<String, BTreeMap<String, Vote>>,
    candidates: BTreeMap<i64, Candidate>,
}

impl Cluster {
    pub fn new(keys: Keys) -> Cluster {
        Cluster {
            keys,
            votes: BTreeMap::new(),
            candidates: BTreeMap::new(),
        }
    }

    /// A key was created or changed (from the initial read or a watch event).
    pub fn put(&mut self, key: &[u8], value: &[u8], create_revision: i64, lease: i64) {
        match self.keys.parse(key) {
            Some(Entry::Vote { endpoint, monitor }) => match parse_vote_value(value) {
                Some(down) => {
                    self.votes
                        .entry(endpoint)
                        .or_default()
                        .insert(monitor, Vote { down, lease });
                }
                // Someone wrote garbage over a vote: it no longer says anything.
                None => self.remove_vote(&endpoint, &monitor),
            },
            Some(Entry::Candidate { lease }) => {
                let monitor = String::from_utf8_lossy(value).into_owned();
                self.candidates.insert(
                    lease,
                    Candidate {
                        create_revision,
                        monitor,
                    },
                );
            }
            None => {}
        }
    }

    /// A key was deleted (explicitly or because its lease ended).
    pub fn delete(&mut self, key: &[u8]) {
        match self.keys.parse(key) {
            Some(Entry::Vote { endpoint, monitor }) => self.remove_vote(&endpoint, &monitor),
            Some(Entry::Candidate { lease }) => {
                self.candidates.remove(&lease);
            }
            None => {}
        }
    }

    fn remove_vote(&mut self, endpoint: &str, monitor: &str) {
        if let Some(monitors) = self.votes.get_mut(endpoint) {
            monitors.remove(monitor);
            if monitors.is_empty() {
                self.votes.remove(endpoint);
            }
        }
    }

    /// The leading candidate: lowest create revision (lease id breaks a tie, which etcd
    /// never produces since every put gets its own revision).
    fn leader(&self) -> Option<(i64, &Candidate)> {
        self.candidates
            .iter()
            .min_by_key(|(lease, c)| (c.create_revision, **lease))
            .map(|(lease, c)| (*lease, c))
    }

    /// Endpoints on which `monitor` has a vote under a lease other than `lease`: another
    /// process with the same monitor id, or a previous life of this one whose lease has
    /// not ended yet.
    pub fn foreign_votes(&self, monitor: &str, lease: i64) -> Vec<String> {
        self.votes
            .iter()
            .filter(|(_, monitors)| monitors.get(monitor).is_some_and(|v| v.lease != lease))
            .map(|(endpoint, _)| endpoint.clone())
            .collect()
    }

    /// Whether the candidate key of `lease` is there.
    pub fn has_candidate(&self, lease: i64) -> bool {
        self.candidates.contains_key(&lease)
    }

    /// Endpoints on which `monitor` has a vote.
    pub fn endpoints_voted_by(&self, monitor: &str) -> Vec<String> {
        self.votes
            .iter()
            .filter(|(_, monitors)| monitors.contains_key(monitor))
            .map(|(endpoint, _)| endpoint.clone())
            .collect()
    }

    /// The view for the monitor holding `own_lease`, with etcd healthy.
    pub fn view(&self, own_lease: i64) -> AgreementView {
        let leader = self.leader();
        AgreementView {
            etcd: Ok(()),
            leader: leader.is_some_and(|(lease, _)| lease == own_lease),
            leader_id: leader.map(|(_, c)| c.monitor.clone()),
            votes: self
                .votes
                .iter()
                .map(|(endpoint, monitors)| {
                    let monitors = monitors
                        .iter()
                        .map(|(monitor, vote)| (monitor.clone(), vote.down))
                        .collect();
                    (endpoint.clone(), monitors)
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EP: &str = "www.example.net./A/198.51.100.10";

    fn cluster() -> (Keys, Cluster) {
        let keys = Keys::new("/aw");
        (keys.clone(), Cluster::new(keys))
    }

    #[test]
    fn oldest_candidate_leads_and_the_next_takes_over_when_it_goes() {
        let (keys, mut c) = cluster();
        assert_eq!(c.view(1).leader_id, None);
        assert!(!c.view(1).leader);
        c.put(keys.candidate(7).as_bytes(), b"ams-1", 12, 7);
        c.put(keys.candidate(3).as_bytes(), b"fra-1", 10, 3);
        c.put(keys.candidate(5).as_bytes(), b"lon-1", 11, 5);
        let v = c.view(3);
        assert!(v.leader);
        assert_eq!(v.leader_id.as_deref(), Some("fra-1"));
        assert!(!c.view(5).leader);
        assert_eq!(c.view(5).leader_id.as_deref(), Some("fra-1"));
        c.delete(keys.candidate(3).as_bytes());
        assert!(!c.view(3).leader);
        assert!(c.view(5).leader);
        assert_eq!(c.view(7).leader_id.as_deref(), Some("lon-1"));
    }

    #[test]
    fn lease_id_order_does_not_decide_leadership() {
        let (keys, mut c) = cluster();
        c.put(keys.candidate(1).as_bytes(), b"late", 20, 1);
        c.put(keys.candidate(9).as_bytes(), b"early", 4, 9);
        assert_eq!(c.view(9).leader_id.as_deref(), Some("early"));
        assert!(c.view(9).leader);
    }

    #[test]
    fn votes_come_and_go_with_their_keys() {
        let (keys, mut c) = cluster();
        c.put(keys.vote(EP, "fra-1").as_bytes(), b"down", 5, 3);
        c.put(keys.vote(EP, "ams-1").as_bytes(), b"up", 6, 7);
        let v = c.view(3);
        assert_eq!(v.etcd, Ok(()));
        assert!(v.votes[EP]["fra-1"]);
        assert!(!v.votes[EP]["ams-1"]);
        c.put(keys.vote(EP, "ams-1").as_bytes(), b"down", 6, 7);
        assert!(c.view(3).votes[EP]["ams-1"]);
        c.delete(keys.vote(EP, "ams-1").as_bytes());
        c.delete(keys.vote(EP, "fra-1").as_bytes());
        assert!(
            c.view(3).votes.is_empty(),
            "an endpoint without votes disappears"
        );
    }

    #[test]
    fn garbage_values_and_foreign_keys_are_ignored() {
        let (keys, mut c) = cluster();
        c.put(keys.vote(EP, "fra-1").as_bytes(), b"down", 5, 3);
        c.put(keys.vote(EP, "fra-1").as_bytes(), b"maybe", 5, 3);
        c.put(b"/aw/unrelated", b"down", 6, 3);
        c.put(b"/aw2/votes/a/b", b"down", 7, 3);
        c.delete(b"/aw/unrelated");
        assert!(c.view(3).votes.is_empty());
    }

    #[test]
    fn votes_under_another_lease_are_reported() {
        let (keys, mut c) = cluster();
        c.put(keys.vote(EP, "fra-1").as_bytes(), b"down", 5, 3);
        c.put(keys.vote("other", "fra-1").as_bytes(), b"down", 6, 4);
        c.put(keys.vote("third", "ams-1").as_bytes(), b"down", 7, 9);
        assert_eq!(c.foreign_votes("fra-1", 3), vec!["other".to_string()]);
        assert_eq!(
            c.endpoints_voted_by("fra-1"),
            vec!["other".to_string(), EP.to_string()]
        );
    }
}
