//! The DNS updater: the single owner of the desired state of every managed record.
//!
//! It is a record announcer beside the prefix announcer, not a backend of it: the
//! announcer hands a backend one whole set of prefixes and knows nothing of names, TTLs,
//! prerequisites, `min_records` or agreement between wardens; records need all of those.
//! Service tasks send their verdict (up, down, unknown) here as they send `Set` to the
//! announcer.
//!
//! A round reads the RRsets of every managed name from the primary, plans the changes
//! (`plan`), and sends them as one UPDATE; the deletions carry the RRsets as read as
//! prerequisites, so a concurrent change makes the server refuse (NXRRSET) and the round
//! is run again on fresh data. A failed round is retried with backoff; the desired state
//! is kept, so the last one always reaches the server. Unknown (no verdict yet) never
//! deletes anything, and the zone is left as it is at shutdown: DNS answers outlive the
//! warden, unlike routes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::client::{Client, DnsError};
use super::gate::{DeleteDecision, Gate};
use super::pacer::{Event, Pacer, RoundResult};
use super::plan::{RrsetKey, Want, plan};
use crate::config::DnsSettings;
use crate::dns::message::{AddressRecord, Update};
use crate::health::Health;
use crate::status::{DnsRecordStatus, DnsStatus, DnsUpdateStatus, StatusBoard, unix_now};

/// Messages to the updater.
#[derive(Debug)]
pub enum Command {
    /// A service's verdict for its records.
    Verdict {
        service: String,
        records: Vec<AddressRecord>,
        health: Health,
    },
    /// A service was removed: its records are no longer managed (and left as they are).
    Forget { service: String },
    /// `[dns]` changed (reload).
    Settings(Box<DnsSettings>),
}

/// The key of a record in the agreement store and in the status.
pub fn record_key(r: &AddressRecord) -> String {
    format!("{}/{}/{}", r.name, r.type_name(), r.addr)
}

/// The updater's desired state. Pure.
#[derive(Debug, Default, Clone)]
pub struct Desired {
    services: BTreeMap<String, (Vec<AddressRecord>, Health)>,
}

impl Desired {
    pub fn set(&mut self, service: &str, records: Vec<AddressRecord>, health: Health) {
        self.services.insert(service.to_string(), (records, health));
    }

    pub fn forget(&mut self, service: &str) -> Vec<AddressRecord> {
        self.services
            .remove(service)
            .map(|(r, _)| r)
            .unwrap_or_default()
    }

    /// Each record's local verdict and owner.
    pub fn verdicts(&self) -> BTreeMap<AddressRecord, (String, Health)> {
        self.services
            .iter()
            .flat_map(|(service, (records, health))| {
                records
                    .iter()
                    .map(move |r| (r.clone(), (service.clone(), *health)))
            })
            .collect()
    }

    /// What each record should be, with the deletions the gate holds back.
    pub fn wanted(
        &self,
        gate: &dyn Gate,
    ) -> (
        BTreeMap<AddressRecord, Want>,
        BTreeMap<AddressRecord, String>,
    ) {
        let mut wanted = BTreeMap::new();
        let mut held = BTreeMap::new();
        for (record, (_, health)) in self.verdicts() {
            let key = record_key(&record);
            // Not agreed down, and another monitor sees it up: it belongs in the zone.
            let otherwise = || {
                if gate.others_up(&key) {
                    Want::Present
                } else {
                    Want::Keep
                }
            };
            let want = match health {
                Health::Up | Health::Unknown if gate.agreed_down(&key) => Want::Absent,
                Health::Up => Want::Present,
                Health::Unknown => otherwise(),
                Health::Down => match gate.decide(&key) {
                    DeleteDecision::Delete => Want::Absent,
                    DeleteDecision::Hold(why) => {
                        held.insert(record.clone(), why);
                        otherwise()
                    }
                },
            };
            wanted.insert(record, want);
        }
        (wanted, held)
    }
}

