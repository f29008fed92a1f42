//! The background task: one etcd session at a time (connect, lease, candidate key, votes,
//! watch), and a new session with a new lease after any failure, with backoff and jitter.
//!
//! A session ends on the first error of any kind; the view then says `etcd: Err(why)`,
//! `leader: false`, no votes, before the task does anything else. That keeps the rules
//! simple: either everything this monitor knows comes from a live session with a live
//! lease, or it knows nothing.

use std::collections::{BTreeMap, VecDeque};
use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use etcd_client::{
    Client, ConnectOptions, EventType, GetOptions, LeaseKeepAliveStream, LeaseKeeper, PutOptions,
    WatchOptions, WatchStream,
};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::AgreementSettings;
use super::cluster::Cluster;
use super::keys::{Keys, vote_value};
use super::view::AgreementView;
use crate::backoff::Backoff;

/// What the [`super::Agreement`] handles ask of the task.
#[derive(Debug)]
pub(super) enum Command {
    Publish { endpoint: String, down: bool },
    Forget { endpoint: String },
}

/// Why a session ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("{what}: {}", chain(source))]
    Etcd {
        what: &'static str,
        source: etcd_client::Error,
    },
    #[error("{what}: no answer within {after:?}")]
    Timeout { what: &'static str, after: Duration },
    #[error("lease {lease:x} lost: {why}")]
    LeaseLost { lease: i64, why: &'static str },
    #[error("watch ended: {0}")]
    Watch(String),
}

/// The error in one line for a status: a gRPC status's message and code, or the error with
/// its sources (tonic's top-level text, "transport error", alone says nothing).
fn chain(error: &etcd_client::Error) -> String {
    // A gRPC status's Display appends its source's Debug form: too much for a status line.
    let (mut text, mut source, code) = match error {
        etcd_client::Error::GRpcStatus(status) => (
            status.message().to_string(),
            status.source(),
            Some(status.code()),
        ),
        _ => (error.to_string(), error.source(), None),
    };
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    if let Some(code) = code {
        text.push_str(&format!(" ({code})"));
    }
    text
}

/// How a session ended.
enum Ended {
    /// Every [`super::Agreement`] handle is gone: the task ends.
    Stopped,
    Failed(SessionError),
}

/// Runs `op` with a time limit; an RPC to an etcd that stopped answering must not hang the
/// session longer than the lease lives.
async fn timed<T>(
    what: &'static str,
    after: Duration,
    op: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, SessionError> {
    match tokio::time::timeout(after, op).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(SessionError::Etcd { what, source }),
        Err(_) => Err(SessionError::Timeout { what, after }),
    }
}

fn set_view(view: &watch::Sender<AgreementView>, new: AgreementView) {
    view.send_if_modified(|current| {
        if *current == new {
            false
        } else {
            *current = new;
            true
        }
    });
}

/// The task behind [`super::Agreement::start`].
pub(super) async fn run(
    settings: AgreementSettings,
    mut commands: mpsc::UnboundedReceiver<Command>,
    view: watch::Sender<AgreementView>,
) {
    let keys = Keys::new(&settings.key_prefix);
    // This monitor's verdicts: what every new session publishes again.
    let mut mine: BTreeMap<String, bool> = BTreeMap::new();
    let mut previous_lease = None;
    let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    // Consecutive sessions that failed; a session that opened resets it.
    let mut failures: u32 = 0;
    let mut last_error: Option<String> = None;
    loop {
        let mut session = Session {
            settings: &settings,
            keys: &keys,
            mine: &mut mine,
            commands: &mut commands,
            view: &view,
            previous_lease: &mut previous_lease,
        };
        match session.run(&mut failures, &mut last_error).await {
            Ended::Stopped => {
                set_view(&view, AgreementView::unreachable("agreement stopped"));
                return;
            }
            Ended::Failed(why) => {
                // First of all: nobody may act on leadership or votes from a dead session.
                let why = why.to_string();
                set_view(&view, AgreementView::unreachable(why.clone()));
                // Once per new reason, not once per attempt while etcd stays away.
                if last_error.as_deref() != Some(why.as_str()) {
                    tracing::warn!(error = %why, "agreement: no etcd session; retrying");
                    last_error = Some(why);
                } else {
                    tracing::debug!(error = %why, "agreement: no etcd session; retrying");
                }
            }
        }
        let delay = backoff.jittered(failures, 0.5, rand::random::<f64>());
        failures = failures.saturating_add(1);
        let wake = tokio::time::sleep(delay);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                _ = &mut wake => break,
                command = commands.recv() => match command {
                    // Remembered; the next session publishes it.
                    Some(command) => {
                        apply_locally(&mut mine, command);
                    }
                    None => {
                        set_view(&view, AgreementView::unreachable("agreement stopped"));
                        return;
                    }
                },
            }
        }
    }
}

