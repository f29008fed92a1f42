//! Agreement between several warden monitors through etcd, for the DNS failover mode: a
//! record is deleted only when enough live monitors see its endpoint down, and only by one
//! of them, the leader.
//!
//! Why etcd: it already gives what the agreement needs, consistently across monitors in
//! different places: leases (a monitor that dies or loses its uplink stops counting once its
//! lease ends, with no failure detector of our own), one ordered history that every monitor
//! watches (so all see the same votes and the same leader), and it is a common, operated
//! piece of infrastructure.
//!
//! Each monitor runs one background task ([`Agreement::start`]) that
//! - grants a lease with TTL `lease_ttl` and keeps it alive;
//! - puts a candidate key under the lease; the oldest candidate leads (etcd's election
//!   recipe, see `cluster.rs`);
//! - puts this monitor's verdict per endpoint under the lease ([`Agreement::publish`]);
//! - reads and then watches every key under the prefix, and publishes an
//!   [`AgreementView`] ([`Agreement::subscribe`]) whenever votes, leadership or etcd's health
//!   change;
//! - on any failure, says so in the view at once (`etcd: Err`, `leader: false`, no votes),
//!   and reconnects with backoff and jitter, with a new lease, publishing every verdict it
//!   holds again (verdicts published while disconnected included).
//!
//! [`decide_delete`] then says, from a view alone, whether a record may go; the caller
//! sends an UPDATE only while `view.leader` is true as well.
//!
//! Two leaders at once: a monitor counts its lease as ended at the send time of the last
//! answered keep-alive plus the TTL, which is never later than etcd ends it, and the next
//! leader learns of the end only from etcd's delete event, after it. A hung etcd therefore
//! ends the old leadership before a new one can start (short of clocks running at very
//! different rates).
//!
//! Key layout under `key_prefix` (see `keys.rs`; endpoint and monitor are percent-encoded):
//!
//! ```text
//! <prefix>/votes/<endpoint>/<monitor>   "down" | "up"   (monitor's lease)
//! <prefix>/leader/<lease id in hex>     <monitor id>    (monitor's lease)
//! ```
//!
//! Every monitor needs its own `monitor_id`: two processes with one id overwrite each
//! other's votes (the task warns when it sees that). Endpoints are plain `http://` URLs or
//! `host:port`; TLS to etcd is not built in yet.

mod cluster;
mod decision;
mod etcd;
mod keys;
mod view;

use std::time::Duration;

use tokio::sync::{mpsc, watch};

pub use decision::{DeleteDecision, decide_delete};
pub use view::AgreementView;

/// How to reach etcd and who this monitor is.
#[derive(Clone, Debug, PartialEq)]
pub struct AgreementSettings {
    /// etcd client URLs, e.g. `http://192.0.2.5:2379`.
    pub endpoints: Vec<String>,
    /// This monitor's name, unique among the monitors (shown in votes and as leader).
    pub monitor_id: String,
    /// How many live monitors must see an endpoint down before its record is deleted.
    pub min_agree: usize,
    /// How long this monitor's votes and leadership outlive it (etcd lease TTL; whole
    /// seconds, rounded up; etcd may raise it to its minimum).
    pub lease_ttl: Duration,
    /// Where the agreement's keys live, e.g. `/anycast-warden`.
    pub key_prefix: String,
}

/// A handle on the agreement task; cheap to clone. The task ends (and revokes its lease, so
/// its votes go at once) when the last handle is dropped.
#[derive(Clone)]
pub struct Agreement {
    commands: mpsc::UnboundedSender<etcd::Command>,
    view: watch::Receiver<AgreementView>,
}

impl Agreement {
    /// Spawns the agreement task on the current tokio runtime (a current-thread runtime is
    /// fine) and returns at once; the view starts as "not connected yet".
    ///
    /// # Panics
    /// Outside a tokio runtime, like `tokio::spawn`.
    pub fn start(settings: AgreementSettings) -> Agreement {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (sender, view) = watch::channel(AgreementView::default());
        tokio::spawn(etcd::run(settings, receiver, sender));
        Agreement { commands, view }
    }

    /// This monitor's verdict on `endpoint`. Written under the lease; remembered while etcd
    /// is unreachable and written again after reconnecting. Repeating a verdict is free.
    pub fn publish(&self, endpoint: &str, down: bool) {
        // Fails only once the task is gone (its runtime shut down): nothing left to tell.
        let _ = self.commands.send(etcd::Command::Publish {
            endpoint: endpoint.to_string(),
            down,
        });
    }

    /// Withdraws this monitor's verdict on `endpoint` (e.g. the endpoint left the config).
    pub fn forget(&self, endpoint: &str) {
        let _ = self.commands.send(etcd::Command::Forget {
            endpoint: endpoint.to_string(),
        });
    }

    /// The current view; it changes whenever votes, leadership or etcd's health change.
    pub fn subscribe(&self) -> watch::Receiver<AgreementView> {
        self.view.clone()
    }
}