/// Runs the updater until cancelled or until every sender is gone.
pub async fn run(
    mut settings: DnsSettings,
    batch_window: Duration,
    gate: Arc<dyn Gate>,
    mut rx: mpsc::Receiver<Command>,
    status: StatusBoard,
    cancel: CancellationToken,
) {
    let mut desired = Desired::default();
    let mut client = Client::new(&settings);
    let mut pacer = Pacer::new(batch_window, settings.verify_interval);
    let mut last_dry_run: Option<Update> = None;
    let mut zone: BTreeMap<RrsetKey, BTreeSet<IpAddr>> = BTreeMap::new();
    publish_settings(&status, &settings);
    let notify = gate.notify();
    loop {
        let due = pacer.due();
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            // The other monitors' votes, leadership or the store changed: decide again.
            () = async { if let Some(n) = &notify { n.notified().await } }, if notify.is_some() => {
                pacer.process(Event::Changed, Instant::now());
                publish_records(&status, &desired, gate.as_ref(), &zone, &BTreeMap::new());
            }
            command = rx.recv() => {
                let Some(command) = command else { return };
                let mut next = Some(command);
                while let Some(command) = next {
                    match command {
                        Command::Verdict { service, records, health } => {
                            for r in &records {
                                gate.publish(&record_key(r), health == Health::Down);
                            }
                            desired.set(&service, records, health);
                        }
                        Command::Forget { service } => {
                            for r in desired.forget(&service) {
                                gate.forget(&record_key(&r));
                            }
                        }
                        Command::Settings(new) => {
                            settings = *new;
                            client = Client::new(&settings);
                            last_dry_run = None;
                            pacer.process(Event::Settings { verify_interval: settings.verify_interval }, Instant::now());
                            publish_settings(&status, &settings);
                        }
                    }
                    next = rx.try_recv().ok();
                }
                // Coalesce: verdicts arriving together go out in one UPDATE.
                pacer.process(Event::Changed, Instant::now());
                publish_records(&status, &desired, gate.as_ref(), &zone, &BTreeMap::new());
            }
            () = wait(due), if due.is_some() => {
                pacer.process(Event::Started, Instant::now());
                let outcome = round(&settings, &client, &desired, gate.as_ref(), &mut zone, &mut last_dry_run, &status).await;
                let result = match &outcome {
                    Ok(()) => RoundResult::Ok,
                    Err(DnsError::Prerequisite(..)) => RoundResult::Prerequisite,
                    Err(_) => RoundResult::Failed,
                };
                if let (Some(delay), Err(e)) = (pacer.process(Event::Finished(result), Instant::now()), &outcome) {
                    error!(error = %e, attempt = pacer.failures(), retry_in = %humantime::format_duration(delay),
                        "DNS update round failed; will retry");
                }
            }
        }
    }
}

async fn wait(due: Option<Instant>) {
    if let Some(due) = due
        && due > Instant::now()
    {
        sleep_until(due).await;
    }
}