/// Records `command` in `mine`; returns the vote to write to etcd (`Some(Some(down))`), the
/// vote to delete (`Some(None)`), or nothing when it changes nothing.
fn apply_locally(
    mine: &mut BTreeMap<String, bool>,
    command: Command,
) -> Option<(String, Option<bool>)> {
    match command {
        Command::Publish { endpoint, down } => {
            if mine.get(&endpoint) == Some(&down) {
                return None;
            }
            mine.insert(endpoint.clone(), down);
            Some((endpoint, Some(down)))
        }
        Command::Forget { endpoint } => {
            mine.remove(&endpoint)?;
            Some((endpoint, None))
        }
    }
}

struct Session<'a> {
    settings: &'a AgreementSettings,
    keys: &'a Keys,
    mine: &'a mut BTreeMap<String, bool>,
    commands: &'a mut mpsc::UnboundedReceiver<Command>,
    view: &'a watch::Sender<AgreementView>,
    /// The lease of the last session, revoked when the next one starts: its candidate key
    /// would otherwise hold the leadership (for nobody) until it expired.
    previous_lease: &'a mut Option<i64>,
}

/// A session that is set up: its lease is granted, its keys are written and it watches.
struct Live {
    client: Client,
    lease: i64,
    ttl: Duration,
    /// When the lease ends at the latest, as far as this process can tell: the send time of
    /// the last answered keep-alive plus the TTL etcd granted. etcd counts from when it
    /// received the request, so this is never later than etcd's own expiry.
    deadline: Instant,
    keeper: LeaseKeeper,
    keep_alive: LeaseKeepAliveStream,
    /// Send times of keep-alives not answered yet (etcd answers in order).
    unanswered: VecDeque<Instant>,
    watch: WatchStream,
    cluster: Cluster,
}

