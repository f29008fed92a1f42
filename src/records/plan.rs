//! What to change in the zone: the desired state of each managed record against the
//! RRsets the server holds, with `min_records` applied. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::dns::message::{AddressRecord, Name, Update};

/// What the updater wants for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Want {
    /// In the zone (the endpoint is up).
    Present,
    /// Out of the zone (down, and the deletion is allowed).
    Absent,
    /// Leave as it is: no verdict yet, or a deletion not agreed.
    Keep,
}

/// One RRset key: owner name and type.
pub type RrsetKey = (Name, u16);

/// The changes of one round, and the deletions held back with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub update: Update,
    pub held: BTreeMap<AddressRecord, String>,
}

/// Plans the UPDATE that brings `current` (the server's RRsets of every managed name and
/// type) towards `wanted`, never leaving fewer than `min_records` records in an RRset
/// that loses one. Deletions carry the RRset as read as a prerequisite.
pub fn plan(
    wanted: &BTreeMap<AddressRecord, Want>,
    current: &BTreeMap<RrsetKey, BTreeSet<IpAddr>>,
    min_records: usize,
) -> Plan {
    let mut by_set: BTreeMap<RrsetKey, Vec<(&AddressRecord, Want)>> = BTreeMap::new();
    for (record, want) in wanted {
        by_set
            .entry((record.name.clone(), record.rtype()))
            .or_default()
            .push((record, *want));
    }
    let mut plan = Plan::default();
    let empty = BTreeSet::new();
    for (key, records) in by_set {
        let present = current.get(&key).unwrap_or(&empty);
        let adds: Vec<&AddressRecord> = records
            .iter()
            .filter(|(r, w)| *w == Want::Present && !present.contains(&r.addr))
            .map(|(r, _)| *r)
            .collect();
        let deletes: Vec<&AddressRecord> = records
            .iter()
            .filter(|(r, w)| *w == Want::Absent && present.contains(&r.addr))
            .map(|(r, _)| *r)
            .collect();
        let after_adds = present.len() + adds.len();
        let allowed = after_adds.saturating_sub(min_records);
        for (i, record) in deletes.iter().enumerate() {
            if i < allowed {
                plan.update.delete.push((*record).clone());
            } else {
                plan.held.insert(
                    (*record).clone(),
                    format!(
                        "min_records = {min_records}: deleting it would leave fewer than {min_records} {} record(s) for {}",
                        record.type_name(),
                        record.name
                    ),
                );
            }
        }
        if deletes.len().min(allowed) > 0 {
            plan.update.exact_rrsets.push(
                present
                    .iter()
                    .map(|addr| AddressRecord {
                        name: key.0.clone(),
                        addr: *addr,
                    })
                    .collect(),
            );
        }
        plan.update.add.extend(adds.into_iter().cloned());
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: &str, a: &str) -> AddressRecord {
        AddressRecord {
            name: Name::parse(n).unwrap(),
            addr: a.parse().unwrap(),
        }
    }

    fn current(recs: &[AddressRecord]) -> BTreeMap<RrsetKey, BTreeSet<IpAddr>> {
        let mut m: BTreeMap<RrsetKey, BTreeSet<IpAddr>> = BTreeMap::new();
        for r in recs {
            m.entry((r.name.clone(), r.rtype()))
                .or_default()
                .insert(r.addr);
        }
        m
    }

    const W: &str = "www.example.net.";

    #[test]
    fn in_sync_plans_nothing() {
        let a = rec(W, "198.51.100.10");
        let wanted = BTreeMap::from([(a.clone(), Want::Present)]);
        let p = plan(&wanted, &current(&[a]), 1);
        assert!(p.update.is_empty() && p.held.is_empty());
    }

    #[test]
    fn adds_missing_records_without_prerequisites() {
        let a = rec(W, "198.51.100.10");
        let b = rec(W, "2001:db8::10");
        let wanted = BTreeMap::from([(a.clone(), Want::Present), (b.clone(), Want::Present)]);
        let p = plan(&wanted, &BTreeMap::new(), 1);
        assert_eq!(p.update.add, vec![a, b]);
        assert!(p.update.delete.is_empty() && p.update.exact_rrsets.is_empty());
    }

    #[test]
    fn deletes_with_the_rrset_as_read_as_prerequisite() {
        let a = rec(W, "198.51.100.10");
        let b = rec(W, "198.51.100.11");
        let other = rec(W, "198.51.100.99"); // not ours: kept, but part of the RRset
        let wanted = BTreeMap::from([(a.clone(), Want::Absent), (b.clone(), Want::Present)]);
        let p = plan(&wanted, &current(&[a.clone(), b.clone(), other.clone()]), 1);
        assert_eq!(p.update.delete, vec![a.clone()]);
        assert_eq!(p.update.exact_rrsets, vec![vec![a, b, other]]);
        assert!(p.update.add.is_empty() && p.held.is_empty());
    }

    #[test]
    fn min_records_keeps_the_last_record() {
        let a = rec(W, "198.51.100.10");
        let b = rec(W, "198.51.100.11");
        let wanted = BTreeMap::from([(a.clone(), Want::Absent), (b.clone(), Want::Absent)]);
        let p = plan(&wanted, &current(&[a.clone(), b.clone()]), 1);
        assert_eq!(p.update.delete, vec![a.clone()]);
        assert_eq!(p.held.keys().collect::<Vec<_>>(), vec![&b]);
        assert!(p.held[&b].contains("min_records = 1"), "{}", p.held[&b]);
        // Only one record: nothing goes.
        let p = plan(
            &BTreeMap::from([(a.clone(), Want::Absent)]),
            &current(std::slice::from_ref(&a)),
            1,
        );
        assert!(p.update.is_empty());
        assert!(p.held.contains_key(&a));
        // min_records = 0 lets the name go.
        let p = plan(
            &BTreeMap::from([(a.clone(), Want::Absent)]),
            &current(std::slice::from_ref(&a)),
            0,
        );
        assert_eq!(p.update.delete, vec![a]);
    }

    #[test]
    fn min_records_counts_additions_in_the_same_round() {
        let a = rec(W, "198.51.100.10");
        let b = rec(W, "198.51.100.11");
        let wanted = BTreeMap::from([(a.clone(), Want::Absent), (b.clone(), Want::Present)]);
        let p = plan(&wanted, &current(std::slice::from_ref(&a)), 1);
        assert_eq!(p.update.add, vec![b]);
        assert_eq!(p.update.delete, vec![a]);
    }

    #[test]
    fn min_records_is_per_name_and_type() {
        let a4 = rec(W, "198.51.100.10");
        let a6 = rec(W, "2001:db8::10");
        let wanted = BTreeMap::from([(a4.clone(), Want::Absent)]);
        // The AAAA record does not keep the name's last A record company.
        let p = plan(&wanted, &current(&[a4.clone(), a6]), 1);
        assert!(p.update.is_empty());
        assert!(p.held.contains_key(&a4));
    }

    #[test]
    fn keep_and_absent_records_that_are_gone_change_nothing() {
        let a = rec(W, "198.51.100.10");
        let b = rec(W, "198.51.100.11");
        let wanted = BTreeMap::from([(a.clone(), Want::Keep), (b, Want::Absent)]);
        let p = plan(&wanted, &current(&[a]), 0);
        assert!(p.update.is_empty() && p.held.is_empty());
    }
}