/// Reads the zone, plans and sends (or logs, in dry-run) one UPDATE.
async fn round(
    settings: &DnsSettings,
    client: &Client,
    desired: &Desired,
    gate: &dyn Gate,
    zone: &mut BTreeMap<RrsetKey, BTreeSet<IpAddr>>,
    last_dry_run: &mut Option<Update>,
    status: &StatusBoard,
) -> Result<(), DnsError> {
    let (wanted, gate_held) = desired.wanted(gate);
    let keys: BTreeSet<RrsetKey> = wanted.keys().map(|r| (r.name.clone(), r.rtype())).collect();
    let mut read = BTreeMap::new();
    for key in keys {
        match client.query(&key.0, key.1).await {
            Ok(set) => {
                read.insert(key, set);
            }
            Err(e) => {
                count(status, e.label());
                status.update(|s| {
                    if let Some(d) = s.dns.as_mut() {
                        d.last_error = Some(e.to_string());
                    }
                });
                return Err(e);
            }
        }
    }
    *zone = read;
    status.update(|s| {
        if let Some(d) = s.dns.as_mut() {
            d.last_read = Some(unix_now());
        }
    });
    let mut planned = plan(&wanted, zone, settings.min_records);
    planned.held.extend(gate_held);
    for (record, why) in &planned.held {
        if !zone
            .get(&(record.name.clone(), record.rtype()))
            .is_some_and(|s| s.contains(&record.addr))
        {
            continue;
        }
        tracing::debug!(record = %record, why = %why, "deletion held");
    }
    let sender = gate.view().sender;
    let result = if planned.update.is_empty() {
        Ok(())
    } else if !sender {
        info!(
            changes = planned.update.add.len() + planned.update.delete.len(),
            "another monitor sends the updates; changes left to it"
        );
        Ok(())
    } else if settings.dry_run {
        if last_dry_run.as_ref() != Some(&planned.update) {
            for r in &planned.update.add {
                info!(record = %r, server = %settings.server, "dry run: would add the record");
            }
            for r in &planned.update.delete {
                info!(record = %r, server = %settings.server, "dry run: would delete the record");
            }
            count(status, "dry_run");
            record_update(status, &planned.update, Ok(()), true);
            *last_dry_run = Some(planned.update.clone());
        }
        Ok(())
    } else {
        let started = Instant::now();
        let result = client.update(&planned.update).await;
        let took = started.elapsed();
        match &result {
            Ok(()) => {
                for r in &planned.update.add {
                    info!(record = %r, ttl = settings.ttl.as_secs(), took = %format!("{:.1}ms", took.as_secs_f64() * 1e3), "DNS record added");
                    zone.entry((r.name.clone(), r.rtype()))
                        .or_default()
                        .insert(r.addr);
                }
                for r in &planned.update.delete {
                    warn!(record = %r, took = %format!("{:.1}ms", took.as_secs_f64() * 1e3), "DNS record deleted");
                    if let Some(set) = zone.get_mut(&(r.name.clone(), r.rtype())) {
                        set.remove(&r.addr);
                    }
                }
                count(status, "ok");
            }
            Err(e) => count(status, e.label()),
        }
        record_update(status, &planned.update, result.clone(), false);
        result
    };
    if result.is_ok() {
        status.update(|s| {
            if let Some(d) = s.dns.as_mut() {
                d.last_error = None;
            }
        });
    }
    publish_records(status, desired, gate, zone, &planned.held);
    result
}

fn count(status: &StatusBoard, result: &str) {
    status.update(|s| {
        if let Some(d) = s.dns.as_mut() {
            *d.updates.entry(result.to_string()).or_default() += 1;
        }
    });
}

fn record_update(
    status: &StatusBoard,
    update: &Update,
    result: Result<(), DnsError>,
    dry_run: bool,
) {
    let at = unix_now();
    let error = result.as_ref().err().map(ToString::to_string);
    status.update(|s| {
        let Some(d) = s.dns.as_mut() else { return };
        let changes = update
            .add
            .iter()
            .map(|r| (r, "add"))
            .chain(update.delete.iter().map(|r| (r, "delete")));
        for (r, action) in changes {
            if result.is_ok() && !dry_run {
                *d.changes.entry(action.to_string()).or_default() += 1;
            }
            let entry = d.records.entry(record_key(r)).or_default();
            entry.last_update = Some(DnsUpdateStatus {
                at,
                action: action.to_string(),
                ok: result.is_ok(),
                dry_run,
                error: error.clone(),
            });
        }
        if !dry_run {
            d.last_error.clone_from(&error);
        }
    });
}

fn publish_settings(status: &StatusBoard, settings: &DnsSettings) {
    status.update(|s| {
        let d = s.dns.get_or_insert_with(DnsStatus::default);
        d.server = settings.server.to_string();
        d.zone = settings.zone.to_string();
        d.dry_run = settings.dry_run;
        d.min_records = settings.min_records;
        d.agreement = settings.agreement.is_some();
    });
}