impl Session<'_> {
    fn op_timeout(&self) -> Duration {
        (self.settings.lease_ttl / 2).clamp(Duration::from_millis(500), Duration::from_secs(5))
    }

    async fn run(&mut self, failures: &mut u32, last_error: &mut Option<String>) -> Ended {
        let mut live = match self.open().await {
            Ok(live) => live,
            Err(why) => return Ended::Failed(why),
        };
        *failures = 0;
        *last_error = None;
        tracing::info!(
            lease = format_args!("{:x}", live.lease),
            ttl = ?live.ttl,
            monitor = %self.settings.monitor_id,
            "agreement: connected to etcd"
        );
        let mut was_leader = false;
        let mut warned_foreign = false;
        let ended = loop {
            let published = self.publish_view(&live);
            if published.leader != was_leader {
                was_leader = published.leader;
                tracing::info!(leader = was_leader, "agreement: leadership changed");
            }
            if !warned_foreign {
                let foreign = live
                    .cluster
                    .foreign_votes(&self.settings.monitor_id, live.lease);
                if !foreign.is_empty() {
                    warned_foreign = true;
                    tracing::warn!(
                        monitor = %self.settings.monitor_id,
                        endpoints = ?foreign,
                        "agreement: another process votes under this monitor id; give every monitor its own id"
                    );
                }
            }
            if let Err(why) = self.step(&mut live).await {
                break why;
            }
        };
        match ended {
            Ended::Stopped => {
                // A clean stop ends the lease now, so the others stop counting this
                // monitor's votes at once instead of after the TTL.
                let op_timeout = self.op_timeout();
                if timed(
                    "revoke lease",
                    op_timeout,
                    live.client.lease_revoke(live.lease),
                )
                .await
                .is_ok()
                {
                    *self.previous_lease = None;
                }
                Ended::Stopped
            }
            failed => failed,
        }
    }

    fn publish_view(&self, live: &Live) -> AgreementView {
        let view = live.cluster.view(live.lease);
        set_view(self.view, view.clone());
        view
    }

    /// Connects and sets up a session.
    async fn open(&mut self) -> Result<Live, SessionError> {
        let op_timeout = self.op_timeout();
        let options = ConnectOptions::new()
            .with_connect_timeout(op_timeout)
            // HTTP/2 pings find a dead connection even while no RPC is running.
            .with_keep_alive(op_timeout, op_timeout)
            .with_keep_alive_while_idle(true);
        let mut client = timed(
            "connect",
            op_timeout,
            Client::connect(&self.settings.endpoints, Some(options)),
        )
        .await?;

        if let Some(old) = *self.previous_lease {
            match timed(
                "revoke the previous lease",
                op_timeout,
                client.lease_revoke(old),
            )
            .await
            {
                Ok(_) => *self.previous_lease = None,
                Err(SessionError::Etcd {
                    source: etcd_client::Error::GRpcStatus(status),
                    ..
                }) if status.message().contains("lease not found") => {
                    *self.previous_lease = None;
                }
                Err(e) => return Err(e),
            }
        }

        let ttl_secs = self.settings.lease_ttl.as_secs_f64().ceil().max(1.0) as i64;
        let sent = Instant::now();
        let granted = timed(
            "grant lease",
            op_timeout,
            client.lease_grant(ttl_secs, None),
        )
        .await?;
        let lease = granted.id();
        *self.previous_lease = Some(lease);
        // etcd may raise a TTL below its minimum; count with what it granted.
        let ttl = Duration::from_secs(granted.ttl().max(1) as u64);
        let (keeper, keep_alive) = timed(
            "keep lease alive",
            op_timeout,
            client.lease_keep_alive(lease),
        )
        .await?;

        let with_lease = || Some(PutOptions::new().with_lease(lease));
        timed(
            "put candidate key",
            op_timeout,
            client.put(
                self.keys.candidate(lease),
                self.settings.monitor_id.clone(),
                with_lease(),
            ),
        )
        .await?;
        for (endpoint, down) in self.mine.iter() {
            timed(
                "publish vote",
                op_timeout,
                client.put(
                    self.keys.vote(endpoint, &self.settings.monitor_id),
                    vote_value(*down),
                    with_lease(),
                ),
            )
            .await?;
        }

        let snapshot = timed(
            "read votes",
            op_timeout,
            client.get(self.keys.prefix(), Some(GetOptions::new().with_prefix())),
        )
        .await?;
        let revision = snapshot.header().map_or(0, |h| h.revision());
        let mut cluster = Cluster::new(self.keys.clone());
        for kv in snapshot.kvs() {
            cluster.put(kv.key(), kv.value(), kv.create_revision(), kv.lease());
        }
        // Votes of an earlier life of this monitor (restarted within the TTL) on endpoints
        // it no longer publishes; the watch below reports their deletion.
        for endpoint in cluster.endpoints_voted_by(&self.settings.monitor_id) {
            if !self.mine.contains_key(&endpoint) {
                timed(
                    "delete stale vote",
                    op_timeout,
                    client.delete(self.keys.vote(&endpoint, &self.settings.monitor_id), None),
                )
                .await?;
            }
        }
        let watch = timed(
            "watch votes",
            op_timeout,
            client.watch(
                self.keys.prefix(),
                Some(
                    WatchOptions::new()
                        .with_prefix()
                        .with_start_revision(revision + 1),
                ),
            ),
        )
        .await?;

        Ok(Live {
            client,
            lease,
            ttl,
            deadline: sent + ttl,
            keeper,
            keep_alive,
            unanswered: VecDeque::new(),
            watch,
            cluster,
        })
    }

    /// Waits for the next thing to happen and handles it.
    async fn step(&mut self, live: &mut Live) -> Result<(), Ended> {
        let fail = Ended::Failed;
        let lease = live.lease;
        let lost = |why| Ended::Failed(SessionError::LeaseLost { lease, why });
        // Keep-alives three times per TTL, so one lost answer does not end the lease.
        let next_keep_alive = live
            .unanswered
            .back()
            .copied()
            .unwrap_or(live.deadline - live.ttl)
            + live.ttl / 3;
        tokio::select! {
            // Checked first: an expired lease ends leadership before anything else is done.
            biased;
            _ = tokio::time::sleep_until(live.deadline) => {
                Err(lost("no keep-alive answer before the lease ran out"))
            }
            answer = live.keep_alive.message() => match answer {
                Ok(Some(answer)) => {
                    let sent = live.unanswered.pop_front().unwrap_or(live.deadline - live.ttl);
                    if answer.ttl() <= 0 {
                        return Err(lost("etcd says it expired"));
                    }
                    live.deadline = sent + Duration::from_secs(answer.ttl() as u64);
                    Ok(())
                }
                Ok(None) => Err(lost("keep-alive stream ended")),
                Err(source) => Err(fail(SessionError::Etcd { what: "keep lease alive", source })),
            },
            message = live.watch.message() => match message {
                Ok(Some(response)) => {
                    if response.canceled() {
                        return Err(fail(SessionError::Watch(format!(
                            "canceled by etcd (compact revision {}): {}",
                            response.compact_revision(),
                            response.cancel_reason()
                        ))));
                    }
                    for event in response.events() {
                        let Some(kv) = event.kv() else { continue };
                        match event.event_type() {
                            EventType::Put => live.cluster.put(
                                kv.key(),
                                kv.value(),
                                kv.create_revision(),
                                kv.lease(),
                            ),
                            EventType::Delete => live.cluster.delete(kv.key()),
                        }
                    }
                    if !live.cluster.has_candidate(live.lease) {
                        // Our key went with our lease (or someone deleted it): start over.
                        return Err(lost("its candidate key was deleted"));
                    }
                    Ok(())
                }
                Ok(None) => Err(fail(SessionError::Watch("stream closed".into()))),
                Err(source) => Err(fail(SessionError::Etcd { what: "watch votes", source })),
            },
            _ = tokio::time::sleep_until(next_keep_alive) => {
                live.unanswered.push_back(Instant::now());
                live.keeper
                    .keep_alive()
                    .await
                    .map_err(|source| fail(SessionError::Etcd { what: "keep lease alive", source }))
            }
            command = self.commands.recv() => {
                let Some(command) = command else { return Err(Ended::Stopped) };
                let Some((endpoint, vote)) = apply_locally(self.mine, command) else {
                    return Ok(());
                };
                let key = self.keys.vote(&endpoint, &self.settings.monitor_id);
                let op_timeout = self.op_timeout();
                // A failed write ends the session; `mine` already holds the vote, so the
                // next session writes it.
                match vote {
                    Some(down) => timed(
                        "publish vote",
                        op_timeout,
                        live.client.put(key, vote_value(down), Some(PutOptions::new().with_lease(live.lease))),
                    )
                    .await
                    .map(drop),
                    None => timed("forget vote", op_timeout, live.client.delete(key, None))
                        .await
                        .map(drop),
                }
                .map_err(fail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(endpoint: &str, down: bool) -> Command {
        Command::Publish {
            endpoint: endpoint.into(),
            down,
        }
    }

    fn forget(endpoint: &str) -> Command {
        Command::Forget {
            endpoint: endpoint.into(),
        }
    }

    #[test]
    fn only_changes_reach_etcd() {
        let mut mine = BTreeMap::new();
        assert_eq!(
            apply_locally(&mut mine, publish("a", true)),
            Some(("a".into(), Some(true)))
        );
        assert_eq!(apply_locally(&mut mine, publish("a", true)), None);
        assert_eq!(
            apply_locally(&mut mine, publish("a", false)),
            Some(("a".into(), Some(false)))
        );
        assert_eq!(
            apply_locally(&mut mine, forget("a")),
            Some(("a".into(), None))
        );
        assert_eq!(apply_locally(&mut mine, forget("a")), None);
        assert!(mine.is_empty());
    }
}