/// Publishes every managed record's state.
fn publish_records(
    status: &StatusBoard,
    desired: &Desired,
    gate: &dyn Gate,
    zone: &BTreeMap<RrsetKey, BTreeSet<IpAddr>>,
    held: &BTreeMap<AddressRecord, String>,
) {
    let view = gate.view();
    let verdicts = desired.verdicts();
    status.update(|s| {
        let Some(d) = s.dns.as_mut() else { return };
        d.store_error = view.store.clone().err();
        d.sender = view.sender;
        d.sender_id.clone_from(&view.sender_id);
        let mut records = BTreeMap::new();
        for (record, (service, health)) in &verdicts {
            let key = record_key(record);
            let old = d.records.remove(&key).unwrap_or_default();
            let in_zone = zone
                .get(&(record.name.clone(), record.rtype()))
                .map(|set| set.contains(&record.addr));
            records.insert(
                key.clone(),
                DnsRecordStatus {
                    service: service.clone(),
                    name: record.name.to_string(),
                    rtype: record.type_name().to_string(),
                    value: record.addr.to_string(),
                    verdict: *health,
                    in_zone: in_zone.or(old.in_zone),
                    held: held.get(record).cloned(),
                    votes: view.votes.get(&key).cloned().unwrap_or_default(),
                    last_update: old.last_update,
                },
            );
        }
        d.records = records;
    });
}

#[cfg(test)]
mod tests {
    use super::super::gate::{Alone, GateView};
    use super::*;

    fn rec(a: &str) -> AddressRecord {
        AddressRecord {
            name: crate::dns::Name::parse("www.example.net.").unwrap(),
            addr: a.parse().unwrap(),
        }
    }

    struct Holding {
        others_up: bool,
    }
    impl Gate for Holding {
        fn publish(&self, _: &str, _: bool) {}
        fn forget(&self, _: &str) {}
        fn decide(&self, record: &str) -> DeleteDecision {
            DeleteDecision::Hold(format!("1 of 2 monitors see {record} down"))
        }
        fn others_up(&self, _: &str) -> bool {
            self.others_up
        }
        fn view(&self) -> GateView {
            GateView::default()
        }
    }

    #[test]
    fn verdicts_become_wants() {
        let mut d = Desired::default();
        d.set("a", vec![rec("198.51.100.1")], Health::Up);
        d.set("b", vec![rec("198.51.100.2")], Health::Down);
        d.set("c", vec![rec("198.51.100.3")], Health::Unknown);
        let (wanted, held) = d.wanted(&Alone);
        assert_eq!(wanted[&rec("198.51.100.1")], Want::Present);
        assert_eq!(wanted[&rec("198.51.100.2")], Want::Absent);
        assert_eq!(wanted[&rec("198.51.100.3")], Want::Keep);
        assert!(held.is_empty());
        let (wanted, held) = d.wanted(&Holding { others_up: false });
        assert_eq!(wanted[&rec("198.51.100.2")], Want::Keep);
        assert!(held[&rec("198.51.100.2")].contains("1 of 2"));
        // Another monitor sees them up and the deletion is not agreed: in the zone,
        // also the one this warden has no verdict for yet.
        let (wanted, _) = d.wanted(&Holding { others_up: true });
        assert_eq!(wanted[&rec("198.51.100.2")], Want::Present);
        assert_eq!(wanted[&rec("198.51.100.3")], Want::Present);
        assert_eq!(d.forget("b"), vec![rec("198.51.100.2")]);
        assert_eq!(d.verdicts().len(), 2);
    }

    #[test]
    fn record_keys_name_type_and_value() {
        assert_eq!(
            record_key(&rec("198.51.100.1")),
            "www.example.net./A/198.51.100.1"
        );
    }
}
